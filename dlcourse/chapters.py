"""The chapters' stored form: exactly what JupyterLab writes when it saves one.

A chapter (``book/*.md``, MyST Markdown) opens in JupyterLab as a notebook through
jupytext. When the reader runs it, JupyterLab autosaves it through jupytext's contents
manager; if the stored text differs from what that writes, the reader's checkout turns
dirty without any edit. So the chapters are stored in that form, with the metadata the
notebook itself sets on opening (the kernel's display name). :func:`saved_by_jupyterlab`
gives the text a save would write, :func:`normalize` rewrites a chapter in it (run by
``scripts/normalize-chapters``), and ``tests/test_chapters.py`` checks every chapter.

:func:`normalize` also sets ``jupyter.source_hidden`` on cells tagged ``remove-input`` or
``hide-input``: JupyterLab ignores those tags (they are Jupyter Book's), but collapses a
cell whose source is hidden, so a quiz's answers are not on screen live either.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "jupytext.toml"
# What JupyterLab records on opening a notebook with ipykernel's python3 kernel.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
HIDDEN_TAGS = frozenset({"remove-input", "hide-input"})


def _contents_manager(root: Path) -> Any:
    from jupytext import TextFileContentsManager

    return TextFileContentsManager(root_dir=str(root))


def _as_jupyterlab_sets(nb: Any) -> None:
    """What the notebook panel changes in the metadata before its first save."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3",
                                    "codemirror_mode": {"name": "ipython", "version": 3}}


def _hide_sources(nb: Any) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code" and HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def _save_copy(path: Path, config_dir: Path, *, hide: bool) -> str:
    """The text jupytext's contents manager writes for ``path`` (left untouched)."""
    path = Path(path)
    if path.suffix != ".md":
        raise ValueError(f"path must be a MyST Markdown chapter (.md), got {str(path)!r}.")
    with tempfile.TemporaryDirectory(prefix="dlcourse-chapter-") as tmp:
        root = Path(tmp)
        if (config_dir / CONFIG).is_file():
            shutil.copyfile(config_dir / CONFIG, root / CONFIG)
        shutil.copyfile(path, root / path.name)
        cm = _contents_manager(root)
        model = cm.get(path.name)
        _as_jupyterlab_sets(model["content"])
        if hide:
            _hide_sources(model["content"])
        cm.save(model, path.name)
        return (root / path.name).read_text(encoding="utf-8")


def saved_by_jupyterlab(path: Path, config_dir: Path = ROOT) -> str:
    """The text JupyterLab writes when it saves the chapter at ``path`` unedited."""
    return _save_copy(Path(path), Path(config_dir), hide=False)


def normalize(path: Path, config_dir: Path = ROOT) -> bool:
    """Rewrite a chapter in JupyterLab's form, source of hidden-input cells collapsed;
    return whether its text changed."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    after = _save_copy(path, Path(config_dir), hide=True)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before
