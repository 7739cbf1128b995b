"""A chapter's setup in one call, and the display helpers the chapters share.

A chapter starts with one hidden cell (tagged ``remove-cell``)::

    from dlcourse import page
    page.setup()

so the cells a reader sees show the ideas, not the build's plumbing (thread settings,
inline figures). The helpers below show code and tables on the page.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence

from IPython.display import Code, Markdown

__all__ = ["setup", "show", "markdown_table", "glue"]


def setup(threads: int = 1, lang: str = "en") -> None:
    """Prepare a chapter's kernel: OpenMP waiting policy, torch threads, inline figures.

    ``threads``: how many CPU threads torch uses. Chapters with tiny tensors use 1 (more
    threads only add the cost of synchronising them); training chapters use 2, the cores
    of a small laptop. ``lang``: the chapter's edition, ``"en"`` or ``"zh"``
    (:mod:`dlcourse.lang`); Chinese pages also get a font with Chinese glyphs in figures.
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    from dlcourse import lang as language

    language.set_language(lang)
    if lang == "zh":
        from dlcourse import fonts

        fonts.use_for_figures()
    # Read by libgomp when torch loads it, so it must be set before the first
    # `import torch`: a waiting thread spins briefly, then sleeps, instead of stealing
    # the core from the thread it waits for when other programs share the CPU.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    import torch

    torch.set_num_threads(threads)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    shell = get_ipython()
    if shell is not None:
        # A matplotlib Figure that ends a cell is shown as an image.
        shell.run_line_magic("matplotlib", "inline")


def show(*objects: object) -> Code:
    """The source code of functions or classes, syntax-highlighted, to show what runs."""
    if not objects:
        raise ValueError("show() needs at least one function or class")
    return Code("\n\n".join(inspect.getsource(o) for o in objects), language="python")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> Markdown:
    """A Markdown table from a header and rows; integers get thousands separators.

    The chapter's front matter needs ``mystnb: render_markdown_format: gfm`` for tables.
    """
    width = len(header)
    if width == 0:
        raise ValueError("header is empty: give the table at least one column")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells, the header has {width}")

    def cell(v: object) -> str:
        text = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def glue(name: str, value: object, display: bool = False) -> None:
    """Publish ``value`` for the prose (``{glue:text}`name```) and print it.

    Glue cells are hidden on the site (tag ``remove-cell``); in Jupyter, where the prose
    shows the raw ``{glue:text}`` role, the printed line gives the live reader the number.
    """
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"name must be a non-empty string without spaces, got {name!r}")
    from myst_nb import glue as myst_glue

    myst_glue(name, value, display=display)
    print(f"{name} = {value}")
