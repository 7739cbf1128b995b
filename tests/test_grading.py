"""Grading that survives real classes (dlcourse.grading): one batch of honest and adversarial
submissions, made from the released notebooks so they stay in sync with the exercises.

Two kinds of submissions: the task-specific ones of the first batches (``*_submissions``,
written against the perceptron, mlp and activations answers: ``mistakes``, ``pocket``,
``averaged``, ``geometric_margin``; ``softmax`` ... ``train_xor``; ``sigmoid`` ... ``quiz``), and the cheats of
``generic_submissions``, which work on any assignment: the reference solution (full marks
expected) or the released notebook (0 expected) with cheat code added to the first answer
cell or as extra cells; the expected scores come from the notebooks' own metadata.

Every submission goes into ONE ``grading.grade`` batch per assignment with short limits
(30 s wall, 1.5 GiB memory, 10 s per cell): the batch finishes; honest submissions get
exactly the points their answers earn; a bad one keeps the points of the tests that ran
before its trouble, gets none for the tests it broke or cheated, and is reported by name;
no student code reads the solutions or the gradebook, or writes outside its folder.

The table of the batch is written to test-artifacts/grading-adversarial.md (copied into
bench/results/grading-adversarial.md). Takes a few minutes (about 55 submissions, each a
fresh sandboxed kernel: 7 minutes on 2 busy cores): the batches run once, in a module-scoped
fixture, and many tests read them.
"""

from __future__ import annotations

import ast
import json
import os
import pwd
import re
import subprocess
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from dlcourse import grading
from dlcourse.grading import batch as grading_batch
from dlcourse.grading.course import top_level_names
from nbgrader_course import (REPO, Course, autograded_cells, cells_by_id, make_submission, manual_cells,
                             released_notebook, solution_notebook)

pytestmark = pytest.mark.slow

LIMITS = grading.Limits(wall=30, memory=int(1.5 * grading.GiB), cell_timeout=10)
ARTIFACT = REPO / "test-artifacts" / "grading-adversarial.md"


# ------------------------------------------------------------------ submissions
def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def answer(nb, grade_id: str) -> str:
    return nb.cells[cell_index(nb, grade_id)].source


def perceptron_submissions(course: Course) -> dict[str, object]:
    """student -> notebook (or raw bytes) for the perceptron exercise."""
    solved = make_submission("perceptron")
    mistakes, pocket, margin = (answer(solved, g) for g in ("mistakes", "pocket", "geometric_margin"))
    secrets = [course.root / "solutions" / "perceptron" / "perceptron.ipynb", course.root / "gradebook.db",
               REPO / "solutions" / "perceptron" / "perceptron.ipynb",
               course.root / "submitted" / "honest" / "perceptron" / "perceptron.ipynb"]
    folders = [course.root / "solutions" / "perceptron", REPO / "solutions", course.root / "submitted"]
    header = "def pocket(X, y, epochs):\n"
    # an averaged perceptron with an honest-looking bug (it returns PLA's last w, not the
    # average; b is right), which a patched torch.allclose would let through the tests
    last_w = answer(solved, "averaged").replace("return w_sum / visits, b_sum / visits", "return w, b_sum / visits")
    assert last_w != answer(solved, "averaged")
    subs: dict[str, object] = {
        "honest": solved,
        # an honest bug: the pocket never keeps anything but PLA's last weights
        "wrong": make_submission("perceptron", {"pocket": pocket.replace("return best_w, best_b, w, b",
                                                                          "return w.clone(), b, w, b")}),
        "loop_forever": make_submission("perceptron", {"pocket": header + "    while True:\n        pass\n"}),
        # one compiled call that ignores interrupts: ~120 matmuls of 4000 x 4000 inside ATen
        # (minutes on a laptop's cores)
        "compiled_call": make_submission("perceptron", {"pocket": header
                                         + "    a = torch.randn(4000, 4000)\n"
                                         + "    return torch.linalg.matrix_power(a, 2**62 - 1)\n"}),
        "exits": make_submission("perceptron", {"pocket": header + "    import os\n    os._exit(1)\n"}),
        "raises": make_submission("perceptron", {"mistakes": "1 / 0\n" + mistakes}),
        "memory_bomb": make_submission("perceptron", {"pocket": header
                                       + "    hog = []\n    while True:\n"
                                       + "        hog.append(bytearray(b'x' * 50_000_000))\n"}),
        # 20 MB when the cell runs, 3 MB per call of geometric_margin (not of mistakes:
        # pocket calls that hundreds of times)
        "huge_output": make_submission("perceptron", {"geometric_margin": "for _ in range(20):\n    print('x' * 1_000_000)\n"
                                       + margin.replace('"""\n', '"""\n    print("y" * 3_000_000)\n', 1)}),
        "patch_global": make_submission("perceptron", {"averaged": (
            last_w + "\ntorch.equal = lambda *args, **kwargs: True\n"
            "torch.allclose = lambda *args, **kwargs: True\n")}),
        "patch_runtime": make_submission("perceptron", {"averaged": last_w.replace('"""\n', (
            '"""\n'
            "    import torch as t\n"
            "    setattr(t, 'equal', lambda *args, **kwargs: True)\n"
            "    setattr(t, 'allclose', lambda *args, **kwargs: True)\n"), 1)}),
        # a wrong average wrapped in a class that says "equal" to anything
        "fake_eq": make_submission("perceptron", {"averaged": (
            "class Anything(float):\n"
            "    def __eq__(self, other):\n        return True\n"
            "    __hash__ = float.__hash__\n"
            "def averaged(X, y, epochs):\n"
            "    return torch.zeros(X.shape[1], dtype=torch.float64), Anything(0.0)\n")}),
        # reads the solutions, the gradebook and a classmate's submission, three ways each
        "snoop": make_submission("perceptron", {"mistakes": mistakes + "\n" + "\n".join([
            "import os, subprocess",
            f"for path in {[str(p) for p in secrets]!r}:",
            "    try:",
            "        print('LEAK', len(open(path, 'rb').read()), path)",
            "    except Exception as error:",
            "        print('DENIED open', path, type(error).__name__)",
            "    try:",
            "        out = subprocess.run(['cat', path], capture_output=True)",
            "        print('LEAK' if out.stdout else 'DENIED cat', path, out.returncode)",
            "    except Exception as error:",
            "        print('DENIED cat', path, type(error).__name__)",
            f"for folder in {[str(p) for p in folders]!r}:",
            "    try:",
            "        print('LEAK', os.listdir(folder)[:3])",
            "    except Exception as error:",
            "        print('DENIED listdir', folder, type(error).__name__)",
        ])}),
        "writes_outside": make_submission("perceptron", {"mistakes": mistakes + "\n" + "\n".join([
            f"for path in {[str(course.root / 'gradebook.db'), '/tmp/planted_by_student.py', str(REPO / 'planted_by_student.txt')]!r}:",
            "    try:",
            "        with open(path, 'a') as handle:",
            "            handle.write('pwned')",
            "        print('WROTE', path)",
            "    except Exception as error:",
            "        print('REFUSED', path, type(error).__name__)",
        ])}),
        "invalid_json": b'{"cells": [{"cell_type": "code", "source": "print(1)"',
    }
    deleted = make_submission("perceptron")
    for grade_id in ("mistakes_hidden", "pocket_visible", "perceptron_imports"):
        del deleted.cells[cell_index(deleted, grade_id)]
    subs["deleted_cells"] = deleted
    duplicated = make_submission("perceptron")
    for grade_id in ("mistakes_visible", "averaged", "pocket_hidden"):
        i = cell_index(duplicated, grade_id)
        copy = nbformat.from_dict(json.loads(json.dumps(duplicated.cells[i])))
        copy.id = f"copy-of-{copy.id}"  # Jupyter's copy and paste: new cell id, same nbgrader metadata
        duplicated.cells.insert(i + 1, copy)
    subs["duplicated_cells"] = duplicated
    edited = make_submission("perceptron", {"mistakes": "def mistakes(w, b, X, y):\n    return 0\n"})
    for grade_id in ("mistakes_visible", "mistakes_hidden"):
        edited.cells[cell_index(edited, grade_id)].source = "print('all tests passed')\n"
    subs["edited_tests"] = edited
    return subs


