"""The grading sandbox: a separate process that runs a submission's own code.

Run as a script (``python -I _sandbox_child.py RFD WFD``) by :mod:`course_utils.tooling.grading.sandbox`;
it imports nothing from ``course_utils`` from disk. The grader sends it, over a pipe:

* ``load``: the course modules' *sources*, the names in them that are references for the
  notebook being graded (replaced by :class:`Reference` stand-ins that record any use and
  raise), and the cells to run (the solution's setup cell, the student's answer cells and
  cells the student added; a check cell becomes ``name = <the student's function>``);
* ``call``: a function name and grader-chosen arguments; it answers with the return value
  (plain data: arrays travel as ``.npy`` blobs, never pickles), the exception if one was
  raised, which inputs were modified in place, and the course objects touched.

The grader compares the values with the references in its own process, so nothing here
(nor anything the student's code does here) can decide a verdict. This module is also
imported by the grader for :func:`encode` / :func:`decode` (it needs only numpy).

It is one file on purpose: the sandbox runs a copy of it from a scratch folder, with
``python -I`` (so the script's own folder is not on ``sys.path``) and the source tree
possibly hidden, so it cannot import a sibling module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import io
import json
import os
import struct
import sys
import traceback
import types

import numpy as np

MAX_MESSAGE = 256 * 2**20  # bytes


# ---------------------------------------------------------------------------------------
# Messages: a JSON header followed by .npy blobs (np.load with allow_pickle=False)
# ---------------------------------------------------------------------------------------
def encode(value, blobs: list) -> object:
    """A JSON-able description of ``value``; arrays are appended to ``blobs``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        blobs.append(np.asarray(value))
        return {"np": len(blobs) - 1}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"int": int.__repr__(value)}
    if isinstance(value, float):
        return {"float": float.__repr__(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"obj": "ndarray of objects"}
        blobs.append(np.ascontiguousarray(value))
        return {"a": len(blobs) - 1}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v, blobs) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, blobs) for k, v in value.items()}}
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        try:
            blobs.append(value.detach().cpu().numpy())
            return {"tensor": len(blobs) - 1}
        except Exception:
            return {"obj": "Tensor"}
    return {"obj": type(value).__name__}


class TensorStandIn:
    """What a returned torch tensor becomes on the grader's side (checks name it)."""

    def __init__(self, array):
        self._a = array

    def detach(self):
        return self

    def numpy(self):
        return self._a


def decode(desc, blobs: list):
    if desc is None or isinstance(desc, (bool, str)):
        return desc
    (kind, v), = desc.items()
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "a":
        return blobs[v]
    if kind == "np":
        return blobs[v][()]
    if kind in ("list", "tuple"):
        items = [decode(x, blobs) for x in v]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: decode(x, blobs) for k, x in v.items()}
    if kind == "tensor":
        return TensorStandIn(blobs[v])
    return type(str(v), (), {"__repr__": lambda self: f"<{type(self).__name__}>"})()


def pack(header: dict, blobs: list) -> bytes:
    parts = []
    for a in blobs:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        parts.append(buf.getvalue())
    head = json.dumps(dict(header, nblobs=len(parts))).encode()
    out = [struct.pack("<Q", len(head)), head]
    for p in parts:
        out += [struct.pack("<Q", len(p)), p]
    return b"".join(out)


def unpack(data: bytes) -> tuple[dict, list]:
    view, pos = memoryview(data), 0

    def take():
        nonlocal pos
        (n,) = struct.unpack("<Q", view[pos:pos + 8])
        pos += 8
        if n > len(data) - pos:
            raise ValueError("truncated message")
        chunk = bytes(view[pos:pos + n])
        pos += n
        return chunk

    header = json.loads(take().decode())
    if not isinstance(header, dict):
        raise ValueError("message header is not an object")
    blobs = [np.load(io.BytesIO(take()), allow_pickle=False) for _ in range(int(header["nblobs"]))]
    return header, blobs


def write_message(fd: int, payload: bytes) -> None:
    data = struct.pack("<Q", len(payload)) + payload
    while data:
        n = os.write(fd, data)
        data = data[n:]


