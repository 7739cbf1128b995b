"""The gradebook: the only writer is the batch, one transaction per student.

Grades are computed in a throw-away gradebook (:func:`template_gradebook`) and copied into the
course's by :func:`commit` only when the submission was graded (manual grades are kept, as
nbgrader does). The SQLite gradebook is backed up before each batch.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import Course


def backup(course: Course, stamp: str) -> Path | None:
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


def template_gradebook(course: Course, assignment: str, path: Path) -> None:
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


def read_grades(url: str, course_id: str, assignment: str, student: str) -> dict:
    with Gradebook(url, course_id) as gb:
        sub = gb.find_submission(assignment, student)
        return {"timestamp": sub.timestamp, "notebooks": {
            nb.name: {"penalty": nb.late_submission_penalty,
                      "grades": {g.name: g.auto_score for g in nb.grades},
                      "comments": {c.name: c.auto_comment for c in nb.comments}}
            for nb in sub.notebooks}}


def commit(course: Course, assignment: str, student: str, grades: dict) -> None:
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


def replace_folder(files: dict[str, bytes], old: Path) -> None:
    """Put a folder holding ``files`` (name -> bytes) where ``old`` is (empty: just remove it)."""
    old.parent.mkdir(parents=True, exist_ok=True)
    trash = old.with_name(f".{old.name}.old-{secrets.token_hex(4)}")
    if old.exists():
        os.rename(old, trash)
    for name, data in files.items():
        target = old / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    shutil.rmtree(trash, ignore_errors=True)


def scores(course: Course, assignment: str, student: str) -> tuple[float, float, int]:
    with Gradebook(course.db_url, course.course_id) as gb:
        sub = gb.find_submission(assignment, student)
        manual = sum(1 for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
        return float(sub.score), float(sub.max_score), manual
