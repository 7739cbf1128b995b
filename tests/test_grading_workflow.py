"""The instructor's workflow of book/instructors.md, end to end on one machine.

Two simulated students, alice and bob, each with a home folder and nbgrader cache of their
own, and a temporary exchange: release → fetch → submit → collect → autograde → (grade by
hand) → generate and release feedback → fetch feedback → export grades CSV. Two cheap
assignments: perceptron and activations (each with a written answer graded by hand;
activations also with a multiple-choice answer).
"""

from __future__ import annotations

import csv
import re
import subprocess

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from exercise_submissions import MIXED
from nbgrader_course import (
    COURSE_ID,
    REPO,
    Course,
    autograded_cells,
    load_config,
    make_submission,
    manual_cells,
    released_notebook,
)

# nbgrader's own code trips these (SQLAlchemy autoflush, a cell it re-adds without an id,
# a misspelt keyword in its API); not ours to fix
pytestmark = [
    pytest.mark.filterwarnings("ignore:Object of type <Submitted"),
    pytest.mark.filterwarnings("ignore:Cell is missing an id field"),
    pytest.mark.filterwarnings("ignore:Passing unrecognized arguments to super"),
]


# ------------------------------------------------------------------ the configuration
def test_config_defaults_and_overrides(monkeypatch):
    for name in ("NBGRADER_EXCHANGE", "NBGRADER_DB_URL", "NBGRADER_COURSE_ID", "DLCOURSE_DATA"):
        monkeypatch.delenv(name, raising=False)
    c = load_config(REPO)
    assert c.CourseDirectory.course_id == COURSE_ID
    assert c.CourseDirectory.source_directory == "solutions"
    assert c.CourseDirectory.release_directory == "exercises"
    assert c.CourseDirectory.root == str(REPO)
    assert "db_url" not in c.CourseDirectory  # nbgrader's default: sqlite:///<root>/gradebook.db
    assert c.Exchange.root == str(REPO / ".nbgrader_exchange")
    assert c.OverwriteCells.add_missing_cells is True
    for section in ("ExecutePreprocessor", "Execute"):
        assert c[section].timeout >= 300 and c[section].startup_timeout >= 120

    monkeypatch.setenv("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
    monkeypatch.setenv("NBGRADER_DB_URL", "postgresql://grader@db/lenet")
    monkeypatch.setenv("NBGRADER_COURSE_ID", "lenet-2025")
    c = load_config(REPO)
    assert c.Exchange.root == "/srv/nbgrader/exchange"
    assert c.CourseDirectory.db_url == "postgresql://grader@db/lenet"
    assert c.CourseDirectory.course_id == "lenet-2025"


def test_instructor_state_is_git_ignored():
    paths = ["gradebook.db", ".nbgrader_exchange/x", "submitted/alice/perceptron/perceptron.ipynb",
             "autograded/alice/perceptron/perceptron.ipynb", "feedback/alice/perceptron/perceptron.html"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(paths)
    kept = subprocess.run(["git", "check-ignore", "solutions/perceptron/perceptron.ipynb",
                           "exercises/perceptron/perceptron.ipynb"], cwd=REPO, capture_output=True)
    assert kept.returncode == 1, "solutions/ and exercises/ are committed"


# ------------------------------------------------------------------ the whole loop
@pytest.mark.slow
def test_release_collect_autograde_feedback_export(tmp_path, monkeypatch):
    assignments = ["perceptron", "activations"]
    course = Course(tmp_path / "course", assignments, monkeypatch)

    # instructor: generate (records the hidden tests in the gradebook) and release
    for name in assignments:
        course.run("generate_assignment", name, force=True, create=True)
        course.run("release_assignment", name)
        assert (course.exchange / COURSE_ID / "outbound" / name / f"{name}.ipynb").is_file()

    # students: fetch; the fetched notebooks carry neither solutions nor hidden tests
    for student in ("alice", "bob"):
        for name in assignments:
            course.student(student, "fetch_assignment", name)
            fetched = course.home(student) / name / f"{name}.ipynb"
            assert fetched.read_text() == (course.root / "exercises" / name / f"{name}.ipynb").read_text()
            assert "HIDDEN TESTS" not in fetched.read_text()

    # alice solves everything; bob hands in the mixed perceptron of test_exercises (and
    # deletes a test cell he fails, hoping it will not count) and activations untouched
    def hand_in(student, name, nb):
        nbformat.write(nb, str(course.home(student) / name / f"{name}.ipynb"))
        course.student(student, "submit", name)

    for name in assignments:
        hand_in("alice", name, make_submission(name))
    bob = make_submission("perceptron", MIXED["perceptron"].answers)
    bob.cells = [c for c in bob.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "mistakes_hidden"]
    hand_in("bob", "perceptron", bob)
    course.student("bob", "submit", "activations")

    # instructor: collect and autograde
    for name in assignments:
        course.run("collect", name)
        for student in ("alice", "bob"):
            assert (course.root / "submitted" / student / name / f"{name}.ipynb").is_file()
            course.run("autograde", name, student)
    graded = (course.root / "autograded" / "bob" / "perceptron" / "perceptron.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" in graded, "autograde runs the hidden tests from the gradebook"
    assert "was missing from the submission" in graded, "the deleted test cell is put back"

    # instructor: grade alice's written answers by hand (what the formgrader does)
    with Gradebook(course.db_url, COURSE_ID) as gb:
        for name in assignments:
            for written, points in manual_cells(released_notebook(name)).items():
                assert gb.find_grade(written, name, name, "alice").needs_manual_grade
                gb.find_grade(written, name, name, "alice").manual_score = points
        gb.db.commit()

    # the expected scores
    auto = {name: autograded_cells(released_notebook(name)) for name in assignments}
    full = {name: sum(auto[name].values()) + sum(manual_cells(released_notebook(name)).values())
            for name in assignments}
    lost = sum(auto["perceptron"][gid] for gid in MIXED["perceptron"].failing)
    # bob's written answer is not graded by hand yet: he has only autograded points
    expected = {("perceptron", "alice"): full["perceptron"],
                ("perceptron", "bob"): sum(auto["perceptron"].values()) - lost,
                ("activations", "alice"): full["activations"], ("activations", "bob"): 0.0}
    assert {key: course.score(*key) for key in expected} == expected
    assert "mistakes_hidden" in MIXED["perceptron"].failing
    assert course.grades("perceptron", "bob")["mistakes_hidden"].score == 0

    # instructor: feedback; students: fetch it
    for name in assignments:
        course.run("generate_feedback", name)
        course.run("release_feedback", name)
    for (name, student), score in expected.items():
        course.student(student, "fetch_feedback", name)
        reports = list((course.home(student) / name / "feedback").glob(f"*/{name}.html"))
        assert len(reports) == 1, f"{student} got no feedback for {name}"
        html = reports[0].read_text()
        assert re.search(rf"Score: {score:.1f} / {full[name]:.1f}", html), f"{student}/{name}: score not in feedback"

    # instructor: export the grades
    export = tmp_path / "grades.csv"
    with Gradebook(course.db_url, COURSE_ID) as gb:
        CsvExportPlugin(to=str(export)).export(gb)
    with open(export) as f:
        rows = {(row["assignment"], row["student_id"]): (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(f)}
    assert rows == {key: (score, full[key[0]]) for key, score in expected.items()}
