"""Autograding that survives real classes: one bad submission never stops or corrupts the rest.

A thin layer around nbgrader's own autograde (``NbGraderAPI.autograde``: the same code
``nbgrader autograde`` runs), for instructors::

    python -m dlcourse.grading ASSIGNMENT [--student S ...] [--timeout 60] [--memory 2GiB]
    make grade A=ASSIGNMENT

For each student, on their own (an error is that student's row, never the batch's end):

1. **Read and repair** the submitted notebook in the instructor's process, executing
   nothing: invalid JSON scores 0 with a note; a copied cell whose grade id is already
   taken is dropped (a copied answer cell stays, as an ordinary cell); deleted grade and
   locked cells are put back (with nbgrader's ``OverwriteCells.missing_cell_transform``);
   edited locked cells are reported (nbgrader restores them). The student's own code is
   checked statically for tampering: monkeypatching ``torch``/``numpy``/builtins, classes
   with their own ``__eq__``, ``os._exit``, shell commands, instructor file names.
2. **Grade in a throw-away course**: the repaired notebook goes into a temporary course
   folder with a temporary gradebook that holds only this assignment and this student,
   and nbgrader's ``Autograde`` runs there with one preprocessor swapped: its ``Execute``
   is replaced by :class:`SandboxedExecute`, which starts the kernel
   - as another user (``nbgrader-sandbox``, created when missing and running as root),
     in a fresh folder that holds only the assignment's released files, with a scrubbed
     environment (``HOME``, ``TMPDIR`` there; no instructor variables);
   - with resource limits the kernel and everything it starts inherit (``RLIMIT_DATA``
     and ``RLIMIT_AS`` tightened to the kernel's own footprint plus ``--memory`` once it
     is up, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_NPROC``, no core files), and a
     watchdog thread in the grader that kills the kernel's whole process group (and every
     process of the sandbox user) at the wall-time limit or when the resident memory of
     all its processes goes over the limit: a compiled call cannot ignore either;
   - with the grading guard (:mod:`dlcourse.grading_guard`) installed before the first
     cell, asked before and after every test cell: it restores monkeypatched functions,
     disarms always-equal objects, refuses reads of the instructor's files and writes
     outside the folder, and a test cell during which something was tampered with fails.
   Cells run one by one, so when the kernel dies (limit, ``os._exit``, crash) the cells
   already run keep their outputs; every test cell that could not run gets an error
   output, so it scores 0 instead of nbgrader's "no output, full marks".
3. **Commit** only on success: the grades of the temporary gradebook are copied into the
   course's gradebook in one transaction per student (manual grades are kept, as
   nbgrader does), and the autograded notebook replaces the old one. A crash in the
   middle leaves every other student's grades as they were; the SQLite gradebook is
   backed up to ``.grading/backups/`` before each batch. Re-running is idempotent.

A cell that runs past ``--cell-timeout`` (default: nbgrader's ``Execute.timeout``) is
interrupted and the next cells run, as with nbgrader; ``--timeout`` bounds the whole
submission. During the batch ``solutions/``, ``submitted/``, ``autograded/``,
``feedback/``, the gradebook and ``.grading/`` are made private to their owner
(``chmod o-rwx``; they stay so), so the sandbox user gets "permission denied" even through a
shell command. When that user cannot reach the interpreter (a pyenv under a private
``/root``), the batch stops with the folder in the way; ``--grant-access`` gives that user a
traverse-only ACL entry on it instead. One batch runs at a time (a lock file), since each
student's clean-up ends every process of the sandbox user.

Limits of the design: student code and the guard share one interpreter, so the runtime
checks can be defeated by code written against them (``ctypes``, ``gc``, a replacement that
undoes itself before the test ends); the static checks report such code. Without root there
is no second user: the kernel then runs as the instructor, with the scrubbed folder and
environment, the limits, and the guard's refusals (including any new process) only.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import datetime as dt
import fcntl
import glob
import hashlib
import hmac
import json
import os
import pwd
import re
import resource
import secrets
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterable

import nbformat
import psutil
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.client import NotebookClient
from nbgrader import utils as nbutils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests,
                                    Execute, IgnorePattern, LimitOutput, OverwriteCells,
                                    SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor
from sqlalchemy.exc import SAWarning
from traitlets import Dict
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from . import grading_guard

__all__ = ["Limits", "Problem", "Result", "grade", "format_table", "main", "SandboxedExecute"]

GiB = 2**30
MiB = 2**20
SANDBOX_USER = "nbgrader-sandbox"
GUARD_MODULE = "_grading_guard"
REPO = Path(__file__).resolve().parents[1]
# Default wall time per submission; the capstone's hidden test retrains LeNet (about 90 s on
# 2 busy cores, see bench/results/grading-times.md), so it gets three minutes.
DEFAULT_WALL = 60.0
WALL_FOR = {"cifar10": 180.0}


# ====================================================================== results
@dataclass(frozen=True)
class Problem:
    """Something found in one submission.

    ``kind``: ``limit`` (time, memory, output), ``crash`` (the kernel died), ``error`` (an
    answer cell raised), ``repair`` (cells put back or dropped), ``tamper`` (cheating or
    snooping, refused or undone), ``invalid`` (no readable notebook), ``note``.
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class Result:
    """One row of the batch: what the gradebook now says for this student."""

    student: str
    assignment: str
    score: float | None  # None: not graded (the gradebook keeps what it had)
    max_score: float
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def graded(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. ``memory``: bytes student code may allocate on top of the
    kernel's own runtime (Python, PyTorch); ``wall``: seconds from the kernel being ready;
    ``cell_timeout``: seconds after which one cell is interrupted (None: nbgrader's
    ``Execute.timeout``, at most ``wall``)."""

    wall: float = 60.0
    memory: int = 2 * GiB
    cell_timeout: float | None = None
    output_bytes: int = 1 * MiB  # per cell, while it runs (nbgrader's LimitOutput trims further)
    file_bytes: int = 64 * MiB  # largest file the kernel may write
    processes: int = 256  # processes + threads of the sandbox user
    threads: int = 2  # OMP/MKL threads


def parse_size(text: str) -> int:
    """'2GiB', '1.5G', '512MiB', '800M', '1000000' -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GiB, 1.5GiB or 800MiB)")
    unit = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[match.group(2).upper()]
    return int(float(match.group(1)) * unit)


