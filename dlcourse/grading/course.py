"""The instructor's side, read only: the course folder and an assignment's cells as the
gradebook stores them (trusted: written by ``nbgrader generate_assignment``)."""

from __future__ import annotations

import ast
import glob
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests
from traitlets.config.loader import PyFileConfigLoader


class Course:
    """The instructor's course folder, as its nbgrader_config.py describes it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise FileNotFoundError(f"no nbgrader_config.py in {self.root}: pass --course DIR")
        self.config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        self.config.CourseDirectory.root = str(self.root)
        self.coursedir = CourseDirectory(config=self.config)
        self.course_id = self.coursedir.course_id
        self.db_url = self.coursedir.db_url

    def folder(self, kind: str) -> Path:
        return self.root / getattr(self.coursedir, f"{kind}_directory")

    def submission(self, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment))

    def autograded(self, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, assignment))

    def released(self, assignment: str) -> Path:
        """The student version's folder (``exercises/<assignment>``): its extra files are what
        the sandbox gets, never anything of ``solutions/``."""
        return Path(self.coursedir.format_path(self.coursedir.release_directory, ".", assignment))

    def students(self, assignment: str) -> list[str]:
        pattern = self.coursedir.format_path(self.coursedir.submitted_directory, "*", assignment)
        return sorted(Path(p).parent.name for p in glob.glob(pattern) if Path(p).is_dir())

    def sqlite_path(self) -> Path | None:
        if self.db_url.startswith("sqlite:///"):
            return Path(self.db_url[len("sqlite:///"):])
        return None


@dataclass
class SourceCell:
    """One cell of the instructor's notebook as the gradebook stores it."""

    name: str
    cell_type: str
    locked: bool
    source: str  # with hidden tests
    released: str  # as students got it (hidden tests removed)
    checksum: str
    grade: bool
    solution: bool
    task: bool
    points: float

    @property
    def test(self) -> bool:
        """An autograded test: a locked code cell with points."""
        return self.grade and self.cell_type == "code" and not self.solution


@dataclass
class NotebookSpec:
    name: str
    cells: list[SourceCell]

    def by_name(self) -> dict[str, SourceCell]:
        return {c.name: c for c in self.cells}

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.cells)

    def guard_settings(self) -> dict:
        """What the kernel-side guard needs to know about this notebook's locked cells."""
        locked = [c for c in self.cells if c.cell_type == "code" and c.locked]
        return {
            "tests": [c.name for c in self.cells if c.test],
            "locked": [c.name for c in locked],
            "bind": {c.name: bound_names(c.source) for c in locked},
            # a test runs in a copy of the namespace; only what its released part binds stays
            "keep": {c.name: top_level_names(c.released) for c in locked if c.test},
            "modules": sorted({m for c in locked for m in imported_modules(c.source)}),
            # `%matplotlib inline` & co. of the locked cells: the guard runs them first
            "magics": list(dict.fromkeys(m for c in locked for m in line_magics(c.source))),
        }


def load_assignment(course: Course, assignment: str) -> list[NotebookSpec]:
    """The assignment's notebooks and cells from the gradebook (what generate_assignment saved)."""
    hidden = ClearHiddenTests(config=course.config)
    specs = []
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"assignment {assignment!r} is not in the gradebook {course.db_url}: "
                             f"run `nbgrader generate_assignment {assignment}` (or `make exercises`)") from None
        for notebook in record.notebooks:
            grades = {c.name: c for c in notebook.grade_cells}
            solutions = {c.name for c in notebook.solution_cells}
            tasks = {c.name: c for c in notebook.task_cells}
            cells = []
            for sc in notebook.source_cells:  # in notebook order, as nbgrader relies on
                released = nbformat.v4.new_code_cell(sc.source) if sc.cell_type == "code" \
                    else nbformat.v4.new_markdown_cell(sc.source)
                hidden._remove_hidden_test_region(released)
                graded = grades.get(sc.name) or tasks.get(sc.name)
                cells.append(SourceCell(
                    name=sc.name, cell_type=sc.cell_type, locked=bool(sc.locked), source=sc.source,
                    released=released.source, checksum=sc.checksum, grade=sc.name in grades,
                    solution=sc.name in solutions, task=sc.name in tasks,
                    points=float(graded.max_score) if graded is not None else 0.0))
            specs.append(NotebookSpec(notebook.name, cells))
    return specs


def _parse(source: str) -> ast.Module | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # instructor cells: trusted, but may still be odd
        return None


def bound_names(source: str) -> list[str]:
    """Names a (locked) cell binds with import, def or class at its top level."""
    names = []
    for node in getattr(_parse(source), "body", []):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.append(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return names


def top_level_names(source: str) -> list[str]:
    """Every name a cell binds at its top level (assignments, loops, imports, defs)."""
    tree = _parse(source)
    if tree is None:
        return []
    names: list[str] = list(bound_names(source))
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.extend(ast.iter_child_nodes(node))
    return list(dict.fromkeys(names))


def line_magics(source: str) -> list[str]:
    """The line magics of a cell (``%matplotlib inline`` -> ``"matplotlib inline"``), in order."""
    return [line.strip()[1:].strip() for line in source.splitlines()
            if line.strip().startswith("%") and not line.strip().startswith("%%")]


def imported_modules(source: str) -> list[str]:
    """Every module a cell imports, at any depth (the guard watches them)."""
    tree = _parse(source)
    modules = []
    for node in ast.walk(tree) if tree is not None else []:
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    return modules
