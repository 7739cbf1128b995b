"""The grading guard: code that the grader runs *inside* each grading kernel.

It is never imported by the instructor's process: the grader sends this file's source to
the kernel (out of band, before the first cell) and calls ``install(config)``. From then on

- before and after every test cell the grader asks ``check(phase, nonce, bind)`` through
  ``user_expressions`` (no cell, no output). It restores what student code replaced since
  the last check and says so: IPython's state (input and AST transformers, event callbacks,
  custom exception handlers, methods of the shell, kernel and compiler), ``sys.settrace`` /
  ``setprofile``, attributes of ``builtins``, ``torch``, ``numpy``, ``dlcourse`` and every
  module the locked cells import, methods of ``torch.Tensor`` / ``nn.Module``, entries of
  ``sys.modules``, builtins shadowed in the user namespace, names a locked cell bound; it
  disarms classes whose ``__eq__`` says "equal" to anything; it reports background threads
  of student code (the test then fails: they could undo the restore);
- every test cell runs through ``run_test``: in a *copy* of the user namespace, so names
  the (hidden) test binds never reach student functions, whose globals are the original;
  only the names the released part of the test binds are copied back;
- an audit hook refuses frame and interpreter introspection called from student code
  (``sys._getframe``, ``tb_frame``, ``gc.get_referrers``, ``ctypes``, ``sys.settrace``),
  which is how a function could reach its caller, the test.

Answers are signed (HMAC with a secret of this kernel). All of this runs in the student's
interpreter: it raises the bar, the operating system's sandbox does the rest.
"""

from __future__ import annotations

import ast
import builtins
import functools
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


@functools.lru_cache(maxsize=4096)  # asked for every frame the audit hook looks at: keep it cheap
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


# Audit events by which code reaches frames (its caller's, the test's) or the interpreter.
_INTROSPECTION_EVENTS = {"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                         "gc.get_objects", "gc.get_referrers", "gc.get_referents"}
_FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "gi_code"}
# Library modules through which student code may ask for frames (the caller that counts is theirs).
_RELAYS = ("inspect.py", "traceback.py", os.sep + "ctypes" + os.sep)
GUARD_FILE = "<grading guard>"
_COURSE_MODULES = ("activations", "backprop", "conv", "mlp", "models", "perceptron", "training")


class _Stranger:  # an object no student code has ever seen
    __slots__ = ()


def _identity_eq(self, other):
    return self is other


def _identity_ne(self, other):
    return self is not other


