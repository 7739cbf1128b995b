"""The grading guard: code that `dlcourse.grading` runs *inside* each grading kernel.

It is never imported by the instructor's process: the grader sends this file's source to
the kernel (out of band, before the first cell) and calls ``install(config)``. From then on
the grader asks ``check(phase, nonce, bind)`` before and after every test cell, through
``user_expressions`` (no cell, no output). ``check``

- restores what student code replaced since the last check and says so: attributes of
  ``builtins``, ``torch``, ``numpy``, ``math``, ``operator``, ``sys`` and every module the
  notebook's locked cells import (``torch.equal = lambda *a: True``), methods of
  ``torch.Tensor`` / ``torch.nn.Module``, entries of ``sys.modules``, builtins shadowed by a
  student function in the user namespace, and names a locked cell bound (imports, defs);
- finds classes of student code whose ``__eq__`` says "equal" to an object it has never
  seen (or ``__ne__`` says "not different") and gives them identity comparison;
- returns what the audit hook saw since the last check: reads of the instructor's files,
  writes outside the submission's folder, processes started (the hook also *refuses* the
  first two with ``PermissionError``).

The answer is signed (HMAC with a secret only the grader and this closure know), so a
student who replaces ``check`` is detected rather than believed. All of this runs in the
same interpreter as the student's code, so a determined attacker with ``ctypes`` or
``gc`` can still reach it: the guard raises the bar, the grader's static checks and the
operating system (another user, resource limits) do the rest.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import importlib
import json
import os
import sys

_MISSING = object()

# Builtins the tests rely on; all of them are callables or classes.
_BUILTIN_NAMES = (
    "abs all any bool callable compile delattr dict divmod enumerate eval exec filter float "
    "frozenset getattr globals hasattr hash id int isinstance issubclass iter len list locals "
    "map max min next object open pow print property range repr reversed round set setattr "
    "sorted staticmethod classmethod str sum super tuple type vars zip __import__ "
    "__build_class__ AssertionError BaseException Exception TypeError ValueError "
    "NotImplementedError KeyError IndexError AttributeError RuntimeError"
).split()
_SYS_NAMES = ("setprofile settrace getprofile gettrace exit setrecursionlimit getrecursionlimit "
              "audit addaudithook _getframe").split()
# Modules always watched (when importable), besides those the locked cells import.
_DEFAULT_MODULES = ("builtins", "math", "operator", "sys", "torch", "torch.nn",
                    "torch.nn.functional", "torch.testing", "torch.linalg", "numpy",
                    "numpy.testing", "numpy.linalg")
# Classes whose own attributes are all watched (methods, dunders).
_CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"), ("torch.nn", "Parameter"))
# Audit events that touch files by path: event -> indexes of the path arguments.
_PATH_EVENTS = {
    "open": (0,), "os.listdir": (0,), "os.scandir": (0,), "glob.glob": (0,), "os.chdir": (0,),
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,), "os.chown": (0,),
    "os.truncate": (0,), "os.utime": (0,), "os.rename": (0, 1), "os.replace": (0, 1),
    "os.symlink": (0, 1), "os.link": (0, 1), "shutil.rmtree": (0,), "shutil.copyfile": (0, 1),
    "shutil.copytree": (0, 1), "shutil.move": (0, 1), "shutil.copymode": (0, 1),
    "shutil.copystat": (0, 1), "shutil.chown": (0,),
}
_READ_ONLY_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}
_PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "pty.spawn", "os.startfile"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_ALLOWED_WRITES = ("/dev/null", "/dev/tty", "/dev/stdout", "/dev/stderr")


def _trusted_dirs() -> tuple[str, ...]:
    """Where library code lives: the interpreter's prefixes, site-packages, this package."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          os.path.dirname(os.__file__))}
    dirs |= {os.path.realpath(p) for p in sys.path if p and "site-packages" in p}
    dirs.add(os.path.realpath(os.path.dirname(os.path.abspath(__file__))) if "__file__" in globals()
             and os.path.isfile(__file__) else os.path.realpath(os.sep + "nonexistent"))
    try:
        import dlcourse
        dirs.add(os.path.realpath(os.path.dirname(dlcourse.__file__)))
    except Exception:
        pass
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs)


