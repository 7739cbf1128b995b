"""The Chinese edition kept in step with the English one (``book-zh/``, see its README).

A translated chapter (``book-zh/book/<name>.md``) records its English source and the
commit it was translated from in its front matter::

    translation:
      source: book/perceptron.md
      source_commit: 75892b62af502d1d4b112a13fe979c64fdac3700

:func:`differences` compares the two chapters' *structure*, cell by cell: the same cells
in the same order with the same tags; code cells equal once string literals and comments
are removed (translated labels and messages are expected to differ); the same glue keys,
citations, cross-references, labels, directives and heading levels. :func:`behind` says
whether the English source changed since ``source_commit``. ``scripts/zh-drift`` prints
both for every chapter; ``tests/test_zh.py`` fails on any difference or missing chapter.
"""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "book-zh"

__all__ = ["Chapter", "behind", "chapters", "code_skeleton", "differences", "source_of"]

# {role}`target` roles whose targets must survive translation (the text around them changes).
_ROLE = re.compile(r"\{(cite(?::[pt])?|glue(?::text|:any|:figure|:math)?|ref|numref|eq|doc|download)\}`([^`]*)`")
_LABEL = re.compile(r"^\(([^)\s]+)\)=\s*$", re.M)
_DIRECTIVE = re.compile(r"^\s*(?:```+|:::+)\s*\{([a-zA-Z0-9_:-]+)\}", re.M)
_HEADING = re.compile(r"^(#{1,6})\s", re.M)
_FENCE = re.compile(r"^\s*(```+|~~~+)(?!\s*\{).*?^\s*\1\s*$", re.M | re.S)
_GLUE_CALL = re.compile(r"""\bglue\(\s*(['"])([^'"]+)\1""")
_SETUP_LANG = re.compile(r"""(,\s*)?\blang\s*=\s*(['"])zh\2(\s*,)?""")


@dataclass(frozen=True)
class Chapter:
    """A Chinese chapter and its English source."""

    zh: Path
    en: Path
    source_commit: str


def _notebook(path: Path) -> Any:
    import jupytext

    return jupytext.read(path)


def source_of(zh: Path, root: Path = ROOT) -> Chapter:
    """The English chapter and commit that ``zh`` was translated from (front matter;
    ``source`` is relative to the repository ``root``)."""
    nb = _notebook(zh)
    meta = nb.metadata.get("translation") or nb.metadata.get("jupyter", {}).get("translation")
    if not isinstance(meta, dict) or not meta.get("source") or not meta.get("source_commit"):
        raise ValueError(
            f"{zh}: no 'translation: {{source: book/<name>.md, source_commit: <commit>}}' in "
            "the front matter; add it (book-zh/README.md)"
        )
    return Chapter(zh=zh, en=root / meta["source"], source_commit=str(meta["source_commit"]))


def chapters() -> list[tuple[str, Path | None]]:
    """Every English chapter in ``_toc.yml`` with its translation (None when missing)."""
    names = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    names = [(ROOT / "_toc.yml").read_text().split("root:")[1].split()[0], *names]
    out = []
    for name in names:
        zh = ZH / f"{name}.md"
        out.append((name, zh if zh.is_file() else None))
    return out


def code_skeleton(source: str) -> str:
    """A code cell without its string literals, comments and the setup's ``lang="zh"``:
    what must be identical in both editions. IPython magics are kept as they are."""
    source = _SETUP_LANG.sub(lambda m: "," if (m.group(1) and m.group(3)) else "", source)
    kept, python = [], []
    for line in source.splitlines():
        (kept if line.lstrip().startswith(("%", "!")) else python).append(line)
    tokens = []
    drop = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE,
            tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):  # Python >= 3.12
        if hasattr(tokenize, name):
            drop.add(getattr(tokenize, name))
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(python) + "\n").readline):
            if tok.type not in drop:
                tokens.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        tokens = ["<untokenizable>", "\n".join(python)]
    return " ".join([*kept, *tokens])


def _markdown_skeleton(text: str) -> dict[str, Any]:
    body = _FENCE.sub("", text)  # plain code blocks (shell commands) are compared as text
    blocks = [m.group(0) for m in _FENCE.finditer(text)]
    return {
        "roles": sorted(Counter(_ROLE.findall(text)).items()),
        "labels": _LABEL.findall(text),
        "directives": _DIRECTIVE.findall(text),
        "headings": [len(h) for h in _HEADING.findall(body)],
        "code blocks": len(blocks),
    }


def _cell_summary(cell: Any) -> str:
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty)"
    return first[:70]


def differences(zh: Path, root: Path = ROOT) -> list[str]:
    """What differs in structure between a Chinese chapter and its English source."""
    chapter = source_of(zh, root)
    if not chapter.en.is_file():
        return [f"{zh}: its source {chapter.en} does not exist"]
    en_nb, zh_nb = _notebook(chapter.en), _notebook(zh)
    out = []
    if len(en_nb.cells) != len(zh_nb.cells):
        out.append(f"{len(zh_nb.cells)} cells, the English chapter has {len(en_nb.cells)} "
                   "(a cell is missing or was added: every code cell and every Markdown "
                   "block between them must correspond)")
    for k, (e, z) in enumerate(zip(en_nb.cells, zh_nb.cells)):
        where = f"cell {k + 1} ({e.cell_type}, English starts {_cell_summary(e)!r})"
        if e.cell_type != z.cell_type:
            out.append(f"{where}: the Chinese cell is a {z.cell_type} cell")
            continue
        e_tags = e.metadata.get("tags", [])
        z_tags = z.metadata.get("tags", [])
        if e_tags != z_tags:
            out.append(f"{where}: tags {z_tags}, English {e_tags}")
        if e.cell_type == "code":
            e_glue = sorted(m[1] for m in _GLUE_CALL.findall(e.source))
            z_glue = sorted(m[1] for m in _GLUE_CALL.findall(z.source))
            if e_glue != z_glue:
                out.append(f"{where}: glue keys {z_glue}, English {e_glue}")
            e_code, z_code = code_skeleton(e.source).split(" "), code_skeleton(z.source).split(" ")
            if e_code != z_code:
                at = next((i for i, (a, b) in enumerate(zip(e_code, z_code)) if a != b),
                          min(len(e_code), len(z_code)))
                out.append(f"{where}: the code differs beyond strings and comments, near "
                           f"{' '.join(z_code[max(0, at - 4):at + 4])!r} (English "
                           f"{' '.join(e_code[max(0, at - 4):at + 4])!r})")
        else:
            es, zs = _markdown_skeleton(e.source), _markdown_skeleton(z.source)
            for key in es:
                if es[key] != zs[key]:
                    out.append(f"{where}: {key} {zs[key]}, English {es[key]}")
    shown = zh.relative_to(ROOT) if zh.is_relative_to(ROOT) else zh
    return [f"{shown}: {d}" for d in out]


def behind(zh: Path, root: Path = ROOT) -> bool:
    """True when the English source changed (committed or not) since ``source_commit``."""
    chapter = source_of(zh, root)
    result = subprocess.run(
        ["git", "diff", "--quiet", chapter.source_commit, "--", str(chapter.en.relative_to(root))],
        cwd=root, capture_output=True, text=True,
    )
    if result.returncode > 1:
        raise RuntimeError(f"{zh}: git diff against {chapter.source_commit} failed: {result.stderr.strip()}")
    return result.returncode == 1