def read_exactly(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        b = os.read(fd, min(left, 1 << 20))
        if not b:
            raise EOFError("pipe closed")
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def read_message(fd: int) -> bytes:
    (n,) = struct.unpack("<Q", read_exactly(fd, 8))
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes is too large")
    return read_exactly(fd, n)


# ---------------------------------------------------------------------------------------
# Course modules, rebuilt from their sources with the references replaced
# ---------------------------------------------------------------------------------------
EVENTS: list[dict] = []
# The behaviour recorder (course_utils.checks.behaviour, loaded from its source before any
# of the student's code runs) and {id(code object): course module} of the course's code.
BEHAVIOUR: list = []
COURSE_CODE: dict = {}
_KEEP: list = []
BEHAVIOUR_MODULE = "course_utils.checks.behaviour"


def load_behaviour(sources: dict) -> None:
    """Load the recorder privately (not in ``sys.modules``) from the source sent."""
    if BEHAVIOUR or BEHAVIOUR_MODULE not in sources:
        return
    mod = types.ModuleType("_course_behaviour")
    exec(compile(sources[BEHAVIOUR_MODULE], "<course behaviour>", "exec"), mod.__dict__)
    BEHAVIOUR.append(mod)


class ReferenceUsed(BaseException):
    """Raised when student code calls a reference; a BaseException so that
    ``except Exception`` in the student's code does not hide it."""


class Reference:
    """Stands in for a reference implementation: records use, raises when called."""

    def __init__(self, qualname: str):
        object.__setattr__(self, "_qualname", qualname)

    def __call__(self, *args, **kwargs):
        EVENTS.append({"kind": "call", "what": self._qualname})
        raise ReferenceUsed(f"{self._qualname} is a reference of the course")

    def __getattr__(self, name):
        EVENTS.append({"kind": "use", "what": f"{self._qualname}.{name}"})
        raise AttributeError(name)

    def __repr__(self):
        return f"<course reference {self._qualname}>"


class CourseModule(types.ModuleType):
    """A course module in the sandbox: setting an attribute is recorded as tampering."""

    def __setattr__(self, name, value):
        submodule = isinstance(value, CourseModule) and value.__name__ == f"{self.__name__}.{name}"
        if self.__dict__.get("_sealed") and not name.startswith("__") and not submodule:
            EVENTS.append({"kind": "set", "what": f"{self.__name__}.{name}"})
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if self.__dict__.get("_sealed"):
            EVENTS.append({"kind": "set", "what": f"{self.__name__}.{name}"})
        super().__delattr__(name)


class CourseFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``course_utils`` and its submodules from the sources the grader sent."""

    def __init__(self, sources: dict, packages: list, forbidden: dict):
        self.sources, self.packages, self.forbidden = sources, set(packages), forbidden

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "course_utils" and not fullname.startswith("course_utils."):
            return None
        if fullname not in self.sources:
            raise ModuleNotFoundError(f"No module named {fullname!r} in the grading sandbox",
                                      name=fullname)
        spec = importlib.machinery.ModuleSpec(fullname, self,
                                              is_package=fullname in self.packages)
        if fullname in self.packages:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return CourseModule(spec.name)

    def exec_module(self, module):
        name = module.__name__
        module.__file__ = f"<course {name}>"
        code = compile(self.sources[name], module.__file__, "exec")
        if BEHAVIOUR:  # the recorder knows the course's code by its code objects
            for c in BEHAVIOUR[0].code_objects(code):
                COURSE_CODE[id(c)] = name
                _KEEP.append(c)
        exec(code, module.__dict__)
        for attr in self.forbidden.get(name, []):
            module.__dict__[attr] = Reference(f"{name}.{attr}")
        module.__dict__["_sealed"] = True


# ---------------------------------------------------------------------------------------
# Running cells and calls
# ---------------------------------------------------------------------------------------
class _Shell:
    """Enough of ``get_ipython()`` for magics in cells to do nothing."""

    def run_line_magic(self, *a, **k):
        return None

    run_cell_magic = system = getoutput = run_line_magic

    def __getattr__(self, name):
        return lambda *a, **k: None


def _frames(exc) -> list:
    out = []
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename.startswith("<cell"):
            out.append([fr.filename, fr.lineno, fr.name, fr.line or ""])
        elif fr.filename.startswith("<course"):
            out.append([fr.filename, fr.lineno, fr.name, ""])
    return out


def _exc_info(exc) -> dict:
    return {"ename": type(exc).__name__, "evalue": str(exc)[:2000], "frames": _frames(exc),
            "builtin": type(exc).__module__ == "builtins",
            "reference": isinstance(exc, ReferenceUsed)}


def _cell_lines(sources):
    import linecache

    for name, src in sources.items():
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)


def _transform(src: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(src)
    except Exception:
        return src


PROGRESS: list = []  # [path of the file naming the cell being run]


def run_load(msg: dict, ns: dict) -> dict:
    load_behaviour(msg["sources"])
    sys.meta_path.insert(0, CourseFinder(msg["sources"], msg["packages"], msg["forbidden"]))
    ns.update({"__name__": "__main__", "get_ipython": lambda: _Shell()})
    results, names = [], {}
    for pos, cell in enumerate(msg["cells"]):
        label = f"<cell {cell['index']}>"
        if cell["kind"] == "bind":  # a check cell: `binds = exNN.check_x(function)`
            if cell["function"] in ns:
                ns[cell["binds"]] = ns[cell["function"]]
            continue
        if PROGRESS:
            try:
                with open(PROGRESS[0], "w") as f:
                    f.write(f"{cell['index']} {pos}")  # the cell, its place in the list
            except OSError:
                pass
        src = _transform(cell["source"])
        names[label] = src
        _cell_lines({label: src})
        try:
            exec(compile(src, label, "exec"), ns)
            results.append({"index": cell["index"], "status": "ok"})
        except (Exception, ReferenceUsed) as exc:
            results.append(dict(_exc_info(exc), index=cell["index"], status="error"))
        except SystemExit as exc:
            results.append({"index": cell["index"], "status": "error", "ename": "SystemExit",
                            "evalue": str(exc), "frames": [], "builtin": True,
                            "reference": False})
    return {"cells": results}


def describe(ns: dict, name: str) -> dict:
    import inspect

    if name not in ns:
        return {"kind": "missing"}
    obj = ns[name]
    if isinstance(obj, Reference):
        return {"kind": "reference", "what": obj._qualname}
    if not callable(obj):
        return {"kind": "other", "type": type(obj).__name__}
    info = {"kind": "function", "type": type(obj).__name__,
            "module": str(getattr(obj, "__module__", "") or "")}
    code = getattr(obj, "__code__", None)
    info["file"] = code.co_filename if code is not None else ""
    wrapped = getattr(obj, "__wrapped__", None)
    if isinstance(wrapped, Reference):
        info["wraps"] = wrapped._qualname
    try:
        params = []
        for p in inspect.signature(obj).parameters.values():
            params.append([p.name, p.kind.name, p.default is not inspect.Parameter.empty])
        info["params"] = params
    except (TypeError, ValueError):
        info["params"] = None
    return info


def _leaves(value, path=()):
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))


def run_call(header: dict, blobs: list, ns: dict, harnesses: dict) -> tuple[dict, list]:
    args = decode(header["args"], blobs)
    kwargs = decode(header["kwargs"], blobs)
    fn = ns.get(header["fn"])
    before = [(("a", i) + p, v.copy()) for i, a in enumerate(args) for p, v in _leaves(a)]
    before += [(("k", k) + p, v.copy()) for k, a in kwargs.items() for p, v in _leaves(a)]
    out_blobs: list = []
    EVENTS.clear()
    recorder = (BEHAVIOUR[0].Recorder(known=COURSE_CODE, every_thread=True)  # no thread here
                if BEHAVIOUR and callable(fn) else None)         # is not the submission's
    if recorder is not None:  # what runs underneath the student's function, and only that
        fn = recorder.wrap(fn)
    try:
        if header.get("harness"):
            mod, func = header["harness"]
            if mod not in harnesses:
                harnesses[mod] = __import__(mod, fromlist=["_"])
            result = getattr(harnesses[mod], func)(fn, *args, **kwargs)
        else:
            result = fn(*args, **kwargs)
        reply = {"ok": encode(result, out_blobs)}
    except (Exception, ReferenceUsed) as exc:
        reply = {"exc": _exc_info(exc)}
    mutated = []
    for path, old in before:
        cur = args[path[1]] if path[0] == "a" else kwargs[path[1]]
        for i in path[2:]:
            cur = cur[i]
        if not (old.shape == cur.shape and np.array_equal(old, cur, equal_nan=True)):
            mutated.append([list(path), encode(cur.copy(), out_blobs)])
    reply["mutated"] = mutated
    reply["behaviour"] = recorder.events() if recorder is not None else []
    return reply, out_blobs


def main(rfd: int, wfd: int) -> None:
    ns: dict = {}
    harnesses: dict = {}
    while True:
        try:
            header, blobs = unpack(read_message(rfd))
        except EOFError:
            return
        op = header.get("op")
        out_blobs: list = []
        EVENTS.clear()
        if op == "load":
            reply = run_load(header, ns)
        elif op == "describe":
            reply = {"names": {n: describe(ns, n) for n in header["names"]}}
        elif op == "call":
            reply, out_blobs = run_call(header, blobs, ns, harnesses)
        else:
            return
        reply["events"] = list(EVENTS)
        write_message(wfd, pack(reply, out_blobs))


if __name__ == "__main__":
    # No course_utils from disk: drop any path that holds it (an editable install).
    sys.path[:] = [p for p in sys.path
                   if not os.path.isdir(os.path.join(p or ".", "course_utils"))]
    for key in [k for k in sys.modules if k == "course_utils" or k.startswith("course_utils.")]:
        del sys.modules[key]
    _rfd, _wfd = int(sys.argv[1]), int(sys.argv[2])
    PROGRESS.extend(sys.argv[3:4])
    del sys.argv[1:]
    main(_rfd, _wfd)
