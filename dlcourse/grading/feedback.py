"""What the instructor and the student see afterwards: no hidden tests, no student HTML.

- :func:`sanitize_notebook` runs on every autograded notebook (so the formgrader shows it
  safely): outputs keep only plain text and well-formed PNG/JPEG images (HTML, SVG,
  JavaScript, Markdown and widget outputs become their text, escaped by the templates);
  the student's Markdown cells get ``<`` escaped (no raw HTML) and ``javascript:`` links broken;
  raw cells lose their HTML format.
- :class:`FeedbackPreprocessor` (in ``nbgrader_config.py`` for ``generate_feedback``) does
  the same again and removes the hidden tests from the locked cells, as nbgrader's
  ``ClearHiddenTests`` does for the release.
"""

from __future__ import annotations

import re

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool

SAFE_IMAGES = ("image/png", "image/jpeg")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_SCRIPT_LINKS = re.compile(r"(?i)(javascript|vbscript|data)\s*:")


def _locked(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("locked"))


def sanitize_output(output) -> None:
    """Keep only outputs a browser cannot run: plain text and base64 PNG/JPEG."""
    data = output.get("data")
    if not isinstance(data, dict):
        return
    kept = {mime: value for mime, value in data.items()
            if mime in SAFE_IMAGES and isinstance(value, str) and _BASE64.fullmatch(value)}
    text = data.get("text/plain")
    if text is None and len(kept) < len(data):
        text = "[rich output removed by the grader: " + ", ".join(sorted(set(data) - set(kept))) + "]"
    if text is not None:
        kept["text/plain"] = text if isinstance(text, str) else "".join(map(str, text))
    output["data"] = kept
    output.get("metadata", {}).clear()


def sanitize_cell(cell) -> None:
    if cell.cell_type == "code":
        for output in cell.get("outputs", []):
            sanitize_output(output)
    elif not _locked(cell):
        if cell.cell_type == "markdown":
            # `&#58;` would be decoded back into a link: break the scheme's name instead
            cell.source = _SCRIPT_LINKS.sub(r"\1-blocked:", cell.source.replace("<", "&lt;"))
            cell.pop("attachments", None)
        elif cell.cell_type == "raw":
            for key in ("format", "raw_mimetype"):
                cell.metadata.pop(key, None)


def sanitize_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        sanitize_cell(cell)
    return nb


def _drop_tracebacks(cell) -> None:
    """A failing hidden test's traceback quotes its source: keep only the error and its
    message (what the assert says was expected), which is the feedback meant for the student."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]


class FeedbackPreprocessor(Preprocessor):
    """For ``nbgrader generate_feedback``: hidden tests removed, student HTML escaped."""

    enabled = Bool(True, help="nbconvert runs only enabled preprocessors").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if _locked(cell) and cell.cell_type == "code":
            if "BEGIN HIDDEN TESTS" in cell.source:
                _drop_tracebacks(cell)
            try:
                ClearHiddenTests()._remove_hidden_test_region(cell)
            except RuntimeError:  # unbalanced markers: drop the whole source, never leak it
                cell.source = "# (test code not shown)"
        sanitize_cell(cell)
        return cell, resources
