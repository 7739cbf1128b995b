r"""Quizzes that work in a live notebook and in the static book.

A quiz is data: :class:`MultipleChoice` questions (single- or multiple-answer, with
an explanation for every option) and :class:`Numeric` questions (answer, tolerance,
explanation). Each question's :meth:`check` is the one source of truth for
feedback; the inline JavaScript of the static page repeats exactly that logic and
takes its fixed phrases from the embedded JSON, so both give the same messages.

A chapter makes one call::

    from IPython.display import display
    from dlcourse.quiz import Quiz, MultipleChoice, Choice
    display(Quiz([MultipleChoice("Is $\\sigma(x)$ linear?", [...])]))

:meth:`Quiz._repr_mimebundle_` returns ``text/html`` (self-contained HTML and a
small inline script: no kernel, no network, no jQuery/require.js), ``text/plain``
and, in a live kernel, the ipywidgets view. Jupyter shows the widget; the book must
show the HTML. myst-nb picks one mime type per builder (lower number = preferred;
by default the widget view is 10 and ``text/html`` 30), so ``book/_config.yml``
needs this, which demotes the widget view just below ``text/html`` for HTML
builders (outputs that only carry a widget view still render as widgets)::

    sphinx:
      config:
        nb_mime_priority_overrides: [
          ["html", "application/vnd.jupyter.widget-view+json", 35],
          ["dirhtml", "application/vnd.jupyter.widget-view+json", 35],
          ["singlehtml", "application/vnd.jupyter.widget-view+json", 35],
        ]
        # MathJax 3 in Sphinx only knows \( \) inline; quiz text keeps $...$.
        mathjax3_config:
          tex:
            inlineMath: [['\(', '\)'], ['$', '$']]

(myst-parser marks each page ``mathjax_ignore``; the quiz container carries
``mathjax_process`` so MathJax still typesets inside it.) Note: when a notebook
executed at build time created widgets, myst-nb adds the ipywidgets embed
scripts from a CDN to that page (``nb_ipywidgets_js``); set it to ``{}`` if the
book must make no external requests; or build with ``DLCOURSE_QUIZ_WIDGETS=0``
(the kernel inherits it), which leaves quiz widgets out of the outputs, so a page
whose only widgets are quizzes stores no widget state and loads no widget scripts.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from .lang import current as current_language
from .lang import tr

__all__ = [
    "Choice",
    "Feedback",
    "MultipleChoice",
    "Numeric",
    "Quiz",
    "letter",
    "practice_question",
]

# Fixed phrases of the feedback; also shipped to the JavaScript in the JSON payload.
MESSAGES: dict[str, str] = {
    "correct": "Correct! ",
    "wrong": "Not quite. ",
    "wrong_numeric": "Not quite: ",
    "missing": "Everything you selected is right, but at least one correct option is missing.",
    "choose": "Select an option first, then press Check.",
    "number": "Enter a number first, then press Check.",
}
# The same phrases on the Chinese edition's pages (dlcourse.lang; the page's language).
MESSAGES_ZH: dict[str, str] = {
    "correct": "对了！",
    "wrong": "不对。",
    "wrong_numeric": "不对：",
    "missing": "你选的都对，但至少还漏了一个正确选项。",
    "choose": "请先选择一个选项，再点“检查”。",
    "number": "请先输入一个数，再点“检查”。",
}


def _messages() -> dict[str, str]:
    """The fixed phrases in the page's language."""
    return MESSAGES_ZH if current_language() == "zh" else MESSAGES

