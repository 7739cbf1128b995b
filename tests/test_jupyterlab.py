"""A reader's first minutes in JupyterLab, in a real browser (Playwright + Chromium).

In a temporary copy of the repository (a git repository of its own, so ``git status``
can be asked), with the student settings ``make env`` writes (dlcourse/jupyter_setup.py),
JupyterLab is started on 127.0.0.1 and driven like a reader:

1. nbgrader's instructor tools are not there (plugins and server side);
2. double-clicking ``book`` then a chapter opens the chapter as a notebook (jupytext),
   not as Markdown text;
3. Run All Cells runs every cell without an error;
4. the quiz shows options labelled A, B, C...; its maths is typeset; none of its
   explanations (the answers) is on screen before an answer is checked, the quiz's
   source included;
5. a wrong answer gets "Not quite" feedback, the right one "Correct!";
6. saving (what autosave does) and closing the chapter asks nothing, and ``git status``
   is clean: the chapter is stored exactly as JupyterLab writes it.

``CHAPTER`` is the chapter opened: a short one with a quiz.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dlcourse import jupyter_setup

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "perceptron.md"
TOKEN = "dlcourse-test-token"
SHOTS = ROOT / "test-artifacts" / "jupyterlab"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _copy_of_the_repository(dest: Path) -> Path:
    """The tracked files (as they are now) in a fresh git repository, committed."""
    files = _git(ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "-c", "user.name=test", "-c", "user.email=test@example.org",
         "commit", "-q", "-m", "copy")
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):  # not listening (yet)
        return 0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab serving a copy of the repository, with the student's settings."""
    tmp = tmp_path_factory.mktemp("lab")
    repo = _copy_of_the_repository(tmp / "repo")
    config = jupyter_setup.configure("student", tmp / "prefix")
    # Test-only settings: every cell in the DOM (no virtual scrolling), no news fetched.
    overrides_path = config / "labconfig" / "default_setting_overrides.json"
    overrides = json.loads(overrides_path.read_text())
    overrides["@jupyterlab/notebook-extension:tracker"] = {"windowingMode": "none"}
    overrides["@jupyterlab/apputils-extension:notification"] = {
        "fetchNews": "false", "checkForUpdates": False}
    overrides_path.write_text(json.dumps(overrides))
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(config),
        "JUPYTER_CONFIG_DIR": str(tmp / "user-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "PYTHONPATH": str(ROOT),  # the kernel imports this checkout's dlcourse
        "DLCOURSE_DATA": os.environ.get("DLCOURSE_DATA", str(ROOT / "data")),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    log = (tmp / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={repo}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=repo)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while _get(f"{url}/api/status?token={TOKEN}") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (tmp / "jupyterlab.log").read_text())
            time.sleep(1)
        yield {"url": url, "repo": repo, "log": tmp / "jupyterlab.log"}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from test_site import CHROMIUM_ARGS, chromium_or_exit

    chromium = chromium_or_exit()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{lab['url']}/lab?token={TOKEN}", wait_until="load", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined",
                               timeout=120_000)
        page.evaluate("() => window.jupyterapp.started")
        page.locator(".jp-DirListing-item").first.wait_for(timeout=120_000)
        yield page
        browser.close()


# What is written in the explanations, outside typeset maths (long plain runs of text).
_PLAIN_TEXT = """el => {
  const copy = el.cloneNode(true);
  copy.querySelectorAll('mjx-container, mjx-assistive-mml, script').forEach(m => m.remove());
  return copy.textContent;
}"""


def _plain_runs(text: str) -> list[str]:
    """Stretches of feedback text long enough to be recognised elsewhere on the page."""
    text = text.replace("Correct!", " ").replace("Not quite.", " ").replace("Not quite:", " ")
    runs = [" ".join(r.split()) for r in text.replace("\n", " ").split("  ")]
    return [r for r in runs if len(r) >= 20]