def _library_file(filename: str, trusted: tuple[str, ...]) -> bool:
    if filename.startswith("<frozen "):  # the standard library's frozen modules
        return True
    return os.path.isabs(filename) and os.path.isfile(filename) and \
        os.path.realpath(filename).startswith(trusted)


def _code_of(value):
    return getattr(value, "__code__", None) or getattr(getattr(value, "__func__", None), "__code__", None)


def _student_made(value, trusted: tuple[str, ...]) -> bool:
    """Was this function or class written in the notebook (not in a library file)?"""
    code = _code_of(value)
    if code is not None:
        return not _library_file(code.co_filename, trusted)
    if isinstance(value, type):
        if value.__module__ == "__main__":
            return True
        return any(_student_made(v, trusted) for v in vars(value).values() if _code_of(v) is not None)
    return False


def _library_made(key: str, value, trusted: tuple[str, ...]) -> bool:
    """A change a library makes to itself: same name, library code (torch wraps
    ``torch.manual_seed`` when its compiler is first imported, for instance)."""
    if type(value) is type(sys):
        filename = getattr(value, "__file__", None)
        return bool(filename) and _library_file(filename, trusted)
    if getattr(value, "__name__", None) != key:
        return False
    return not _student_made(value, trusted) and getattr(value, "__module__", None) != "__main__"


# (owner, names) that tests use to compare: each must be the library's own builtin of that name
_CRITICAL = (("builtins", "all any abs len isinstance issubclass sorted sum min max getattr hasattr "
                          "round print repr id iter next zip map enumerate callable"),
             ("sys", "setprofile getprofile"),
             ("torch", "equal allclose isclose is_tensor"))
_LITERAL_CLASSES = ((1).__class__, (1.0).__class__, True.__class__, "".__class__, ().__class__,
                    [].__class__, {}.__class__, {1}.__class__, int.__class__, frozenset().__class__)


def assert_untampered(namespace: dict) -> None:
    """For hidden tests: fail when student code replaced what the tests rely on.

    Checks that the builtins, ``sys``, ``math``, ``torch``, ``torch.nn.functional`` and
    ``torch.Tensor`` hold library code only (no function or class written in the notebook),
    that the comparison functions are the genuine builtins of their name, and that the
    notebook's own names (``torch``, ``F``, ``len``, ...) were not rebound to something else.
    Call it with ``globals()`` at the end of a hidden test: then a cheat that replaced
    ``torch.allclose`` (before or during the test) fails the test, under plain nbgrader too.
    """
    import math
    trusted = _trusted_dirs()
    modules = {"builtins": builtins, "sys": sys, "math": math}
    for name in ("torch", "torch.nn.functional", "numpy"):
        if name in sys.modules:
            modules[name] = sys.modules[name]
    problems = []
    def shadow(name, value):  # the notebook's own binding, when it rebinds a builtin to a callable
        seen = namespace.get(name, value)
        return seen if callable(seen) else value

    for real in _LITERAL_CLASSES:
        if vars(builtins).get(real.__name__) is not real or shadow(real.__name__, real) is not real:
            problems.append(real.__name__)
    for module_name, names in _CRITICAL:
        module = modules.get(module_name)
        for name in names.split() if module is not None else ():
            value = vars(module).get(name)
            seen = shadow(name, value) if module is builtins else value
            for candidate in (value, seen):
                if getattr(candidate, "__name__", None) != name or _student_made(candidate, trusted):
                    problems.append(f"{module_name}.{name}")
    owners = list(modules.items())
    tensor = getattr(modules.get("torch"), "Tensor", None)
    if isinstance(tensor, type):
        owners.append(("torch.Tensor", tensor))
    for label, owner in owners:
        for key, value in list(vars(owner).items()):
            if key.startswith("_") and not (key.startswith("__") and key.endswith("__")):
                continue
            if (callable(value) or isinstance(value, (staticmethod, classmethod))) \
                    and _student_made(value, trusted):
                problems.append(f"{label}.{key}")
    for key, value in list(namespace.items()):
        if type(value) is type(sys) and sys.modules.get(value.__name__) is not value:
            problems.append(key)
    for label, module in modules.items():
        if sys.modules.get(label) is not module:
            problems.append(f"sys.modules[{label!r}]")
    if problems:
        raise AssertionError("student code replaced what the tests rely on: "
                             + ", ".join(sorted(set(problems))[:8]))


