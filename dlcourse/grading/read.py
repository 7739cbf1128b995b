"""Read and repair one submitted notebook in the instructor's process, executing nothing.

Invalid JSON scores 0 with a note; a copied cell whose grade id is already taken is dropped
(a copied answer cell stays, as an ordinary cell); deleted grade and locked cells are put
back (with nbgrader's ``OverwriteCells.missing_cell_transform``); the nbgrader metadata of
every known cell is rewritten from the gradebook (``grade: false`` on a test, changed
points); the kernelspec is the course's; outputs are dropped (they are the student's claims).
"""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
from nbgrader.preprocessors import OverwriteCells

from .course import NotebookSpec, SourceCell
from .results import Problem

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def parse_notebook(raw: bytes, name: str) -> tuple[nbformat.NotebookNode | None, list[Problem]]:
    """The notebook in ``raw`` (repaired when its structure is invalid), or None and why."""
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        try:
            nbformat.validate(nb)
            return nb, []
        except nbformat.ValidationError:
            _, repaired = nbformat.validator.normalize(nb, repair_duplicate_cell_ids=True,
                                                       strip_invalid_metadata=True)
            nb = nbformat.from_dict(repaired)
            nbformat.validate(nb)
            return nb, [Problem("repair", "notebook structure repaired (invalid nbformat)")]
    except Exception as error:  # anything unreadable is the student's file, not our crash
        text = str(error).splitlines()[0][:120] if str(error) else ""
        return None, [Problem("invalid", f"{name}.ipynb is not a valid notebook "
                                         f"({type(error).__name__}: {text}); scored 0")]


def canonical_metadata(sc: SourceCell) -> dict:
    """A cell's nbgrader metadata as the gradebook says it is (the student's is ignored)."""
    meta = {"cell_type": sc.cell_type, "checksum": sc.checksum, "grade": sc.grade, "grade_id": sc.name,
            "locked": sc.locked, "schema_version": 3, "solution": sc.solution, "task": sc.task}
    if sc.grade or sc.task:
        meta["points"] = sc.points
    return meta


def _known_cells(nb, spec: NotebookSpec, problems: list[Problem]) -> tuple[list, dict]:
    """The cells to keep, and grade id -> its (first) cell; unknown or duplicated ids repaired."""
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
            problems.append(Problem("repair", f"cell with unknown grade id {str(grade_id)[:40]!r} "
                                              "treated as an ordinary cell"))
        elif grade_id in seen:
            if known[grade_id].locked:
                problems.append(Problem("repair", f"duplicate of cell {grade_id} dropped"))
                continue
            del cell.metadata["nbgrader"]
            problems.append(Problem("repair", f"duplicate of answer cell {grade_id} kept as an ordinary cell"))
        else:
            sc = known[grade_id]
            points = meta.get("points")
            if sc.grade and points is not None and _float(points) != sc.points:
                problems.append(Problem("repair", f"points of {grade_id} reset to {sc.points:g}"))
            if bool(meta.get("grade")) != sc.grade or bool(meta.get("locked")) != sc.locked \
                    or bool(meta.get("solution")) != sc.solution:
                problems.append(Problem("tamper", f"nbgrader metadata of {grade_id} edited (restored)"))
            cell.metadata["nbgrader"] = canonical_metadata(sc)
            seen[grade_id] = cell
        kept.append(cell)
    return kept, seen


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _put_back_deleted(spec: NotebookSpec, kept: list, seen: dict, problems: list[Problem]) -> list[str]:
    """Re-add deleted grade, task and locked cells where they were, as nbgrader would."""
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
        cell = nbformat.from_dict(cell)
        cell.metadata["nbgrader"] = canonical_metadata(sc)
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
    return restored


def read_submission(raw: bytes, spec: NotebookSpec) -> tuple[nbformat.NotebookNode | None, list[Problem]]:
    """Parse and repair one submitted notebook; (None, problems) when it cannot be read."""
    nb, problems = parse_notebook(raw, spec.name)
    if nb is None:
        return None, problems
    if not isinstance(nb.get("cells"), list):
        return None, [Problem("invalid", f"{spec.name}.ipynb has no cells; scored 0")]
    kept, seen = _known_cells(nb, spec, problems)
    restored = _put_back_deleted(spec, kept, seen, problems)

    changed_tests, changed_other = [], []
    for name, cell in seen.items():
        sc = spec.by_name()[name]
        if name in restored or not sc.locked:
            continue
        if cell.cell_type != sc.cell_type or _normalized(cell.source) != _normalized(sc.released):
            (changed_tests if sc.cell_type == "code" else changed_other).append(name)
    if changed_tests:
        problems.append(Problem("tamper", f"changed locked code cell(s) restored: {', '.join(changed_tests)}"))
    if changed_other:
        problems.append(Problem("repair", f"edited locked cell(s) restored: {', '.join(changed_other)}"))
    nb.cells = kept
    for cell in nb.cells:  # outputs are the student's claims, never evidence
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if nb.metadata.get("kernelspec", {}).get("name") != KERNELSPEC["name"]:
        problems.append(Problem("repair", "kernel set to the course's Python 3 (the notebook named "
                                          f"{str(nb.metadata.get('kernelspec', {}).get('name'))[:30]!r})"))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb, problems