_render_counter = itertools.count(1)  # makes element ids unique per page


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: whether it is right, and what to tell the student."""

    correct: bool
    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.correct, bool):
            raise TypeError(f"Feedback.correct must be True or False, got {self.correct!r}")
        if not isinstance(self.message, str):
            raise TypeError(f"Feedback.message must be a string, got {self.message!r}")


@dataclass
class Choice:
    """One option of a multiple-choice question, with why it is right or wrong."""

    text: str
    correct: bool
    explanation: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError("Choice text is empty: give the option some text.")
        _check_plain(self.text, "Choice text")
        if not isinstance(self.correct, bool):
            raise ValueError(f"Choice {self.text!r}: correct must be True or False.")
        if not isinstance(self.explanation, str) or not self.explanation.strip():
            raise ValueError(
                f"Choice {self.text!r} has no explanation: say why it is right or wrong."
            )
        _check_plain(self.explanation, "The explanation")


def _content_id(*parts: Any) -> str:
    """A short, stable id derived from the content (same question -> same id)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return "q-" + digest[:10]


def _check_stem(stem: Any) -> None:
    if not isinstance(stem, str) or not stem.strip():
        raise ValueError("The question stem is empty: write the question.")
    _check_plain(stem, "The question stem")


def _check_plain(text: str, what: str) -> None:
    """Quiz text is shown as it is (with $...$ maths): Markdown code marks would show raw."""
    if "`" in text:
        raise ValueError(f"{what} {text[:40]!r}… contains backticks, which the quiz shows as "
                         "they are: write code without them (or in quotes)")


class _Question:
    """Shared behaviour: a lone question displays as a one-question quiz."""

    id: str

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any]:
        return Quiz(self)._repr_mimebundle_(include=include, exclude=exclude)  # type: ignore[arg-type]


@dataclass
class MultipleChoice(_Question):
    """A question with options; ``multiple`` defaults to "more than one is correct"."""

    stem: str
    choices: Sequence[Choice]
    multiple: bool | None = None
    id: str = ""

    def __post_init__(self) -> None:
        _check_stem(self.stem)
        self.choices = tuple(self.choices)
        if len(self.choices) < 2:
            raise ValueError(f"{self.stem!r}: give at least two choices.")
        for c in self.choices:
            if not isinstance(c, Choice):
                raise TypeError(f"{self.stem!r}: choices must be Choice objects, got {c!r}.")
        texts = [c.text for c in self.choices]
        if len(set(texts)) != len(texts):
            raise ValueError(f"{self.stem!r}: two choices have the same text.")
        n_correct = sum(c.correct for c in self.choices)
        if n_correct == 0:
            raise ValueError(f"{self.stem!r}: mark at least one choice correct=True.")
        if self.multiple is None:
            self.multiple = n_correct > 1
        elif not self.multiple and n_correct > 1:
            raise ValueError(
                f"{self.stem!r}: {n_correct} choices are correct but multiple=False; "
                "set multiple=True or mark only one correct."
            )
        if not self.id:
            self.id = _content_id(self.stem, [[c.text, c.correct] for c in self.choices])

    def check(self, answer: int | Iterable[int] | None) -> Feedback:
        """Judge the selected option index (or indices): right iff exactly the correct set."""
        if answer is None:
            selected: list[int] = []
        elif isinstance(answer, numbers.Integral) and not isinstance(answer, bool):
            selected = [int(answer)]
        elif isinstance(answer, Iterable) and not isinstance(answer, (str, bytes)):
            selected = list(answer)
        else:
            raise TypeError(
                f"answer must be an option index (int), a list of them, or None; "
                f"got {answer!r} ({type(answer).__name__})"
            )
        for i in selected:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                raise TypeError(f"answer must hold option indices (ints), got {i!r} ({type(i).__name__})")
        selected = sorted(set(int(i) for i in selected))
        for i in selected:
            if not 0 <= i < len(self.choices):
                raise ValueError(f"Option index {i!r} is not in 0..{len(self.choices) - 1}.")
        if not self.multiple and len(selected) > 1:
            raise ValueError("This is a single-answer question: select one option.")
        if not selected:
            return Feedback(False, _messages()["choose"])
        # The first wrong pick explains itself; the JS walks the same order.
        for i in selected:
            if not self.choices[i].correct:
                return Feedback(False, _messages()["wrong"] + self.choices[i].explanation)
        correct = [i for i, c in enumerate(self.choices) if c.correct]
        if any(i not in selected for i in correct):
            return Feedback(False, _messages()["wrong"] + _messages()["missing"])
        return Feedback(
            True, _messages()["correct"] + " ".join(self.choices[i].explanation for i in correct)
        )

    def _payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "choice",
            "multiple": self.multiple,
            "choices": [
                {"correct": c.correct, "explanation": c.explanation} for c in self.choices
            ],
        }


