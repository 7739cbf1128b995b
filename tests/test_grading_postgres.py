"""A PostgreSQL gradebook, for real: the test starts its own server from the system package
(``initdb`` + ``pg_ctl`` in a temporary folder, on a free port of 127.0.0.1, as an
unprivileged user when run as root) and runs the instructor's whole loop against it:
release → fetch → submit → collect → autograde on 2 Dask workers → feedback → CSV export,
with the same scores as the same loop on SQLite.

Skipped, saying why, only where the server binaries are not installed (``.ci/run``
installs Debian's ``postgresql``).
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.plugins.export import CsvExportPlugin

from dlcourse import grading
from exercise_submissions import MIXED
from nbgrader_course import (COURSE_ID, Course, autograded_cells, load_config, make_submission, manual_cells,
                             released_notebook)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning")]

ASSIGNMENT = "perceptron"
SERVER_USER = "dlcourse-pg"  # PostgreSQL refuses to run as root
LIMITS = grading.Limits(wall=60, memory=int(1.5 * grading.GiB), cell_timeout=30)


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(folders[-1]) if folders and Path(folders[-1], "initdb").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", SERVER_USER], check=True, capture_output=True)
    return ["runuser", "-u", SERVER_USER, "--", *command]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of our own; yields the URL of an empty database on it."""
    psycopg = pytest.importorskip("psycopg", reason="the `postgres` extra (psycopg) is not installed")
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    if os.geteuid() == 0:
        as_server_user(["true"])
        shutil.chown(folder, SERVER_USER)
    port, data = free_port(), folder / "data"
    run = lambda *args: subprocess.run(as_server_user([str(binaries / args[0]), *args[1:]]),  # noqa: E731
                                       check=True, capture_output=True, text=True)
    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "120", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE gradebook")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def instructor_loop(root: Path, monkeypatch, db_url: str | None) -> tuple[dict, dict]:
    """The loop of book/instructors.md for alice (solves it) and bob (MIXED, a test deleted);
    returns the exported CSV rows and the scores the feedback shows."""
    course = Course(root, [ASSIGNMENT], monkeypatch)
    if db_url:  # nbgrader_config.py reads it, here and in `python -m dlcourse.grading`
        monkeypatch.setenv("NBGRADER_DB_URL", db_url)
        course.config = load_config(root)
        course.config.NbGraderAPI.log_level = "WARN"
        course.api = NbGraderAPI(config=course.config)
        course.db_url = course.api.coursedir.db_url
        assert course.db_url == db_url
    course.run("generate_assignment", ASSIGNMENT, force=True, create=True)
    course.run("release_assignment", ASSIGNMENT)
    bob = make_submission(ASSIGNMENT, MIXED[ASSIGNMENT].answers)
    bob.cells = [c for c in bob.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "predict_hidden"]
    for student, nb in (("alice", make_submission(ASSIGNMENT)), ("bob", bob)):
        course.student(student, "fetch_assignment", ASSIGNMENT)
        nbformat.write(nb, str(course.home(student) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
        course.student(student, "submit", ASSIGNMENT)
    course.run("collect", ASSIGNMENT)
    results = grading.grade(ASSIGNMENT, course_root=root, limits=LIMITS, workers=2, log=lambda line: None)
    assert all(r.graded for r in results), [r.problems for r in results]
    course.run("generate_feedback", ASSIGNMENT)
    course.run("release_feedback", ASSIGNMENT)
    shown = {}
    for student in ("alice", "bob"):
        course.student(student, "fetch_feedback", ASSIGNMENT)
        html = next((course.home(student) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")).read_text()
        shown[student] = float(re.search(r"Score: ([0-9.]+) /", html).group(1))
    export = root / "grades.csv"
    with Gradebook(course.db_url, COURSE_ID) as gb:
        CsvExportPlugin(to=str(export)).export(gb)
    with open(export) as f:
        rows = {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in csv.DictReader(f)}
    monkeypatch.delenv("NBGRADER_DB_URL", raising=False)
    return rows, shown


def test_the_instructor_loop_on_postgresql_gives_the_sqlite_scores(postgres, tmp_path, monkeypatch):
    on_sqlite = instructor_loop(tmp_path / "sqlite", monkeypatch, None)
    on_postgres = instructor_loop(tmp_path / "postgres", monkeypatch, postgres)
    full = sum(autograded_cells(released_notebook(ASSIGNMENT)).values())
    lost = sum(autograded_cells(released_notebook(ASSIGNMENT))[g] for g in MIXED[ASSIGNMENT].failing)
    # the CSV's maximum counts the hand-graded points too; nobody has graded them yet
    most = full + sum(manual_cells(released_notebook(ASSIGNMENT)).values())
    expected = {"alice": (full, most), "bob": (full - lost, most)}
    assert on_sqlite[0] == expected
    assert on_postgres == on_sqlite
    with Gradebook(postgres, COURSE_ID) as gb:  # the grades are in PostgreSQL, not in a file beside
        assert gb.db.bind.dialect.name == "postgresql"
        assert {s.student.id: s.score for s in gb.find_assignment(ASSIGNMENT).submissions} == \
            {s: score for s, (score, _) in expected.items()}
    assert not (tmp_path / "postgres" / "gradebook.db").exists()