def mlp_submissions(course: Course) -> dict[str, object]:
    return {
        "honest": make_submission("mlp"),
        # a wrong softmax (uniform probabilities), and a torch.allclose that agrees with anything
        "patch_reference": make_submission("mlp", {"softmax": (
            "def softmax(Z):\n"
            "    return torch.full_like(Z, 1.0 / Z.shape[1])\n"
            "torch.allclose = lambda *args, **kwargs: True\n")}),
        # float32 weights and tensor losses, and a notebook-level all() that the tests would
        # call instead of Python's
        "shadow_builtin": make_submission("mlp", {"train_xor": (
            "def all(iterable):\n    return True\n\n"
            "def train_xor(hidden, lr, steps, seed):\n"
            "    W1, b1 = torch.ones(2, hidden), torch.zeros(hidden)\n"
            "    W2, b2 = torch.ones(hidden, 2), torch.zeros(2)\n"
            "    return {'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}, [torch.tensor(0.0)] * steps\n")}),
        "killed": make_submission("mlp", {"cross_entropy_grad": (
            "import os, signal\n\n"
            "def cross_entropy_grad(Z, y):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")}),
    }


def activations_submissions(course: Course) -> dict[str, object]:
    return {
        "honest": make_submission("activations"),
        # wrong functions, made "right" by replacing the references the hidden tests compare with
        "patch_reference": make_submission("activations", {"functions": (
            "import torch.nn.functional as _F\n\n"
            "def sigmoid(a):\n    return 0.5 + a / 4\n\n"
            "def log_sigmoid(a):\n    return a / 2\n\n"
            "def tanh(a):\n    return 2 * sigmoid(2 * a) - 1\n\n"
            "torch.sigmoid, torch.tanh, _F.logsigmoid = sigmoid, tanh, log_sigmoid\n")}),
    }


# ------------------------------------------------------------------ cheats that work on any assignment
GENERIC = "perceptron"  # the assignment the generic cheats are graded on (the cheapest)
GIT_DIR = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
                         capture_output=True, text=True).stdout.strip() or str(REPO / ".git")


def answer_ids(assignment: str) -> list[str]:
    """The answer (solution) code cells of the released notebook, in order."""
    return [gid for gid, cell in cells_by_id(released_notebook(assignment)).items()
            if cell.cell_type == "code" and cell.metadata.nbgrader.get("solution")]


def reference_functions(assignment: str) -> list[str]:
    """The functions the reference solution's first answer cell defines."""
    source = cells_by_id(solution_notebook(assignment))[answer_ids(assignment)[0]].source
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def full_marks(assignment: str) -> float:
    return sum(autograded_cells(released_notebook(assignment)).values())


def hidden_only_names(assignment: str) -> set[str]:
    """Names the hidden tests bind at their top level, and nothing visible binds."""
    hidden, visible = set(), set()
    solution, released = cells_by_id(solution_notebook(assignment)), cells_by_id(released_notebook(assignment))
    for gid, cell in solution.items():
        if cell.cell_type == "code":
            hidden |= set(top_level_names(cell.source))
            visible |= set(top_level_names(released[gid].source)) if gid in released else set()
    return hidden - visible


def hidden_lines(assignment: str) -> list[str]:
    """The longer lines of every hidden test region (feedback must show none of them)."""
    lines = []
    for cell in solution_notebook(assignment).cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


def cheat(code: str, solved: bool, after: bool = False, extra_cells: tuple[str, ...] = (),
          assignment: str = GENERIC) -> nbformat.NotebookNode:
    """The reference solution (``solved``) or the released notebook, with ``code`` added
    before (or after) the first answer cell's own code, and ``extra_cells`` at the end."""
    nb = make_submission(assignment, solved=solved)
    cell = cells_by_id(nb)[answer_ids(assignment)[0]]
    cell.source = f"{cell.source}\n{code}" if after else f"{code}\n{cell.source}"
    nb.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    return nb


def wrap_functions(decorator: str, assignment: str = GENERIC) -> str:
    """Code that wraps every function of the first answer cell with ``decorator``'s ``_wrap``."""
    return f"{decorator}\nfor _name in {reference_functions(assignment)!r}:\n    globals()[_name] = _wrap(globals()[_name])\n"


