"""Grading that survives real classes (dlcourse.grading): one batch of honest and adversarial
submissions, made from the released notebooks so they stay in sync with the exercises.

Every submission goes into ONE ``grading.grade`` batch per assignment with short limits
(30 s wall, 1.5 GiB memory, 10 s per cell): the batch finishes; honest submissions get
exactly the points their answers earn; a bad one keeps the points of the tests that ran
before its trouble, gets none for the tests it broke or cheated, and is reported by name;
no student code reads the solutions or the gradebook, or writes outside its folder.

The table of the batch is written to test-artifacts/grading-adversarial.md (the lead
copies it to bench/results/). Takes a few minutes: every submission starts a fresh kernel.
"""

from __future__ import annotations

import json
import pwd
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from dlcourse import grading
from nbgrader_course import REPO, Course, make_submission

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
    predict, pla, train = (answer(solved, g) for g in ("predict", "pla_update", "train_perceptron"))
    secrets = [course.root / "solutions" / "perceptron" / "perceptron.ipynb", course.root / "gradebook.db",
               REPO / "solutions" / "perceptron" / "perceptron.ipynb",
               course.root / "submitted" / "honest" / "perceptron" / "perceptron.ipynb"]
    folders = [course.root / "solutions" / "perceptron", REPO / "solutions", course.root / "submitted"]
    header = "def train_perceptron(X, y, max_epochs=100):\n"
    subs: dict[str, object] = {
        "honest": solved,
        # an honest bug: never claims convergence
        "wrong": make_submission("perceptron", {"train_perceptron": train.replace("return w, b, updates, True",
                                                                                  "return w, b, updates, False")}),
        "loop_forever": make_submission("perceptron", {"train_perceptron": header + "    while True:\n        pass\n"}),
        # one compiled call that ignores interrupts: ~120 matmuls of 4000 x 4000 inside ATen
        # (minutes on a laptop's cores)
        "compiled_call": make_submission("perceptron", {"train_perceptron": header
                                         + "    a = torch.randn(4000, 4000)\n"
                                         + "    return torch.linalg.matrix_power(a, 2**62 - 1)\n"}),
        "exits": make_submission("perceptron", {"train_perceptron": header + "    import os\n    os._exit(1)\n"}),
        "raises": make_submission("perceptron", {"predict": "1 / 0\n" + predict}),
        "memory_bomb": make_submission("perceptron", {"train_perceptron": header
                                       + "    hog = []\n    while True:\n"
                                       + "        hog.append(bytearray(b'x' * 50_000_000))\n"}),
        "huge_output": make_submission("perceptron", {"predict": "for _ in range(20):\n    print('x' * 1_000_000)\n"
                                       + predict.replace('"""\n', '"""\n    print("y" * 3_000_000)\n', 1)}),
        "patch_global": make_submission("perceptron", {"predict": (
            "def predict(w, b, X):\n    return torch.zeros(X.shape[0], dtype=torch.float64)\n"
            "torch.equal = lambda *args, **kwargs: True\n"
            "torch.allclose = lambda *args, **kwargs: True\n")}),
        "patch_runtime": make_submission("perceptron", {"predict": (
            "def predict(w, b, X):\n"
            "    import torch as t\n"
            "    setattr(t, 'equal', lambda *args, **kwargs: True)\n"
            "    return t.zeros(X.shape[0], dtype=t.float64)\n")}),
        "fake_eq": make_submission("perceptron", {"pla_update": (
            "class Anything(float):\n"
            "    def __eq__(self, other):\n        return True\n"
            "    __hash__ = float.__hash__\n"
            "def pla_update(w, b, x, y):\n"
            "    return w.clone(), Anything(b), bool(y * (float(w @ x) + b) <= 0)\n")}),
        # reads the solutions, the gradebook and a classmate's submission, three ways each
        "snoop": make_submission("perceptron", {"predict": predict + "\n" + "\n".join([
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
        "writes_outside": make_submission("perceptron", {"predict": predict + "\n" + "\n".join([
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
    for grade_id in ("predict_hidden", "train_perceptron_visible", "perceptron_imports"):
        del deleted.cells[cell_index(deleted, grade_id)]
    subs["deleted_cells"] = deleted
    duplicated = make_submission("perceptron")
    for grade_id in ("predict_visible", "pla_update", "train_perceptron_hidden"):
        i = cell_index(duplicated, grade_id)
        copy = nbformat.from_dict(json.loads(json.dumps(duplicated.cells[i])))
        copy.id = f"copy-of-{copy.id}"  # Jupyter's copy and paste: new cell id, same nbgrader metadata
        duplicated.cells.insert(i + 1, copy)
    subs["duplicated_cells"] = duplicated
    edited = make_submission("perceptron", {"predict": (
        "def predict(w, b, X):\n    return torch.zeros(X.shape[0], dtype=torch.float64)\n")})
    for grade_id in ("predict_visible", "predict_hidden"):
        edited.cells[cell_index(edited, grade_id)].source = "print('all tests passed')\n"
    subs["edited_tests"] = edited
    return subs


def mlp_submissions(course: Course) -> dict[str, object]:
    return {
        "honest": make_submission("mlp"),
        # a wrong forward pass, and a torch.allclose that agrees with anything
        "patch_reference": make_submission("mlp", {"forward": (
            "def forward(X, W1, b1, W2, b2, phi=torch.relu):\n"
            "    return torch.zeros(X.shape[0], W2.shape[1], dtype=X.dtype)\n"
            "torch.allclose = lambda *args, **kwargs: True\n")}),
        # float32 weights, and a notebook-level all() that the tests would call instead of Python's
        "shadow_builtin": make_submission("mlp", {"xor_params": (
            "def all(iterable):\n    return True\n\n"
            "def xor_params():\n"
            "    W1 = torch.tensor([[1.0, 1.0], [1.0, 1.0]])\n"
            "    b1 = torch.tensor([0.0, -1.0])\n"
            "    return W1, b1, torch.tensor([[1.0], [-2.0]]), torch.tensor([0.0])\n")}),
        "killed": make_submission("mlp", {"to_sequential": (
            "import os, signal\n\n"
            "def to_sequential(W1, b1, W2, b2, activation):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")}),
    }


def activations_submissions(course: Course) -> dict[str, object]:
    return {
        "honest": make_submission("activations"),
        # a wrong sigmoid, made "right" by replacing the reference the hidden test compares with
        "patch_reference": make_submission("activations", {"functions": (
            "def sigmoid(a):\n    return 0.5 + a / 4\n\n"
            "def tanh(a):\n    return 2 * sigmoid(2 * a) - 1\n\n"
            "def relu(a):\n    return torch.clamp(a, min=0)\n\n"
            "torch.sigmoid, torch.tanh = sigmoid, tanh\n")}),
    }


POINTS = {
    "perceptron": {"predict_visible": 1.0, "predict_hidden": 2.0, "pla_update_visible": 1.0,
                   "pla_update_hidden": 2.0, "train_perceptron_visible": 1.0, "train_perceptron_hidden": 3.0},
    "mlp": {"forward_visible": 1.0, "forward_hidden": 2.0, "to_sequential_visible": 1.0,
            "to_sequential_hidden": 2.0, "xor_visible": 1.0, "xor_hidden": 2.0},
    "activations": {"functions_visible": 1.0, "functions_hidden": 2.0, "derivatives_visible": 1.0,
                    "derivatives_hidden": 2.0, "collapse_visible": 1.0, "collapse_hidden": 1.0, "quiz_check": 1.0},
}
MAX_SCORE = {"perceptron": 10.0, "mlp": 9.0, "activations": 11.0}  # activations: + 2 points by hand


def scores(assignment: str, *failing: str) -> dict[str, float]:
    """Every test cell's points, except the cells of the ``failing`` tasks (0)."""
    return {cell: 0.0 if cell.rsplit("_", 1)[0] in failing else points
            for cell, points in POINTS[assignment].items()}


def without(*tasks: str) -> dict[str, float]:
    return scores("perceptron", *tasks)


# student -> expected autograded score of every test cell
EXPECTED = {
    "honest": without(), "wrong": without("train_perceptron"),
    "loop_forever": without("train_perceptron"), "compiled_call": without("train_perceptron"),
    "exits": without("train_perceptron"), "raises": without("predict"),
    "memory_bomb": without("train_perceptron"), "huge_output": without(),
    "patch_global": without("predict"), "patch_runtime": without("predict"),
    "fake_eq": without("pla_update", "train_perceptron"),  # training runs on its pla_update
    "snoop": without(), "writes_outside": without(),
    "invalid_json": without("predict", "pla_update", "train_perceptron"),
    "deleted_cells": without(), "duplicated_cells": without(), "edited_tests": without("predict"),
}
EXPECTED = {("perceptron", student): cells for student, cells in EXPECTED.items()}
EXPECTED.update({
    ("mlp", "honest"): scores("mlp"),
    ("mlp", "patch_reference"): scores("mlp", "forward"),
    ("mlp", "shadow_builtin"): scores("mlp", "xor"),
    ("mlp", "killed"): scores("mlp", "to_sequential", "xor"),
    ("activations", "honest"): scores("activations"),
    ("activations", "patch_reference"): scores("activations", "functions", "derivatives"),
})
# student -> (kind, words) that its row must report
REPORTED = {
    "loop_forever": ("limit", "train_perceptron"),
    "compiled_call": ("limit", "wall-time limit"),
    "exits": ("crash", "exited"),
    "raises": ("error", "ZeroDivisionError"),
    "memory_bomb": ("limit", "memory limit"),
    "huge_output": ("limit", "truncated"),
    "patch_global": ("tamper", "torch.equal"),
    "patch_runtime": ("tamper", "torch.equal"),
    "fake_eq": ("tamper", "__eq__"),
    "snoop": ("tamper", "tried to read"),
    "writes_outside": ("tamper", "outside the submission folder"),
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
SUBMISSIONS = {"perceptron": perceptron_submissions, "mlp": mlp_submissions,
               "activations": activations_submissions}


# ------------------------------------------------------------------ the batch
@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One course, one grading batch per assignment; yields (course, {(assignment, student): Result}, log)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        course = Course(tmp_path_factory.mktemp("grading"), list(SUBMISSIONS), monkeypatch)
        results, lines, tables = {}, [], []
        for assignment, make in SUBMISSIONS.items():
            course.run("generate_assignment", assignment, force=True, create=True)
            for student, nb in make(course).items():
                if isinstance(nb, bytes):
                    folder = course.root / "submitted" / student / assignment
                    folder.mkdir(parents=True)
                    (folder / f"{assignment}.ipynb").write_bytes(nb)
                else:
                    course.put_submission(assignment, student, nb)
            started = time.monotonic()
            graded = grading.grade(assignment, course_root=course.root, limits=LIMITS, grant_access=True,
                                   log=lines.append)
            seconds = time.monotonic() - started
            results.update({(assignment, r.student): r for r in graded})
            tables.append(f"### {assignment}: {len(graded)} submissions, one batch, {seconds:.0f} s\n\n"
                          + grading.format_table(graded))
        ARTIFACT.parent.mkdir(exist_ok=True)
        ARTIFACT.write_text(
            "Adversarial grading batches of tests/test_grading.py (`grading.grade(assignment, "
            f"limits=Limits(wall={LIMITS.wall:g}, memory=1.5 GiB, cell_timeout={LIMITS.cell_timeout:g}))`, "
            "i.e. `python -m dlcourse.grading ASSIGNMENT --timeout 30 --memory 1.5GiB --cell-timeout 10`).\n\n"
            + "\n\n".join(tables) + "\n")
        yield course, results, lines


def test_the_batch_grades_every_submission(batch):
    course, results, _ = batch
    assert set(results) == set(EXPECTED)
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
    for key in (("perceptron", "honest"), ("perceptron", "wrong"), ("mlp", "honest")):
        assert results[key].problems == [], (key, results[key].problems)
    assert [p.kind for p in results["activations", "honest"].problems] == ["note"]  # the written answer


def autograded_text(course, student: str) -> str:
    nb = nbformat.read(course.root / "autograded" / student / "perceptron" / "perceptron.ipynb", as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_student_code_cannot_read_solutions_or_the_gradebook(batch):
    course, _, _ = batch
    text = autograded_text(course, "snoop")
    assert "LEAK" not in text
    assert text.count("DENIED") == 11, text  # 4 files x (open, cat) + 3 folders


def test_student_code_cannot_write_outside_its_folder(batch):
    course, _, _ = batch
    text = autograded_text(course, "writes_outside")
    assert "WROTE" not in text and text.count("REFUSED") == 3, text
    assert not Path("/tmp/planted_by_student.py").exists() and not (REPO / "planted_by_student.txt").exists()
    assert course.score("perceptron", "honest") == 10  # the gradebook still works


def test_limits_keep_the_points_earned_before(batch):
    _, results, _ = batch
    # the compiled call ignores the interrupt at the cell time limit; the watchdog kills it
    stopped = " ".join(p.message for p in results["perceptron", "compiled_call"].problems)
    assert "wall-time limit of 30 s reached" in stopped, stopped
    # an os._exit: the tests after it are reported as not run (and score 0)
    exits = results["perceptron", "exits"].problems
    assert any("not run" in p.message and "train_perceptron_hidden" in p.message for p in exits), exits


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
    assert grades["predict_hidden"].score == 0 and grades["predict_visible"].score == 1
    assert course.grades("activations", "plain_patch_reference")["functions_hidden"].score == 0


def test_no_student_process_or_file_survives_the_batch(batch):
    leftovers = [p.info for p in psutil.process_iter(["pid", "username", "cmdline"])
                 if p.info["username"] == grading.SANDBOX_USER]
    assert leftovers == []
    try:
        uid = pwd.getpwnam(grading.SANDBOX_USER).pw_uid
    except KeyError:
        return  # not graded as root: the kernels ran as this user
    assert [p for p in Path("/tmp").iterdir() if p.lstat().st_uid == uid] == []


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
                          limits=LIMITS, grant_access=True, log=lambda line: None)
    assert [r.score for r in again] == [10, 6, 0]
    assert {s: course.grades("perceptron", s) for s in before} == before

    # a crash in the middle of committing one student: its transaction is rolled back, so
    # the gradebook keeps that student's old grades, and the batch goes on with the others
    real_commit = grading._commit

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

    monkeypatch.setattr(grading, "_commit", flaky)
    third = {r.student: r for r in grading.grade("perceptron", ["wrong", "honest"], course_root=course.root,
                                                 limits=LIMITS, grant_access=True, log=lambda line: None)}
    assert third["honest"].score == 10
    assert not third["wrong"].graded and "simulated crash" in str(third["wrong"].problems)
    assert course.grades("perceptron", "wrong") == before["wrong"]


def test_the_command_line(batch, tmp_path):
    course, _, _ = batch
    report = tmp_path / "table.md"
    code = grading.main(["perceptron", "--course", str(course.root), "--student", "honest", "invalid_json",
                         "--timeout", "30", "--memory", "1.5GiB", "--grant-access", "--report", str(report)])
    assert code == 0
    table = report.read_text()
    assert "| honest | perceptron | 10 | 10 | — |" in table and "| invalid_json | perceptron | 0 | 10 |" in table
    assert grading.main(["no-such-assignment", "--course", str(course.root)]) == 2


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
    assert grading.static_findings(answer(make_submission("perceptron"), "train_perceptron")) == []
    assert grading.static_findings("torch.backends.cudnn.benchmark = True\nx = 1") == []


def test_parse_size():
    assert grading.parse_size("2GiB") == 2 * 2**30
    assert grading.parse_size("1.5G") == int(1.5 * 2**30)
    assert grading.parse_size("800MiB") == 800 * 2**20
    with pytest.raises(ValueError):
        grading.parse_size("lots")