def install(config: dict) -> None:
    """Snapshot the pristine state, add the audit hook, and expose ``check``."""
    secret = config["secret"].encode()
    workdir = os.path.realpath(config["workdir"])
    protected = [os.path.realpath(p) for p in config["protected"]]
    block_processes = bool(config.get("block_processes"))
    ip = get_ipython()  # noqa: F821 (the kernel's builtin)
    user_ns = ip.user_ns
    events: list[list[str]] = []
    seen_events: set[tuple[str, str]] = set()
    busy = [False]

    # ------------------------------------------------------------- pristine references
    modules = {}
    for name in list(_DEFAULT_MODULES) + list(config.get("modules", [])):
        try:
            modules[name] = importlib.import_module(name)
        except Exception:  # not installed, or not importable here: nothing to watch
            pass

    def watched_items(namespace, everything=False):
        for key, value in list(vars(namespace).items()):
            if everything or not key.startswith("_") or key in ("__import__", "__build_class__"):
                if everything or callable(value) or type(value) is type(sys):
                    yield key, value

    snapshots = []  # (label, owner, {attr: value}, watch_new_attributes)
    for name, module in modules.items():
        if name == "builtins":
            items = {k: vars(builtins)[k] for k in _BUILTIN_NAMES if k in vars(builtins)}
        elif name == "sys":  # IPython swaps displayhook & co. around every cell
            items = {k: vars(sys)[k] for k in _SYS_NAMES if k in vars(sys)}
        else:
            items = dict(watched_items(module))
        snapshots.append((name, module, items, False))
    for module_name, class_name in _CLASSES:
        owner = getattr(modules.get(module_name), class_name, None)
        if isinstance(owner, type):
            snapshots.append((f"{module_name}.{class_name}", owner,
                              dict(watched_items(owner, everything=True)), True))
    # IPython puts a few wrappers of builtins in the user namespace (``open``): those count
    # as pristine too.
    pristine_builtins = {k: user_ns.get(k, vars(builtins)[k])
                         for k in _BUILTIN_NAMES if k in vars(builtins)}
    bindings: dict[str, object] = {}  # names bound by locked cells -> their value

    trusted_dirs = _trusted_dirs()

    class _Stranger:  # an object no student code has ever seen
        __slots__ = ()

    def identity_eq(self, other):
        return self is other

    def identity_ne(self, other):
        return self is not other

    neutralized: set[int] = set()

    # ------------------------------------------------------------- audit hook
    def note(kind: str, detail: str) -> None:
        key = (kind, detail)
        if key not in seen_events and len(events) < 100:
            seen_events.add(key)
            events.append([kind, detail])

    def resolve(path) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        try:
            return os.path.realpath(os.fsdecode(path))
        except Exception:
            return None

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

    def audit(event, args):
        if busy[0]:
            return
        if event in _PATH_EVENTS:
            busy[0] = True
            try:
                writes = event not in _READ_ONLY_EVENTS
                if event == "open":
                    mode, flags = args[1], args[2]
                    if isinstance(mode, str):
                        writes = any(c in mode for c in "wax+")
                    else:
                        writes = bool((flags or 0) & _WRITE_FLAGS)
                for index in _PATH_EVENTS[event]:
                    if index >= len(args):
                        continue
                    path = resolve(args[index])
                    if path is None:
                        continue
                    if any(inside(path, p) for p in protected):
                        note("read" if not writes else "write", path)
                        raise PermissionError(f"grading: {path} is not readable by student code")
                    if writes and not inside(path, workdir) and path not in _ALLOWED_WRITES:
                        note("write", path)
                        raise PermissionError(f"grading: write outside the submission folder: {path}")
            finally:
                busy[0] = False
        elif event in _PROCESS_EVENTS:
            busy[0] = True
            try:
                detail = " ".join(str(a) for a in args[:2] if a is not None)[:200]
                note("process", detail)
                for p in protected:
                    if p in detail:
                        note("read", p)
                # without a separate user the operating system protects nothing: no commands
                if block_processes and "fc-list" not in detail:
                    raise PermissionError("grading: student code may not start processes")
            finally:
                busy[0] = False
        elif event == "sys.addaudithook":
            note("hook", "sys.addaudithook")

    sys.addaudithook(audit)

    # The kernel is up and its libraries are loaded: from now on student code may allocate
    # ``memory`` bytes on top of that (lowering a limit needs no privilege; children inherit).
    if config.get("memory"):
        import resource
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        used = {key: int(status[key].split()[0]) * 1024 for key in ("VmData", "VmSize")}
        for which, value in ((resource.RLIMIT_DATA, used["VmData"] + config["memory"]),
                             (resource.RLIMIT_AS, used["VmSize"] + config["memory"] + 2**30)):
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))

    # ------------------------------------------------------------- the checks
    def student_code(function) -> bool:
        code = _code_of(function)
        if code is None or code.co_filename == "<grading guard>":
            return False
        return not _library_file(code.co_filename, trusted_dirs)

    def probe(function, cls):
        stranger = _Stranger()
        try:
            return function(None, stranger)
        except Exception:
            pass
        try:
            return function(cls.__new__(cls), stranger)
        except Exception:
            return NotImplemented

    def fake_comparisons() -> list[str]:
        found = []
        stack, visited = [object], set()
        while stack:
            cls = stack.pop()
            try:
                subclasses = type.__subclasses__(cls)
            except TypeError:
                continue
            for sub in subclasses:
                if id(sub) in visited:
                    continue
                visited.add(id(sub))
                stack.append(sub)
                if id(sub) in neutralized:
                    continue
                own = vars(sub)
                for dunder, liar in (("__eq__", True), ("__ne__", False)):
                    function = own.get(dunder)
                    if function is None or not student_code(function):
                        continue
                    answer = probe(function, sub)
                    if answer is liar or (answer is not NotImplemented and type(answer) is not bool):
                        found.append(f"{getattr(sub, '__qualname__', sub)}.{dunder}")
                        neutralized.add(id(sub))
                        try:
                            type.__setattr__(sub, "__eq__", identity_eq)
                            type.__setattr__(sub, "__ne__", identity_ne)
                        except Exception:
                            pass
                        break
        return found

    def restore_modules(changed: list[str]) -> None:
        for label, owner, items, watch_new in snapshots:
            current = vars(owner)
            for key, value in list(items.items()):
                now = current.get(key, _MISSING)
                if now is value:
                    continue
                if now is not _MISSING and _library_made(key, now, trusted_dirs):
                    items[key] = now  # the library changed itself: the new pristine value
                    continue
                changed.append(f"{label}.{key}")
                try:
                    setattr(owner, key, value)
                except Exception:
                    pass
            if watch_new:
                for key in [k for k in list(current) if k not in items]:
                    if _library_made(key, current[key], trusted_dirs):
                        items[key] = current[key]
                        continue
                    changed.append(f"{label}.{key}")
                    try:
                        delattr(owner, key)
                    except Exception:
                        pass
        for name, module in modules.items():
            if sys.modules.get(name) is not module:
                changed.append(f"sys.modules[{name!r}]")
                sys.modules[name] = module

    def restore_namespace(changed: list[str], skip) -> None:
        for name, value in list(bindings.items()):
            if name in skip:
                continue
            if user_ns.get(name, _MISSING) is not value:
                changed.append(name)
                user_ns[name] = value
        for name, value in pristine_builtins.items():
            if name in bindings or name in skip:
                continue
            current = user_ns.get(name, _MISSING)
            if current is not _MISSING and current is not value and callable(current):
                changed.append(name)
                del user_ns[name]

    def check(phase: str, nonce: str, bind=()) -> str:
        report = {"phase": phase, "changed": [], "fake": [], "events": []}
        restore_modules(report["changed"])
        restore_namespace(report["changed"], set(bind))
        report["fake"] = fake_comparisons()
        for name in bind:
            if name in user_ns:
                bindings[name] = user_ns[name]
        report["events"] = events[:]
        events.clear()
        payload = json.dumps(report, sort_keys=True)
        signature = hmac.new(secret, (nonce + phase + payload).encode(), hashlib.sha256).hexdigest()
        return json.dumps({"payload": payload, "signature": signature})

    sys.modules[__name__].check = check