HOOKS = """
ip = get_ipython()
import ast as _ast
class _Nothing(_ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = [_ast.Pass()]
        return node
ip.ast_transformers.append(_Nothing())
ip.input_transformers_post.append(lambda lines: ["pass\\n"])
"""
SWALLOW_ERRORS = """
shell = get_ipython()
shell.set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
shell.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
"""
DROP_ERRORS = """
session = get_ipython().kernel.session
_send = session.send
def _quiet(stream, msg_or_type, content=None, *args, **kwargs):
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("msg_type")
    if kind == "error":
        return None  # the grader never hears of a failed test
    if kind == "execute_reply" and isinstance(content, dict) and content.get("status") == "error":
        content = {"status": "ok", "execution_count": content.get("execution_count"), "user_expressions": {}, "payload": []}
    return _send(stream, msg_or_type, content, *args, **kwargs)
session.send = _quiet
"""
NOISY = wrap_functions("""
import functools, sys, warnings
def _wrap(f):
    @functools.wraps(f)
    def noisy(*args, **kwargs):
        warnings.warn("a harmless warning from a correct answer", UserWarning)
        print("a harmless line on stderr", file=sys.stderr)
        return f(*args, **kwargs)
    return noisy
""")
FORK_HOPPER = """
import os, signal, time
if os.fork() == 0:
    try:
        os.setsid()
        born = time.monotonic()
        while True:
            time.sleep(0.001)
            if os.fork() > 0:
                os._exit(0)  # a new pid every millisecond
            if time.monotonic() - born > 20:
                os.kill(-1, signal.SIGKILL)  # the next students' kernels, if it ever reached them
    except BaseException:
        os._exit(0)
"""
PEEK = wrap_functions("""
import functools, gc, inspect, sys
def _wrap(f):
    @functools.wraps(f)
    def peek(*args, **kwargs):
        seen = set(globals())
        probes = [lambda: sys._getframe(2).f_globals, lambda: sys._getframe(2).f_locals,
                  lambda: inspect.currentframe().f_back.f_back.f_globals,
                  lambda: inspect.stack()[2].frame.f_locals,
                  lambda: [r for r in gc.get_referrers(args[0]) if isinstance(r, dict)][0] if args else {}]
        for probe in probes:
            try:
                seen |= set(probe())
            except Exception as error:
                print("PEEK-REFUSED", type(error).__name__)
        try:
            raise RuntimeError("where am I")
        except RuntimeError as error:
            try:
                seen |= set(error.__traceback__.tb_frame.f_back.f_globals)
            except Exception as refused:
                print("PEEK-REFUSED", type(refused).__name__)
        print("PEEK:", " ".join(sorted(n for n in seen if isinstance(n, str))))
        return f(*args, **kwargs)
    return peek
""")
PATCH_LIBRARIES = """
import threading, time, torch, dlcourse.training
torch.autograd.grad = lambda *args, **kwargs: None
dlcourse.training.evaluate = lambda *args, **kwargs: 1.0
def _again():
    while True:
        torch.allclose = lambda *args, **kwargs: True
        time.sleep(0.001)
threading.Thread(target=_again, daemon=True).start()
"""
LEAVE_THINGS_BEHIND = """
import subprocess
from multiprocessing import shared_memory
print(subprocess.run(["ipcmk", "-M", "67108864"], capture_output=True, text=True).stdout.strip())
_kept = shared_memory.SharedMemory(create=True, size=1 << 20, name="left_by_a_student")
for path in ["/run/lock/left_by_a_student", "/tmp/left_by_a_student", "/dev/shm/left_by_a_student2"]:
    try:
        with open(path, "w") as handle:
            handle.write("x")
        print("WROTE", path)
    except OSError as error:
        print("REFUSED", path, type(error).__name__)
for index in range(8):  # fill the disk: each file stops at RLIMIT_FSIZE, the whole at the tmpfs size
    try:
        with open(f"/tmp/fill{index}", "wb") as handle:
            for _ in range(8):
                handle.write(b"x" * 2**23)
    except OSError as error:
        print("DISK", index, error.errno)
"""
READ_LEFTOVERS = """
import os, subprocess
segments = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
print("LEAK ipcs" if "67108864" in segments else "no segment")
for folder in ("/tmp", "/dev/shm", "/run/lock"):
    try:
        print("LEAK" if any("left_by_a_student" in n for n in os.listdir(folder)) else "clean", folder)
    except OSError:
        print("clean", folder)
"""
HTML_OUTPUT = """
from IPython.display import HTML, Javascript, display
display(HTML("<script>alert('xss')</script><img src=x onerror=alert('xss')>"))
display({"text/html": "<img src=y onerror=alert('raw')>", "image/png": "\\"><script>alert(1)</script>"}, raw=True)
"""


def put(course: Course, assignment: str, student: str, nb) -> None:
    """Hand in a notebook, or raw bytes (a file that is not valid JSON) as one."""
    if isinstance(nb, bytes):
        folder = course.root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(nb)
    else:
        course.put_submission(assignment, student, nb)


def snoop_course(course: Course) -> str:
    """Read the solutions through the repository's .git, list and write into the exchange,
    and forge a classmate's submission in the course folder."""
    exchange, honest = course.exchange, course.root / "submitted" / "honest" / GENERIC / f"{GENERIC}.ipynb"
    return f"""
import subprocess
for command in (["git", "--git-dir", {GIT_DIR!r}, "show", "HEAD:solutions/{GENERIC}/{GENERIC}.ipynb"],
                ["ls", "-R", {str(exchange)!r}], ["cat", {str(course.root / "gradebook.db")!r}]):
    out = subprocess.run(command, capture_output=True)
    print("LEAK" if out.stdout.strip() else "DENIED", command[0], out.returncode)
for path in [{str(exchange / "forged.ipynb")!r}, {str(honest)!r}]:
    try:
        with open(path, "w") as handle:
            handle.write("forged")
        print("WROTE", path)
    except Exception as error:
        print("REFUSED", path, type(error).__name__)
"""


