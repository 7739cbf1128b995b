"""Grade ONE submission: a plain function of the submission, the assignment and the sandbox,
returning grades and problems. It never touches the course's gradebook (the batch commits),
so it can run anywhere the sandbox can: in this process or, later, in a worker.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from .commit import read_grades
from .course import NotebookSpec
from .execute import SandboxedExecute
from .read import read_submission
from .results import Problem, dedupe
from .sandbox import Sandbox
from .static import static_findings

_NOISE = (SAWarning, nbformat.warnings.DuplicateCellId, nbformat.warnings.MissingIDFieldWarning)


@dataclass
class Assignment:
    """What grading any submission of one assignment needs (built once per batch)."""

    name: str
    course_id: str
    config: Config  # the course's nbgrader configuration
    specs: list[NotebookSpec]
    template: Path  # a gradebook holding only this assignment
    released: Path | None  # the released extra files the kernel gets
    protected: list[str] = field(default_factory=list)  # course paths whose reads are reported

    @property
    def max_score(self) -> float:
        return sum(spec.max_score for spec in self.specs)

    def zero_grades(self, timestamp=None) -> dict:
        return {"timestamp": timestamp, "notebooks": {
            spec.name: {"penalty": 0.0, "grades": {c.name: 0.0 for c in spec.cells if c.grade or c.task},
                        "comments": {}} for spec in self.specs}}


@dataclass
class Graded:
    """One submission, graded: its grades (as :func:`.commit.read_grades` gives them), the
    problems found, and the autograded folder's files (name -> bytes)."""

    grades: dict
    problems: list[Problem]
    autograded: dict[str, bytes]


def grade_submission(submitted: Path, student: str, assignment: Assignment, sandbox: Sandbox) -> Graded:
    """Read, repair, check and run one student's submission folder; raise when it could not
    be graded (the caller keeps the gradebook as it was and reports it)."""
    with tempfile.TemporaryDirectory(prefix=f"grading-{student}-", dir=sandbox.scratch) as tmp, \
            warnings.catch_warnings():
        for category in _NOISE:  # nbgrader's and nbformat's, about student files
            warnings.simplefilter("ignore", category)
        work = Path(tmp)
        inbox = work / "course" / "submitted" / student / assignment.name
        inbox.mkdir(parents=True)
        (work / "course" / "source" / assignment.name).mkdir(parents=True)
        problems, timestamp = _timestamp(submitted, inbox)
        problems += _extra_files(submitted, assignment)
        valid = []
        for spec in assignment.specs:
            found = _prepare_notebook(submitted / f"{spec.name}.ipynb", spec, inbox)
            problems += found
            if (inbox / f"{spec.name}.ipynb").is_file():
                valid.append(spec)
        if not valid:
            return Graded(assignment.zero_grades(timestamp), dedupe(problems), {})
        grades, found = _autograde(work, student, assignment, valid, sandbox)
        autograded = work / "course" / "autograded" / student / assignment.name
        files = {str(p.relative_to(autograded)): p.read_bytes() for p in autograded.rglob("*") if p.is_file()}
        return Graded(grades, dedupe(problems + found), files)


def _timestamp(submitted: Path, inbox: Path) -> tuple[list[Problem], object]:
    if not submitted.is_dir():
        raise FileNotFoundError(f"no submission folder {submitted}")
    stamp = submitted / "timestamp.txt"
    if not stamp.is_file():
        return [], None
    shutil.copyfile(stamp, inbox / "timestamp.txt")
    with contextlib.suppress(Exception):
        return [], nbutils.parse_utc(stamp.read_text()[:100].strip())
    return [Problem("repair", "timestamp.txt unreadable (no late penalty applied)")], None


def _extra_files(submitted: Path, assignment: Assignment) -> list[Problem]:
    names = {f"{s.name}.ipynb" for s in assignment.specs} | {"timestamp.txt", "submission_secret.txt"}
    extras = sorted(str(p.relative_to(submitted)) for p in submitted.rglob("*")
                    if p.is_file() and str(p.relative_to(submitted)) not in names
                    and ".ipynb_checkpoints" not in p.parts)
    return [Problem("repair", f"extra file(s) not used for grading: {', '.join(extras[:5])}")] if extras else []


