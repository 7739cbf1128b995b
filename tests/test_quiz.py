"""Tests for dlcourse.quiz: validation, check() logic, widgets, static HTML."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from dlcourse import quiz as quiz_module
from dlcourse.quiz import (
    MESSAGES,
    Choice,
    Feedback,
    MultipleChoice,
    Numeric,
    Quiz,
    practice_question,
)


def single() -> MultipleChoice:
    return MultipleChoice(
        "What does $\\mathrm{ReLU}(-2)$ equal?",
        [
            Choice("$-2$", False, "ReLU clips negatives to zero."),
            Choice("$0$", True, "max(0, -2) = 0."),
            Choice("$2$", False, "That is |x|, not ReLU."),
        ],
    )


def multi() -> MultipleChoice:
    return MultipleChoice(
        "Which are activation functions?",
        [
            Choice("ReLU", True, "ReLU is max(0, x)."),
            Choice("tanh", True, "tanh squashes to (-1, 1)."),
            Choice("softmax cross-entropy", False, "That is a loss, not an activation."),
        ],
    )


def numeric() -> Numeric:
    return Numeric(
        "How many trainable parameters has C1?",
        156,
        tol=0.5,
        explanation="(5·5·1+1)·6 = 156.",
        unit="parameters",
    )


# ---- validation ---------------------------------------------------------------------


def test_choice_needs_explanation() -> None:
    with pytest.raises(ValueError, match="no explanation"):
        Choice("A", True, "  ")


def test_choice_needs_text() -> None:
    with pytest.raises(ValueError, match="empty"):
        Choice("", True, "why")


def test_multiple_choice_needs_a_correct_option() -> None:
    with pytest.raises(ValueError, match="at least one choice correct"):
        MultipleChoice("Q?", [Choice("a", False, "x"), Choice("b", False, "y")])


def test_multiple_choice_needs_two_options_with_distinct_text() -> None:
    with pytest.raises(ValueError, match="at least two"):
        MultipleChoice("Q?", [Choice("a", True, "x")])
    with pytest.raises(ValueError, match="same text"):
        MultipleChoice("Q?", [Choice("a", True, "x"), Choice("a", False, "y")])


def test_multiple_flag_is_automatic_and_checked() -> None:
    assert single().multiple is False
    assert multi().multiple is True
    with pytest.raises(ValueError, match="multiple=False"):
        MultipleChoice(
            "Q?", [Choice("a", True, "x"), Choice("b", True, "y")], multiple=False
        )


def test_empty_stem_is_rejected() -> None:
    with pytest.raises(ValueError, match="stem is empty"):
        MultipleChoice(" ", [Choice("a", True, "x"), Choice("b", False, "y")])


def test_numeric_validation() -> None:
    with pytest.raises(ValueError, match="tolerances"):
        Numeric("Q?", 1.0, tol=-1, explanation="e")
    with pytest.raises(ValueError, match="finite"):
        Numeric("Q?", float("nan"), tol=0.1, explanation="e")
    with pytest.raises(ValueError, match="no explanation"):
        Numeric("Q?", 1.0, tol=0.1, explanation="")


def test_quiz_validation() -> None:
    with pytest.raises(ValueError, match="at least one question"):
        Quiz([])
    with pytest.raises(ValueError, match="appears twice"):
        Quiz([single(), single()])
    with pytest.raises(ValueError, match="appears twice"):
        Quiz([Numeric("A?", 1, 0, "e", id="x"), Numeric("B?", 2, 0, "e", id="x")])
    with pytest.raises(TypeError, match="MultipleChoice or Numeric"):
        Quiz(["not a question"])  # type: ignore[list-item]


def test_quiz_accepts_a_single_question() -> None:
    q = single()
    assert Quiz(q).questions == (q,)


# ---- check() ------------------------------------------------------------------------


def test_single_choice_check() -> None:
    q = single()
    assert q.check(1) == Feedback(True, "Correct! max(0, -2) = 0.")
    assert q.check(0) == Feedback(False, "Not quite. ReLU clips negatives to zero.")
    assert q.check(2) == Feedback(False, "Not quite. That is |x|, not ReLU.")
    assert q.check(None) == Feedback(False, MESSAGES["choose"])
    with pytest.raises(ValueError, match="not in"):
        q.check(3)
    with pytest.raises(ValueError, match="single-answer"):
        q.check([0, 1])


def test_multiple_choice_needs_all_and_only_the_correct_ones() -> None:
    q = multi()
    fb = q.check([1, 0])
    assert fb.correct and fb.message == "Correct! ReLU is max(0, x). tanh squashes to (-1, 1)."
    missing = q.check([0])
    assert not missing.correct and missing.message == "Not quite. " + MESSAGES["missing"]
    extra = q.check([0, 1, 2])
    assert extra == Feedback(False, "Not quite. That is a loss, not an activation.")
    assert q.check([]) == Feedback(False, MESSAGES["choose"])


def test_numeric_check_with_tolerance() -> None:
    q = numeric()
    assert q.check(156.0) == Feedback(True, "Correct! (5·5·1+1)·6 = 156.")
    assert q.check(156.5).correct  # the boundary counts: |x - answer| <= tol
    assert q.check(155.4) == Feedback(False, "Not quite: (5·5·1+1)·6 = 156.")
    assert q.check(None) == Feedback(False, MESSAGES["number"])
    assert not q.check(float("nan")).correct


def test_numeric_relative_tolerance() -> None:
    q = Numeric("Best accuracy (%)?", 66.05, tol=0, rel_tol=0.01, explanation="e")
    assert q.tolerance == pytest.approx(0.6605)
    assert q.check(66.6).correct and not q.check(66.8).correct


def test_practice_question() -> None:
    q = practice_question()
    assert [c.correct for c in q.choices] == [False, True, False, False]
    assert all(c.explanation.strip() for c in q.choices)
    assert q.check(1).correct and "composition of linear maps is linear" in q.check(1).message
    for wrong in (0, 2, 3):
        fb = q.check(wrong)
        assert not fb.correct and "true statement" in fb.message


# ---- widgets ------------------------------------------------------------------------


def question_boxes(q: Any) -> list[Any]:
    """The per-question VBoxes of a quiz widget (the first child is the title)."""
    box = Quiz(q).widget()
    return list(box.children[1:])


def option_rows(selector: Any) -> list[tuple[Any, Any]]:
    """(checkbox, label) of each option row of a choice question's selector."""
    return [tuple(row.children) for row in selector.children]