def generic_submissions(course: Course) -> dict[str, tuple[object, float | None, tuple[str, str] | None]]:
    """student -> (notebook, expected score (None: at most full marks), what its row must report)."""
    full = full_marks(GENERIC)
    grade_false = make_submission(GENERIC, solved=False)
    for cell in grade_false.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.metadata.nbgrader["grade"] = False
    foreign = make_submission(GENERIC)
    foreign.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    html = cheat("", True, extra_cells=(HTML_OUTPUT,))
    html.cells.append(nbformat.v4.new_markdown_cell(
        "<script>alert('md')</script> [a link](javascript:alert('md'))"))
    return {
        "c01_hooks": (cheat(HOOKS, solved=False), 0.0, ("tamper", "ast_transformers")),
        "c01_swallow_errors": (cheat(SWALLOW_ERRORS, solved=False), 0.0, ("tamper", "custom exception handler")),
        "c01_drop_errors": (cheat(DROP_ERRORS, solved=False), 0.0, ("tamper", "session.send")),
        "c02_warnings": (cheat(NOISY, solved=True, after=True), full, None),
        "c03_fork_hopper": (cheat(FORK_HOPPER, solved=True), None, None),
        "c04_c05_snoop_course": (cheat(snoop_course(course), solved=False), 0.0, ("tamper", "started processes")),
        "c06_peek": (cheat(PEEK, solved=True, after=True), full, ("tamper", "tried to inspect frames")),
        "c06_patch_libraries": (cheat(PATCH_LIBRARIES, solved=False), 0.0, ("tamper", "torch.autograd.grad")),
        "c07_stall": (cheat("", True, extra_cells=("!true\n" * 100_000,)), full, ("tamper", "too large to check")),
        "c08_leave_things": (cheat(LEAVE_THINGS_BEHIND, solved=True), full, None),
        "c08_read_leftovers": (cheat(READ_LEFTOVERS, solved=True), full, None),
        "c10_html": (html, full, None),
        "c11_grade_false": (grade_false, 0.0, ("tamper", "nbgrader metadata")),
        "c11_foreign_kernel": (foreign, full, ("repair", "kernel set")),
        "c11_deep_expression": (cheat("", True, extra_cells=("x = " + "+".join(["1"] * 200_000),)), full,
                                ("tamper", "could not be checked")),
        "zz_honest_after": (make_submission(GENERIC), full, None),
    }


POINTS = {
    "perceptron": {"mistakes_visible": 1.0, "mistakes_hidden": 1.0, "pocket_visible": 1.0, "pocket_hidden": 3.0,
                   "averaged_visible": 1.0, "averaged_hidden": 2.0, "margin_visible": 1.0, "margin_hidden": 1.0},
    "mlp": {"softmax_visible": 1.0, "softmax_hidden": 1.0, "cross_entropy_visible": 1.0, "cross_entropy_hidden": 2.0,
            "cross_entropy_grad_visible": 1.0, "cross_entropy_grad_hidden": 1.0, "train_xor_visible": 1.0,
            "train_xor_hidden": 3.0},
    "activations": {"functions_visible": 1.0, "functions_hidden": 2.0, "derivatives_visible": 1.0,
                    "derivatives_hidden": 1.0, "gradient_norms_visible": 1.0, "gradient_norms_hidden": 3.0,
                    "quiz_check": 1.0},
}
# the most a submission can score: autograded + by hand (perceptron's compare_answer and
# activations' why_vanish, 2 points each)
MAX_SCORE = {"perceptron": 13.0, "mlp": 11.0, "activations": 12.0}
FULL = {assignment: sum(points.values()) for assignment, points in POINTS.items()}  # autograded only


def scores(assignment: str, *failing: str) -> dict[str, float]:
    """Every test cell's points, except the cells of the ``failing`` tasks (0)."""
    return {cell: 0.0 if cell.rsplit("_", 1)[0] in failing else points
            for cell, points in POINTS[assignment].items()}


def without(*tasks: str) -> dict[str, float]:
    return scores("perceptron", *tasks)


# student -> expected autograded score of every test cell. `pocket` calls the student's
# `mistakes`, so a broken `mistakes` costs the pocket's points too; a kernel that dies
# (or is killed at the wall-time limit) in `pocket` runs none of the tests after it.
EXPECTED = {
    "honest": without(), "wrong": without("pocket"),
    "loop_forever": without("pocket"), "compiled_call": without("pocket", "averaged", "margin"),
    "exits": without("pocket", "averaged", "margin"), "raises": without("mistakes", "pocket"),
    "memory_bomb": without("pocket"), "huge_output": without(),
    "patch_global": without("averaged"), "patch_runtime": without("averaged"),
    "fake_eq": without("averaged"),
    "snoop": without(), "writes_outside": without(),
    "invalid_json": without("mistakes", "pocket", "averaged", "margin"),
    "deleted_cells": without(), "duplicated_cells": without(), "edited_tests": without("mistakes", "pocket"),
}
EXPECTED = {("perceptron", student): cells for student, cells in EXPECTED.items()}
EXPECTED.update({
    ("mlp", "honest"): scores("mlp"),
    # cross_entropy_grad and train_xor run on the wrong softmax
    ("mlp", "patch_reference"): scores("mlp", "softmax", "cross_entropy_grad", "train_xor"),
    ("mlp", "shadow_builtin"): scores("mlp", "train_xor"),
    ("mlp", "killed"): scores("mlp", "cross_entropy_grad", "train_xor"),
    ("activations", "honest"): scores("activations"),
    # the derivatives and the measured norms run on the wrong functions
    ("activations", "patch_reference"): scores("activations", "functions", "derivatives", "gradient_norms"),
})
# student -> (kind, words) that its row must report
REPORTED = {
    "loop_forever": ("limit", "pocket"),
    "compiled_call": ("limit", "wall-time limit"),
    "exits": ("crash", "exited"),
    "raises": ("error", "ZeroDivisionError"),
    "memory_bomb": ("limit", "memory limit"),
    "huge_output": ("limit", "truncated"),
    "patch_global": ("tamper", "torch.equal"),
    "patch_runtime": ("tamper", "torch.equal"),
    "fake_eq": ("tamper", "__eq__"),
    "snoop": ("tamper", "tried to open"),
    "writes_outside": ("tamper", "writes files (open)"),
    "invalid_json": ("invalid", "not a valid notebook"),
    "deleted_cells": ("repair", "re-added"),
    "duplicated_cells": ("repair", "duplicate"),
    "edited_tests": ("tamper", "changed locked code cell"),
}
REPORTED = {("perceptron", student): what for student, what in REPORTED.items()}
REPORTED.update({
    ("mlp", "patch_reference"): ("tamper", "torch.allclose"),
    ("mlp", "shadow_builtin"): ("tamper", "all was replaced"),
    ("mlp", "killed"): ("crash", "SIGKILL"),
    ("activations", "patch_reference"): ("tamper", "torch.sigmoid"),
})
# the generic cheats' names (their notebooks need the course; built in the fixture)
GENERIC_EXPECTED = ["c01_hooks", "c01_swallow_errors", "c01_drop_errors", "c02_warnings", "c03_fork_hopper", "c04_c05_snoop_course",
                    "c06_peek", "c06_patch_libraries", "c07_stall", "c08_leave_things", "c08_read_leftovers",
                    "c10_html", "c11_grade_false", "c11_foreign_kernel", "c11_deep_expression", "zz_honest_after"]
