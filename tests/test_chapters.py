"""The chapters are stored as JupyterLab saves them (dlcourse/chapters.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlcourse import chapters

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted([*(ROOT / "book").glob("*.md"), *(ROOT / "book-zh" / "book").glob("*.md")])

SAMPLE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
mystnb:
  render_markdown_format: gfm
---

# A chapter

```{code-cell} ipython3
:tags: [remove-input]
print("the quiz")
```

```{code-cell} ipython3
x = 1
```
"""


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_saving_a_chapter_in_jupyterlab_changes_nothing(path: Path) -> None:
    assert chapters.saved_by_jupyterlab(path) == path.read_text(encoding="utf-8"), (
        f"{path.name} is not stored as JupyterLab saves it: run scripts/normalize-chapters"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_hidden_inputs_are_collapsed_live(path: Path) -> None:
    import jupytext

    nb = jupytext.read(path)
    for cell in nb.cells:
        if chapters.HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, cell.source[:80]


def test_normalize_reaches_a_fixed_point(tmp_path: Path) -> None:
    path = tmp_path / "sample.md"
    path.write_text(SAMPLE)
    assert chapters.saved_by_jupyterlab(path) != SAMPLE  # the sample is not yet in that form
    assert chapters.normalize(path) is True
    text = path.read_text()
    assert "display_name: Python 3 (ipykernel)" in text
    assert "source_hidden: true" in text and text.count("source_hidden") == 1
    assert "jupytext_version" not in text  # jupytext.toml keeps versions out
    assert "render_markdown_format: gfm" in text  # and myst-nb's options in
    assert chapters.saved_by_jupyterlab(path) == text
    assert chapters.normalize(path) is False and path.read_text() == text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_normalizing_changes_no_content(path: Path, tmp_path: Path) -> None:
    """Only the form changes: every cell's type, source and metadata (but the collapsed
    input) and the notebook's metadata (but the kernel's display name) stay."""
    import jupytext

    copy = tmp_path / path.name
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    chapters.normalize(copy)
    before, after = jupytext.read(path), jupytext.read(copy)

    def content(nb: Any) -> list[tuple[str, str, dict]]:
        return [(c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k != "jupyter"})
                for c in nb.cells]

    assert content(after) == content(before)
    keep = lambda nb: {k: v for k, v in nb.metadata.items() if k not in ("jupytext", "kernelspec")}
    assert keep(after) == keep(before)
    assert after.metadata["kernelspec"] == chapters.KERNELSPEC


def test_the_recorded_kernel_is_the_installed_one() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(chapters.KERNELSPEC["name"])
    assert spec.display_name == chapters.KERNELSPEC["display_name"]
    assert spec.language == chapters.KERNELSPEC["language"]


def test_only_markdown_chapters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path must be"):
        chapters.saved_by_jupyterlab(tmp_path / "x.ipynb")
