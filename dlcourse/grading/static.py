"""Static checks of a student's code: what no honest answer needs, reported by name.

They report, they do not decide: the sandbox and the guard are what stop a cheat. Every
check is bounded in time and size (a 0.6 MB cell of ``!`` lines once took IPython minutes).
"""

from __future__ import annotations

import ast
import re
from typing import Iterable

from . import guard

CHECK_LIMIT = 1_000_000  # characters: larger cells are reported, not parsed
TRANSFORM_LIMIT = 64_000  # characters: IPython's transform is slow on long cells of `!` lines
_KERNEL_HOOKS = {"ast_transformers", "input_transformers_post", "input_transformers_cleanup",
                 "input_transformer_manager", "set_custom_exc", "set_hook", "events",
                 "run_cell", "run_code", "run_ast_nodes", "showtraceback", "user_ns", "user_module",
                 "user_global_ns", "displayhook", "display_pub", "do_execute"}
_FRAME_ATTRIBUTES = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame",
                     "cr_frame", "ag_frame", "tb_next", "__traceback__"}
_PATCH_ROOTS = {"torch", "np", "numpy", "math", "builtins", "__builtins__", "operator", "sys",
                "dlcourse", "Tensor", "nn", "F", "unittest", "random", "os", "IPython", "pytest",
                "reference"}
_EXIT_CALLS = {"os._exit", "os.kill", "os.killpg", "os.abort", "sys.exit", "exit", "quit",
               "signal.signal", "signal.alarm", "signal.raise_signal", "os.fork", "os.forkpty"}
_SHELL_CALLS = {"os.system", "os.popen", "os.execv", "os.execvp", "os.execve", "os.spawnv",
                "pty.spawn", "get_ipython.system", "get_ipython.getoutput"}
_WRITE_CALLS = {"os.remove", "os.unlink", "os.rename", "os.replace", "os.rmdir", "os.removedirs",
                "shutil.rmtree", "shutil.move", "shutil.copy", "shutil.copyfile", "shutil.copy2",
                "shutil.copytree", "os.chmod", "os.symlink", "os.link", "os.makedirs", "os.mkdir"}
_INTROSPECTION = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._getframe",
                  "inspect.currentframe", "inspect.stack", "sys.settrace", "sys.setprofile",
                  "sys.addaudithook", "ctypes", "importlib.reload"}
_TESTED_BUILTINS = set(guard._BUILTIN_NAMES)
_SECRET_WORDS = re.compile(r"solutions|gradebook|autograded|submitted[/\\]|\.nbgrader|nbgrader_config|"
                           r"_grading_guard|grading_guard")


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            parts.append("[...]")
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        else:
            return None
    return ".".join(reversed(parts)).replace(".[...]", "[...]").replace(".()", "")


def static_findings(source: str, extra_roots: Iterable[str] = ()) -> list[str]:
    """What a student's cell does that no honest answer needs (an empty list when nothing).

    Bounded in time and size: IPython's own transform (``!`` and ``%`` lines) only for cells
    under ``TRANSFORM_LIMIT`` characters, nothing for cells over ``CHECK_LIMIT`` (reported),
    and a parser that gives up (too deep, too big) reports that instead of failing."""
    if len(source) > CHECK_LIMIT:
        return [f"is too large to check ({len(source):,} characters)"]
    if len(source) <= TRANSFORM_LIMIT:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
            source = TransformerManager().transform_cell(source)
        except Exception:
            pass
    elif any(line.lstrip().startswith(("!", "%")) for line in source.splitlines()):
        return [f"is too large to check ({len(source):,} characters with shell or magic lines)"]
    try:
        return _findings(ast.parse(source), extra_roots)
    except SyntaxError:
        return []
    except (RecursionError, MemoryError, ValueError) as error:
        return [f"could not be checked ({type(error).__name__}: nested too deeply or too large)"]


def _findings(tree: ast.Module, extra_roots: Iterable[str]) -> list[str]:
    roots = _PATCH_ROOTS | set(extra_roots)
    found: list[str] = []
    secrets_named: list[str] = []

    def add(text: str) -> None:
        if text not in found:
            found.append(text)

    def rooted(node: ast.AST) -> str | None:
        dotted = _dotted(node)
        if not dotted or dotted.startswith(("torch.backends.", "os.environ")):
            return None  # settings an honest answer may change
        return dotted if dotted.split(".")[0].split("[")[0] in roots else None

    for node in tree.body:  # notebook-level functions that take a builtin's name
        names = [node.name] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else \
            [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) \
            and isinstance(node.value, ast.Lambda) else []
        for name in names:
            if name in _TESTED_BUILTINS:
                add(f"redefines the builtin {name}")
    magics = {id(node.func.value.func) for node in ast.walk(tree)  # `!cmd` and `%magic` lines
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("system", "getoutput", "run_line_magic", "run_cell_magic")
              and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
              and node.func.value.func.id == "get_ipython"}
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        while targets:
            target = targets.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                targets += target.elts
            elif isinstance(target, ast.Starred):
                targets.append(target.value)
            elif isinstance(target, (ast.Attribute, ast.Subscript)) and (name := rooted(target)):
                add(f"monkeypatches {name}")
        if isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            if name in ("setattr", "delattr", "object.__setattr__", "type.__setattr__") and node.args:
                target = rooted(node.args[0])
                if target:
                    attr = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else "?"
                    add(f"monkeypatches {target}.{attr}")
            if name in _EXIT_CALLS:
                add(f"exits or signals the kernel ({name})")
            if name in _SHELL_CALLS or name.startswith("subprocess."):
                add(f"runs commands ({name})")
            if name in _WRITE_CALLS or name.split(".")[-1] in ("write_text", "write_bytes", "unlink", "rmdir"):
                add(f"changes files ({name})")
            if name == "open" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and any(c in str(node.args[1].value) for c in "wax+"):
                add("writes files (open)")
            if name == "type" and len(node.args) == 3 and isinstance(node.args[2], ast.Dict):
                keys = {k.value for k in node.args[2].keys if isinstance(k, ast.Constant)}
                if keys & {"__eq__", "__ne__"}:
                    add("creates a class overriding __eq__/__ne__ (type())")
        if isinstance(node, (ast.Attribute, ast.Name, ast.Call)):
            name = _dotted(node) or ""
            for probe in _INTROSPECTION:
                if name == probe or name.startswith(probe + "."):
                    add(f"inspects or hooks the interpreter ({probe})")
            if isinstance(node, ast.Attribute) and node.attr in _KERNEL_HOOKS:
                add(f"reaches into the kernel ({node.attr})")
            if isinstance(node, ast.Attribute) and node.attr in _FRAME_ATTRIBUTES:
                add(f"inspects the interpreter's frames ({node.attr})")
        if isinstance(node, ast.Name) and node.id == "get_ipython" and id(node) not in magics:
            add("reaches into the kernel (get_ipython)")
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            add("uses __builtins__")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                top = module.split(".")[0]
                if top in ("builtins", "ctypes", "ipykernel", "IPython", "_grading_guard"):
                    add(f"imports {module}")
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                names = []
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names = [item.name]
                elif isinstance(item, ast.Assign):
                    names = [t.id for t in item.targets if isinstance(t, ast.Name)]
                for dunder in names:
                    if dunder in ("__eq__", "__ne__"):
                        add(f"class {node.name} overrides {dunder}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SECRET_WORDS.search(node.value):
            secrets_named.append(repr(node.value[:60]))
    if secrets_named:
        add(f"refers to instructor files ({', '.join(secrets_named[:3])}{', ...' if len(secrets_named) > 3 else ''})")
    return found