@dataclass
class Numeric(_Question):
    """A question with a number for an answer, right within ``tol`` (absolute) or
    ``rel_tol`` (relative to the answer), whichever is larger."""

    stem: str
    answer: float
    tol: float
    explanation: str
    unit: str = ""
    rel_tol: float = 0.0
    id: str = ""

    def __post_init__(self) -> None:
        _check_stem(self.stem)
        for name in ("answer", "tol", "rel_tol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{self.stem!r}: {name} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"{self.stem!r}: {name} must be finite, got {value!r}.")
        if self.tol < 0 or self.rel_tol < 0:
            raise ValueError(f"{self.stem!r}: tolerances must be >= 0.")
        if not isinstance(self.explanation, str) or not self.explanation.strip():
            raise ValueError(f"{self.stem!r} has no explanation: say how to get the answer.")
        _check_plain(self.explanation, "The explanation")
        self.answer = float(self.answer)
        if not self.id:
            self.id = _content_id(self.stem, self.answer, self.tol, self.rel_tol)

    @property
    def tolerance(self) -> float:
        """The absolute tolerance actually applied: max(tol, rel_tol·|answer|)."""
        return max(float(self.tol), self.rel_tol * abs(self.answer))

    def check(self, answer: float | None) -> Feedback:
        """Judge a number: right iff |answer − self.answer| ≤ tolerance."""
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
            return Feedback(False, _messages()["number"])  # None, text, ...
        if not math.isfinite(answer):
            return Feedback(False, _messages()["number"])
        if abs(answer - self.answer) <= self.tolerance:
            return Feedback(True, _messages()["correct"] + self.explanation)
        return Feedback(False, _messages()["wrong_numeric"] + self.explanation)

    def _payload(self) -> dict[str, Any]:
        # The JS gets the effective tolerance, so it needs no formula of its own.
        return {
            "id": self.id,
            "kind": "numeric",
            "answer": self.answer,
            "tol": self.tolerance,
            "explanation": self.explanation,
        }


Question = Union[MultipleChoice, Numeric]


@dataclass
class Quiz:
    """A titled list of questions that displays as widgets live and as HTML in the book."""

    questions: Sequence[Question] | Question
    title: str | None = None  # None: "Check your understanding" in the page's language

    def __post_init__(self) -> None:
        if self.title is None:
            self.title = tr("Check your understanding", "检验你的理解")
        if not isinstance(self.title, str):
            raise TypeError(f"Quiz title must be a string, got {self.title!r}")
        if isinstance(self.questions, (MultipleChoice, Numeric)):
            self.questions = [self.questions]
        if isinstance(self.questions, str) or not isinstance(self.questions, Iterable):
            raise TypeError(f"Quiz questions must be a list of questions, got {self.questions!r}")
        self.questions = tuple(self.questions)
        if not self.questions:
            raise ValueError("A quiz needs at least one question.")
        seen: set[str] = set()
        for q in self.questions:
            if not isinstance(q, (MultipleChoice, Numeric)):
                raise TypeError(f"Quiz questions must be MultipleChoice or Numeric, got {q!r}.")
            if q.id in seen:
                raise ValueError(
                    f"Question id {q.id!r} appears twice in the quiz: remove the duplicate "
                    "or give each question its own id=."
                )
            seen.add(q.id)

    # ---- live notebook: ipywidgets -------------------------------------------------

    def widget(self) -> Any:
        """A VBox holding the title and one VBox per question:
        ``[HTMLMath stem, selector, Button "Check", HTMLMath feedback]``, where the
        selector is a VBox of option rows ``HBox([Checkbox "A", HTMLMath text])``
        (one box at a time for a single-answer question) or an
        ``HBox([FloatText, Label unit])`` (numeric)."""
        import ipywidgets as w

        title = w.HTML(f"<b>{html.escape(self.title)}</b>")
        return w.VBox([title, *(_question_widget(q) for q in self.questions)])

    # ---- static book: HTML + inline script ------------------------------------------

    def to_html(self) -> str:
        """Self-contained HTML: forms, labels, a JSON payload and a small inline script."""
        payload = {"messages": _messages(), "questions": [q._payload() for q in self.questions]}
        body = json.dumps(payload, allow_nan=False, sort_keys=True)
        cid = f"dlc-quiz-{hashlib.sha256(body.encode()).hexdigest()[:8]}-{next(_render_counter)}"
        parts = [
            # mathjax_process: myst-parser sets mathjax_ignore on the page body.
            f'<div class="dlc-quiz mathjax_process tex2jax_process" id="{cid}">',
            f"<style>{_CSS}</style>",
            f'<p class="dlc-quiz-title"><strong>{html.escape(self.title)}</strong></p>',
        ]
        parts += [_question_html(q, f"{cid}-{k}") for k, q in enumerate(self.questions)]
        parts += [
            f'<script type="application/json" class="dlc-quiz-data">{_json_for_script(body)}</script>',
            f"<script>{_JS}window.dlcQuiz.wire(document.getElementById({json.dumps(cid)}));</script>",
            "</div>",
        ]
        return "\n".join(parts)

    def to_text(self) -> str:
        """A plain-text summary (no answers), for consoles and text-only outputs."""
        n = len(self.questions)
        lines = [f"{self.title} (quiz, {n} question{'s' * (n != 1)})"]
        for k, q in enumerate(self.questions, 1):
            lines.append(f"{k}. {q.stem}")
            if isinstance(q, MultipleChoice):
                lines.append("   (select all that apply)" if q.multiple else "   (choose one)")
                lines += [f"   {letter(j)}. {c.text}" for j, c in enumerate(q.choices)]
            else:
                lines.append(f"   (answer: a number{' in ' + q.unit if q.unit else ''})")
        return "\n".join(lines)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any]:
        """HTML and text always; the widget view too when a live kernel can show it."""
        bundle: dict[str, Any] = {"text/html": self.to_html(), "text/plain": self.to_text()}
        if _live_kernel() and os.environ.get("DLCOURSE_QUIZ_WIDGETS", "1") != "0":
            widget_bundle = self.widget()._repr_mimebundle_()
            bundle.update({k: v for k, v in widget_bundle.items() if k != "text/plain"})
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle


