"""What runs underneath a student's function while a check calls it (issue 22: reuse is
detected by behaviour, not by a list).

A :class:`Recorder` wraps the student's function; while the wrapped function runs, a
profile hook (``sys.setprofile``, and ``threading.setprofile`` for threads it starts)
records

* every **course function** entered from code that is not the course's (the student's
  code, or a library's calling back): ``module.qualname``, such as
  ``course_utils.maths.tbptt.torch_rnn_step``; what course code calls in turn is not
  recorded (an allowed helper may use other course code);
* every **library** whose code runs (a Python frame of the library, or a C function of
  it, such as ``torch.as_tensor``): the top-level package and the first module seen,
  such as ``torch`` (``torch.nn.modules.rnn``); the standard library is not recorded,
  nor what runs while the import system imports (other packages' import finders, the
  body of a module imported lazily); course code the import system calls (the course's
  import finder) and a course module's own body are not a use either. Each library is
  recorded with who called it: the student's (or the course's) code, or another library;
* **tampering** with the recorder, by the student's code: a call of ``sys.setprofile``
  and its kin, ``sys._getframe`` or the ``gc`` functions that find objects, or the hook
  gone at the end of the call.

:func:`judge` turns a record into a verdict for one exercise (registry entry fields
``libraries`` and ``helpers``): a course function outside the exercise's helpers earns
0 with the reason, and so does tampering; a library outside its allowed libraries is
flagged for review, unless an allowed library called it and depends on it (torch calls
``typing_extensions``; :func:`dependencies` reads the installed packages' metadata).

This module imports only the standard library and nothing of the course, so the grading
sandbox (``course grade``) can load it from its source before any of the student's code
runs, and :mod:`course_utils.checks.integrity` (nbgrader's hidden tests) can use it in
the student's kernel.

Cost: the hook runs on every Python call and return and every call of a C function while
the student's function runs (not while the reference or the checking code runs); numpy's
ufuncs and operators make no such events. ``tests/test_behaviour.py`` prints the time of
a check with and without it.
"""

from __future__ import annotations

import functools
import os
import sys
import threading

COURSE = "course_utils"
STDLIB = frozenset(sys.stdlib_module_names) | {"builtins", "__main__", "__future__"}
# Calls that switch the recorder off or go looking for it.
TAMPER = frozenset({("sys", "setprofile"), ("sys", "getprofile"), ("sys", "settrace"),
                    ("sys", "gettrace"), ("sys", "_getframe"), ("gc", "get_objects"),
                    ("gc", "get_referrers"), ("gc", "get_referents"),
                    ("threading", "setprofile"), ("threading", "settrace"),
                    ("threading", "setprofile_all_threads"), ("threading", "settrace_all_threads")})
# Taken when this module is loaded (the sandbox loads it before any student code runs),
# so that a later ``sys.setprofile = …`` does not switch the recorder off.
_setprofile, _getprofile = sys.setprofile, sys.getprofile
_thread_setprofile = threading.setprofile


def _genuine() -> bool:
    """Whether the hook functions taken are the interpreter's own."""
    return all(type(f) is type(len) and getattr(f, "__self__", None) is sys
               and f.__name__ == n for f, n in ((_setprofile, "setprofile"),
                                                (_getprofile, "getprofile")))
_COURSE, _LIBRARY, _OTHER, _IMPORT, _STUDENT = 0, 1, 2, 3, 4
IMPORT_SYSTEM = ("importlib._bootstrap", "importlib._bootstrap_external")
FRESH = "_course_fresh_"  # the prefix of integrity.fresh_modules' copies


def normal_name(name: str) -> str:
    """``course_utils.x.y`` for a fresh copy's ``_course_fresh_1234abcd.x.y``."""
    if name.startswith(FRESH):
        return COURSE + name[name.index("."):] if "." in name else COURSE
    return name


def code_objects(code):
    """``code`` and every code object nested in it (functions, classes, lambdas)."""
    yield code
    for const in code.co_consts:
        if type(const) is type(code):
            yield from code_objects(const)