class Guard:
    """The pristine state of one kernel, and the checks that restore it."""

    def __init__(self, config: dict, ip) -> None:
        self.secret = config["secret"].encode()
        self.test_file = f"<test cell {config['secret'][:8]}>"  # not a name student code can guess
        self.protected = [os.path.realpath(p) for p in config.get("protected", [])]
        self.ip = ip
        self.user_ns = ip.user_ns
        self.trusted = _trusted_dirs()
        self.events: list[list[str]] = []
        self.busy = False
        self.neutralized: set[int] = set()
        self.bindings: dict[str, object] = {}  # names bound by locked cells -> their value
        self.completed: list[str] = []  # nonces of the tests run_test ran to the end
        self.modules = self._import_watched(config.get("modules", []))
        self.snapshots = self._snapshot_modules()
        self.ipython = self._snapshot_ipython()
        self.pristine_builtins = {k: self.user_ns.get(k, vars(builtins)[k])
                                  for k in _BUILTIN_NAMES if k in vars(builtins)}
        self.threads = set(sys._current_frames())

    # ------------------------------------------------------------- snapshots
    @staticmethod
    def _import_watched(extra: list[str]) -> dict:
        modules = {}
        loaded = [m for m in sys.modules if m.startswith(("dlcourse", "torch.autograd"))
                  and not m.startswith("dlcourse.grading")]
        course = [f"dlcourse.{m}" for m in _COURSE_MODULES]  # tests use them; students may patch them
        for name in [*_DEFAULT_MODULES, "torch.autograd", *course, *loaded, *extra]:
            try:
                modules[name] = importlib.import_module(name)
            except Exception:  # not installed, or not importable here: nothing to watch
                pass
        return modules

    def _snapshot_modules(self) -> list:
        """(label, owner, {attr: value}, watch_new_attributes) for every watched namespace."""
        def callables(namespace, everything=False):
            return {k: v for k, v in list(vars(namespace).items())
                    if everything or ((not k.startswith("_") or k in ("__import__", "__build_class__"))
                                      and (callable(v) or type(v) is type(sys)))}
        snapshots = []
        for name, module in self.modules.items():
            if name == "builtins":
                items = {k: vars(builtins)[k] for k in _BUILTIN_NAMES if k in vars(builtins)}
            elif name == "sys":  # IPython swaps displayhook & co. around every cell
                items = {k: vars(sys)[k] for k in _SYS_NAMES if k in vars(sys)}
            else:
                items = callables(module)
            snapshots.append((name, module, items, False))
        for module_name, class_name in _CLASSES:
            owner = getattr(self.modules.get(module_name), class_name, None)
            if isinstance(owner, type):
                snapshots.append((f"{module_name}.{class_name}", owner, callables(owner, True), True))
        for owner in self._ipython_classes():
            snapshots.append((f"IPython {owner.__name__}", owner, callables(owner, True), True))
        return snapshots

    def _ipython_classes(self) -> list[type]:
        """The classes whose methods run a cell: the shell's, the kernel's, the compiler's."""
        kernel = getattr(self.ip, "kernel", None)
        objects = [self.ip, kernel, self.ip.compile, self.ip.displayhook, self.ip.display_pub,
                   self.ip.input_transformer_manager, self.ip.events, *self._kernel_parts()]
        classes = []
        for obj in objects:
            for cls in type(obj).__mro__ if obj is not None else ():
                if cls is not object and cls not in classes:
                    classes.append(cls)
        return classes

    def _kernel_parts(self) -> list:
        """What sends the cell's results to the grader (errors included): the kernel's
        session and its IOPub socket."""
        kernel = getattr(self.ip, "kernel", None)
        parts = [getattr(kernel, "session", None), getattr(kernel, "iopub_socket", None)]
        return [p for p in parts if p is not None and hasattr(p, "__dict__")]

    def _snapshot_ipython(self) -> dict:
        """The shell's lists of hooks and its own attributes (identity and contents)."""
        ip = self.ip
        lists = {"input_transformers_cleanup": ip, "input_transformers_post": ip, "ast_transformers": ip,
                 "cleanup_transforms": ip.input_transformer_manager,
                 "line_transforms": ip.input_transformer_manager,
                 "token_transformers": ip.input_transformer_manager}
        return {
            "lists": {name: (owner, getattr(owner, name), list(getattr(owner, name)))
                      for name, owner in lists.items() if isinstance(getattr(owner, name, None), list)},
            "callbacks": {event: (funcs, list(funcs)) for event, funcs in ip.events.callbacks.items()},
            "attributes": {obj_name: (obj, dict(vars(obj))) for obj_name, obj in
                           (("shell", ip), ("compiler", ip.compile), ("kernel", getattr(ip, "kernel", None)),
                            *zip(("session", "iopub"), self._kernel_parts())) if obj is not None},
            "custom_exceptions": ip.custom_exceptions,
        }

    # ------------------------------------------------------------- restoring
    def restore_ipython(self, changed: list[str]) -> None:
        state = self.ipython
        for name, (owner, original, contents) in state["lists"].items():
            if getattr(owner, name, None) is not original or list(original) != contents:
                changed.append(f"IPython {name}")
                original[:] = contents
                setattr(owner, name, original)
        for event, (funcs, contents) in state["callbacks"].items():
            if self.ip.events.callbacks.get(event) is not funcs or list(funcs) != contents:
                changed.append(f"IPython event callbacks ({event})")
                funcs[:] = contents
                self.ip.events.callbacks[event] = funcs
        for label, (obj, attributes) in state["attributes"].items():
            current = vars(obj)
            for key in [k for k in list(current) if k not in attributes]:
                if callable(current[key]) and _student_made(current[key], self.trusted):
                    changed.append(f"IPython {label}.{key}")
                    del current[key]
            for key, value in attributes.items():
                if callable(value) and current.get(key, _MISSING) is not value:
                    changed.append(f"IPython {label}.{key}")
                    current[key] = value
        if self.ip.custom_exceptions != state["custom_exceptions"]:  # set_custom_exc (CustomTB above)
            changed.append("IPython custom exception handler")
            self.ip.custom_exceptions = state["custom_exceptions"]
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("sys.settrace/setprofile hook")
            self.quietly(sys.settrace, None)
            self.quietly(sys.setprofile, None)
        import threading
        if getattr(threading, "_trace_hook", None) or getattr(threading, "_profile_hook", None):
            changed.append("threading.settrace/setprofile hook")
            threading._trace_hook = threading._profile_hook = None

    def quietly(self, function, *args):
        """Call a function the audit hook would refuse to student code, as the guard."""
        self.busy = True
        try:
            return function(*args)
        finally:
            self.busy = False

    def restore_modules(self, changed: list[str]) -> None:
        for label, owner, items, watch_new in self.snapshots:
            current = vars(owner)
            for key, value in list(items.items()):
                now = current.get(key, _MISSING)
                if now is value:
                    continue
                if now is not _MISSING and _library_made(key, now, self.trusted):
                    items[key] = now  # the library changed itself: the new pristine value
                    continue
                changed.append(f"{label}.{key}")
                try:
                    setattr(owner, key, value)
                except Exception:
                    pass
            if watch_new:
                for key in [k for k in list(current) if k not in items]:
                    if _library_made(key, current[key], self.trusted):
                        items[key] = current[key]
                        continue
                    changed.append(f"{label}.{key}")
                    try:
                        delattr(owner, key)
                    except Exception:
                        pass
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                changed.append(f"sys.modules[{name!r}]")
                sys.modules[name] = module

    def restore_namespace(self, changed: list[str], skip) -> None:
        for name, value in list(self.bindings.items()):
            if name not in skip and self.user_ns.get(name, _MISSING) is not value:
                changed.append(name)
                self.user_ns[name] = value
        for name, value in self.pristine_builtins.items():
            if name in self.bindings or name in skip:
                continue
            current = self.user_ns.get(name, _MISSING)
            if current is not _MISSING and current is not value and callable(current):
                changed.append(name)
                del self.user_ns[name]

    def fake_comparisons(self) -> list[str]:
        """Classes of student code whose ``__eq__``/``__ne__`` lie to a stranger; disarmed."""
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
                if id(sub) not in self.neutralized and self._lies(sub):
                    found.append(f"{getattr(sub, '__qualname__', sub)}.__eq__")
                    self.neutralized.add(id(sub))
                    try:
                        type.__setattr__(sub, "__eq__", _identity_eq)
                        type.__setattr__(sub, "__ne__", _identity_ne)
                    except Exception:
                        pass
        return found

    def _lies(self, cls) -> bool:
        for dunder, liar in (("__eq__", True), ("__ne__", False)):
            function = vars(cls).get(dunder)
            if function is None or not self.student_code(function):
                continue
            answer = _probe(function, cls)
            if answer is liar or (answer is not NotImplemented and type(answer) is not bool):
                return True
        return False

    def student_code(self, function) -> bool:
        code = _code_of(function)
        if code is None or code.co_filename == GUARD_FILE:
            return False
        return not _library_file(code.co_filename, self.trusted)

    def student_threads(self) -> list[str]:
        """Threads started since install that run student code."""
        frames = self.quietly(sys._current_frames)
        found = []
        for ident, frame in frames.items():
            if ident in self.threads or ident == _main_thread_id():
                continue
            while frame is not None:
                if self.student_frame(frame):
                    found.append(f"thread running {frame.f_code.co_name}")
                    break
                frame = frame.f_back
        return found

    def student_frame(self, frame) -> bool:
        name = frame.f_code.co_filename
        if name in (GUARD_FILE, self.test_file):
            return False
        return frame.f_globals is self.user_ns or not _library_file(name, self.trusted)

    # ------------------------------------------------------------- the audit hook
    def note(self, kind: str, detail: str) -> None:
        if [kind, detail] not in self.events and len(self.events) < 100:
            self.events.append([kind, detail])

    def audit(self, event: str, args: tuple) -> None:
        if self.busy:
            return
        if event in _INTROSPECTION_EVENTS or event.startswith("ctypes.") or \
                (event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRIBUTES):
            self.busy = True
            try:
                caller = self._caller()
            finally:
                self.busy = False
            if caller is not None:
                what = f"{event} {args[1]}" if event == "object.__getattr__" else event
                self.note("introspection", what)
                raise PermissionError(f"grading: {what} is not available to student code")
        elif event == "open" and args and isinstance(args[0], (str, bytes)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in self.protected):
                self.note("read", path)
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "pty.spawn"):
            self.note("process", " ".join(str(a) for a in args[:2] if a is not None)[:200])
        elif event == "sys.addaudithook":
            self.note("hook", "sys.addaudithook")

    def _caller(self):
        """The student frame that asked for introspection (None: library or test code did)."""
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename.endswith(_RELAYS):
            frame = frame.f_back
        return frame if frame is not None and self.student_frame(frame) else None

    # ------------------------------------------------------------- the protocol
    def check(self, phase: str, nonce: str, bind=(), test_nonce: str | None = None) -> str:
        """Restore, inspect, and answer with a signed report (see the module doc)."""
        report = {"phase": phase, "changed": [], "fake": [], "events": [], "threads": []}
        self._reinstall()
        self.restore_ipython(report["changed"])
        self.restore_modules(report["changed"])
        self.restore_namespace(report["changed"], set(bind))
        report["fake"] = self.fake_comparisons()
        report["threads"] = self.student_threads()
        report["completed"] = test_nonce in self.completed if test_nonce else None
        for name in bind:
            if name in self.user_ns:
                self.bindings[name] = self.user_ns[name]
        report["events"], self.events = self.events, []
        payload = json.dumps(report, sort_keys=True)
        signature = hmac.new(self.secret, (nonce + phase + payload).encode(), hashlib.sha256).hexdigest()
        return json.dumps({"payload": payload, "signature": signature})

    def run_test(self, nonce: str, source: str, keep=()):
        """Run a test cell in a copy of the user namespace; copy back only ``keep``.

        A test may swap one of the student's functions for its own (to see whether another
        student function calls it): rebinding a name that holds a function of the student's
        is written through to the user namespace at once. Nothing else the test binds (its
        data, its expected values) ever reaches the student's globals. Returns the value of
        a final expression (shown as the cell's result)."""
        self._scrub_request()
        namespace = dict(self.user_ns)
        shared = {name for name, value in self.user_ns.items()
                  if callable(value) and _student_made(value, self.trusted)}
        sync = f"_grading_sync_{self.test_file[-9:-1]}"
        namespace[sync] = lambda names: self._write_through(namespace, names)
        tree = ast.parse(self.ip.transform_cell(source), self.test_file)
        tree.body = _with_write_through(tree.body, shared, sync)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(ast.fix_missing_locations(tree), self.test_file, "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), self.test_file, "eval"), namespace) if last else None
        for name in keep:
            if name in namespace:
                self.user_ns[name] = namespace[name]
        self.completed.append(nonce)
        return value

    def _write_through(self, namespace: dict, names: list[str]) -> None:
        for name in names:
            if name in namespace:
                self.user_ns[name] = namespace[name]
            else:
                self.user_ns.pop(name, None)

    def _scrub_request(self) -> None:
        """The kernel keeps the request being run (with the test's source): drop the code."""
        kernel = getattr(self.ip, "kernel", None)
        for parent in list(getattr(kernel, "_parents", {}).values()) + [getattr(kernel, "_parent", None)]:
            if isinstance(parent, dict) and isinstance(parent.get("content"), dict):
                parent["content"]["code"] = ""

    def _reinstall(self) -> None:
        module = self.module
        sys.modules[module.__name__] = module
        module.check, module.run_test = self.check, self.run_test

    def limit_memory(self, memory: int) -> None:
        """From now on student code may allocate ``memory`` bytes on top of the kernel's
        own footprint (lowering a limit needs no privilege; it cannot be raised again)."""
        import resource
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        used = {key: int(status[key].split()[0]) * 1024 for key in ("VmData", "VmSize")}
        for which, value in ((resource.RLIMIT_DATA, used["VmData"] + memory),
                             (resource.RLIMIT_AS, used["VmSize"] + memory + 2**30)):
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))


