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
  gone at the end of the call;
* **work handed out of sight**: a child process started (``os.fork``, ``subprocess``,
  ``multiprocessing``, ``os.system``, ``os.exec*``, ``os.posix_spawn``) or running while
  the function runs, and a thread started with ``_thread`` rather than ``threading``.

Every thread of the process is recorded, not only the one that calls the function (issue
29): the hook is installed into the threads already running (Python 3.12+:
``threading.setprofile_all_threads``; 3.11: the interpreter's ``_PyEval_SetProfile`` on
each thread state, through ``ctypes``, see :func:`hook_all_threads`) and into the threads
started meanwhile, so a worker thread started in an earlier cell that does the work for the
function (it hands its arguments over through a queue) is seen as if the function did it;
such an event names the thread. Where the hook cannot be installed into running threads, a
thread other than the caller's that is alive with the student's code is refused instead.
In the student's kernel (``every_thread=False``) a library's own thread (its ``run`` or
target is a library's code: the kernel's I/O threads) is recorded only when the student's
code runs in it.

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
_setprofile_all_threads = getattr(threading, "setprofile_all_threads", None)  # 3.12+
_current_frames, _get_ident, _active_threads = sys._current_frames, threading.get_ident, \
    threading._active
# C functions that hand work to another process, or start a thread ``threading`` does not
# know of (its own ``Thread.start`` calls ``_thread`` too: that one is not counted).
LEAVE = frozenset({(m, n) for m in ("posix", "nt", "os") for n in (
    "fork", "forkpty", "system", "posix_spawn", "posix_spawnp", "execv", "execve", "fexecve",
    "spawnv", "spawnve", "startfile")} | {("_posixsubprocess", "fork_exec"),
                                         ("_winapi", "CreateProcess")})
RAW_THREAD = frozenset({("_thread", "start_new_thread"), ("_thread", "start_new"),
                        ("_thread", "start_joinable_thread")})


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
    role = None       # "library" for a library's own thread (see Recorder._thread_note)


