"""dlcourse.translation: the structure check between a Chinese chapter and its source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dlcourse import translation

ENGLISH = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter

(sec-loss)=
## A loss

The loss {cite:p}`lecun1998gradient` is {glue:text}`loss_value`.

```{code-cell} ipython3
:tags: [remove-cell]

from dlcourse import page
page.setup(threads=2)
```

```{code-cell} ipython3
x = 3  # a number
print(f"x is {x}")
ax.set_title("A title")
```

:::{admonition} Think!
:class: tip
Why?
:::
"""

CHINESE = ENGLISH.replace("kernelspec:", """translation:
  source: book/a.md
  source_commit: deadbeef
kernelspec:""", 1).replace("# A chapter", "# 一章").replace("## A loss", "## 损失").replace(
    "The loss {cite:p}`lecun1998gradient` is {glue:text}`loss_value`.",
    "损失 {cite:p}`lecun1998gradient` 等于 {glue:text}`loss_value`。").replace(
    "page.setup(threads=2)", 'page.setup(threads=2, lang="zh")').replace(
    '# a number\nprint(f"x is {x}")\nax.set_title("A title")',
    '# 一个数\nprint(f"x 等于 {x}")\nax.set_title("标题")').replace(
    "{admonition} Think!", "{admonition} 想一想").replace("Why?", "为什么?")


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.md").write_text(ENGLISH)
    (tmp_path / "zh.md").write_text(CHINESE)
    return tmp_path


def test_a_faithful_translation_is_in_step(pair: Path) -> None:
    assert translation.differences(pair / "zh.md", root=pair) == []


@pytest.mark.parametrize("change,expected", [
    (("x = 3", "x = 4"), "code differs"),
    (("print(f", "print(len(x), f"), "code differs"),
    (("{cite:p}`lecun1998gradient`", "{cite:p}`rosenblatt1958perceptron`"), "roles"),
    (("{glue:text}`loss_value`", "0.5"), "roles"),
    (("(sec-loss)=\n", ""), "labels"),
    (("## 损失", "### 损失"), "headings"),
    ((":::{admonition} 想一想", ":::{note} 想一想"), "directives"),
    ((":tags: [remove-cell]", ":tags: [hide-input]"), "tags"),
    (("```{code-cell} ipython3\nx = 3", "x = 3\n```\n\n```{code-cell} ipython3\ny = 1\n```\n\n```{code-cell} ipython3\nx = 3"), "cells"),
])
def test_every_kind_of_structural_change_is_reported(pair: Path, change, expected) -> None:
    zh = pair / "zh.md"
    old, new = change
    assert old in zh.read_text()
    zh.write_text(zh.read_text().replace(old, new, 1))
    found = translation.differences(zh, root=pair)
    assert found, f"changing {old!r} to {new!r} was not reported"
    assert any(expected in d for d in found), f"expected a {expected!r} difference, got {found}"


def test_code_skeleton_keeps_code_and_drops_words() -> None:
    assert translation.code_skeleton('f(x, "a")  # note') == translation.code_skeleton("f(x, '乙')")
    assert translation.code_skeleton("f(x)") != translation.code_skeleton("f(y)")
    assert translation.code_skeleton('page.setup(lang="zh")') == translation.code_skeleton("page.setup()")
    assert translation.code_skeleton('page.setup(threads=2, lang="zh")') == translation.code_skeleton(
        "page.setup(threads=2)")
    assert translation.code_skeleton("%matplotlib inline\nx = 1") != translation.code_skeleton("x = 1")


def test_a_chapter_without_its_source_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "zh.md"
    page.write_text(ENGLISH)
    with pytest.raises(ValueError, match="translation: .*source_commit"):
        translation.differences(page, root=tmp_path)


def test_behind_sees_an_english_change_since_the_recorded_commit(pair: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=pair, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "book/a.md")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "english")
    zh = pair / "zh.md"
    zh.write_text(zh.read_text().replace("deadbeef", git("rev-parse", "HEAD")))
    assert not translation.behind(zh, root=pair)
    (pair / "book" / "a.md").write_text(ENGLISH + "\nA new paragraph.\n")
    assert translation.behind(zh, root=pair)