SUBMISSIONS = {"perceptron": perceptron_submissions, "mlp": mlp_submissions,
               "activations": activations_submissions}


# ------------------------------------------------------------------ the batch
def host_leftovers() -> dict[str, set]:
    """What a submission could leave on the host: processes (below this one: the grader is a
    subreaper), SysV shared-memory segments, lock files, temporary files."""
    procs = [(p.pid, p.name(), p.status()) for p in psutil.Process().children(recursive=True)]
    segments = set(re.findall(r"^0x[0-9a-f]+\s+(\d+)", subprocess.run(["ipcs", "-m"], capture_output=True,
                                                                        text=True).stdout, re.MULTILINE))
    locks = set(os.listdir("/run/lock")) if os.path.isdir("/run/lock") else set()
    return {"descendants": procs, "segments": segments, "locks": locks, "tmp": set(os.listdir("/tmp"))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One course, one grading batch per assignment; yields (course, {(assignment, student): Result}, log)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        course = Course(tmp_path_factory.mktemp("grading"), list(SUBMISSIONS), monkeypatch)
        results, lines, tables = {}, [], []
        course.leftovers_before = host_leftovers()
        for assignment, make in SUBMISSIONS.items():
            course.run("generate_assignment", assignment, force=True, create=True)
            made = make(course)
            if assignment == GENERIC:
                made.update({student: nb for student, (nb, _, _) in generic_submissions(course).items()})
            for student, nb in made.items():
                put(course, assignment, student, nb)
            started, load = time.monotonic(), os.getloadavg()[0]
            graded = grading.grade(assignment, course_root=course.root, limits=LIMITS, log=lines.append)
            seconds = time.monotonic() - started
            results.update({(assignment, r.student): r for r in graded})
            tables.append(f"### {assignment}: {len(graded)} submissions, one batch, {seconds:.0f} s "
                          f"(1-minute load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end)\n\n"
                          + grading.format_table(graded))
        ARTIFACT.parent.mkdir(exist_ok=True)
        ARTIFACT.write_text(
            "Adversarial grading batches of tests/test_grading.py (`grading.grade(assignment, "
            f"limits=Limits(wall={LIMITS.wall:g}, memory=1.5 GiB, cell_timeout={LIMITS.cell_timeout:g}))`, "
            "i.e. `python -m dlcourse.grading ASSIGNMENT --timeout 30 --memory 1.5GiB --cell-timeout 10`).\n\n"
            + "\n\n".join(tables) + "\n")
        course.leftovers_after = host_leftovers()
        yield course, results, lines


def test_points_are_the_notebooks_own():
    """POINTS and MAX_SCORE above describe the released notebooks (catches a renamed cell)."""
    for assignment, points in POINTS.items():
        released = released_notebook(assignment)
        assert autograded_cells(released) == points, assignment
        assert sum(points.values()) + sum(manual_cells(released).values()) == MAX_SCORE[assignment], assignment


def test_the_batch_grades_every_submission(batch):
    course, results, _ = batch
    assert set(results) == set(EXPECTED) | {(GENERIC, s) for s in GENERIC_EXPECTED}
    assert all(r.graded for r in results.values()), {s: r.problems for s, r in results.items() if not r.graded}


@pytest.mark.parametrize("assignment, student", sorted(EXPECTED))
def test_scores_are_exactly_the_points_earned(batch, assignment, student):
    course, results, _ = batch
    result, expected = results[assignment, student], EXPECTED[assignment, student]
    grades = course.grades(assignment, student)
    assert {cell: grades[cell].score for cell in POINTS[assignment]} == expected, result.problems
    assert result.score == sum(expected.values())
    assert result.max_score == MAX_SCORE[assignment]


@pytest.mark.parametrize("assignment, student", sorted(REPORTED))
def test_every_bad_submission_is_reported(batch, assignment, student):
    _, results, _ = batch
    kind, words = REPORTED[assignment, student]
    problems = results[assignment, student].problems
    assert any(p.kind == kind and words in p.message for p in problems), problems


def test_honest_submissions_report_nothing(batch):
    _, results, _ = batch
    assert results["mlp", "honest"].problems == [], results["mlp", "honest"].problems
    for key in (("perceptron", "honest"), ("perceptron", "wrong"), ("activations", "honest")):
        assert [p.kind for p in results[key].problems] == ["note"], (key, results[key].problems)  # the written answer


def autograded_text(course, student: str) -> str:
    nb = nbformat.read(course.root / "autograded" / student / "perceptron" / "perceptron.ipynb", as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_student_code_cannot_read_solutions_or_the_gradebook(batch):
    course, _, _ = batch
    text = autograded_text(course, "snoop")
    assert "LEAK" not in text
    assert text.count("DENIED") == 11, text  # 4 files x (open, cat) + 3 folders: none is in the sandbox


def test_student_code_cannot_write_outside_its_sandbox(batch):
    course, _, _ = batch
    text = autograded_text(course, "writes_outside")
    # /tmp is the sandbox's own tmpfs (thrown away); the course and the repository are not there
    assert f"WROTE {course.root / 'gradebook.db'}" not in text and f"WROTE {REPO}" not in text, text
    assert not Path("/tmp/planted_by_student.py").exists() and not (REPO / "planted_by_student.txt").exists()
    assert course.score("perceptron", "honest") == FULL["perceptron"]  # the gradebook still works


def test_limits_keep_the_points_earned_before(batch):
    _, results, _ = batch
    # the compiled call ignores the interrupt at the cell time limit; the watchdog kills it
    stopped = " ".join(p.message for p in results["perceptron", "compiled_call"].problems)
    assert "wall-time limit of 30 s reached" in stopped, stopped
    # an os._exit: the tests after it are reported as not run (and score 0)
    exits = results["perceptron", "exits"].problems
    assert any("not run" in p.message and "pocket_hidden" in p.message for p in exits), exits


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own, creating a submission
def test_hidden_tests_alone_catch_a_replaced_reference(batch):
    """Plain `nbgrader autograde` (no dlcourse.grading): the hidden tests' own tamper check
    (dlcourse.grading_guard.assert_untampered) still fails them; visible-only test cells are
    protected by the grader's guard only."""
    course, _, _ = batch
    for assignment, student in (("perceptron", "patch_global"), ("activations", "patch_reference")):
        course.put_submission(assignment, f"plain_{student}", SUBMISSIONS[assignment](course)[student])
        course.run("autograde", assignment, f"plain_{student}")
    grades = course.grades("perceptron", "plain_patch_global")
    # the visible test is fooled by the patched torch.allclose, the hidden one is not
    assert grades["averaged_hidden"].score == 0 and grades["averaged_visible"].score == 1
    assert course.grades("activations", "plain_patch_reference")["functions_hidden"].score == 0


def test_the_gradebook_is_backed_up_and_a_report_written(batch):
    course, _, lines = batch
    if course.root.joinpath(".grading").is_dir():
        assert list((course.root / ".grading" / "backups").glob("gradebook-*.db"))
        assert list((course.root / ".grading").glob("perceptron-*.md"))
    assert any("backed up" in line for line in lines)


def test_regrading_is_idempotent_and_a_failed_commit_changes_nothing(batch, monkeypatch):
    course, results, _ = batch
    before = {s: course.grades("perceptron", s) for s in ("honest", "wrong", "invalid_json")}
    again = grading.grade("perceptron", ["honest", "wrong", "invalid_json"], course_root=course.root,
                          limits=LIMITS, log=lambda line: None)
    assert [r.score for r in again] == [FULL["perceptron"], FULL["perceptron"] - 4, 0]  # wrong: pocket's 1 + 3
    assert {s: course.grades("perceptron", s) for s in before} == before

    # a crash in the middle of committing one student: its transaction is rolled back, so
    # the gradebook keeps that student's old grades, and the batch goes on with the others
    real_commit = grading_batch.commit

    class Exploding(dict):
        def get(self, key, default=None):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                raise RuntimeError("simulated crash")
            return 99.0

    def flaky(course_, assignment, student, grades):
        if student == "wrong":
            for nb in grades["notebooks"].values():
                nb["grades"] = Exploding(nb["grades"])
        return real_commit(course_, assignment, student, grades)

    monkeypatch.setattr(grading_batch, "commit", flaky)
    third = {r.student: r for r in grading.grade("perceptron", ["wrong", "honest"], course_root=course.root,
                                                 limits=LIMITS, log=lambda line: None)}
    assert third["honest"].score == FULL["perceptron"]
    assert not third["wrong"].graded and "simulated crash" in str(third["wrong"].problems)
    assert course.grades("perceptron", "wrong") == before["wrong"]


def test_the_command_line(batch, tmp_path):
    course, _, _ = batch
    report = tmp_path / "table.md"
    code = grading.main(["perceptron", "--course", str(course.root), "--student", "honest", "invalid_json",
                         "--timeout", "30", "--memory", "1.5GiB", "--report", str(report)])
    assert code == 0
    table = report.read_text()
    assert "| honest | perceptron | 11 | 13 | note: 1 cell(s) to grade by hand |" in table, table
    assert "| invalid_json | perceptron | 0 | 13 |" in table, table
    assert grading.main(["no-such-assignment", "--course", str(course.root)]) == 2


def test_without_bubblewrap_root_must_ask_for_no_sandbox(batch, monkeypatch, capsys):
    course, _, _ = batch
    monkeypatch.setattr("dlcourse.grading.sandbox.bwrap_works", lambda: False)
    args = ["perceptron", "--course", str(course.root), "--student", "honest", "--timeout", "30"]
    if os.geteuid() == 0:
        assert grading.main(args) == 2
        assert "--unsafe-no-sandbox" in capsys.readouterr().err
    assert grading.main([*args, "--unsafe-no-sandbox"]) == 0
    out = capsys.readouterr().out
    assert "NO SANDBOX" in out and course.score("perceptron", "honest") == FULL["perceptron"], out


# ------------------------------------------------------------------ fast unit checks
def test_static_findings_name_the_usual_cheats():
    found = grading.static_findings(
        "import builtins, os\n"
        "torch.equal = lambda *a: True\n"
        "setattr(np, 'allclose', lambda *a: True)\n"
        "class A:\n    def __eq__(self, o):\n        return True\n"
        "os._exit(0)\n"
        "open('/x/solutions/a.ipynb')\n"
        "!cat gradebook.db\n"
        "def all(xs):\n    return True\n")
    text = " | ".join(found)
    for words in ("monkeypatches torch.equal", "monkeypatches np.allclose", "class A overrides __eq__",
                  "os._exit", "instructor files", "imports builtins", "runs commands", "redefines the builtin all"):
        assert words in text, (words, found)
    assert grading.static_findings(answer(make_submission("perceptron"), "pocket")) == []
    assert grading.static_findings("torch.backends.cudnn.benchmark = True\nx = 1") == []


def test_the_released_install_cell_is_exempt_only_as_released():
    """generate_assignment puts an install cell (pip, without dlcourse) at the top of every
    released notebook: not locked, so the grader recognises it by its exact source."""
    from dlcourse.grading.submission import _install_cell
    install = _install_cell()
    assert install is not None and install in [c.source for c in released_notebook(GENERIC).cells]
    assert grading.static_findings(install)  # it runs commands: only the exact text is exempt
    assert grading.static_findings(install + "\nimport os\nos._exit(0)")


def test_parse_size():
    assert grading.parse_size("2GiB") == 2 * 2**30
    assert grading.parse_size("1.5G") == int(1.5 * 2**30)
    assert grading.parse_size("800MiB") == 800 * 2**20
    with pytest.raises(ValueError):
        grading.parse_size("lots")


# ------------------------------------------------------------------ the generic cheats, class by class
@pytest.mark.parametrize("student", GENERIC_EXPECTED)
def test_generic_cheats_gain_nothing_and_honest_scores_are_exact(batch, student):
    course, results, _ = batch
    _, expected, reported = generic_submissions(course)[student]
    result = results[GENERIC, student]
    assert result.graded, result.problems  # class 11: every submission gets a grade
    if expected is None:
        assert 0 <= result.score <= full_marks(GENERIC), result.problems
    else:
        assert result.score == expected, result.problems
    if reported is not None:
        kind, words = reported
        assert any(p.kind == kind and words in p.message for p in result.problems), result.problems


def test_class_2_warnings_of_correct_code_are_kept_as_output_and_cost_nothing(batch):
    course, results, _ = batch
    nb = nbformat.read(course.root / "autograded" / "c02_warnings" / GENERIC / f"{GENERIC}.ipynb", as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    streams = [o for c in tests for o in c.outputs if o.output_type == "stream"]
    assert any("a harmless warning from a correct answer" in o.text for o in streams)
    assert all(o.name == "stdout" for o in streams)


def test_class_3_a_fork_hopper_harms_nobody_after_it(batch):
    course, results, _ = batch
    assert results[GENERIC, "zz_honest_after"].score == full_marks(GENERIC)
    assert results["perceptron", "honest"].score == FULL["perceptron"]  # graded after it, too


def test_classes_4_5_the_course_git_and_exchange_are_not_in_the_sandbox(batch):
    course, _, _ = batch
    text = autograded_text(course, "c04_c05_snoop_course")
    assert "LEAK" not in text and "WROTE" not in text and text.count("DENIED") == 3, text
    assert not (course.exchange / "forged.ipynb").exists()
    honest = course.root / "submitted" / "honest" / GENERIC / f"{GENERIC}.ipynb"
    assert "forged" not in honest.read_text()


def test_class_6_hidden_test_names_are_unreachable_from_student_functions(batch):
    course, results, _ = batch
    text = autograded_text(course, "c06_peek")
    seen = {name for line in text.splitlines() if line.startswith("PEEK:") for name in line.split()[1:]}
    assert seen, "the peeking functions were called by the tests"
    assert "PEEK-REFUSED" in text
    own = set(top_level_names(PEEK)) | {n for gid in answer_ids(GENERIC)
                                        for n in top_level_names(cells_by_id(solution_notebook(GENERIC))[gid].source)}
    assert not seen & (hidden_only_names(GENERIC) - own), seen & (hidden_only_names(GENERIC) - own)
    problems = " ".join(p.message for p in results[GENERIC, "c06_patch_libraries"].problems)
    assert "dlcourse.training.evaluate" in problems and "background thread" in problems, problems


def test_class_7_no_submission_stalls_the_batch(batch):
    _, results, _ = batch
    for student in ("c07_stall", "c11_deep_expression"):
        assert results[GENERIC, student].seconds < LIMITS.wall + 30, results[GENERIC, student]


def test_class_8_nothing_of_a_submission_outlives_the_batch(batch):
    course, _, _ = batch
    before, after = course.leftovers_before, course.leftovers_after
    # ps: the grader is a subreaper, so whatever a sandbox left would still be below this process
    assert after["descendants"] == [], after["descendants"]
    assert after["segments"] <= before["segments"]  # ipcs -m: no new shared-memory segment
    assert not [n for n in after["locks"] - before["locks"] if "student" in n]  # /run/lock
    assert not [n for n in after["tmp"] - before["tmp"] if "left_by_a_student" in n or n.startswith("fill")]
    uid = pwd.getpwnam(grading.SANDBOX_USER).pw_uid
    assert [p for p in Path("/tmp").iterdir() if p.lstat().st_uid == uid] == []
    reader = autograded_text(course, "c08_read_leftovers")
    assert "LEAK" not in reader and "no segment" in reader, reader
    writer = autograded_text(course, "c08_leave_things")
    assert "REFUSED /run/lock/left_by_a_student" in writer and "DISK" in writer, writer


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_classes_9_10_feedback_and_formgrader_show_no_hidden_tests_and_no_student_html(batch):
    course, _, _ = batch
    graded = nbformat.read(course.root / "autograded" / "c10_html" / GENERIC / f"{GENERIC}.ipynb", as_version=4)
    mimes = {m for c in graded.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})}
    assert mimes <= {"text/plain", "image/png", "image/jpeg"}, mimes
    assert "<script>" not in json.dumps([c.source for c in graded.cells if c.cell_type == "markdown"])
    for student in ("c10_html", "honest"):
        course.run("generate_feedback", GENERIC, student)
        html = (course.root / "feedback" / student / GENERIC / f"{GENERIC}.html").read_text()
        # the student's code is shown (escaped); no tag of the student's reaches the page
        assert not re.search(r"<(script|img)[^>]*(alert|onerror)", html), "student HTML in the feedback"
        assert 'href="javascript:' not in html
        assert "BEGIN HIDDEN TESTS" not in html
        leaked = [line for line in hidden_lines(GENERIC) if line in html or line.replace('"', "&quot;") in html]
        assert not leaked, leaked[:3]


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_class_4_the_exchange_has_safe_permissions_and_collect_refuses_forgeries(tmp_path, monkeypatch):
    course = Course(tmp_path / "course", [GENERIC], monkeypatch)
    course.run("generate_assignment", GENERIC, force=True, create=True)
    course.run("release_assignment", GENERIC)
    inbound = course.exchange / "lenet-course" / "inbound"
    assert course.exchange.stat().st_mode & 0o777 == 0o755  # nbgrader's own: 0777
    assert inbound.stat().st_mode & 0o7777 == 0o3733  # write-only for students, sticky
    assert (course.exchange / "lenet-course" / "outbound").stat().st_mode & 0o777 == 0o755
    course.student("alice", "fetch_assignment", GENERIC)
    course.student("alice", "submit", GENERIC)  # genuine: owned by this (the instructor's) account
    forged = inbound / f"bob+{GENERIC}+2030-01-01 00:00:00.000000 UTC+forged"
    (forged / GENERIC).mkdir(parents=True)
    (forged / GENERIC / f"{GENERIC}.ipynb").write_text("{}")
    try:
        other = pwd.getpwnam(grading.SANDBOX_USER).pw_uid  # any account but this one
    except KeyError:
        pytest.skip("no second account to own a forged submission (grade once as root)")
    os.chown(forged, other, -1)  # a submission for bob, made by another account
    course.run("collect", GENERIC)
    assert (course.root / "submitted" / "alice" / GENERIC).is_dir()
    assert not (course.root / "submitted" / "bob").exists()


def test_static_findings_are_bounded_and_name_kernel_hooks_and_frames():
    found = " | ".join(grading.static_findings(HOOKS + PEEK))
    for words in ("reaches into the kernel (get_ipython)", "ast_transformers", "input_transformers_post",
                  "frames (f_globals)", "frames (tb_frame)", "sys._getframe"):
        assert words in found, (words, found)
    started = time.monotonic()
    assert "too large to check" in grading.static_findings("!true\n" * 100_000)[0]
    assert "could not be checked" in grading.static_findings("x = " + "+".join(["1"] * 200_000))[0]
    assert time.monotonic() - started < 30
    assert grading.static_findings("%matplotlib inline\n!ls\nx = 1") == ["runs commands (get_ipython.system)"]


def test_sanitize_notebook_keeps_text_and_images_only():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<script>alert(1)</script>", "text/plain": "<HTML object>",
                                  "image/png": "iVBORw0KGgo=", "image/svg+xml": "<svg onload=alert(1)/>"}),
            nbformat.v4.new_output("display_data", data={"application/javascript": "alert(1)"})]),
        nbformat.v4.new_markdown_cell("<img src=x onerror=alert(1)> [a](javascript:alert(1)) a < b"),
        nbformat.v4.new_raw_cell("<script>alert(1)</script>", metadata={"format": "text/html"})])
    grading.sanitize_notebook(nb)
    first, second = nb.cells[0].outputs
    assert first.data == {"image/png": "iVBORw0KGgo=", "text/plain": "<HTML object>"}
    assert list(second.data) == ["text/plain"] and "removed by the grader" in second.data["text/plain"]
    assert "<img" not in nb.cells[1].source and "javascript:" not in nb.cells[1].source and "a &lt; b" in nb.cells[1].source
    assert "format" not in nb.cells[2].metadata