class Recorder:
    """Records what runs underneath the functions it wraps (see the module docstring).

    ``known``: ``{id(code): module name}`` of the course's code objects (the sandbox
    registers every module it compiles; keep the code objects alive); ``package_dir``:
    the folder of course_utils, whose files are the course's code (the student's kernel).
    Code whose module name starts with ``course_utils`` or ``_course_fresh_`` is the
    course's too (a dataclass's generated methods).
    """

    def __init__(self, known: dict | None = None, package_dir: str | None = None, *,
                 every_thread: bool = False):
        self.known = known if known is not None else {}
        self.package_dir = package_dir
        self.every_thread = every_thread     # True: every other thread is the student's
        self.course: dict[str, None] = {}     # course functions entered, in order
        self.via: dict[tuple, str] = {}      # (package, calling package or "") -> module
        self.tamper: dict[str, None] = {}
        self.left: dict[str, None] = {}      # work handed to a process or a raw thread
        self.threads: dict[tuple, str] = {}  # ("course", name) / (package, via) -> thread
        self._checking = None                # the ident of the thread that calls
        self._children: dict = {}
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
        if via == top or (top, via) in self.via:
            return
        note = self._thread_note(caller)
        if note is not False:
            self.via[(top, via)] = where
            if note:
                self.threads[(top, via)] = note

    def _thread_note(self, frame):
        """None in the calling thread; in another, the thread's name, or False where what
        runs there is not the student's (a library's own thread, in the student's kernel,
        with no student code on its stack)."""
        ident = _get_ident()
        if ident == self._checking:
            return None
        thread = _active_threads.get(ident)
        if not self.every_thread:
            if self._local.role is None:
                self._local.role = "library" if library_thread(thread) else "student"
            if self._local.role == "library" and not self._student_below(frame):
                return False
        return f"`{thread.name}`" if thread is not None else f"thread {ident}"

    def _student_below(self, frame) -> bool:
        for _ in range(500):
            if frame is None:
                return False
            if self._classify(frame)[0] == _STUDENT:
                return True
            frame = frame.f_back
        return False

    def _leave(self, frame, what: str) -> None:
        """Record a process started, or a thread started past ``threading``."""
        if (what.startswith("_thread.") and frame is not None
                and frame.f_globals.get("__name__") == "threading"):
            return  # threading.Thread.start: the new thread gets the hook (threading.setprofile)
        if self._thread_note(frame) is not False:
            kind = "a thread started outside `threading`" if what.startswith("_thread.") \
                else "a child process started"
            self.left.setdefault(f"{kind} (`{what}`)", None)

    def _from_student(self, frame) -> bool:
        """Whether ``frame``, or the standard library's code it is in, was called by the
        student's code (a library's or the course's own use of ``sys._getframe`` is not
        tampering)."""
        for _ in range(50):
            if frame is None or frame.f_globals is _OWN:  # the recorder's own calls
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
                if name is not None and name not in self.course and (
                        back is None or self._classify(back)[0] not in (_COURSE, _IMPORT)):
                    note = self._thread_note(back)
                    if note is not False:
                        self.course[name] = None
                        if note:
                            self.threads[("course", name)] = note
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
            if frame.f_globals is _OWN:  # its own calls
                return
            mod, fname = self._c_function(arg)
            if (mod, fname) in LEAVE or (mod, fname) in RAW_THREAD:  # even while importing
                self._leave(frame, f"{mod}.{fname}")
                return
            if local.importing is not None:
                return
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
                self._checking = _get_ident()
                self._children = child_processes()
                self._saved = _getprofile()
                self._bound = self._hook  # one object: the threads' hooks are compared to it
                _thread_setprofile(self._bound)
                _setprofile(self._bound)
                self._installed = hook_all_threads(self._bound)
                if not self._installed:
                    self._unfollowed()
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0:
                if _getprofile() != self._hook:
                    self.tamper.setdefault("the profile hook was removed", None)
                if self._installed:
                    unhook_all_threads(self._bound)
                else:
                    self._unfollowed()
                _setprofile(self._saved)
                _thread_setprofile(None)
                for pid, cmd in {**self._children, **child_processes()}.items():
                    self.left.setdefault(f"a child process was running (pid {pid}: `{cmd}`)",
                                         None)
        return False

    def _unfollowed(self) -> None:
        """Where the hook cannot enter running threads: refuse every other thread that is
        the student's (alive with the student's code, or any, with ``every_thread``)."""
        for ident, frame in _current_frames().items():
            if ident == self._checking:
                continue
            thread = _active_threads.get(ident)
            if self.every_thread or self._student_below(frame):
                name = f"`{thread.name}`" if thread is not None else f"thread {ident}"
                self.left.setdefault(f"thread {name} was running, which the recorder cannot "
                                     "follow on this Python", None)

    # -- results -----------------------------------------------------------------------
    def events(self) -> list[dict]:
        """The record as plain events (``kind``: "course", "library", "recorder" or
        "elsewhere"); an event in another thread than the caller's has its ``thread``."""
        def where(key):
            return {"thread": self.threads[key]} if key in self.threads else {}

        return ([{"kind": "course", "what": c, **where(("course", c))} for c in self.course]
                + [{"kind": "library", "what": t, "module": m, "via": v, **where((t, v))}
                   for (t, v), m in self.via.items()]
                + [{"kind": "recorder", "what": t} for t in self.tamper]
                + [{"kind": "elsewhere", "what": t} for t in self.left])


# -- every thread and child process ------------------------------------------------------
def library_thread(thread) -> bool:
    """Whether ``thread`` (a ``threading.Thread``, or None) is a library's own: its ``run``
    or its target is a library's code (a kernel's I/O threads, a progress bar's monitor)."""
    if thread is None:
        return False
    run = type(thread).run
    fn = run if run is not threading.Thread.run else getattr(thread, "_target", None)
    fn = getattr(fn, "__func__", fn)
    while isinstance(fn, functools.partial):
        fn = fn.func
    mod = getattr(fn, "__module__", None)
    mod = mod if isinstance(mod, str) else ""
    top = mod.split(".")[0]
    return bool(top) and top not in STDLIB and top != COURSE and not mod.startswith(FRESH)


def child_processes() -> dict[int, str]:
    """``{pid: command line}`` of this process's children, living or not yet reaped
    (Linux: ``/proc/self/task/*/children``; ``{}`` elsewhere)."""
    pids: set[int] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
    except (OSError, ValueError):
        return {}
    out = {}
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = ""
        out[pid] = cmd[:80] or "?"
    return out