def _live_kernel() -> bool:
    """True inside a running IPython kernel with ipywidgets importable."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _feedback_html(fb: Feedback) -> str:
    # Inline colours: the live notebook has no dlc-quiz stylesheet.
    colour = "46,160,67" if fb.correct else "218,54,51"
    cls = "dlc-correct" if fb.correct else "dlc-wrong"
    return (
        f'<div class="dlc-quiz-feedback {cls}" style="background:rgba({colour},.15);'
        f'border-left:4px solid rgb({colour});padding:.4em .6em">'
        f"{html.escape(fb.message)}</div>"
    )


def letter(index: int) -> str:
    """The label of option ``index``: A, B, C, ... (the letters explanations refer to)."""
    if not 0 <= index < 26:
        raise ValueError(f"index must be in 0..25 (options are labelled A-Z), got {index!r}.")
    return chr(ord("A") + index)


def _options_widget(q: MultipleChoice) -> tuple[Any, Any]:
    """One row per option, ``HBox([Checkbox "A", HTMLMath text])``, and a function giving
    the selected index (single answer) or indices (multiple). HTMLMath typesets the
    option's LaTeX live, which RadioButtons labels cannot; for a single-answer question
    ticking one box clears the others."""
    import ipywidgets as w

    boxes = [
        w.Checkbox(False, description=letter(j), indent=False, layout=w.Layout(width="3.5em"))
        for j in range(len(q.choices))
    ]
    rows = [w.HBox([box, w.HTMLMath(html.escape(c.text))]) for box, c in zip(boxes, q.choices)]

    if not q.multiple:
        def keep_one(change: dict[str, Any]) -> None:
            if change["new"]:
                for other in boxes:
                    if other is not change["owner"] and other.value:
                        other.value = False

        for box in boxes:
            box.observe(keep_one, names="value")

    def answer() -> Any:
        picked = [j for j, box in enumerate(boxes) if box.value]
        if q.multiple:
            return picked
        return picked[0] if picked else None

    return w.VBox(rows), answer


def _question_widget(q: Question) -> Any:
    """One question as ``VBox([stem, selector, button, feedback])``; the selector is an
    ``HBox([FloatText, Label unit])`` (numeric) or one row per option (see
    :func:`_options_widget`). Explanations appear only in the feedback, after Check."""
    import ipywidgets as w

    stem = w.HTMLMath(html.escape(q.stem))
    feedback = w.HTMLMath("")
    button = w.Button(description=tr("Check", "检查"))
    if isinstance(q, Numeric):
        number = w.FloatText(value=0.0, description=tr("Answer", "答案"), layout=w.Layout(width="16em"))
        selector: Any = w.HBox([number, w.Label(q.unit)])

        def answer() -> Any:
            return number.value

    else:
        selector, answer = _options_widget(q)

    def on_check(_: Any) -> None:
        feedback.value = _feedback_html(q.check(answer()))

    button.on_click(on_check)
    return w.VBox([stem, selector, button, feedback])


def _question_html(q: Question, qid: str) -> str:
    """One question as a fieldset with a legend, labelled inputs and a live region."""
    esc = html.escape
    rows = [
        f'<div class="dlc-quiz-question" id="{qid}" data-question-id="{esc(q.id)}">',
        "<fieldset>",
        f"<legend>{esc(q.stem)}</legend>",
    ]
    if isinstance(q, Numeric):
        unit = f' <span class="dlc-quiz-unit">{esc(q.unit)}</span>' if q.unit else ""
        rows.append(
            f'<div class="dlc-quiz-choice"><label for="{qid}-x">{tr("Your answer", "你的答案")}</label> '
            f'<input type="number" step="any" inputmode="decimal" id="{qid}-x">{unit}</div>'
        )
    else:
        kind = "checkbox" if q.multiple else "radio"
        hint = (tr("Select all that apply.", "选出所有正确的选项。") if q.multiple
                else tr("Choose one answer.", "选一个答案。"))
        rows.append(f'<p class="dlc-quiz-hint">{hint}</p>')
        for j, c in enumerate(q.choices):
            rows.append(
                f'<div class="dlc-quiz-choice"><input type="{kind}" name="{qid}" '
                f'id="{qid}-{j}" value="{j}"><label for="{qid}-{j}">'
                f'<span class="dlc-quiz-letter">{letter(j)}.</span> {esc(c.text)}</label></div>'
            )
    rows += [
        f'<button type="button" class="dlc-quiz-check">{tr("Check", "检查")}</button>',
        '<div class="dlc-quiz-feedback" role="status" aria-live="polite"></div>',
        "</fieldset>",
        "</div>",
    ]
    return "\n".join(rows)


def _json_for_script(text: str) -> str:
    # JSON stays valid, but "</script>" or "<!--" in user text cannot end the element.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# Light, translucent colours over the inherited text colour: fine in light and dark themes.
_CSS = (
    ".dlc-quiz{border:1px solid rgba(127,127,127,.35);border-radius:.5em;"
    "padding:.75em 1em;margin:1em 0}"
    ".dlc-quiz fieldset{border:0;padding:0;margin:0 0 1em;min-width:0}"
    # font-size/float: the book theme (Bootstrap) styles a bare legend as a large heading
    ".dlc-quiz legend{font-weight:600;font-size:1em;float:none;width:auto;padding:0;"
    "margin-bottom:.4em}"
    ".dlc-quiz-hint{margin:.2em 0;font-size:.9em;opacity:.8}"
    ".dlc-quiz-letter{font-weight:600}"
    ".dlc-quiz-choice{display:flex;gap:.5em;align-items:baseline;margin:.25em 0}"
    ".dlc-quiz input[type=number]{color:inherit;background:transparent;"
    "border:1px solid rgba(127,127,127,.6);border-radius:.25em;padding:.15em .4em}"
    ".dlc-quiz button{color:inherit;background:rgba(127,127,127,.12);"
    "border:1px solid rgba(127,127,127,.6);border-radius:.3em;padding:.25em .9em;"
    "margin-top:.4em;cursor:pointer}"
    ".dlc-quiz button:focus-visible,.dlc-quiz input:focus-visible"
    "{outline:2px solid currentColor;outline-offset:2px}"
    ".dlc-quiz-feedback{margin-top:.5em;border-radius:.3em}"
    ".dlc-quiz-feedback.dlc-correct{background:rgba(46,160,67,.15);"
    "border-left:4px solid #2ea043;padding:.4em .6em}"
    ".dlc-quiz-feedback.dlc-wrong{background:rgba(218,54,51,.13);"
    "border-left:4px solid #da3633;padding:.4em .6em}"
)

# Defined once per page (window.dlcQuiz), then each quiz wires only its own container.
# verdict() mirrors MultipleChoice.check / Numeric.check line by line.
_JS = """(function(){
if(window.dlcQuiz)return;
function verdict(q,m,answer){
 if(q.kind==="numeric"){
  if(answer===null||!isFinite(answer))return{correct:false,message:m.number};
  if(Math.abs(answer-q.answer)<=q.tol)return{correct:true,message:m.correct+q.explanation};
  return{correct:false,message:m.wrong_numeric+q.explanation};
 }
 var sel=answer.slice().sort(function(a,b){return a-b;});
 if(sel.length===0)return{correct:false,message:m.choose};
 for(var i=0;i<sel.length;i++){
  if(!q.choices[sel[i]].correct)return{correct:false,message:m.wrong+q.choices[sel[i]].explanation};
 }
 var expl=[];
 for(var j=0;j<q.choices.length;j++){
  if(!q.choices[j].correct)continue;
  if(sel.indexOf(j)<0)return{correct:false,message:m.wrong+m.missing};
  expl.push(q.choices[j].explanation);
 }
 return{correct:true,message:m.correct+expl.join(" ")};
}
function wire(root){
 if(!root||root.getAttribute("data-dlc-wired"))return;
 root.setAttribute("data-dlc-wired","1");
 var data=JSON.parse(root.querySelector("script.dlc-quiz-data").textContent);
 var els=root.querySelectorAll(".dlc-quiz-question");
 data.questions.forEach(function(q,k){
  var el=els[k],out=el.querySelector(".dlc-quiz-feedback");
  var inputs=Array.prototype.slice.call(el.querySelectorAll("input"));
  function run(){
   var answer;
   if(q.kind==="numeric"){
    var v=inputs[0].value.trim();
    answer=v===""?null:Number(v);
   }else{
    answer=inputs.filter(function(x){return x.checked;}).map(function(x){return Number(x.value);});
   }
   var f=verdict(q,data.messages,answer);
   window.MathJax?.typesetClear?.([out]);
   out.textContent=f.message;
   out.className="dlc-quiz-feedback "+(f.correct?"dlc-correct":"dlc-wrong");
   window.MathJax?.typesetPromise?.([out])?.catch(function(){});
  }
  el.querySelector("button").addEventListener("click",run);
  if(q.kind==="numeric")inputs[0].addEventListener("keydown",function(e){
   if(e.key==="Enter"){e.preventDefault();run();}
  });
 });
}
window.dlcQuiz={verdict:verdict,wire:wire};
})();
"""


def practice_question() -> MultipleChoice:
    """The study note's practice question on activation functions (answer: B).

    On a Chinese page it comes in the note's own words."""
    if current_language() == "zh":
        return _practice_question_zh()
    return MultipleChoice(
        "Which statement about activation functions is NOT correct?",
        [
            Choice(
                "Activation functions introduce non-linearity, so the network can "
                "represent complex mappings.",
                False,
                "A is a true statement: the non-linearity between layers is what lets "
                "stacked layers represent curved decision boundaries and complex mappings.",
            ),
            Choice(
                "Activation functions are all linear, and deep networks can still learn "
                "and model other complex kinds of data such as images and audio.",
                True,
                "B is the false statement. A composition of linear maps is linear: "
                "$(\\mathbf{x}W_1+\\mathbf{b}_1)W_2+\\mathbf{b}_2 = \\mathbf{x}(W_1W_2) + "
                "(\\mathbf{b}_1W_2+\\mathbf{b}_2)$ (one example per row, as in the book). With only linear "
                "activations a deep network is one linear map, however many layers it "
                "has, and cannot model images or audio.",
            ),
            Choice(
                "Activation functions map the current feature space into another space "
                "so the data can be classified better.",
                False,
                "C is a true statement: each non-linear layer moves the data into a new "
                "feature space where classes that were not linearly separable (think of "
                "XOR) can become separable for the next linear layer.",
            ),
            Choice(
                "Activation functions cannot all be linear.",
                False,
                "D is a true statement, the flip side of B: if every activation were "
                "linear the whole network would collapse into a single linear map.",
            ),
        ],
        id="activations-practice",
    )