def test_widget_options_are_lettered_and_typeset_live() -> None:
    (box,) = question_boxes(practice_question())
    _, selector, _, feedback = box.children
    rows = option_rows(selector)
    assert [b.description for b, _ in rows] == ["A", "B", "C", "D"]
    assert all(type(label).__name__ == "HTMLMath" for _, label in rows)
    (_, math_row), *_ = option_rows(question_boxes(single())[0].children[1])
    assert math_row.value == "$-2$"  # LaTeX kept for MathJax, not shown as plain text
    # nothing of the answer is on screen before Check
    shown = " ".join(getattr(w, "value", "") or "" for w in _walk(box) if isinstance(
        getattr(w, "value", None), str))
    for choice in practice_question().choices:
        assert choice.explanation not in shown
    assert feedback.value == ""


def _walk(widget: Any) -> list[Any]:
    return [widget, *(d for c in getattr(widget, "children", ()) for d in _walk(c))]


def test_widget_single_choice_callback() -> None:
    (box,) = question_boxes(single())
    stem, selector, button, feedback = box.children
    (a, _), (b, _), (c, _) = option_rows(selector)
    assert not any(x.value for x in (a, b, c))
    button.click()
    assert "Select an option first" in feedback.value
    a.value = True
    button.click()
    assert "Not quite" in feedback.value and html.escape("ReLU clips negatives") in feedback.value
    b.value = True  # a single-answer question: ticking B clears A
    assert (a.value, b.value, c.value) == (False, True, False)
    button.click()
    assert "Correct" in feedback.value and "max(0, -2) = 0." in feedback.value


def test_widget_multiple_choice_callback() -> None:
    (box,) = question_boxes(multi())
    _, selector, button, feedback = box.children
    (relu, _), (tanh, _), (loss, _) = option_rows(selector)
    relu.value = True
    button.click()
    assert "Not quite" in feedback.value and "at least one correct option is missing" in feedback.value
    tanh.value = True
    assert relu.value, "several boxes may be ticked in a multiple-answer question"
    button.click()
    assert "Correct" in feedback.value and "tanh squashes" in feedback.value
    loss.value = True
    button.click()
    assert "Not quite" in feedback.value and "That is a loss" in feedback.value


