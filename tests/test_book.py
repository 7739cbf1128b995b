"""The chapters as a reader meets them: no build plumbing in visible cells, and every
chapter ends with exercises to think with (ungraded) and asks "Think!" on the way."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_TAGS = {"remove-cell", "remove-input"}
# Calls that belong to the build (numbers for the prose, load, threads), not the idea.
PLUMBING = {
    "glue(": "glue() publishes numbers to the prose: put it in a cell tagged remove-cell",
    "os.getloadavg": "load averages belong to bench/, not to a chapter",
    "set_num_threads": "thread settings go in page.setup() (a hidden cell)",
    "GOMP_SPINCOUNT": "OpenMP settings go in page.setup() (a hidden cell)",
}


def toc_chapters() -> list[str]:
    """The teaching chapters: every file of the toc's parts about networks."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]
             if part["caption"] not in {"Teaching with this book", "Back matter"}]
    return [f.removeprefix("book/") for f in files]


CHAPTERS = toc_chapters()


def visible_code(name: str) -> list[str]:
    nb = jupytext.read(ROOT / "book" / f"{name}.md")
    return [c.source for c in nb.cells if c.cell_type == "code"
            and not HIDDEN_TAGS & set(c.metadata.get("tags", []))]


def section(text: str, heading: str) -> str:
    """The body of the level-2 section `heading` (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def test_the_toc_lists_the_new_chapter_in_order():
    assert CHAPTERS[:3] == ["perceptron", "learning", "mlp"], (
        f"'How a network learns' belongs between the perceptron and the MLP; toc: {CHAPTERS}")


def test_the_check_sees_plumbing():
    """The check below must be able to fail: a visible cell with glue is caught."""
    source = "x = 1\nglue('x', x, display=False)"
    assert [why for call, why in PLUMBING.items() if call in source]


@pytest.mark.parametrize("name", CHAPTERS)
def test_visible_cells_show_no_build_plumbing(name):
    found = [(why, cell.splitlines()[0]) for cell in visible_code(name)
             for call, why in PLUMBING.items() if call in cell]
    assert not found, f"book/{name}.md: visible cells with build plumbing: {found}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_ends_with_exercises(name):
    text = (ROOT / "book" / f"{name}.md").read_text()
    body = section(text, "Exercises")
    items = re.findall(r"^\d+\.\s", body, re.M)
    assert len(items) >= 4, (
        f"book/{name}.md: expected a '## Exercises' section with at least 4 numbered items, "
        f"found {len(items)}")


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_asks_the_reader_to_think(name):
    text = (ROOT / "book" / f"{name}.md").read_text()
    prompts = re.findall(r"^:::+\{admonition\} Think!", text, re.M)
    assert 1 <= len(prompts) <= 3, (
        f"book/{name}.md: expected 1–3 'Think!' prompts inside the chapter, found {len(prompts)}")