_BLOCKS = ("body", "orelse", "finalbody")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _stored_names(statement: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not in the functions or classes it defines)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    names, stack = set(), [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        for field, child in ast.iter_fields(node):
            if field in _BLOCKS or field == "handlers":  # their statements are rewritten on their own
                continue
            children = child if isinstance(child, list) else [child]
            stack += [c for c in children if isinstance(c, ast.AST) and not isinstance(c, (*_SCOPES, ast.stmt))]
    return names


def _with_write_through(body: list[ast.stmt], shared: set[str], sync: str) -> list[ast.stmt]:
    """``body`` with ``sync([names])`` after every statement that rebinds a ``shared`` name."""
    out = []
    for statement in body:
        if not isinstance(statement, _SCOPES):
            for field in _BLOCKS:
                if isinstance(getattr(statement, field, None), list):
                    setattr(statement, field, _with_write_through(getattr(statement, field), shared, sync))
            for handler in getattr(statement, "handlers", []):
                handler.body = _with_write_through(handler.body, shared, sync)
        out.append(statement)
        names = sorted(_stored_names(statement) & shared)
        if names:
            call = ast.Call(ast.Name(sync, ast.Load()), [ast.List([ast.Constant(n) for n in names], ast.Load())], [])
            out.append(ast.copy_location(ast.Expr(call), statement))
    return out


def _probe(function, cls):
    stranger = _Stranger()
    try:
        return function(None, stranger)
    except Exception:
        pass
    try:
        return function(cls.__new__(cls), stranger)
    except Exception:
        return NotImplemented


def _main_thread_id() -> int:
    import threading
    return threading.main_thread().ident


def install(config: dict) -> None:
    """Snapshot the pristine state, add the audit hook, and expose ``check`` and ``run_test``."""
    guard = Guard(config, get_ipython())  # noqa: F821 (the kernel's builtin)
    guard.module = sys.modules[__name__]
    sys.addaudithook(guard.audit)
    if config.get("memory"):
        guard.limit_memory(config["memory"])
    guard._reinstall()
