"""A throw-away nbgrader course for the tests: the repo's config, solutions and exercises,
copied into a temporary folder with its own gradebook and exchange.

Instructor steps go through nbgrader's Python API (``NbGraderAPI``: the same code the
``nbgrader`` commands run); student steps (fetch, submit, fetch feedback) through the
exchange classes, with ``CourseDirectory.student_id`` naming the student, a home folder
per student (``Exchange.assignment_dir``) and a cache per student (``Exchange.cache``),
as on a server where every student has an account.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import nbgrader.api
from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["perceptron", "mlp", "backprop", "activations", "convolution", "lenet5", "cifar10"]
COURSE_ID = "lenet-course"


def data_dir() -> Path:
    """Where the data sets are (the capstone's hidden test reads CIFAR-10 from there)."""
    return Path(os.environ.get("DLCOURSE_DATA", REPO / "data")).resolve()


def load_config(root: Path) -> Config:
    """The course config exactly as the ``nbgrader`` commands load it from ``root``."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def strip_markers(source: str) -> str:
    """A solution cell as a student who solved it would hand it in: no nbgrader markers."""
    markers = ("### BEGIN SOLUTION", "### END SOLUTION")
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {cell.metadata.nbgrader.grade_id: cell for cell in nb.cells if "nbgrader" in cell.metadata}


def autograded_cells(nb: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id → points of every autograded (code) grade cell."""
    return {
        cell.metadata.nbgrader.grade_id: float(cell.metadata.nbgrader.points)
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
    }


def manual_cells(nb: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id → points of every manually graded (Markdown answer) cell."""
    return {
        cell.metadata.nbgrader.grade_id: float(cell.metadata.nbgrader.points)
        for cell in nb.cells
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade")
    }


def solution_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def released_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)


def make_submission(assignment: str, answers: dict[str, str] | None = None,
                    solved: bool = True) -> nbformat.NotebookNode:
    """A student's notebook: the released one with its answer cells filled in.

    ``answers`` maps grade_id → the cell's new source; every other answer cell gets the
    reference solution when ``solved`` (and stays the released stub otherwise).
    """
    answers = answers or {}
    nb = released_notebook(assignment)
    reference = cells_by_id(solution_notebook(assignment))
    for grade_id, cell in cells_by_id(nb).items():
        if not cell.metadata.nbgrader.get("solution"):
            continue
        if grade_id in answers:
            cell.source = answers[grade_id]
        elif solved:
            cell.source = strip_markers(reference[grade_id].source)
    unknown = set(answers) - set(cells_by_id(nb))
    assert not unknown, f"no answer cells {unknown} in {assignment}"
    return nb


@dataclass
class CellGrade:
    score: float
    max_score: float
    needs_manual_grade: bool


class Course:
    """A course folder under ``root`` with the repo's nbgrader_config.py and solutions/."""

    def __init__(self, root: Path, assignments: list[str], monkeypatch) -> None:
        self.root = root
        self.exchange = root / "exchange"
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
        for name in assignments:
            shutil.copytree(REPO / "solutions" / name, root / "solutions" / name)
        monkeypatch.setenv("NBGRADER_EXCHANGE", str(self.exchange))
        monkeypatch.delenv("NBGRADER_DB_URL", raising=False)
        monkeypatch.delenv("NBGRADER_COURSE_ID", raising=False)
        monkeypatch.setenv("DLCOURSE_DATA", str(data_dir()))
        # The gradebook runs the `alembic` command it installs beside python (the venv's
        # bin/, on PATH once the venv is activated) each time it is opened; ask it once.
        monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setattr(nbgrader.api, "get_alembic_version",
                            functools.lru_cache(nbgrader.api.get_alembic_version))
        self.config = load_config(root)
        self.config.NbGraderAPI.log_level = "WARN"
        self.api = NbGraderAPI(config=self.config)
        self.db_url = self.api.coursedir.db_url

    # ----------------------------------------------------------------- instructor
    def run(self, step: str, *args, **kwargs) -> dict:
        """One NbGraderAPI step (generate_assignment, autograde, ...); fails loudly."""
        result = getattr(self.api, step)(*args, **kwargs)
        assert result["success"], f"nbgrader {step}{args} failed:\n{result.get('error')}\n{result.get('log')}"
        return result

    def autograde(self, assignment: str, student: str, nb: nbformat.NotebookNode) -> dict[str, CellGrade]:
        """Hand in ``nb`` as ``student``'s submission, autograde it and return its grades."""
        self.put_submission(assignment, student, nb)
        self.run("autograde", assignment, student)
        return self.grades(assignment, student)

    def put_submission(self, assignment: str, student: str, nb: nbformat.NotebookNode) -> None:
        """Place a notebook in submitted/ as `nbgrader collect` would."""
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / f"{assignment}.ipynb"))

    def grades(self, assignment: str, student: str) -> dict[str, CellGrade]:
        """grade_id → the gradebook's score for one student's notebook."""
        with Gradebook(self.db_url, COURSE_ID) as gb:
            nb = gb.find_submission_notebook(assignment, assignment, student)
            return {g.name: CellGrade(g.score, g.max_score, g.needs_manual_grade) for g in nb.grades}

    def score(self, assignment: str, student: str) -> float:
        with Gradebook(self.db_url, COURSE_ID) as gb:
            return gb.find_submission(assignment, student).score

    # ----------------------------------------------------------------- students
    def student(self, name: str, action: str, assignment: str) -> None:
        """fetch_assignment / submit / fetch_feedback as student ``name``, from their home."""
        home = self.home(name)
        cfg = copy.deepcopy(self.config)
        cfg.CourseDirectory.student_id = name
        cfg.Exchange.assignment_dir = str(home)
        cfg.Exchange.cache = str(home / ".nbgrader_cache")
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        factory = ExchangeFactory(config=cfg)
        kind = {"fetch_assignment": "FetchAssignment", "submit": "Submit",
                "fetch_feedback": "FetchFeedback"}[action]
        getattr(factory, kind)(coursedir=coursedir, authenticator=Authenticator(config=cfg),
                               config=cfg).start()

    def home(self, name: str) -> Path:
        home = self.root / "students" / name
        home.mkdir(parents=True, exist_ok=True)
        return home