def _cpython311():
    """On CPython 3.11 (no ``threading.setprofile_all_threads``): ``(api, the interpreter's
    profile trampoline, word offset of ``c_profileobj`` in a thread state)``, found by
    setting a profile function on this thread and finding it in the thread state; None
    where that cannot be checked."""
    if sys.version_info[:2] != (3, 11) or sys.implementation.name != "cpython":
        return None
    try:
        import ctypes

        api = ctypes.PyDLL(ctypes.pythonapi._name, handle=ctypes.pythonapi._handle)
        P = ctypes.c_void_p
        for name, res, args in (("PyThreadState_Get", P, []), ("PyInterpreterState_Get", P, []),
                                ("PyInterpreterState_ThreadHead", P, [P]),
                                ("PyThreadState_Next", P, [P]),
                                ("_PyEval_SetProfile", ctypes.c_int, [P, P, P])):
            getattr(api, name).restype = res
            getattr(api, name).argtypes = args
        words = (P * 16).from_address(api.PyThreadState_Get())
        saved = _getprofile()
        first, second = (lambda *a: None), (lambda *a: None)
        try:
            _setprofile(first)
            at = [i for i in range(3, 16) if words[i] == id(first)]
            func = words[at[0] - 2] if len(at) == 1 else None
            _setprofile(second)
            ok = func and words[at[0]] == id(second) and words[at[0] - 2] == func
            _setprofile(None)
            ok = ok and not words[at[0] - 2] and not words[at[0]]
        finally:
            _setprofile(saved)
        return (api, func, at[0]) if ok else None
    except Exception:
        return None


_C311 = _cpython311()


def hook_all_threads(hook) -> bool:
    """Install ``hook`` as the profile function of every thread of the interpreter (the
    caller's too on 3.12+); False where that cannot be done (see :func:`_cpython311`)."""
    if _setprofile_all_threads is not None:
        _setprofile_all_threads(hook)
        return True
    if _C311 is None:
        return False
    api, func, _ = _C311
    with _holding_the_gil():
        me = api.PyThreadState_Get()
        ts = api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
        while ts:
            if ts != me:
                api._PyEval_SetProfile(ts, func, id(hook))
            ts = api.PyThreadState_Next(ts)
    return True


class _holding_the_gil:
    """While the thread states are walked (3.11), no other thread should run: one that ends
    frees its state. The calls through ``ctypes.PyDLL`` keep the GIL; a long switch interval
    keeps the Python lines between them from handing it over."""

    def __enter__(self):
        self.saved = sys.getswitchinterval()
        sys.setswitchinterval(100.0)

    def __exit__(self, *exc):
        sys.setswitchinterval(self.saved)
        return False


def unhook_all_threads(hook) -> None:
    """Remove ``hook`` from the threads :func:`hook_all_threads` gave it to (on 3.12+, every
    thread's profile function goes)."""
    if _setprofile_all_threads is not None:
        _setprofile_all_threads(None)
        return
    import ctypes

    api, _, at = _C311
    with _holding_the_gil():
        me = api.PyThreadState_Get()
        ts = api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
        while ts:
            if ts != me and (ctypes.c_void_p * 16).from_address(ts)[at] == id(hook):
                api._PyEval_SetProfile(ts, None, None)
            ts = api.PyThreadState_Next(ts)


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
    threads = {e["what"]: e["thread"] for e in events
               if e.get("kind") == "course" and e.get("thread")}
    elsewhere = sorted({e["what"] for e in events if e.get("kind") == "elsewhere"})
    if course:
        names = ", ".join(f"`{c}`" + (f" (in thread {threads[c]})" if c in threads else "")
                          for c in course)
        return Reason(f"not your work: the course's {names} ran inside `{function}` (computing "
                      "the answer with code shipped with the course); 0 points for this "
                      "exercise.", REUSE), []
    if tamper:
        return Reason(f"the grader's recorder was switched off or looked for inside `{function}` "
                      f"({', '.join(f'`{t}`' for t in tamper)}); 0 points for this exercise.",
                      TAMPERING), []
    if elsewhere:
        return Reason(f"work left the grader's sight while `{function}` ran: "
                      f"{'; '.join(elsewhere)}; a check allows no child process and no thread "
                      "started outside `threading`, so 0 points for this exercise.",
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
        other = f" in another thread ({e['thread']})" if e.get("thread") else ""
        flags.append(f"`{e.get('module') or top}` ({top}) ran inside `{function}`{other}; this "
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