@functools.cache
def _install_cell() -> str | None:
    """The install cell that generate_assignment puts at the top of every released notebook
    (:mod:`dlcourse.launch`): given code, not the student's, though it is not locked."""
    try:
        from dlcourse.launch import install_cell_source, repository
        return install_cell_source(repository().pip_source)
    except Exception:  # no _config.yml next to the package: every cell is checked
        return None


def _prepare_notebook(path: Path, spec: NotebookSpec, inbox: Path) -> list[Problem]:
    """Read, repair and statically check one notebook; write it to ``inbox`` when readable."""
    if not path.is_file():
        return [Problem("invalid", f"{spec.name}.ipynb not submitted; scored 0")]
    nb, problems = read_submission(path.read_bytes(), spec)
    if nb is None:
        return problems
    known = spec.by_name()
    roots = {n for c in spec.cells if c.locked and c.cell_type == "code"
             for n in spec.guard_settings()["bind"].get(c.name, [])}
    install = _install_cell()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or (grade_id in known and known[grade_id].locked):
            continue
        if install is not None and cell.source == install:
            continue  # the released notebook's own install cell, unchanged (it runs pip only without dlcourse)
        for finding in static_findings(cell.source, roots):
            problems.append(Problem("tamper", f"{grade_id or f'cell {index + 1}'} {finding}"))
    nbformat.write(nb, str(inbox / f"{spec.name}.ipynb"))
    return problems


def _autograde(work: Path, student: str, assignment: Assignment, valid: list[NotebookSpec],
               sandbox: Sandbox) -> tuple[dict, list[Problem]]:
    """nbgrader's own autograde, in a throw-away course with a throw-away gradebook."""
    db = work / "gradebook.db"
    shutil.copyfile(assignment.template, db)
    with Gradebook(f"sqlite:///{db}", assignment.course_id) as gb:
        gb.update_or_create_student(student)
    reports = {spec.name: work / f"{spec.name}.report.json" for spec in valid}
    config = _nbgrader_config(assignment.config, work / "course", db, student)
    config.SandboxedExecute.sandbox = sandbox
    config.SandboxedExecute.settings = {
        "released": assignment.released, "protected": assignment.protected,
        "notebooks": {spec.name: {**spec.guard_settings(), "report": str(reports[spec.name])} for spec in valid}}
    outcome = NbGraderAPI(config=config).autograde(assignment.name, student, force=True, create=True)
    problems = []
    for spec in valid:
        if reports[spec.name].is_file():
            problems += [Problem(kind, message) for kind, message in json.loads(reports[spec.name].read_text())["problems"]]
    if not outcome["success"]:
        raise RuntimeError(f"nbgrader autograde failed: {_last_error(outcome)}")
    return read_grades(f"sqlite:///{db}", assignment.course_id, assignment.name, student), problems


def _nbgrader_config(course_config: Config, root: Path, db: Path, student: str) -> Config:
    """The course's own configuration, pointed at the throw-away course and gradebook."""
    config = copy.deepcopy(course_config)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{db}"
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.submitted_directory = "submitted"
    config.CourseDirectory.autograded_directory = "autograded"
    config.CourseDirectory.feedback_directory = "feedback"
    config.CourseDirectory.student_id = student
    config.CourseDirectory.assignment_id = ""
    config.OverwriteCells.add_missing_cells = True
    config.Autograde.autograde_preprocessors = [
        SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata]
    config.NbGraderAPI.log_level = "ERROR"
    return config


def _last_error(outcome: dict) -> str:
    """The most telling line of a failed nbgrader run."""
    text = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    lines = [line.strip() for line in text.splitlines()
             if re.match(r"^[A-Za-z_.]+(Error|Exception|Exit)\b", line.strip()) and "Please see the" not in line]
    return lines[0][:300] if lines else text.strip()[-300:] or "?"
