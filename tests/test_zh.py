"""The Chinese edition (book-zh/): complete, in step with the English chapters, and its
figures render every Chinese character (book-zh/README.md)."""

from __future__ import annotations

import ast
import io
import re
import warnings
from pathlib import Path

import jupytext
import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlcourse import fonts, translation

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "book-zh"
CHAPTERS = translation.chapters()
TRANSLATED = [(name, path) for name, path in CHAPTERS if path is not None]
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MATHS = re.compile(r"(?<!\\)\$([^$]+?)(?<!\\)\$", re.S)  # inline maths, after display maths are gone


def _ids(pairs: list) -> list[str]:
    return [name for name, _ in pairs]


@pytest.mark.parametrize("name,path", CHAPTERS, ids=_ids(CHAPTERS))
def test_every_chapter_is_translated_and_in_step(name: str, path: Path | None) -> None:
    assert path is not None, f"book-zh/{name}.md is missing: translate {name}.md (book-zh/README.md)"
    found = translation.differences(path)
    assert not found, "the translation's structure differs from its English source:\n" + "\n".join(found)


@pytest.mark.parametrize("name,path", TRANSLATED, ids=_ids(TRANSLATED))
def test_a_chapter_names_its_source_and_runs_in_chinese(name: str, path: Path) -> None:
    chapter = translation.source_of(path)
    assert chapter.en == ROOT / f"{name}.md", f"{path}: source should be {name}.md, got {chapter.en}"
    assert re.fullmatch(r"[0-9a-f]{7,40}", chapter.source_commit), chapter.source_commit
    nb = jupytext.read(path)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    myst = nb.metadata.get("jupytext", {}).get("text_representation", {}).get("format_name") == "myst"
    if myst and code:  # a notebook chapter (the plain Markdown pages have shell blocks)
        assert re.search(r"""page\.setup\((threads=\d+, )?lang="zh"\)""", code[0]), (
            f"{path}: the first code cell must call page.setup(lang=\"zh\"), got {code[0]!r}")


FIGURE_CALLS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "supxlabel", "supylabel",
                "text", "annotate", "set_xticklabels", "set_yticklabels", "legend", "set_label",
                "figtext", "bar_label"}
FIGURE_KEYWORDS = {"label", "labels", "title", "titles", "xlabel", "ylabel"}


def _literal_text(node: ast.AST) -> list[str]:
    """The words of the string literals in an expression (f-string fields become "0")."""
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "0" for v in node.values)]
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    return [t for child in ast.iter_child_nodes(node) for t in _literal_text(child)]


def figure_texts(source: str) -> list[str]:
    """The strings a code cell gives to matplotlib as figure text: arguments of text-drawing
    calls (set_title, text, annotate...) and label=/title= keywords."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name in FIGURE_CALLS:
            for arg in node.args:
                found += _literal_text(arg)
        for kw in node.keywords:
            if kw.arg in FIGURE_KEYWORDS or (name in FIGURE_CALLS and kw.arg in {"s", "text"}):
                found += _literal_text(kw.value)
    return [t for t in dict.fromkeys(found) if t.strip()]


def _chapter_figure_texts(path: Path) -> list[str]:
    return [t for c in jupytext.read(path).cells if c.cell_type == "code"
            for t in figure_texts(c.source)]


def _render(texts: list[str]) -> None:
    """Lay out every text in one figure with the Chinese edition's fonts; a glyph that no
    font has is an error (dlcourse.fonts.use_for_figures), in plain labels and in labels
    with $...$ maths alike."""
    with matplotlib.rc_context(), warnings.catch_warnings():
        fonts.use_for_figures()
        fig = Figure(figsize=(8, 4))
        renderer = FigureCanvasAgg(fig).get_renderer()
        for text in texts:
            fig.text(0.01, 0.5, text, fontsize=8).get_window_extent(renderer)  # every glyph
        fig.savefig(io.BytesIO(), format="png", dpi=20)


def test_figure_texts_finds_labels_and_titles() -> None:
    code = ('ax.set_title(f"学习率 {lr}")\nax.plot(x, y, label="训练")\nprint("不是图")\n'
            'fig.text(0, 0, s="注")')
    assert figure_texts(code) == ["学习率 0", "训练", "注"]


@pytest.mark.parametrize("name,path", TRANSLATED, ids=_ids(TRANSLATED))
def test_every_figure_label_renders_in_chinese(name: str, path: Path) -> None:
    try:
        _render(_chapter_figure_texts(path))
    except UserWarning as err:  # the missing-glyph warning, turned into an error
        pytest.fail(f"{name}: a figure label has a character no installed font draws: {err}")


def _first_figure(path: Path) -> tuple[int, str | None]:
    """Run a chapter's code cells in a fresh kernel, in order, until one shows a figure;
    return that cell's number and the first error (None when there was none)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(path)
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for k, cell in enumerate(nb.cells):
            try:
                client.execute_cell(cell, k)
            except CellExecutionError as err:
                lines = str(err).strip().splitlines()
                return k + 1, lines[-1] if lines else repr(err)
            if any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
                return k + 1, None
    return len(nb.cells), "the chapter shows no figure"


FIGURE_CHAPTERS = [(n, p) for n, p in TRANSLATED  # the notebooks (not plain Markdown pages)
                   if jupytext.read(p).metadata.get("jupytext", {}).get("text_representation", {})
                   .get("format_name") == "myst"]


@pytest.mark.parametrize("name,path", FIGURE_CHAPTERS, ids=_ids(FIGURE_CHAPTERS))
def test_one_figure_per_chapter_renders_without_a_missing_glyph(name: str, path: Path) -> None:
    """The chapter's first figure, drawn by its own code in a kernel set up for Chinese
    (page.setup(lang="zh") makes a missing glyph an error)."""
    cell, error = _first_figure(path)
    assert error is None, f"{name}, code cell {cell}: {error}"


def test_the_glyph_check_fails_on_a_missing_glyph() -> None:
    with pytest.raises(UserWarning, match="missing from font"):
        _render(["反向传播 \u0f00"])  # a Tibetan syllable: in no font the edition uses
    with pytest.raises(UserWarning, match="missing from font"):
        _render([r"$\eta$ 学习率", "$学习率$"])  # Chinese inside maths: mathtext has no CJK


@pytest.mark.parametrize("name,path", TRANSLATED, ids=_ids(TRANSLATED))
def test_no_chinese_inside_maths(name: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code ($DLCOURSE_DATA)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    bad = [m.group(0) for m in MATHS.finditer(text) if CJK.search(m.group(1))]
    bad += [s for s in _chapter_figure_texts(path) for m in MATHS.finditer(s) if CJK.search(m.group(1))]
    assert not bad, f"{path}: Chinese inside $…$ (write the words outside the maths): {bad[:5]}"


def test_the_glossary_and_the_search_dictionary_are_generated_from_the_terms() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "zh-glossary"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"expected glossary and dictionary in sync: {done.stdout}{done.stderr}"
    glossary = (ZH / "book" / "glossary.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (.+?) \| (.+?) \| \{doc\}`(\w+)` \|$", glossary, re.M)
    assert len(rows) >= 100, f"the glossary lists {len(rows)} terms, expected at least 100"
    words = {line.split()[0] for line in (ZH / "jieba-dict.txt").read_text(encoding="utf-8").splitlines()}
    for term in ("反向传播", "卷积", "学习率", "感知机", "交叉熵", "池化"):
        assert term in words, f"expected {term} in book-zh/jieba-dict.txt"
