"""The graded exercises: sources in solutions/, student versions in exercises/.

- exercises/ is exactly what `nbgrader generate_assignment` makes of solutions/;
- no notebook carries outputs; grade ids are unique and every grade cell has points;
- every solution passes nbgrader's Validator;
- every released (unsolved) notebook scores 0 autograded points;
- a prepared submission, partly wrong and partly hard-coded to the visible tests' answers,
  scores strictly in between, and the hard-coded answers lose exactly the hidden tests.

Each notebook runs in a fresh kernel (that is what nbgrader does), so this module takes
a few minutes; the capstone's Validator run, which retrains LeNet, is most of it.
"""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest
from nbgrader.validator import Validator

from exercise_submissions import MIXED
from nbgrader_course import (
    ASSIGNMENTS,
    REPO,
    Course,
    autograded_cells,
    make_submission,
    manual_cells,
    released_notebook,
    solution_notebook,
)

pytestmark = [
    pytest.mark.slow,
    # nbgrader's own gradebook code trips SQLAlchemy's autoflush warnings; not ours to fix
    pytest.mark.filterwarnings("ignore:Object of type <Submitted"),
]


# ------------------------------------------------------------------ the course
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary course with every assignment generated (which fills its gradebook)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        present = [name for name in ASSIGNMENTS if (REPO / "solutions" / name).is_dir()]
        course = Course(tmp_path_factory.mktemp("course"), present, monkeypatch)
        for name in present:
            course.run("generate_assignment", name, force=True, create=True)
        yield course


def test_every_assignment_has_a_source_and_a_release():
    for name in ASSIGNMENTS:
        assert (REPO / "solutions" / name / f"{name}.ipynb").is_file(), name
        assert (REPO / "exercises" / name / f"{name}.ipynb").is_file(), f"{name}: run `make exercises`"
    assert sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir()) == sorted(ASSIGNMENTS)


def test_exercises_are_generated_from_solutions_byte_for_byte(course):
    generated, committed = course.root / "exercises", REPO / "exercises"
    files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert files == committed_files, "exercises/ has other files than solutions/ generates: run `make exercises`"
    differ = [str(f) for f in files if not filecmp.cmp(generated / f, committed / f, shallow=False)]
    assert not differ, f"out of date (run `make exercises`, never edit exercises/ by hand): {differ}"


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_notebooks_carry_no_outputs(folder):
    for path in sorted((REPO / folder).rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path}: clear the outputs"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_grade_cells_have_points_ids_and_hidden_tests(name):
    nb = solution_notebook(name)
    ids = [cell.metadata.nbgrader.grade_id for cell in nb.cells if "nbgrader" in cell.metadata]
    assert len(ids) == len(set(ids)), f"duplicate grade ids in {name}"
    assert len(ids) == len(nb.cells), f"every cell of {name} needs nbgrader metadata"
    for cell in nb.cells:
        meta = cell.metadata.nbgrader
        if meta.get("grade"):
            assert meta.get("points", 0) > 0, f"{name}/{meta.grade_id} has no points"
    tests = [c.source for c in nb.cells if c.cell_type == "code" and c.metadata.nbgrader.get("grade")]
    hidden = [s for s in tests if "### BEGIN HIDDEN TESTS" in s]
    visible = [s for s in tests if re.sub(r"(?s)### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", s).count("assert")]
    assert hidden and visible, f"{name} needs both visible and hidden tests"
    released = "\n".join(c.source for c in released_notebook(name).cells)
    assert "HIDDEN TESTS" not in released and "BEGIN SOLUTION" not in released


def test_names_are_the_same_everywhere():
    # the notebook, its folder and the assignment have one name
    for name in ASSIGNMENTS:
        assert [p.name for p in (REPO / "solutions" / name).glob("*.ipynb")] == [f"{name}.ipynb"]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_passes_the_validator(course, name):
    validator = Validator(config=course.config)
    results = validator.validate(str(course.root / "solutions" / name / f"{name}.ipynb"))
    problems = {key: [item.get("raw_error", item.get("source")) for item in value]
                for key, value in results.items()}
    assert not problems, f"{name}: {problems}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_scores_zero(course, name):
    course.put_submission(name, "released", released_notebook(name))
    course.run("autograde", name, "released")
    grades = course.grades(name, "released")
    auto = autograded_cells(released_notebook(name))
    assert set(auto) <= set(grades)
    assert {gid: grades[gid].score for gid in auto} == {gid: 0.0 for gid in auto}
    for gid in manual_cells(released_notebook(name)):
        assert grades[gid].needs_manual_grade or grades[gid].score == 0
    # the notebook works standalone: its own code (imports, helpers) runs without errors
    graded = nbformat.read(course.root / "autograded" / "released" / name / f"{name}.ipynb", as_version=4)
    for cell in graded.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("grade") and not meta.get("solution"):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{name}/{meta.get('grade_id')} fails in the released notebook: {errors}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_mixed_submission_scores_in_between(course, name):
    case = MIXED[name]
    course.put_submission(name, "mixed", make_submission(name, case.answers))
    course.run("autograde", name, "mixed")
    grades = course.grades(name, "mixed")
    auto = autograded_cells(released_notebook(name))
    assert case.failing <= set(auto), f"unknown test cells {case.failing - set(auto)}"
    expected = {gid: 0.0 if gid in case.failing else points for gid, points in auto.items()}
    assert {gid: grades[gid].score for gid in auto} == expected
    total = sum(expected.values())
    assert 0 < total < sum(auto.values())
    for visible, hidden_cell in case.hardcoded.items():
        # answers fitted to the visible examples pass them and lose the hidden tests' points
        assert grades[visible].score == auto[visible] and grades[hidden_cell].score == 0
