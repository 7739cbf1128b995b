"""The batch's journal: which students of an unfinished batch are already in the gradebook.

A batch killed half-way (power cut, Ctrl-C, the instructor's laptop closed) is finished by
running the same command again: students whose grades were committed are not graded again,
and their gradebook rows are not touched. The client is the only writer, and every file is
written whole (a temporary file, then ``os.replace``), so a crash leaves each record either
complete or absent.

A rerun resumes only the same batch: the same assignment and the same students (any other
selection starts a new batch). Per student, two records in ``.grading/batches/<assignment>/``:

- ``<student>.graded``: the grading's outcome, written BEFORE the commit (write-ahead): a
  crash between it and the commit is recovered by committing it again, not by regrading;
- ``<student>.done``: the row of the batch's table, written AFTER the commit.

``log.jsonl`` lists every commit (the tests count them). When the batch finishes, the
folder goes and its log stays as ``<assignment>.last.jsonl`` (the next batch starts with the
longest submissions); ``--restart`` discards an unfinished batch and grades everyone again.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .course import Course
from .results import Problem, Result


def _write_whole(path: Path, data: bytes) -> None:
    """``path`` holds either its old content or ``data``, never a part of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Journal:
    """The records of one assignment's batch in ``course/.grading/batches/<assignment>``."""

    def __init__(self, course: Course, assignment: str) -> None:
        self.folder = course.root / ".grading" / "batches" / assignment

    @classmethod
    def open(cls, course: Course, assignment: str, students: list[str], restart: bool = False,
             log: Callable[[str], None] = print) -> "Journal":
        """The unfinished batch of ``assignment`` if there is one for the same students (and not
        ``restart``), else a new one."""
        journal = cls(course, assignment)
        plan = journal.folder / "plan.json"
        if plan.exists() and not restart and sorted(json.loads(plan.read_text())["students"]) != sorted(students):
            log(f"an unfinished batch of {assignment} for other students is discarded (its committed "
                "grades stay in the gradebook); this run grades the students asked for")
            restart = True
        if restart and journal.folder.exists():
            shutil.rmtree(journal.folder)
        journal.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not plan.exists():
            _write_whole(plan, json.dumps({"students": students, "started": time.time()}).encode())
        return journal

    # ------------------------------------------------------------------ per student
    def done(self, student: str) -> Result | None:
        """The row of a student already committed by this batch, else None."""
        path = self.folder / f"{student}.done"
        if not path.exists():
            return None
        row = json.loads(path.read_text())
        row["problems"] = [Problem(**p) for p in row["problems"]]
        return Result(**row)

    def graded(self, student: str):
        """An outcome graded but maybe not committed (the crash came in between), else None."""
        path = self.folder / f"{student}.graded"
        return pickle.loads(path.read_bytes()) if path.exists() else None

    def write_graded(self, student: str, outcome) -> None:
        _write_whole(self.folder / f"{student}.graded", pickle.dumps(outcome))

    def write_done(self, result: Result, **where) -> None:
        """Mark ``result``'s student committed; ``where``: the worker and times, for the log."""
        _write_whole(self.folder / f"{result.student}.done", json.dumps(asdict(result)).encode())
        with open(self.folder / "log.jsonl", "a") as log:
            log.write(json.dumps({"student": result.student, "score": result.score, "seconds": result.seconds,
                                 "at": time.time(), **where}) + "\n")
            log.flush()
            os.fsync(log.fileno())
        (self.folder / f"{result.student}.graded").unlink(missing_ok=True)

    def commits(self) -> list[str]:
        """Every student committed by this batch (or, once finished, the last one), once per commit."""
        return [row["student"] for row in self.previous()]

    def previous(self) -> list[dict]:
        """The commits of this unfinished batch, else of the last finished one."""
        path = self.folder / "log.jsonl"
        if not path.exists():
            path = self.last
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    @property
    def last(self) -> Path:
        return self.folder.with_name(f"{self.folder.name}.last.jsonl")

    def finish(self, students: list[str]) -> None:
        """Once every student of the batch is committed, the next run grades everyone again;
        the commits are kept (``<assignment>.last.jsonl``: the next batch starts with the
        submissions that took longest)."""
        plan = json.loads((self.folder / "plan.json").read_text())["students"]
        if all((self.folder / f"{s}.done").exists() for s in set(plan) | set(students)):
            if (self.folder / "log.jsonl").exists():
                os.replace(self.folder / "log.jsonl", self.last)
            shutil.rmtree(self.folder, ignore_errors=True)