# ------------------------------------------------------------------ a locked `%matplotlib inline`
def guard_kernel(magics: list[str]):
    """A kernel with the grading guard installed as the grader installs it; yields check(phase)."""
    import contextlib
    from jupyter_client.manager import start_new_kernel

    from dlcourse.grading import guard as guard_module
    from dlcourse.grading.execute import GUARD_MODULE

    @contextlib.contextmanager
    def kernel():
        km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "MPLBACKEND": "Agg"})
        try:
            config = {"secret": "s" * 32, "modules": ["matplotlib.pyplot"], "magics": magics, "memory": 0,
                      "protected": []}
            code = (f"import sys as _s, types as _t\n_m = _t.ModuleType({GUARD_MODULE!r})\n"
                    f"exec(compile({Path(guard_module.__file__).read_text()!r}, {guard_module.GUARD_FILE!r}, 'exec'),"
                    f" _m.__dict__)\n_s.modules[{GUARD_MODULE!r}] = _m\n_m.install({config!r})\ndel _s, _t, _m\n")
            assert kc.execute_interactive(code, silent=True, store_history=False, timeout=120)["content"]["status"] == "ok"

            def run(source: str) -> list[dict]:
                outputs = []
                kc.execute_interactive(source, timeout=120, output_hook=outputs.append)
                return outputs

            def check(phase: str) -> list[str]:
                expr = f"__import__('sys').modules[{GUARD_MODULE!r}].check({phase!r}, 'n', [], None)"
                reply = kc.execute_interactive("", silent=True, store_history=False, user_expressions={"r": expr},
                                               timeout=60)
                answer = reply["content"]["user_expressions"]["r"]["data"]["text/plain"]
                return json.loads(json.loads(ast.literal_eval(answer))["payload"])["changed"]

            yield run, check
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    return kernel()


