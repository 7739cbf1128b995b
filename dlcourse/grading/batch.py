"""The batch: every submission of an assignment, one by one, each committed on its own.

One bad submission never stops or corrupts the rest: an error is that student's row
("NOT GRADED", the gradebook keeps what it had), never the batch's end.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from .commit import backup, commit, replace_folder, scores, template_gradebook
from .course import Course, load_assignment
from .results import Limits, Problem, Result, dedupe, format_row, format_table
from .sandbox import SANDBOX_USER, Sandbox
from .submission import Assignment, Graded, grade_submission


def grade(assignment: str, students: Iterable[str] | None = None, *, course_root: str | Path = ".",
          limits: Limits = Limits(), sandbox_user: str | None = SANDBOX_USER, backup_gradebook: bool = True,
          unsafe_no_sandbox: bool = False, log: Callable[[str], None] = print) -> list[Result]:
    """Autograde ``assignment`` for each student (default: every submission), one by one.

    ``sandbox_user``: who kernels run as inside the sandbox when grading as root;
    ``unsafe_no_sandbox``: grade without bubblewrap even as root (a throw-away machine only).
    """
    course = Course(course_root)
    (course.root / ".grading").mkdir(mode=0o700, exist_ok=True)
    # One batch per course at a time (the sandboxes cannot see this file).
    with open(course.root / ".grading" / "lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another grading batch of this course to finish ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _batch(course, assignment, students, limits, sandbox_user, backup_gradebook,
                      unsafe_no_sandbox, log)


def _batch(course: Course, name: str, students: Iterable[str] | None, limits: Limits,
           sandbox_user: str | None, backup_gradebook: bool, unsafe: bool,
           log: Callable[[str], None]) -> list[Result]:
    specs = load_assignment(course, name)
    students = list(students) if students else course.students(name)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    if backup_gradebook and (saved := backup(course, stamp)):
        log(f"gradebook backed up to {saved}")
    results = []
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env_path}"  # nbgrader runs `alembic`
    try:
        # no "dlcourse" in the name: without a sandbox the kernel's paths are under it, and the
        # hidden tests tell the course's code from the student's by "dlcourse" in a path
        with tempfile.TemporaryDirectory(prefix="grading-batch-") as tmp:
            os.chmod(tmp, 0o711)  # the sandbox user must reach its kernel's socket folder
            sandbox = Sandbox.create(limits, Path(tmp), sandbox_user, unsafe, log)
            template_gradebook(course, name, Path(tmp) / "template.db")
            released = course.released(name)
            assignment = Assignment(name, course.course_id, course.config, specs, Path(tmp) / "template.db",
                                    released if released.is_dir() else None, _watched(course))
            for student in students:
                result = _grade_and_commit(course, assignment, student, sandbox)
                results.append(result)
                log(format_row(result))
    finally:
        os.environ["PATH"] = env_path
    report = course.root / ".grading" / f"{name}-{stamp}.md"
    report.write_text(format_table(results) + "\n")
    missed = [r.student for r in results if not r.graded]
    if missed:
        log(f"NOT GRADED ({len(missed)}): {', '.join(missed)}; their gradebook rows are unchanged")
    log(f"table written to {report}")
    return results


def _grade_and_commit(course: Course, assignment: Assignment, student: str, sandbox: Sandbox) -> Result:
    started = time.monotonic()
    try:
        graded: Graded = grade_submission(course.submission(student, assignment.name), student, assignment, sandbox)
        commit(course, assignment.name, student, graded.grades)
        replace_folder(graded.autograded, course.autograded(student, assignment.name))
        score, max_score, manual = scores(course, assignment.name, student)
        problems = graded.problems + ([Problem("note", f"{manual} cell(s) to grade by hand")] if manual else [])
        result = Result(student, assignment.name, score, max_score, dedupe(problems))
    except Exception as error:  # this student's row, never the batch's end
        result = Result(student, assignment.name, None, assignment.max_score,
                        [Problem("error", f"NOT GRADED, gradebook unchanged: "
                                          f"{type(error).__name__}: {str(error)[:300]}")])
    result.seconds = time.monotonic() - started
    return result


def _watched(course: Course) -> list[str]:
    """Course paths whose reading the guard reports (the sandbox has none of them anyway)."""
    paths = [course.root / name for name in ("solutions", "submitted", "autograded", "feedback",
                                             ".grading", ".git", "gradebook.db")]
    exchange = course.config.Exchange.get("root") if "Exchange" in course.config else None
    if exchange:
        paths.append(Path(exchange))
    return [str(p.resolve()) for p in paths]
