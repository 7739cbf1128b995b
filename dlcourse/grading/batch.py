"""The batch: every submission of an assignment, each committed on its own by this process.

One bad submission never stops or corrupts the rest: an error is that student's row
("NOT GRADED", the gradebook keeps what it had), never the batch's end. Submissions are
graded here one by one, or on Dask workers (:mod:`.distributed`); either way this process
is the gradebook's only writer, committing results as they arrive, and the batch's
:mod:`.journal` lets a rerun finish a killed batch without grading anyone twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from . import distributed
from .commit import backup, commit, replace_folder, scores, template_gradebook
from .course import Course, load_assignment
from .journal import Journal
from .results import Limits, Problem, Result, dedupe, format_row, format_table
from .sandbox import SANDBOX_USER, Sandbox
from .submission import Assignment, Graded


def grade(assignment: str, students: Iterable[str] | None = None, *, course_root: str | Path = ".",
          limits: Limits = Limits(), sandbox_user: str | None = SANDBOX_USER, backup_gradebook: bool = True,
          unsafe_no_sandbox: bool = False, log: Callable[[str], None] = print, workers: int | None = 1,
          scheduler: str | None = None, restart: bool = False) -> list[Result]:
    """Autograde ``assignment`` for each student (default: every submission).

    ``sandbox_user``: who kernels run as inside the sandbox when grading as root;
    ``unsafe_no_sandbox``: grade without bubblewrap even as root (a throw-away machine only);
    ``workers``: 1 grades here one by one, N on a local Dask cluster of N processes (None:
    one per core, as memory allows); ``scheduler``: the address of an existing Dask cluster;
    ``restart``: grade everyone again even if an unfinished batch of this assignment exists
    (by default its committed students are kept and the rest graded).
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
        if workers is None and scheduler is None:
            workers = distributed.default_workers(limits)
        return _batch(course, assignment, students, limits, sandbox_user, backup_gradebook,
                      unsafe_no_sandbox, log, workers, scheduler, restart)


def _batch(course: Course, name: str, students: Iterable[str] | None, limits: Limits,
           sandbox_user: str | None, backup_gradebook: bool, unsafe: bool,
           log: Callable[[str], None], workers: int | None = 1, scheduler: str | None = None,
           restart: bool = False) -> list[Result]:
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
            journal = Journal.open(course, name, students, restart, log)
            results = _run(course, assignment, students, sandbox, journal, limits, sandbox_user, unsafe,
                           workers, scheduler, log)
    finally:
        os.environ["PATH"] = env_path
    report = course.root / ".grading" / f"{name}-{stamp}.md"
    report.write_text(format_table(results) + "\n")
    missed = [r.student for r in results if not r.graded]
    if missed:
        log(f"NOT GRADED ({len(missed)}): {', '.join(missed)}; their gradebook rows are unchanged")
    log(f"table written to {report}")
    journal.finish(students)
    return results


def _run(course: Course, assignment: Assignment, students: list[str], sandbox: Sandbox, journal: Journal,
         limits: Limits, sandbox_user: str | None, unsafe: bool, workers: int | None, scheduler: str | None,
         log: Callable[[str], None]) -> list[Result]:
    """Grade the students the journal has not seen committed; commit each result as it arrives."""
    rows: dict[str, Result] = {}
    for student in students:
        if (done := journal.done(student)) is not None:
            rows[student] = done
        elif (outcome := journal.graded(student)) is not None:  # graded, then the crash: commit it
            rows[student] = _commit_outcome(course, assignment, outcome, journal)
    if rows:
        log(f"finishing the unfinished batch of {assignment.name}: {len(rows)} of {len(students)} students "
            f"already graded are not graded again (--restart grades everyone again)")
    todo = [s for s in students if s not in rows]
    previous = distributed.expected_seconds(journal.previous())

    def job(student: str) -> distributed.Job:
        return distributed.make_job(student, course.submission(student, assignment.name), assignment,
                                    limits, sandbox.identity and sandbox_user, unsafe)

    runner = distributed.choose_runner(job, workers, scheduler, lambda s: previous.get(s, float("inf")), log)
    progress = distributed.Progress(len(students), len(rows))
    for outcome in runner(todo):
        rows[outcome.student] = result = _commit_outcome(course, assignment, outcome, journal)
        log(f"{format_row(result)}  {progress.step()}")
    return [rows[s] for s in students]


def _commit_outcome(course: Course, assignment: Assignment, outcome: "distributed.Outcome",
                    journal: Journal) -> Result:
    """Write-ahead to the journal, commit to the gradebook, then mark the student done."""
    if outcome.graded is not None:
        journal.write_graded(outcome.student, outcome)
    if outcome.graded is None:
        result = Result(outcome.student, assignment.name, None, assignment.max_score,
                        [Problem("error", f"NOT GRADED, gradebook unchanged: {outcome.error}")])
    else:
        try:
            result = _commit_graded(course, assignment, outcome.student, outcome.graded)
        except Exception as error:  # this student's row, never the batch's end
            result = _not_graded(outcome.student, assignment, error)
    result.seconds = outcome.seconds
    journal.write_done(result, worker=outcome.worker, started=outcome.started, ended=outcome.ended)
    return result


def _commit_graded(course: Course, assignment: Assignment, student: str, graded: Graded) -> Result:
    commit(course, assignment.name, student, graded.grades)
    files = dict(graded.autograded)
    # nbgrader's release_feedback looks for the exchange's secret beside the autograded notebook
    secret = course.submission(student, assignment.name) / "submission_secret.txt"
    if secret.is_file():
        files["submission_secret.txt"] = secret.read_bytes()
    replace_folder(files, course.autograded(student, assignment.name))
    score, max_score, manual = scores(course, assignment.name, student)
    problems = graded.problems + ([Problem("note", f"{manual} cell(s) to grade by hand")] if manual else [])
    return Result(student, assignment.name, score, max_score, dedupe(problems))


def _not_graded(student: str, assignment: Assignment, error: Exception) -> Result:
    return Result(student, assignment.name, None, assignment.max_score,
                  [Problem("error", f"NOT GRADED, gradebook unchanged: {type(error).__name__}: {str(error)[:300]}")])


def _watched(course: Course) -> list[str]:
    """Course paths whose reading the guard reports (the sandbox has none of them anyway)."""
    paths = [course.root / name for name in ("solutions", "submitted", "autograded", "feedback",
                                             ".grading", ".git", "gradebook.db")]
    exchange = course.config.Exchange.get("root") if "Exchange" in course.config else None
    if exchange:
        paths.append(Path(exchange))
    return [str(p.resolve()) for p in paths]