def _practice_question_zh() -> MultipleChoice:
    """The practice question as the study note words it (题目1), its punctuation included."""
    return MultipleChoice(
        "关于激活函数,选出下列说法中不对的答案",
        [
            Choice(
                "激活函数可以引入非线性因素,完成复杂的函数映射。",
                False,
                "A 是正确的说法：层与层之间的非线性，正是叠起来的各层能表示弯曲的决策边界和"
                "复杂映射的原因。",
            ),
            Choice(
                "激活函数都是线性的,深度网络也可以完成学习和模拟其他复杂类型的数据,"
                "例如图像、音频等。",
                True,
                "B 是不对的说法。线性映射的复合仍是线性映射："
                "$(\\mathbf{x}W_1+\\mathbf{b}_1)W_2+\\mathbf{b}_2 = \\mathbf{x}(W_1W_2) + "
                "(\\mathbf{b}_1W_2+\\mathbf{b}_2)$（与书中一样，每行一个样本）。"
                "激活函数全是线性的话，再深的网络也只是一个线性映射，无法建模图像或音频。",
            ),
            Choice(
                "激活函数可以把当前特征空间映射到另一个空间,让数据能够更好的被分类。",
                False,
                "C 是正确的说法：每个非线性层把数据搬到一个新的特征空间，原本线性不可分的"
                "类别（想想异或）在那里可能对下一个线性层变得可分。",
            ),
            Choice(
                "激活函数不能都是线性的",
                False,
                "D 是正确的说法，也就是 B 的反面：如果每个激活函数都是线性的，整个网络就会"
                "退化成一个线性映射。",
            ),
        ],
        id="activations-practice",
    )