def module_of_file(filename: str, package_dir: str) -> str | None:
    """``course_utils.a.b`` for a file under ``package_dir`` (course_utils/), else None."""
    base = os.path.join(package_dir, "")
    if not filename.startswith(base) or not filename.endswith(".py"):
        return None
    parts = filename[len(base):-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([COURSE, *parts])


class _Local(threading.local):
    importing = None  # the import system's outermost frame while it imports (this thread)


class Recorder:
    """Records what runs underneath the functions it wraps (see the module docstring).

    ``known``: ``{id(code): module name}`` of the course's code objects (the sandbox
    registers every module it compiles; keep the code objects alive); ``package_dir``:
    the folder of course_utils, whose files are the course's code (the student's kernel).
    Code whose module name starts with ``course_utils`` or ``_course_fresh_`` is the
    course's too (a dataclass's generated methods).
    """

    def __init__(self, known: dict | None = None, package_dir: str | None = None):
        self.known = known if known is not None else {}
        self.package_dir = package_dir
        self.course: dict[str, None] = {}     # course functions entered, in order
        self.via: dict[tuple, str] = {}      # (package, calling package or "") -> module
        self.tamper: dict[str, None] = {}
        self._kinds: dict[int, tuple] = {}   # id(code) -> (kind, name, code)
        self._active = 0
        self._lock = threading.Lock()
        self._local = _Local()

    # -- classification ----------------------------------------------------------------
    def _classify(self, frame) -> tuple:
        code = frame.f_code
        hit = self._kinds.get(id(code))
        if hit is not None:
            return hit
        if frame.f_globals is _OWN:  # the recorder itself
            hit = self._kinds[id(code)] = (_OTHER, None, code)
            return hit
        module = self.known.get(id(code))
        if module is None and self.package_dir:
            module = module_of_file(code.co_filename, self.package_dir)
        name = frame.f_globals.get("__name__")
        name = name if isinstance(name, str) else ""
        if module is None and (name == COURSE or name.startswith((COURSE + ".", FRESH))):
            module = normal_name(name)
        qualname = getattr(code, "co_qualname", code.co_name)
        if module is not None:  # a course module's own body (an import) is not a use
            hit = (_COURSE, None if code.co_name == "<module>" else f"{module}.{qualname}", code)
        elif name and name.split(".")[0] not in STDLIB:
            hit = (_LIBRARY, name, code)
        elif name in IMPORT_SYSTEM:  # it calls the course's import finder: not a use
            hit = (_IMPORT, None, code)
        elif (name.split(".")[0], code.co_name) in TAMPER:
            hit = (_OTHER, f"{name}.{code.co_name}", code)
        elif name.split(".")[0] in STDLIB and name != "__main__":
            hit = (_OTHER, None, code)
        else:  # a notebook's code (``__main__``)
            hit = (_STUDENT, None, code)
        self._kinds[id(code)] = hit
        return hit

    def _c_function(self, fn) -> tuple[str, str]:
        """``(module, name)`` of a C function (a builtin, a bound C method)."""
        mod = getattr(fn, "__module__", None)
        if not isinstance(mod, str):
            owner = getattr(fn, "__self__", None)
            if isinstance(owner, type):
                mod = owner.__module__
            elif type(owner).__name__ == "module":
                mod = getattr(owner, "__name__", "")
            else:
                mod = type(owner).__module__
        return (mod if isinstance(mod, str) else ""), getattr(fn, "__name__", "?")

    def _library(self, top: str, where: str, caller) -> None:
        """Record library ``top`` (code in ``where``) called from frame ``caller``: by whom,
        past the standard library's frames: "" (the student's code or the course's) or
        another library's top-level package (a dependency's use is judged by that)."""
        kind, name, _ = self._classify(caller) if caller is not None else (_OTHER, None, None)
        if kind == _LIBRARY and name.split(".")[0] == top:
            return  # inside the library: the common case, cheap
        via, frame = "", caller
        for _ in range(50):
            if frame is None:
                break
            kind, name, _ = self._classify(frame)
            if kind == _LIBRARY:
                via = name.split(".")[0]
                break
            if kind != _OTHER:
                break
            frame = frame.f_back
        if via == top:
            return
        self.via.setdefault((top, via), where)

    def _from_student(self, frame) -> bool:
        """Whether ``frame``, or the standard library's code it is in, was called by the
        student's code (a library's or the course's own use of ``sys._getframe`` is not
        tampering)."""
        for _ in range(50):
            if frame is None:
                return False
            kind = self._classify(frame)[0]
            if kind != _OTHER:
                return kind == _STUDENT
            frame = frame.f_back
        return False

    # -- the hook ----------------------------------------------------------------------
    def _hook(self, frame, event, arg):
        local = self._local
        if event == "call":
            kind, name, _ = self._classify(frame)
            if kind == _COURSE:
                back = frame.f_back
                if name is not None and (back is None or self._classify(back)[0]
                                         not in (_COURSE, _IMPORT)):
                    self.course.setdefault(name, None)
            elif kind == _LIBRARY:
                if local.importing is None:
                    self._library(name.split(".")[0], name, frame.f_back)
            elif kind == _IMPORT:
                if local.importing is None:
                    local.importing = frame
            elif name is not None and self._from_student(frame.f_back):
                self.tamper.setdefault(name, None)
        elif event == "return":
            if frame is local.importing:
                local.importing = None
        elif event == "c_call":
            if frame.f_code is _EXIT or local.importing is not None:  # its own calls; imports
                return
            mod, fname = self._c_function(arg)
            top = mod.split(".")[0]
            if top in STDLIB:
                if (top, fname) in TAMPER and self._from_student(frame):
                    self.tamper.setdefault(f"{top}.{fname}", None)
            elif top and top != COURSE:
                self._library(top, f"{mod}.{fname}", frame)

    def wrap(self, fn):
        """``fn``, recorded while it runs (same signature; not its attributes)."""
        rec = self

        @functools.wraps(fn, updated=())
        def recorded(*args, **kwargs):
            with rec:
                return fn(*args, **kwargs)

        return recorded

    def __enter__(self):
        with self._lock:
            self._active += 1
            if self._active == 1:
                if not _genuine():
                    self.tamper.setdefault("sys.setprofile was replaced", None)
                self._saved = _getprofile()
                _thread_setprofile(self._hook)
                _setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0:
                if _getprofile() != self._hook:
                    self.tamper.setdefault("the profile hook was removed", None)
                _setprofile(self._saved)
                _thread_setprofile(None)
        return False

    # -- results -----------------------------------------------------------------------
    def events(self) -> list[dict]:
        """The record as plain events (``kind``: "course", "library" or "recorder")."""
        return ([{"kind": "course", "what": c} for c in self.course]
                + [{"kind": "library", "what": t, "module": m, "via": v}
                   for (t, v), m in self.via.items()]
                + [{"kind": "recorder", "what": t} for t in self.tamper])


# Causes of a zero (the grader's vocabulary, course_utils.status.REUSE and .TAMPERING: this
# module imports nothing of the course; tests/test_grading_report.py checks they agree).
REUSE, TAMPERING = "reuse", "tampering"


class Reason(str):
    """Why an answer earns 0 (the text a teacher reads), with its machine ``cause``."""

    cause: str

    def __new__(cls, text: str, cause: str):
        self = super().__new__(cls, text)
        self.cause = cause
        return self

    def __reduce__(self):  # copies and pickles keep the cause
        return (Reason, (str(self), self.cause))


_EXIT = Recorder.__exit__.__code__
_OWN = globals()


def judge(events: list, *, function: str, libraries, helpers=()) -> tuple[str | None, list[str]]:
    """``(why it earns 0 or None, review flags)`` for the events of the calls of the
    student's ``function`` (see :meth:`Recorder.events`).

    ``libraries``: the top-level packages the exercise's answer may use (the standard
    library always); ``helpers``: the course functions it may call (``module.qualname``).
    """
    allowed_course = {normal_name(h) for h in helpers}
    course = sorted({e["what"] for e in events if e.get("kind") == "course"} - allowed_course)
    tamper = sorted({e["what"] for e in events if e.get("kind") == "recorder"})
    if course:
        names = ", ".join(f"`{c}`" for c in course)
        return Reason(f"not your work: the course's {names} ran inside `{function}` (computing "
                      "the answer with code shipped with the course); 0 points for this "
                      "exercise.", REUSE), []
    if tamper:
        return Reason(f"the grader's recorder was switched off or looked for inside `{function}` "
                      f"({', '.join(f'`{t}`' for t in tamper)}); 0 points for this exercise.",
                      TAMPERING), []
    allowed = set(libraries)
    flags, seen = [], set()
    for e in events:
        top, via = e.get("what"), e.get("via") or ""
        if e.get("kind") != "library" or top in allowed or top in seen:
            continue
        if via and top in dependencies(frozenset(allowed)):
            continue  # an allowed library using what it depends on (torch: typing_extensions)
        seen.add(top)
        asks = " or ".join(sorted(allowed)) or "the standard library only"
        flags.append(f"`{e.get('module') or top}` ({top}) ran inside `{function}`; this "
                     f"exercise asks for {asks}")
    return None, flags


@functools.lru_cache(maxsize=16)
def dependencies(tops: frozenset) -> frozenset:
    """The top-level packages that the installed distributions of ``tops`` require,
    transitively (optional extras not counted), from the packages' metadata."""
    import re
    from importlib import metadata

    def norm(dist: str) -> str:
        return re.sub(r"[-_.]+", "-", dist).lower()

    installed = metadata.packages_distributions()  # top-level package -> distributions
    by_dist: dict[str, set] = {}
    for top, dists in installed.items():
        for d in dists:
            by_dist.setdefault(norm(d), set()).add(top)
    todo = {norm(d) for top in tops for d in installed.get(top, [])}
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for req in reqs:
            if "extra ==" in req.replace("extra==", "extra =="):
                continue
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if m:
                todo.add(norm(m.group(1)))
    return frozenset(t for d in seen for t in by_dist.get(d, ())) - set(tops)
