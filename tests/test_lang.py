"""dlcourse.lang: what the package writes on a page comes in the page's language."""

from __future__ import annotations

import io
import json
import re
import warnings

import matplotlib

import pytest
import torch

from dlcourse import backprop, fonts, lang, plots, quiz


@pytest.fixture
def zh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOK_LANG", "zh")


def test_english_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOK_LANG", "")  # undone after the test, so set_language cannot leak
    assert lang.current() == "en"
    assert lang.tr("Check", "检查") == "Check"
    lang.set_language("zh")
    assert lang.current() == "zh" and lang.tr("Check", "检查") == "检查"


def test_an_unknown_language_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOK_LANG", "fr")
    with pytest.raises(ValueError, match="one of en, zh, got 'fr'"):
        lang.current()


def _example() -> quiz.Quiz:
    return quiz.Quiz([quiz.MultipleChoice("1 + 1?", [quiz.Choice("2", True, "Yes."),
                                                    quiz.Choice("3", False, "No.")]),
                      quiz.Numeric("2 × 2?", 4, 0.1, "4.")])


def test_a_quiz_on_a_chinese_page_speaks_chinese(zh: None) -> None:
    q = _example()
    page = q.to_html()
    payload = json.loads(re.search(r'class="dlc-quiz-data">(.*?)</script>', page).group(1))
    assert payload["messages"] == quiz.MESSAGES_ZH  # what the page's script says
    for word in ("检验你的理解", "检查", "选一个答案。", "你的答案"):
        assert word in page, f"expected {word!r} on the Chinese quiz"
    assert not re.search(r">\s*(Check|Choose one answer\.|Your answer)\s*<", page)
    assert q.questions[0].check(0).message.startswith("对了！")
    assert q.questions[0].check(1).message.startswith("不对。")
    assert q.questions[1].check(5).message.startswith("不对：")


def test_the_practice_question_comes_in_the_notes_own_words(zh: None) -> None:
    q = quiz.practice_question()
    assert q.stem == "关于激活函数,选出下列说法中不对的答案"
    assert q.choices[1].text.startswith("激活函数都是线性的") and q.choices[1].correct
    assert q.id == "activations-practice"


def test_plot_labels_and_the_debt_walk_follow_the_page(zh: None) -> None:
    with matplotlib.rc_context(), warnings.catch_warnings():
        fonts.use_for_figures()  # a glyph missing from every font is an error
        fig = plots.plot_confusion(torch.tensor([0, 1]), torch.tensor([0, 0]), ["飞机", "鸟"])
        fig.savefig(io.BytesIO(), format="png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("预测类别", "真实类别")
    assert backprop.debts_walk()["a"] == ["a 向 c 讨薪，又转向 e"]