# ====================================================================== the course
class Course:
    """The instructor's course folder, as its nbgrader_config.py describes it."""

    def __init__(self, root: Path) -> None:
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

    def students(self, assignment: str) -> list[str]:
        pattern = self.coursedir.format_path(self.coursedir.submitted_directory, "*", assignment)
        return sorted(Path(p).parent.name for p in glob.glob(pattern) if Path(p).is_dir())

    def sqlite_path(self) -> Path | None:
        if self.db_url.startswith("sqlite:///"):
            return Path(self.db_url[len("sqlite:///"):])
        return None

    def secrets(self) -> list[Path]:
        """What student code must never read."""
        paths = [self.folder("source"), self.folder("submitted"), self.folder("autograded"),
                 self.folder("feedback"), self.root / ".grading"]
        db = self.sqlite_path()
        if db is not None:
            paths += [db, db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal")]
        # this checkout's own solutions and gradebook (the package is imported from there)
        paths += [REPO / "solutions", REPO / "gradebook.db"]
        return list(dict.fromkeys(p.resolve() for p in paths))

    def watched(self) -> list[Path]:
        """What the grading guard refuses to open: the secrets, and the exchange (other
        students' submissions; it must stay reachable for students, so it is not chmod-ed)."""
        exchange = self.config.Exchange.get("root") if "Exchange" in self.config else None
        return self.secrets() + ([Path(exchange).resolve()] if exchange else [])


# ====================================================================== the assignment
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


def bound_names(source: str) -> list[str]:
    """Names a (locked) cell binds with import, def or class at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.append(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return names


def imported_modules(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    return modules


# ====================================================================== read and repair
def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def read_submission(raw: bytes, spec: NotebookSpec) -> tuple[nbformat.NotebookNode | None, list[Problem]]:
    """Parse and repair one submitted notebook; (None, problems) when it cannot be read."""
    problems: list[Problem] = []
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        try:
            nbformat.validate(nb)
        except nbformat.ValidationError:
            _, repaired = nbformat.validator.normalize(nb, repair_duplicate_cell_ids=True,
                                                       strip_invalid_metadata=True)
            nb = nbformat.from_dict(repaired)
            nbformat.validate(nb)
            problems.append(Problem("repair", "notebook structure repaired (invalid nbformat)"))
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
    except Exception as error:  # anything unreadable is the student's file, not our crash
        text = str(error).splitlines()[0][:120] if str(error) else ""
        return None, [Problem("invalid", f"{spec.name}.ipynb is not a valid notebook "
                                         f"({type(error).__name__}: {text}); scored 0")]

    known = spec.by_name()
    kept: list = []
    seen: dict[str, nbformat.NotebookNode] = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            kept.append(cell)
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id not in known:
            # a made-up or mangled id: an ordinary cell (nbgrader would choke on it)
            del cell.metadata["nbgrader"]
            problems.append(Problem("repair", f"cell with unknown grade id {grade_id!r} treated as an ordinary cell"))
            kept.append(cell)
            continue
        if grade_id in seen:
            if known[grade_id].locked:
                problems.append(Problem("repair", f"duplicate of cell {grade_id} dropped"))
                continue
            del cell.metadata["nbgrader"]
            problems.append(Problem("repair", f"duplicate of answer cell {grade_id} kept as an ordinary cell"))
            kept.append(cell)
            continue
        seen[grade_id] = cell
        kept.append(cell)

    # put back deleted grade and locked cells where they were, as nbgrader would
    writer = OverwriteCells()
    restored = []
    for index, sc in enumerate(spec.cells):
        if sc.name in seen or not (sc.grade or sc.locked or sc.task):
            if sc.name not in seen and sc.solution and not sc.grade:
                problems.append(Problem("repair", f"answer cell {sc.name} is missing"))
            continue
        fake = SimpleNamespace(name=sc.name, cell_type=sc.cell_type, locked=sc.locked,
                               checksum=sc.checksum, source=sc.released)
        if sc.grade or sc.task:
            cell = writer.missing_cell_transform(fake, sc.points, is_solution=sc.solution, is_task=sc.task)
        else:  # a locked cell without points (instructions, imports): same, minus the grade
            cell = writer.missing_cell_transform(fake, 0.0)
            cell["metadata"]["nbgrader"]["grade"] = False
            del cell["metadata"]["nbgrader"]["points"]
        cell = nbformat.from_dict(cell)
        position = 0
        for previous in reversed(spec.cells[:index]):
            if previous.name in seen:
                position = kept.index(seen[previous.name]) + 1
                break
        kept.insert(position, cell)
        seen[sc.name] = cell
        restored.append(sc.name)
    if restored:
        problems.append(Problem("repair", f"deleted cell(s) re-added: {', '.join(restored)}"))

    changed_tests, changed_other = [], []
    for name, cell in seen.items():
        sc = known[name]
        if name in restored or not sc.locked:
            continue
        if cell.cell_type != sc.cell_type or _normalized(cell.source) != _normalized(sc.released):
            (changed_tests if sc.cell_type == "code" else changed_other).append(name)
        points = cell.metadata.nbgrader.get("points")
        if sc.grade and points is not None and float(points) != sc.points:
            problems.append(Problem("repair", f"points of {name} reset to {sc.points:g}"))
    if changed_tests:
        problems.append(Problem("tamper", f"changed locked code cell(s) restored: {', '.join(changed_tests)}"))
    if changed_other:
        problems.append(Problem("repair", f"edited locked cell(s) restored: {', '.join(changed_other)}"))
    nb.cells = kept
    for cell in nb.cells:  # outputs are the student's claims, never evidence
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, problems


# ====================================================================== static checks
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
_TESTED_BUILTINS = set(grading_guard._BUILTIN_NAMES)
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
    """What a student's cell does that no honest answer needs (an empty list when nothing)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
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
            if name.startswith("get_ipython") and name not in ("get_ipython", "get_ipython.system",
                                                                 "get_ipython.getoutput",
                                                                 "get_ipython.run_line_magic",
                                                                 "get_ipython.run_cell_magic"):
                add(f"reaches into the kernel ({name})")
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


# ====================================================================== the sandbox
@dataclass
class Sandbox:
    """Who and where the kernel runs, and with what limits."""

    limits: Limits
    uid: int | None  # None: the grader's own user
    gid: int | None
    user: str | None
    protected: list[str]

    def make_workdir(self, files_from: Path | None) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="grading-sandbox-"))
        for sub in ("tmp", ".runtime", ".ipython", ".cache", ".config", ".matplotlib"):
            (workdir / sub).mkdir()
        if files_from is not None and files_from.is_dir():
            for path in files_from.rglob("*"):
                relative = path.relative_to(files_from)
                if path.suffix == ".ipynb" or path.is_symlink():
                    continue  # the notebook (with hidden tests) is never the kernel's to read
                if path.is_dir():
                    (workdir / relative).mkdir(parents=True, exist_ok=True)
                elif path.is_file():
                    (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, workdir / relative)
        if self.uid is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.lchown(path, self.uid, self.gid)
        return workdir

    def environment(self, workdir: Path) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        env = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir), "TMPDIR": str(workdir / "tmp"),
            "USER": self.user or os.environ.get("USER", ""), "LOGNAME": self.user or "",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"), "IPYTHONDIR": str(workdir / ".ipython"),
            "JUPYTER_CONFIG_DIR": str(workdir / ".config" / "jupyter"),
            "JUPYTER_DATA_DIR": str(workdir / ".cache" / "jupyter"),
            "MPLCONFIGDIR": str(workdir / ".matplotlib"), "MPLBACKEND": "Agg",
            "XDG_CACHE_HOME": str(workdir / ".cache"), "XDG_CONFIG_HOME": str(workdir / ".config"),
            "TORCH_HOME": str(workdir / ".cache" / "torch"),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": str(self.limits.threads), "MKL_NUM_THREADS": str(self.limits.threads),
            "NBGRADER_EXECUTION": "autograde",
        }
        if os.environ.get("DLCOURSE_DATA"):
            env["DLCOURSE_DATA"] = os.environ["DLCOURSE_DATA"]
        return env

    def preexec(self) -> Callable[[], None]:
        """Runs in the kernel's process between fork and exec: only async-signal-safe-ish calls."""
        limits = self.limits
        startup = limits.memory + 8 * GiB  # generous until the kernel is up, then tightened
        cpu = int(2 * limits.wall * max(1, limits.threads) + 30)
        settings = [(resource.RLIMIT_DATA, startup), (resource.RLIMIT_AS, startup + 8 * GiB),
                    (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, limits.file_bytes),
                    (resource.RLIMIT_CORE, 0)]
        if self.uid is not None:  # NPROC counts per user: only meaningful for our own user
            settings.append((resource.RLIMIT_NPROC, limits.processes))

        def apply() -> None:
            os.umask(0o077)
            for which, value in settings:
                soft, hard = resource.getrlimit(which)
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(which, (value, value))
        return apply

    def processes(self, root_pid: int | None) -> list[psutil.Process]:
        """The kernel and everything it started (for the sandbox user: all its processes)."""
        found: dict[int, psutil.Process] = {}
        if root_pid is not None:
            try:
                root = psutil.Process(root_pid)
                found[root.pid] = root
                for child in root.children(recursive=True):
                    found[child.pid] = child
            except psutil.Error:
                pass
        if self.uid is not None:
            for proc in psutil.process_iter(["uids"]):
                try:
                    if proc.info["uids"] and proc.info["uids"].real == self.uid:
                        found[proc.pid] = proc
                except psutil.Error:
                    pass
        return list(found.values())

    def kill(self, root_pid: int | None) -> None:
        if root_pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(root_pid), signal.SIGKILL)
        for proc in self.processes(root_pid):
            with contextlib.suppress(psutil.Error):
                proc.kill()

    def sweep(self) -> None:
        """After each student: no process and no file of the sandbox user survives."""
        if self.uid is None:
            return
        for _ in range(3):
            procs = self.processes(None)
            if not procs:
                break
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(procs, timeout=3)
        for shared in ("/tmp", "/var/tmp", "/dev/shm"):
            with contextlib.suppress(OSError):
                for entry in os.scandir(shared):
                    with contextlib.suppress(OSError):
                        if entry.stat(follow_symlinks=False).st_uid == self.uid:
                            if entry.is_dir(follow_symlinks=False):
                                shutil.rmtree(entry.path, ignore_errors=True)
                            else:
                                os.unlink(entry.path)