def test_a_locked_matplotlib_magic_is_not_tampering_and_figures_show():
    """The capstone's first (locked) cell runs `%matplotlib inline`: the grader runs it before
    the guard's snapshot, so the locked cell changes nothing the guard watches and figures are
    sent inline; the same kind of change from student code is still reported."""
    from dlcourse.grading.course import line_magics

    released = released_notebook("cifar10")
    locked = [c for c in released.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")]
    magics = [m for c in locked for m in line_magics(c.source)]
    assert magics == ["matplotlib inline"], magics
    with guard_kernel(magics) as (run, check):
        assert check("before") == []
        run("%matplotlib inline\nimport matplotlib.pyplot as plt\n")
        assert check("locked") == []  # no tamper report for the locked cell
        shown = run("plt.plot([1, 2, 3]);\n")
        assert any("image/png" in m["content"].get("data", {}) for m in shown), "no inline figure"
        run("get_ipython().events.register('post_execute', lambda: None)\n")  # student code
        assert check("before") == ["IPython event callbacks (post_execute)"]
    with guard_kernel([]) as (run, check):  # without the preset the magic itself is a change
        run("%matplotlib inline\n")
        assert "IPython event callbacks (post_execute)" in check("locked")


def test_feedback_of_a_failing_hidden_test_shows_its_message_not_its_source():
    """A failing hidden test's traceback quotes the hidden code: feedback keeps the error
    and its message only (found by the PostgreSQL loop test of issue 17)."""
    from dlcourse.grading.feedback import FeedbackPreprocessor

    source = ("assert f(1) == 2, 'f(1): expected 2'\n### BEGIN HIDDEN TESTS\n"
              "SECRET_INPUT = 41\nassert f(SECRET_INPUT) == 42, 'f: expected 42 for a hidden input'\n"
              "### END HIDDEN TESTS")
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"locked": True, "grade": True,
                                                                   "grade_id": "t", "points": 1}})
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="f: expected 42 for a hidden input",
        traceback=["Traceback", "----> 3 assert f(SECRET_INPUT) == 42", "SECRET_INPUT = 41"])]
    cell, _ = FeedbackPreprocessor().preprocess_cell(cell, {}, 0)
    shown = cell.source + json.dumps(cell.outputs)
    assert "SECRET_INPUT" not in shown, f"the hidden test leaks into feedback: {shown}"
    assert "expected 42 for a hidden input" in shown, "the assert's message is the feedback"