def _answer(page: Any, question: Any, option: int) -> tuple[str, str]:
    """Tick only ``option``, press Check, wait for the kernel to answer; the feedback's
    text and its plain text (maths left out)."""
    boxes = question.locator("input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).set_checked(i == option)
    question.locator("button", has_text="Check").click()
    time.sleep(1)  # the click reaches the kernel, which turns busy, runs check(), ...
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    time.sleep(0.5)  # ... and the widget's new value reaches the page by its idle status
    feedback = question.locator(".dlc-quiz-feedback")
    feedback.wait_for(timeout=60_000)
    return feedback.inner_text(), feedback.evaluate(_PLAIN_TEXT)


_KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
_KERNEL_IDLE = f"() => {_KERNEL}.status === 'idle'"


def _command(page: Any, command: str) -> None:
    """Run a JupyterLab command without waiting for it (a dialog would keep it pending)."""
    page.evaluate(f"() => {{ window.jupyterapp.commands.execute({command!r}); }}")


def _screenshot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _no_dialog(page: Any, doing: str) -> None:
    time.sleep(3)
    dialogs = page.locator(".jp-Dialog")
    if dialogs.count():
        _screenshot(page, f"dialog-{doing}")
        raise AssertionError(f"{doing} asked the reader: {dialogs.first.inner_text()!r}")


# The open notebook's code cells from its model: how many have not run (or are running),
# and the errors of those that failed.
_RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const kernel = panel.sessionContext.session?.kernel?.status;
  const pending = cells.filter(c => c.model.executionCount === null
                                    || c.model.executionState === 'running').length;
  const errors = cells.flatMap(c => c.model.outputs.toJSON()
      .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue));
  return {pending: pending > 0 || kernel !== 'idle', cells: cells.length, kernel, errors};
}"""


def test_students_do_not_see_instructor_tools(lab: dict[str, Any], page: Any) -> None:
    for plugin in ("formgrader", "create-assignment", "course-list", "assignment-list"):
        assert not page.evaluate(f"() => window.jupyterapp.hasPlugin('@jupyter/nbgrader:{plugin}')")
    assert _get(f"{lab['url']}/formgrader?token={TOKEN}") == 404
    # the Validate button (nbgrader's student tool) stays
    assert page.evaluate("() => window.jupyterapp.hasPlugin('@jupyter/nbgrader:validate-assignment')")


@pytest.mark.timeout(1200)
def test_a_reader_opens_runs_answers_and_closes_a_chapter(lab: dict[str, Any], page: Any) -> None:
    repo = lab["repo"]
    assert (repo / "book" / CHAPTER).is_file(), f"no book/{CHAPTER}: choose another CHAPTER"
    page.locator(".jp-DirListing-item", has_text="book").first.dblclick()
    page.locator(f'.jp-DirListing-item[title^="Name: {CHAPTER}"]').first.dblclick()
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.wait_for(timeout=120_000)
    assert page.locator(".jp-FileEditor:visible").count() == 0, "opened as text, not a notebook"
    # The document loaded and its kernel up (the status bar says "idle" before either).
    page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   return !!(p && p.context && p.context.isReady
                             && p.sessionContext.session?.kernel?.status === 'idle'); }""",
        timeout=180_000, polling=500)

    _command(page, "notebook:run-all-cells")
    deadline = time.monotonic() + 900
    while (state := page.evaluate(_RUN_STATE))["pending"]:
        if time.monotonic() > deadline:
            _screenshot(page, "run-all")
            raise AssertionError(f"cells still not run after 15 minutes: {state}")
        time.sleep(2)
    assert not state["errors"], f"cells failed: {state['errors']}"

    quiz = notebook.locator(".jp-OutputArea-output", has=page.locator("button", has_text="Check")).last
    quiz.wait_for(timeout=60_000)
    quiz_text = quiz.inner_text()
    assert "$" not in quiz_text, f"raw TeX in the live quiz: {quiz_text[:300]!r}"
    assert quiz.locator("mjx-container").count() > 0, "the quiz's maths is not typeset"
    before = notebook.inner_text()  # everything on screen before any answer

    questions = quiz.locator(".widget-vbox", has=page.locator("> button", has_text="Check"))
    checked_one = False
    for k in range(questions.count()):
        question = questions.nth(k)
        boxes = question.locator("input[type=checkbox]")
        if boxes.count() == 0:
            continue  # a numeric question
        letters = [question.locator(".widget-checkbox").nth(i).inner_text().strip()
                   for i in range(boxes.count())]
        assert letters == [chr(65 + i) for i in range(boxes.count())], letters
        results = []
        for option in range(boxes.count()):
            feedback, plain = _answer(page, question, option)
            results.append(feedback)
            for run in _plain_runs(plain):
                assert run not in before, f"answer text visible before answering: {run!r}"
        verdicts = [r.split()[0] for r in results]
        if verdicts.count("Correct!") == 1:  # a single-answer question: wrong, then right
            assert "Not" in verdicts, results
            assert question.locator(".dlc-wrong, .dlc-correct").count() == 1
            checked_one = True
    assert checked_one, "no single-answer question in the quiz to answer wrongly and rightly"
    SHOTS.mkdir(parents=True, exist_ok=True)
    quiz.screenshot(path=str(SHOTS / "quiz-answered.png"))

    # What autosave does, then close: neither may ask the reader anything.
    _command(page, "docmanager:save")
    _no_dialog(page, "saving")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=60_000)
    _command(page, "application:close-all")
    _no_dialog(page, "closing")
    page.wait_for_function("() => !document.querySelector('.jp-NotebookPanel')", timeout=60_000)
    status = _git(repo, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"JupyterLab changed the checkout:\n{status}\n" + _git(repo, "diff")