def _memory_of(proc: psutil.Process) -> int:
    """Resident anonymous + shared-memory bytes (not the shared libraries' pages)."""
    try:
        with open(f"/proc/{proc.pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return sum(int(fields.get(k, "0 kB").split()[0]) * 1024 for k in ("RssAnon", "RssShmem"))
    except (OSError, ValueError):
        return 0


class Watchdog(threading.Thread):
    """Kills the kernel from outside at the wall-time or memory limit."""

    def __init__(self, sandbox: Sandbox, pid: int, memory_limit: int) -> None:
        super().__init__(daemon=True, name="grading-watchdog")
        self.sandbox, self.pid, self.memory_limit = sandbox, pid, memory_limit
        self.reason: str | None = None
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.sandbox.limits.wall
        while not self._stop_event.wait(0.2):
            if time.monotonic() > deadline:
                self.reason = "time"
            else:
                used = sum(_memory_of(p) for p in self.sandbox.processes(self.pid))
                self.peak = max(self.peak, used)
                if used > self.memory_limit:
                    self.reason = "memory"
            if self.reason:
                self.sandbox.kill(self.pid)
                return

    def stop(self) -> None:
        self._stop_event.set()


class SandboxedKernelManager(AsyncKernelManager):
    """nbgrader's kernel manager, launching the kernel as the sandbox user with limits."""

    sandbox: Sandbox | None = None
    workdir: Path | None = None
    log_path: Path | None = None

    async def _async_pre_start_kernel(self, **kw):
        self.connection_file = str(self.workdir / ".runtime" / f"kernel-{secrets.token_hex(6)}.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        sandbox = self.sandbox
        kw["env"] = {**sandbox.environment(self.workdir),
                     **{k: v for k, v in kw.get("env", {}).items() if k.startswith("JPY_")}}
        kw["cwd"] = str(self.workdir)
        kw["preexec_fn"] = sandbox.preexec()
        log = open(self.log_path, "ab")  # noqa: SIM115 (the kernel holds it; closed with us)
        kw["stdout"] = kw["stderr"] = log
        if sandbox.uid is not None:
            os.chown(self.connection_file, sandbox.uid, sandbox.gid)
            kw.update(user=sandbox.uid, group=sandbox.gid, extra_groups=[])
        try:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            log.close()


@dataclass
class _Run:
    """What happened while one notebook ran (becomes the report)."""

    problems: list[Problem] = field(default_factory=list)
    stopped: str | None = None  # why the remaining cells were not run
    current: str = ""
    guard_ok: bool = True
    truncated: set = field(default_factory=set)
    skipped: list = field(default_factory=list)
    reads: list = field(default_factory=list)  # refused reads of instructor files
    writes: list = field(default_factory=list)  # refused writes outside the folder
    commands: list = field(default_factory=list)  # processes started

    def add(self, kind: str, message: str) -> None:
        problem = Problem(kind, message)
        if problem not in self.problems:
            self.problems.append(problem)


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with the kernel in the sandbox (see the module doc).

    ``settings`` (set by :func:`grade` for each submission): limits, sandbox user,
    protected paths, the assignment's test / locked cells, and where to write the report.
    """

    settings = Dict(help="Set by dlcourse.grading for each submission.").tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    # --- kernel ---------------------------------------------------------------------
    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.sandbox = self._sandbox
        km.workdir = self._workdir
        km.log_path = Path(self._notebook_settings["report"]).with_suffix(".kernel.log")
        return km

    def _kernel_pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        return getattr(provisioner, "pid", None)

    def _kernel_exit(self) -> str:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel died"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = {"SIGXCPU": " (CPU-time limit)", "SIGSEGV": " (crash)", "SIGKILL": " (killed)",
                    "SIGABRT": " (abort, often out of memory)"}.get(name, "")
            return f"the kernel was killed by {name}{hint}"
        return f"the kernel exited with code {code} (os._exit, exit() or a crash in student code)"

    # --- the guard ------------------------------------------------------------------
    def _install_guard(self, modules: list[str]) -> None:
        config = {"secret": self._secret, "workdir": str(self._workdir),
                  "protected": self._sandbox.protected, "modules": modules,
                  "memory": self._limits.memory, "block_processes": self._sandbox.uid is None}
        code = (f"import sys as _s, types as _t\n"
                f"_m = _t.ModuleType({GUARD_MODULE!r})\n"
                f"exec(compile({Path(grading_guard.__file__).read_text()!r}, '<grading guard>', 'exec'), _m.__dict__)\n"
                f"_s.modules[{GUARD_MODULE!r}] = _m\n"
                f"_m.install({config!r})\n"
                f"del _s, _t, _m\n")
        reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
        if reply is None or reply["content"]["status"] != "ok":
            detail = "" if reply is None else f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
            raise RuntimeError(f"could not install the grading guard in the kernel ({detail})")

    def _guard(self, phase: str, bind: list[str]) -> dict | str:
        """Ask the guard: its report, or "busy" (no answer in time) or "bad" (not the guard's)."""
        nonce = secrets.token_hex(8)
        expr = f"__import__('sys').modules[{GUARD_MODULE!r}].check({phase!r}, {nonce!r}, {bind!r})"
        reply = self.wait_for_reply(self.kc.execute("", silent=True, store_history=False,
                                                    user_expressions={"r": expr}))
        if reply is None:
            return "busy"
        answer = reply["content"].get("user_expressions", {}).get("r", {})
        if answer.get("status") != "ok":
            if answer.get("ename") == "MemoryError":
                return "busy"
            return "bad"
        try:
            outer = json.loads(ast.literal_eval(answer["data"]["text/plain"]))
            expected = hmac.new(self._secret.encode(), (nonce + phase + outer["payload"]).encode(),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, outer["signature"]):
                return "bad"
            return json.loads(outer["payload"])
        except Exception:
            return "bad"

    def _record_guard(self, run: _Run, cell, name: str, phase: str, report: dict | str) -> bool:
        """Turn the guard's answer into problems; True when the test cell must fail."""
        if report == "busy":  # the kernel is stuck (the watchdog will end it): cannot vouch
            return phase == "after"
        if report == "bad":
            if run.guard_ok:
                run.add("tamper", f"the grading guard did not answer correctly at {name} "
                                  "(removed or replaced by student code); later tests fail")
            run.guard_ok = False
            return phase == "after"
        where = f"during test {name}" if phase == "after" else f"before {name}"
        for thing in report.get("changed", []):
            run.add("tamper", f"{thing} was replaced by student code ({where}; restored)")
        for thing in report.get("fake", []):
            run.add("tamper", f"{thing} claims equality with anything ({where}; disarmed)")
        for kind, detail in report.get("events", []):
            if kind == "read" and detail not in run.reads:
                run.reads.append(detail)
            elif kind == "write" and detail not in run.writes:
                run.writes.append(detail)
            elif kind == "process" and "fc-list" not in detail and detail not in run.commands:
                run.commands.append(detail)
            elif kind == "hook":
                run.add("tamper", "installed its own audit hook")
        return phase == "after" and bool(report.get("changed") or report.get("fake"))

    # --- execution ------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        """Collect outputs, but at most ``output_bytes`` per cell (errors are always kept)."""
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return out
        budget = self._limits.output_bytes
        if out.output_type == "error":
            out.traceback = [line[:10000] for line in out.traceback[-200:]]
            out.evalue = str(out.evalue)[:10000]
            return out
        size = self._output_sizes.get(cell_index, 0) + len(str(out.get("text", ""))) \
            + sum(len(str(v)) for v in out.get("data", {}).values())
        self._output_sizes[cell_index] = size
        if size > budget:
            outs.remove(out)
            if cell_index not in self._run.truncated:
                self._run.truncated.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stdout",
                                                   text=f"\n... output over {budget} bytes dropped by the grader ...\n"))
            return None
        return out

    def preprocess(self, nb, resources=None, km=None):
        settings = {**self.settings, **self.settings["notebooks"][resources["nbgrader"]["notebook"]]}
        self._notebook_settings = settings
        self._limits = Limits(**settings["limits"])
        self._sandbox = Sandbox(self._limits, settings.get("uid"), settings.get("gid"),
                                settings.get("user"), settings["protected"])
        self._secret = secrets.token_hex(16)
        self._run = run = _Run()
        self._output_sizes: dict[int, int] = {}
        tests, locked = set(settings["tests"]), set(settings["locked"])
        binds = settings["bind"]
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        cell_timeout = self._limits.cell_timeout or self.timeout or self._limits.wall
        self.timeout = int(max(1, min(cell_timeout, self._limits.wall)))
        self.shutdown_kernel = "immediate"
        build = resources.get("metadata", {}).get("path")  # nbgrader's autograded/<student>/<assignment>
        self._workdir = self._sandbox.make_workdir(Path(build) if build else None)
        watchdog = None
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                self._install_guard(settings["modules"])
                pid = self._kernel_pid()
                baseline = sum(_memory_of(p) for p in self._sandbox.processes(pid))
                watchdog = Watchdog(self._sandbox, pid, baseline + int(1.25 * self._limits.memory))
                watchdog.start()
                for index, cell in enumerate(self.nb.cells):
                    self._run_cell(cell, index, resources, tests, locked, binds, watchdog)
        finally:
            if watchdog is not None:
                watchdog.stop()
            self._sandbox.kill(self._kernel_pid() if self.km is not None else None)
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._sandbox.sweep()
            self._finish(run, watchdog)
        return self.nb, self.resources

    def _run_cell(self, cell, index, resources, tests, locked, binds, watchdog) -> None:
        run = self._run
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
        is_test = name in tests
        if cell.cell_type != "code":
            return
        if run.stopped:
            if is_test:
                cell.outputs = [_error_output("GradingStopped", f"not run: {run.stopped}")]
                run.skipped.append(name)
            return
        run.current = name
        try:
            if is_test:
                if not run.guard_ok:
                    cell.outputs = [_error_output("TamperingDetected", "the grading guard was disabled")]
                    return
                self._record_guard(run, cell, name, "before", self._guard("before", []))
            self.preprocess_cell(cell, resources, index)
            errors = [o for o in cell.outputs if o.output_type == "error"]
            for error in errors:
                if error.ename == "CellTimeoutError":
                    run.add("limit", f"cell {name} interrupted after the cell time limit of {self.timeout} s")
                elif error.ename == "MemoryError" or "can't allocate memory" in str(error.evalue) \
                        or "DefaultCPUAllocator" in str(error.evalue):
                    run.add("limit", f"memory limit ({self._limits.memory / GiB:.3g} GiB) reached in {name}: "
                                     f"{error.ename}")
                elif not is_test and name not in locked:
                    run.add("error", f"{name} raised {error.ename}: {str(error.evalue)[:80]}")
            if is_test or name in locked:
                phase = "after" if is_test else "locked"
                report = self._guard(phase, binds.get(name, []))
                if self._record_guard(run, cell, name, phase, report):
                    cell.outputs.append(_error_output(
                        "TamperingDetected", "student code changed the grading environment during this test"))
        except DeadKernelError:
            if watchdog is not None and watchdog.reason == "time":
                why = f"wall-time limit of {self._limits.wall:g} s reached in {name}"
            elif watchdog is not None and watchdog.reason == "memory":
                why = f"memory limit ({self._limits.memory / GiB:.3g} GiB) reached in {name}"
            else:
                why = f"{self._kernel_exit()} in {name}"
            run.add("limit" if watchdog is not None and watchdog.reason else "crash", why)
            run.stopped = why
            cell.outputs.append(_error_output("GradingStopped", why))
        except CellTimeoutError as error:
            run.add("limit", f"cell {name} did not stop at the cell time limit of {self.timeout} s "
                             "(interrupted, but stuck, e.g. in compiled code)")
            cell.outputs.append(_error_output("CellTimeoutError", str(error)[:200]))
        if index in run.truncated:
            run.add("limit", f"output of {name} truncated (over {self._limits.output_bytes} bytes)")

    def _finish(self, run: _Run, watchdog: Watchdog | None) -> None:
        if run.skipped:
            run.add("limit", f"tests not run after that (0 points): {', '.join(run.skipped)}")
        for things, what in ((run.reads, "tried to read instructor files (refused)"),
                             (run.writes, "tried to write outside the submission folder (refused)"),
                             (run.commands, "started processes")):
            if things:
                listed = ", ".join(t[:100] for t in things[:6]) + (f" and {len(things) - 6} more" if len(things) > 6 else "")
                run.add("tamper", f"{what}: {listed}")
        Path(self._notebook_settings["report"]).write_text(json.dumps(
            {"problems": [[p.kind, p.message] for p in run.problems],
             "peak_memory": watchdog.peak if watchdog else None}))


# ====================================================================== gradebook
def _backup(course: Course, stamp: str) -> Path | None:
    db = course.sqlite_path()
    if db is None or not db.exists():
        return None
    folder = course.root / ".grading" / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(course.root / ".grading", 0o700)
    target = folder / f"{db.stem}-{stamp}.db"
    source, dest = sqlite3.connect(str(db)), sqlite3.connect(str(target))
    try:
        source.backup(dest)
    finally:
        source.close()
        dest.close()
    os.chmod(target, 0o600)
    return target


def _template_gradebook(course: Course, assignment: str, path: Path) -> None:
    """A new gradebook holding only the assignment's structure (no student, no grade)."""
    url = f"sqlite:///{path}"
    with Gradebook(course.db_url, course.course_id) as gb, Gradebook(url, course.course_id) as tgb:
        record = gb.find_assignment(assignment)
        tgb.update_or_create_assignment(assignment, duedate=record.duedate)
        for notebook in record.notebooks:
            tgb.add_notebook(notebook.name, assignment)
            for cell in notebook.grade_cells:
                tgb.add_grade_cell(cell.name, notebook.name, assignment, max_score=cell.max_score,
                                   cell_type=cell.cell_type)
            for cell in notebook.solution_cells:
                tgb.add_solution_cell(cell.name, notebook.name, assignment)
            for cell in notebook.task_cells:
                tgb.add_task_cell(cell.name, notebook.name, assignment, max_score=cell.max_score,
                                  cell_type=cell.cell_type)
            for cell in notebook.source_cells:
                tgb.add_source_cell(cell.name, notebook.name, assignment, cell_type=cell.cell_type,
                                    locked=cell.locked, source=cell.source, checksum=cell.checksum)


def _read_grades(url: str, course_id: str, assignment: str, student: str) -> dict:
    with Gradebook(url, course_id) as gb:
        sub = gb.find_submission(assignment, student)
        return {"timestamp": sub.timestamp, "notebooks": {
            nb.name: {"penalty": nb.late_submission_penalty,
                      "grades": {g.name: g.auto_score for g in nb.grades},
                      "comments": {c.name: c.auto_comment for c in nb.comments}}
            for nb in sub.notebooks}}


def _zero_grades(course: Course, assignment: str, timestamp) -> dict:
    with Gradebook(course.db_url, course.course_id) as gb:
        record = gb.find_assignment(assignment)
        return {"timestamp": timestamp, "notebooks": {
            nb.name: {"penalty": 0.0, "grades": {c.name: 0.0 for c in [*nb.grade_cells, *nb.task_cells]},
                      "comments": {}} for nb in record.notebooks}}


def _commit(course: Course, assignment: str, student: str, grades: dict) -> None:
    """Write one student's autograder results into the course gradebook in one transaction."""
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(student)
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            sub = gb.add_submission(assignment, student)  # empty rows, as nbgrader's first step
        try:
            if grades["timestamp"] is not None:
                sub.timestamp = grades["timestamp"]
            for nb in sub.notebooks:
                found = grades["notebooks"].get(nb.name, {"penalty": 0.0, "grades": {}, "comments": {}})
                nb.late_submission_penalty = found["penalty"]
                for grade in nb.grades:
                    grade.auto_score = found["grades"].get(grade.name, 0.0)
                    # as nbgrader's SaveAutoGrades: a manual grade stays and asks for review
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                for comment in nb.comments:
                    comment.auto_comment = found["comments"].get(comment.name)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise


def _replace_folder(new: Path | None, old: Path) -> None:
    """Put ``new`` where ``old`` is (or just remove ``old`` when ``new`` is None)."""
    old.parent.mkdir(parents=True, exist_ok=True)
    trash = old.with_name(f".{old.name}.old-{secrets.token_hex(4)}")
    if old.exists():
        os.rename(old, trash)
    if new is not None:
        shutil.copytree(new, old)
    shutil.rmtree(trash, ignore_errors=True)


def _scores(course: Course, assignment: str, student: str) -> tuple[float, float, int]:
    with Gradebook(course.db_url, course.course_id) as gb:
        sub = gb.find_submission(assignment, student)
        manual = sum(1 for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
        return float(sub.score), float(sub.max_score), manual


# ====================================================================== the sandbox user
def sandbox_identity(name: str | None, log: Callable[[str], None] = print) -> tuple[int, int, str] | None:
    """(uid, gid, name) of the unprivileged user kernels run as; created when missing (root only)."""
    if name is None or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        try:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            log(f"warning: could not create the sandbox user {name} ({error}); "
                "student code runs as this user")
            return None
        entry = pwd.getpwnam(name)
        log(f"created the sandbox user {name} (uid {entry.pw_uid})")
    if entry.pw_uid == 0:
        raise ValueError(f"the sandbox user {name!r} must not be root")
    return entry.pw_uid, entry.pw_gid, name


def _needed_paths() -> list[Path]:
    """What the kernel must be able to read: the interpreter, its libraries, the data."""
    import importlib.util
    paths = [Path(sys.executable).resolve(), Path(os.__file__).resolve().parent, REPO / "dlcourse"]
    for module in ("torch", "ipykernel", "numpy"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            paths.append(Path(spec.origin).resolve().parent)
    if os.environ.get("DLCOURSE_DATA"):
        paths.append(Path(os.environ["DLCOURSE_DATA"]).resolve())
    return paths


def _blocked_directories(uid: int, gid: int) -> list[Path]:
    """Directories on the way to the needed paths that the sandbox user cannot traverse."""
    folders = sorted({parent for path in _needed_paths() for parent in [path, *path.parents]
                      if parent.is_dir()}, key=lambda p: len(p.parts))
    script = 'for d in "$@"; do [ -x "$d" ] || echo "$d"; done'
    out = subprocess.run(["/bin/sh", "-c", script, "sh", *map(str, folders)], user=uid, group=gid,
                         extra_groups=[], capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    blocked = [Path(line) for line in out.stdout.splitlines() if line]
    # only the outermost: below a blocked directory everything looks blocked
    return [b for b in blocked if not any(o != b and o in b.parents for o in blocked)]


def _grant_traverse(path: Path, uid: int) -> None:
    """Add a POSIX ACL entry 'user:<uid>:--x' to a directory: traverse, not list or read."""
    import struct
    name = "system.posix_acl_access"
    mode = path.stat().st_mode
    entries: dict[tuple[int, int], int] = {}
    with contextlib.suppress(OSError):
        blob = os.getxattr(path, name)
        for offset in range(4, len(blob), 8):
            tag, perm, ident = struct.unpack_from("<HHI", blob, offset)
            entries[(tag, ident)] = perm
    none = 0xFFFFFFFF
    entries.setdefault((0x01, none), (mode >> 6) & 7)
    entries.setdefault((0x04, none), (mode >> 3) & 7)
    entries.setdefault((0x20, none), mode & 7)
    entries[(0x02, uid)] = entries.get((0x02, uid), 0) | 1
    group_class = [perm for (tag, _), perm in entries.items() if tag in (0x02, 0x04, 0x08)]
    entries[(0x10, none)] = 0
    for perm in group_class:
        entries[(0x10, none)] |= perm
    blob = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, ident)
                                           for (tag, ident), perm in sorted(entries.items()))
    os.setxattr(path, name, blob)


def check_sandbox_access(identity: tuple[int, int, str], grant: bool, log: Callable[[str], None]) -> None:
    """Make sure the sandbox user can run the kernel; explain (or, with ``grant``, fix) why not."""
    uid, gid, user = identity
    blocked = _blocked_directories(uid, gid)
    if blocked and grant:
        for folder in blocked:
            _grant_traverse(folder, uid)
            log(f"granted {user} traverse-only access (ACL user:{user}:--x) to {folder}")
        blocked = _blocked_directories(uid, gid)
    if blocked:
        raise PermissionError(
            f"the sandbox user {user} cannot reach the Python that runs the kernels: "
            + ", ".join(f"{b} is {stat.filemode(b.stat().st_mode)}" for b in blocked)
            + f". Install Python where every user can read it, or re-run with --grant-access "
              f"(adds a traverse-only ACL entry for {user} on those folders), or with "
              f"--sandbox-user '' to run student code as yourself (weaker isolation).")


def _make_private(paths: Iterable[Path], log: Callable[[str], None]) -> None:
    """chmod o-rwx: the sandbox user is 'other' to every instructor file."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o007:
                os.chmod(path, mode & ~0o007)
                log(f"made {path} private to its owner (was {stat.filemode(mode)})")


# ====================================================================== the batch
def grade(assignment: str, students: Iterable[str] | None = None, *, course_root: str | Path = ".",
          limits: Limits = Limits(), sandbox_user: str | None = SANDBOX_USER, backup: bool = True,
          grant_access: bool = False, log: Callable[[str], None] = print) -> list[Result]:
    """Autograde ``assignment`` for each student (default: every submission), one by one.

    ``sandbox_user``: the user kernels run as when grading as root (None or '': the
    grader's own user); ``grant_access``: let that user traverse the folders on the way to
    the interpreter when they are private (a traverse-only ACL entry), instead of failing.
    """
    # One batch at a time per sandbox user: each student's clean-up kills all its processes.
    lock_path = Path(tempfile.gettempdir()) / f"dlcourse-grading-{sandbox_user or os.getuid()}.lock"
    with open(lock_path, "a") as lock:
        if not _try_lock(lock):
            log("waiting for another grading batch to finish ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _batch(assignment, students, Course(course_root), limits, sandbox_user, backup,
                      grant_access, log)


def _batch(assignment: str, students: Iterable[str] | None, course: Course, limits: Limits,
           sandbox_user: str | None, backup: bool, grant_access: bool,
           log: Callable[[str], None]) -> list[Result]:
    specs = load_assignment(course, assignment)
    students = list(students) if students else course.students(assignment)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    identity = sandbox_identity(sandbox_user or None, log)
    if identity is not None:
        check_sandbox_access(identity, grant_access, log)
    else:
        log("warning: student code runs as this user, protected only by the scrubbed folder and "
            "environment, the guard's refusals and the limits; grade as root for a sandbox user")
    protected = [str(p) for p in course.watched()]
    (course.root / ".grading").mkdir(mode=0o700, exist_ok=True)
    if identity is not None:
        _make_private(course.secrets(), log)
    if backup and (saved := _backup(course, stamp)):
        log(f"gradebook backed up to {saved}")

    # What the kernel-side guard needs to know about the assignment (trusted: the gradebook).
    settings_for: dict[str, dict] = {}
    for spec in specs:
        locked_code = [c for c in spec.cells if c.cell_type == "code" and c.locked]
        modules = sorted({m for c in locked_code for m in imported_modules(c.source)})
        settings_for[spec.name] = {
            "tests": [c.name for c in spec.cells if c.test],
            "locked": [c.name for c in locked_code],
            "bind": {c.name: bound_names(c.source) for c in locked_code},
            "modules": modules,
        }
    extra_roots = {n for s in settings_for.values() for names in s["bind"].values() for n in names}

    results = []
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env_path}"  # nbgrader runs `alembic`
    try:
        with tempfile.TemporaryDirectory(prefix="dlcourse-grading-") as tmp:
            template = Path(tmp) / "template.db"
            _template_gradebook(course, assignment, template)
            protected = protected + [str(Path(tmp).resolve())]  # the throw-away gradebooks
            sandbox = Sandbox(limits, *(identity or (None, None, None)), protected)
            for student in students:
                started = time.monotonic()
                with warnings.catch_warnings():
                    for category in _NOISE:  # nbgrader's and nbformat's, about student files
                        warnings.simplefilter("ignore", category)
                    try:
                        result = _grade_one(course, assignment, student, specs, settings_for, extra_roots,
                                            limits, identity, protected, Path(tmp), template)
                    except Exception as error:  # this student's row, never the batch's end
                        result = Result(student, assignment, None,
                                        sum(c.points for s in specs for c in s.cells),
                                        [Problem("error", f"not graded, gradebook unchanged: "
                                                          f"{type(error).__name__}: {str(error)[:300]}")])
                    finally:
                        sandbox.sweep()
                result.seconds = time.monotonic() - started
                results.append(result)
                log(_row(result))
    finally:
        os.environ["PATH"] = env_path
    report = course.root / ".grading" / f"{assignment}-{stamp}.md"
    report.write_text(format_table(results) + "\n")
    log(f"table written to {report}")
    return results


def _last_error(outcome: dict, keep: Path) -> str:
    """The most telling line of a failed nbgrader run; its whole log is kept in ``keep``."""
    text = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text(text)
    lines = [line.strip() for line in text.splitlines()
             if re.match(r"^[A-Za-z_.]+(Error|Exception|Exit)\b", line.strip())
             and "Please see the" not in line]
    return (lines[0][:300] if lines else "?") + f" (nbgrader's log: {keep})"


_NOISE = (SAWarning, nbformat.warnings.DuplicateCellId, nbformat.warnings.MissingIDFieldWarning)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _grade_one(course: Course, assignment: str, student: str, specs: list[NotebookSpec],
               settings_for: dict, extra_roots: set, limits: Limits, identity, protected: list[str],
               tmp: Path, template: Path) -> Result:
    submitted = course.submission(student, assignment)
    if not submitted.is_dir():
        raise FileNotFoundError(f"no submission folder {submitted}")
    work = tmp / student
    course_tmp = work / "course"
    sub_tmp = course_tmp / "submitted" / student / assignment
    sub_tmp.mkdir(parents=True)
    (course_tmp / "source" / assignment).mkdir(parents=True)
    source_dir = Path(course.coursedir.format_path(course.coursedir.source_directory, ".", assignment))
    for path in source_dir.rglob("*") if source_dir.is_dir() else []:
        if path.is_file() and path.suffix != ".ipynb":  # released extra files, not the notebooks
            target = course_tmp / "source" / assignment / path.relative_to(source_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    problems: list[Problem] = []
    timestamp = None
    if (submitted / "timestamp.txt").is_file():
        shutil.copyfile(submitted / "timestamp.txt", sub_tmp / "timestamp.txt")
        with contextlib.suppress(Exception):
            timestamp = nbutils.parse_utc((submitted / "timestamp.txt").read_text().strip())
    names = {f"{s.name}.ipynb" for s in specs} | {"timestamp.txt"}
    extras = sorted(str(p.relative_to(submitted)) for p in submitted.rglob("*")
                    if p.is_file() and str(p.relative_to(submitted)) not in names
                    and ".ipynb_checkpoints" not in p.parts)
    if extras:
        problems.append(Problem("repair", f"extra file(s) not used for grading: {', '.join(extras[:5])}"))

    valid = []
    for spec in specs:
        path = submitted / f"{spec.name}.ipynb"
        if not path.is_file():
            problems.append(Problem("invalid", f"{spec.name}.ipynb not submitted; scored 0"))
            continue
        nb, found = read_submission(path.read_bytes(), spec)
        problems += found
        if nb is None:
            continue
        known = spec.by_name()
        for index, cell in enumerate(nb.cells):
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or (grade_id in known and known[grade_id].locked):
                continue
            for finding in static_findings(cell.source, extra_roots):
                problems.append(Problem("tamper", f"{grade_id or f'cell {index + 1}'} {finding}"))
        nbformat.write(nb, str(sub_tmp / f"{spec.name}.ipynb"))
        valid.append(spec)

    if not valid:
        grades = _zero_grades(course, assignment, timestamp)
        autograded = None
    else:
        db = work / "gradebook.db"
        shutil.copyfile(template, db)
        with Gradebook(f"sqlite:///{db}", course.course_id) as gb:
            gb.update_or_create_student(student)
        config = _nbgrader_config(course, course_tmp, db, assignment, student)
        reports = {spec.name: work / f"{spec.name}.report.json" for spec in valid}
        config.SandboxedExecute.settings = {
            "limits": dict(limits.__dict__), "protected": protected,
            "uid": identity[0] if identity else None, "gid": identity[1] if identity else None,
            "user": identity[2] if identity else None,
            "notebooks": {spec.name: {**settings_for[spec.name], "report": str(reports[spec.name])}
                          for spec in valid}}
        outcome = NbGraderAPI(config=config).autograde(assignment, student, force=True, create=True)
        for spec in valid:
            if reports[spec.name].is_file():
                for kind, message in json.loads(reports[spec.name].read_text())["problems"]:
                    problems.append(Problem(kind, message))
        if not outcome["success"]:
            log_file = course.root / ".grading" / "logs" / f"{assignment}-{student}-{time.strftime('%Y%m%dT%H%M%S')}.log"
            raise RuntimeError(f"nbgrader autograde failed: {_last_error(outcome, log_file)}")
        grades = _read_grades(f"sqlite:///{db}", course.course_id, assignment, student)
        autograded = course_tmp / "autograded" / student / assignment

    _commit(course, assignment, student, grades)
    _replace_folder(autograded, course.autograded(student, assignment))
    score, max_score, manual = _scores(course, assignment, student)
    if manual:
        problems.append(Problem("note", f"{manual} cell(s) to grade by hand"))
    return Result(student, assignment, score, max_score, _dedupe(problems))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _nbgrader_config(course: Course, root: Path, db: Path, assignment: str, student: str) -> Config:
    """The course's own configuration, pointed at the throw-away course and gradebook."""
    config = copy.deepcopy(course.config)
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


# ====================================================================== the table
def _row(result: Result) -> str:
    score = "not graded" if result.score is None else f"{result.score:g}"
    return f"{result.student}  {result.assignment}  {score}/{result.max_score:g}  " \
           f"({result.seconds:.1f} s)  {'; '.join(map(str, result.problems)) or 'ok'}"


def format_table(results: list[Result]) -> str:
    """A Markdown table: student, assignment, score, max, problems found."""
    lines = ["| student | assignment | score | max | problems found |", "|---|---|---:|---:|---|"]
    for r in results:
        score = "not graded" if r.score is None else f"{r.score:g}"
        problems = "<br>".join(str(p).replace("|", "\\|") for p in r.problems) or "—"
        lines.append(f"| {r.student} | {r.assignment} | {score} | {r.max_score:g} | {problems} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlcourse.grading",
        description="Autograde every submission of an assignment, each in its own sandbox; "
                    "one bad submission never stops or corrupts the rest.")
    parser.add_argument("assignment")
    parser.add_argument("--student", nargs="+", default=None, help="only these students (default: all)")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"wall seconds per submission (default {DEFAULT_WALL:g}; "
                             + ", ".join(f"{a}: {t:g}" for a, t in WALL_FOR.items()) + ")")
    parser.add_argument("--memory", type=parse_size, default=2 * GiB,
                        help="memory student code may use on top of the kernel's own (default 2GiB)")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="seconds before one cell is interrupted (default: nbgrader's Execute.timeout)")
    parser.add_argument("--course", default=".", help="the course folder (with nbgrader_config.py)")
    parser.add_argument("--sandbox-user", default=SANDBOX_USER,
                        help=f"user the kernels run as when grading as root (default {SANDBOX_USER})")
    parser.add_argument("--grant-access", action="store_true",
                        help="when the sandbox user cannot reach the interpreter (e.g. Python under a "
                             "private /root), give it traverse-only access to the folders in the way")
    parser.add_argument("--report", default=None, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    wall = args.timeout if args.timeout is not None else WALL_FOR.get(args.assignment, DEFAULT_WALL)
    limits = Limits(wall=wall, memory=args.memory, cell_timeout=args.cell_timeout)
    try:
        results = grade(args.assignment, args.student, course_root=args.course, limits=limits,
                        sandbox_user=args.sandbox_user, grant_access=args.grant_access)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = format_table(results)
    print()
    print(table)
    if args.report:
        Path(args.report).write_text(table + "\n")
    return 0 if all(r.graded for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