def test_widget_numeric_callback() -> None:
    (box,) = question_boxes(numeric())
    _, row, button, feedback = box.children
    number, unit = row.children
    assert type(number).__name__ == "FloatText" and unit.value == "parameters"
    number.value = 150
    button.click()
    assert "Not quite" in feedback.value and "= 156." in feedback.value
    number.value = 156
    button.click()
    assert "Correct" in feedback.value and "= 156." in feedback.value


# ---- static HTML --------------------------------------------------------------------


class Collector(HTMLParser):
    """Records start tags, and the text inside legends, labels and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {"legend": [], "label": [], "script": []}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.texts:
            self._open.append(tag)
            self.texts[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.texts[self._open[-1]][-1] += data

    def attrs_of(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def parse(markup: str) -> Collector:
    c = Collector()
    c.feed(markup)
    return c


def payload_of(markup: str) -> dict[str, Any]:
    scripts = [a for a in parse(markup).attrs_of("script")]
    texts = parse(markup).texts["script"]
    (data,) = [t for a, t in zip(scripts, texts) if a.get("type") == "application/json"]
    return json.loads(data)


def full_quiz() -> Quiz:
    return Quiz([single(), multi(), numeric(), practice_question()])


def test_static_html_is_self_contained() -> None:
    markup = full_quiz().to_html()
    assert not re.search(r"https?://", markup)
    assert "<script src" not in markup.lower()
    assert not [a for a in parse(markup).attrs_of("script") if "src" in a]
    assert "jQuery" not in markup and "require(" not in markup


def test_static_html_structure_and_accessibility() -> None:
    quiz = full_quiz()
    doc = parse(quiz.to_html())
    (root,) = [a for a in doc.attrs_of("div") if "dlc-quiz" in (a.get("class") or "").split()]
    assert "mathjax_process" in (root["class"] or "")
    inputs = doc.attrs_of("input")
    input_ids = [a["id"] for a in inputs]
    label_for = [a["for"] for a in doc.attrs_of("label")]
    assert sorted(input_ids) == sorted(label_for)  # every input has exactly one label
    types = [a["type"] for a in inputs]
    assert types == ["radio"] * 3 + ["checkbox"] * 3 + ["number"] + ["radio"] * 4
    assert len(doc.attrs_of("fieldset")) == len(doc.texts["legend"]) == len(quiz.questions)
    buttons = doc.attrs_of("button")
    assert len(buttons) == len(quiz.questions) and all(b["type"] == "button" for b in buttons)
    status = [a for a in doc.attrs_of("div") if a.get("role") == "status"]
    assert len(status) == len(quiz.questions)
    assert all(a["aria-live"] == "polite" and "dlc-quiz-feedback" in (a["class"] or "") for a in status)
    ids = [a["id"] for _, a in doc.tags if a.get("id")]
    assert len(ids) == len(set(ids))


def test_payload_parses_and_carries_every_explanation() -> None:
    quiz = full_quiz()
    payload = payload_of(quiz.to_html())
    assert payload["messages"] == MESSAGES
    text = json.dumps(payload, ensure_ascii=False)
    explanations = [c.explanation for q in quiz.questions if isinstance(q, MultipleChoice) for c in q.choices]
    explanations += [q.explanation for q in quiz.questions if isinstance(q, Numeric)]
    for e in explanations:
        assert json.dumps(e, ensure_ascii=False)[1:-1] in text
    assert [q["id"] for q in payload["questions"]] == [q.id for q in quiz.questions]


def test_element_ids_are_unique_across_quizzes_on_one_page() -> None:
    page = Quiz(single()).to_html() + Quiz(single()).to_html() + full_quiz().to_html()
    ids = [a["id"] for _, a in parse(page).tags if a.get("id")]
    assert len(ids) == len(set(ids))


def test_user_text_is_escaped_but_math_kept() -> None:
    q = MultipleChoice(
        "Is <b>this</b> bold when $a < b$?",
        [
            Choice("<img src=x onerror=alert(1)>", True, "</script><script>alert(1)</script>"),
            Choice("no & never", False, "because $x > 0$"),
        ],
    )
    markup = Quiz(q, title="<i>t</i>").to_html()
    doc = parse(markup)
    tags = {t for t, _ in doc.tags}
    assert "b" not in tags and "img" not in tags and "i" not in tags
    assert doc.texts["legend"] == ["Is <b>this</b> bold when $a < b$?"]
    assert "A. <img src=x onerror=alert(1)>" in doc.texts["label"]
    assert len(doc.attrs_of("script")) == 2  # the payload could not open a new script
    payload = payload_of(markup)
    assert payload["questions"][0]["choices"][0]["explanation"] == "</script><script>alert(1)</script>"
    assert "because $x > 0$" in json.dumps(payload)


# ---- mime bundle --------------------------------------------------------------------


def test_mimebundle_outside_a_kernel() -> None:
    bundle = full_quiz()._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert 'class="dlc-quiz' in bundle["text/html"]
    assert "Check your understanding" in bundle["text/plain"]
    assert "A. " in bundle["text/plain"] and "(answer: a number in parameters)" in bundle["text/plain"]
    assert set(full_quiz()._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(full_quiz()._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}


def test_mimebundle_in_a_live_kernel_adds_the_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quiz_module, "_live_kernel", lambda: True)
    bundle = Quiz(single())._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] and {"text/html", "text/plain"} <= set(bundle)
    assert not bundle["text/plain"].startswith("VBox")
    monkeypatch.setenv("DLCOURSE_QUIZ_WIDGETS", "0")  # static builds can opt out
    assert set(Quiz(single())._repr_mimebundle_()) == {"text/html", "text/plain"}


def test_a_lone_question_displays_as_a_quiz() -> None:
    assert "dlc-quiz-question" in single()._repr_mimebundle_()["text/html"]


# ---- the JavaScript gives the same feedback as check() ------------------------------


@pytest.mark.browser
def test_javascript_verdict_matches_python_check() -> None:
    """The page's script, run in Chromium (the browser the site tests use; no Node.js
    needed), gives exactly check()'s verdict and message for every possible answer."""
    quiz = Quiz([single(), multi(), numeric(), practice_question(),
                 Numeric("r?", 66.05, tol=0, rel_tol=0.01, explanation="rel")])
    markup = quiz.to_html()
    doc = parse(markup)
    (code,) = [t for a, t in zip(doc.attrs_of("script"), doc.texts["script"]) if "type" not in a]
    payload = payload_of(markup)
    cases: list[tuple[int, Any]] = []
    for k, q in enumerate(quiz.questions):
        if isinstance(q, Numeric):
            cases += [(k, x) for x in (q.answer, q.answer + q.tolerance, q.answer - q.tolerance,
                                      q.answer + 2 * q.tolerance + 0.1, -1e9, None)]
        else:
            n = len(q.choices)
            subsets = [[j for j in range(n) if m >> j & 1] for m in range(2**n)]
            cases += [(k, s) for s in subsets if q.multiple or len(s) <= 1]
    expected = [
        {"correct": fb.correct, "message": fb.message}
        for fb in (quiz.questions[k].check(a) for k, a in cases)
    ]
    from playwright.sync_api import sync_playwright
    from test_site import CHROMIUM_ARGS, chromium_or_exit

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_exit(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content("<!doctype html><title>verdict</title>")
        page.add_script_tag(content=code)
        actual = page.evaluate(
            """([payload, cases]) => cases.map(([k, a]) => {
                 const q = payload.questions[k];
                 return dlcQuiz.verdict(q, payload.messages,
                                        a === null || q.kind === 'numeric' ? a : a.slice());
               })""", [payload, cases])
        browser.close()
    assert actual == expected


def test_static_options_carry_the_same_letters() -> None:
    q = practice_question()
    doc = parse(Quiz(q).to_html())
    assert doc.texts["label"] == [f"{L}. {c.text}" for L, c in zip("ABCD", q.choices)]
    assert [f"   {L}. {c.text}" for L, c in zip("ABCD", q.choices)] == \
        Quiz(q).to_text().splitlines()[3:]
    # the explanations (which name these letters) say B is the answer, and B is correct
    assert [c.correct for c in q.choices] == [False, True, False, False]
    assert q.choices[1].explanation.startswith("B ")


def test_letters() -> None:
    assert quiz_module.letter(0) == "A" and quiz_module.letter(25) == "Z"
    with pytest.raises(ValueError, match="index"):
        quiz_module.letter(26)


def test_quiz_text_with_markdown_backticks_is_refused():
    """The quiz shows its text as it is: `code` would appear with its backticks."""
    from dlcourse.quiz import Choice, Numeric

    with pytest.raises(ValueError, match="backticks"):
        Choice("`F.softmax(z)`", False, "applied twice")
    with pytest.raises(ValueError, match="backticks"):
        Choice("softmax", False, "see `F.cross_entropy`")
    with pytest.raises(ValueError, match="backticks"):
        Numeric("What does `x` hold?", answer=1, tol=0, explanation="one")
