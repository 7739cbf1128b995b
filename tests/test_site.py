"""The built site, checked in a real browser (Debian's Chromium driven by Playwright).

Every HTML page of the site (``_build/html``, or the folder in ``DLCOURSE_SITE``) is
served on 127.0.0.1 and opened; :func:`check_page` lists its problems:

* a request to any other host (the site must work offline: no CDN), a failed request
  or an HTTP error, an uncaught JavaScript error or a console error;
* an ``<img>`` that did not load (``naturalWidth == 0``);
* math not typeset: a Sphinx math element without MathJax output, a TeX error, or raw
  TeX (``\\(``, ``\\[``, ``$...$``) left in the page's text outside code;
* a quiz that is not wired, or whose feedback is wrong: for every question of every
  quiz, a wrong answer must say "Not quite", the right one "Correct" with its
  explanation;
* a live-only ipywidget (blank without a kernel);
* an internal link to a file that does not exist, or to a ``#fragment`` with no such id
  on the target page.

Every page is checked, ``genindex.html`` and ``search.html`` included (they are pages
readers reach, and cheap). A full-page screenshot of each goes to
``test-artifacts/screenshots/``. The tests of the tests plant each kind of fault in a
copy of a page and assert that :func:`check_page` reports it.

Chromium: found by ``dlcourse.browser`` (``DLCOURSE_CHROMIUM``, ``PATH``, Playwright's own);
``make test`` obtains one first (``python -m dlcourse.browser --obtain``). Without one the
run stops at once with one instruction. The site: ``make test`` builds it first (``make book``). To check
a partial build: ``scripts/build-pages /tmp/b book/intro`` then
``DLCOURSE_SITE=/tmp/b/_build/html .venv/bin/pytest tests/test_site.py``. The fixture
page ``tests/fixtures/site_fixture.md`` has a quiz, math and an interactive figure: copy
it to ``book/_site_fixture.md`` and add ``book/_site_fixture`` to that command to check
the machinery without the chapters (then delete the copy).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("DLCOURSE_SITE", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Headless, and no calls home (without these Chromium tries to reach Google's hosts).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.browser


# ---- the site and a server for it --------------------------------------------------------


def site_pages(site: Path) -> list[str]:
    """Every page of a built site, as paths relative to it (assets folders left out)."""
    if not site.is_dir():
        return []
    skip = {"_static", "_sources", "_images", "_downloads", "jupyter_execute", "reports"}
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not skip.intersection(p.relative_to(site).parts[:-1])
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class SiteServer:
    """Serves a folder on 127.0.0.1 (a free port) from a thread, as a context manager."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the checks -------------------------------------------------------------------------


class _Ids(HTMLParser):
    """The ids (and <a name=...>) of an HTML page: what a #fragment can point at."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is not None and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.lru_cache(maxsize=4096)
def _fetch_ids(url: str) -> frozenset[str] | None:
    """The ids on a local page, or None when it cannot be fetched."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            kind = response.headers.get_content_type()
    except (urllib.error.URLError, OSError):
        return None
    if kind != "text/html":
        return frozenset()
    parser = _Ids()
    parser.feed(body.decode("utf-8", "replace"))
    return frozenset(parser.ids)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_local(url: str, origin: str) -> bool:
    return url.startswith(("data:", "blob:", "about:")) or _origin(url) == origin


def check_links(hrefs: list[str], page_url: str) -> list[str]:
    """Internal links whose target file or #fragment does not exist."""
    origin = _origin(page_url)
    problems = []
    for href in sorted(set(hrefs)):
        if urlsplit(href).scheme not in ("http", "https") or _origin(href) != origin:
            continue  # mailto:, javascript:, and links to other sites (links, not requests)
        target, fragment = urldefrag(href)
        ids = _fetch_ids(target.split("?")[0])
        if ids is None:
            problems.append(f"broken link: {href} (no such file)")
        elif fragment and unquote(fragment) not in ids:
            problems.append(f"broken link: {href} (no id {unquote(fragment)!r} on the page)")
    return problems


_WAIT_FOR_MATHJAX = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
}"""

_BROKEN_IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 15000);
  })));
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0))
             .map(img => img.getAttribute("src") ? img.getAttribute("src").slice(0, 120)
                                                : img.outerHTML.slice(0, 120));
}"""

# Sphinx renders math as .math elements, MathJax replaces their TeX by mjx-container.
# Any TeX delimiter still in the text (outside code) was not typeset.
_MATH_PROBLEMS = r"""() => {
  const problems = [];
  document.querySelectorAll(".math").forEach(el => {
    if (!el.querySelector("mjx-container"))
      problems.push("math not typeset: " + el.textContent.trim().slice(0, 80));
  });
  document.querySelectorAll("mjx-merror").forEach(el => {
    problems.push("TeX error: " + (el.getAttribute("data-mjx-error") || el.textContent));
  });
  const skip = "script,style,noscript,template,pre,code,kbd,samp,textarea,mjx-container,.highlight";
  const raw = /\\\(|\\\[|\\begin\{|\$\$|\$[^$\s][^$]*\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (raw.test(node.nodeValue))
      problems.push("raw TeX left on the page: " + node.nodeValue.trim().slice(0, 80));
  }
  return problems;
}"""


def _plain_parts(text: str) -> list[str]:
    """The parts of an explanation outside $...$ (MathJax rewrites the maths)."""
    parts = re.split(r"\$[^$]*\$", text)
    return [p.strip() for p in parts if len(p.strip()) >= 3]


def _words(lang: str) -> tuple[str, str, str]:
    """The quiz's "right", "wrong" and button words in the page's language (the package's
    own phrases, so a page in the wrong language fails)."""
    from dlcourse.quiz import MESSAGES, MESSAGES_ZH

    zh = lang.lower().startswith("zh")
    messages = MESSAGES_ZH if zh else MESSAGES
    trim = "!！.。:： "
    return (messages["correct"].strip().rstrip(trim), messages["wrong"].strip().rstrip(trim),
            "检查" if zh else "Check")


def _drive_quizzes(page: Any, lang: str = "en") -> list[str]:
    """Answer every question of every quiz wrong, then right; check the feedback."""
    problems = []
    right, wrong, button = _words(lang)
    quizzes = page.locator(".dlc-quiz")
    for i in range(quizzes.count()):
        quiz = quizzes.nth(i)
        name = f"quiz {i + 1} ({quiz.get_attribute('id')})"
        if quiz.get_attribute("data-dlc-wired") != "1":
            problems.append(f"{name} is not wired: its script did not run")
            continue
        data = json.loads(quiz.locator("script.dlc-quiz-data").text_content() or "{}")
        elements = quiz.locator(".dlc-quiz-question")
        if elements.count() != len(data.get("questions", [])):
            problems.append(f"{name}: {elements.count()} questions shown, "
                            f"{len(data.get('questions', []))} in its data")
            continue
        labels = {(b.text_content() or "").strip() for b in quiz.locator("button.dlc-quiz-check").all()}
        if labels != {button}:
            problems.append(f"{name}: expected its buttons to say {button!r}, got {sorted(labels)}")
        for k, question in enumerate(data["questions"]):
            problems += [
                f"{name}, question {k + 1}: {p}"
                for p in _drive_question(page, elements.nth(k), question, (right, wrong))
            ]
    return problems


def _answer(page: Any, el: Any, question: dict, answer: Any) -> tuple[str, str]:
    """Enter an answer, press Check; return the feedback's text and class."""
    if question["kind"] == "numeric":
        el.locator("input").fill(str(answer))
    else:
        for j in range(len(question["choices"])):
            box = el.locator(f'input[value="{j}"]')
            if j in answer:
                box.check()
            elif question["multiple"]:
                box.uncheck()
    el.locator("button.dlc-quiz-check").click()
    page.evaluate(_WAIT_FOR_MATHJAX)  # the feedback is typeset
    feedback = el.locator(".dlc-quiz-feedback")
    text = " ".join((feedback.inner_text() or "").split())
    return text, feedback.get_attribute("class") or ""


def _drive_question(page: Any, el: Any, question: dict,
                    words: tuple[str, str] = ("Correct", "Not quite")) -> list[str]:
    problems = []

    def expect(answer: Any, correct: bool, explanations: list[str]) -> None:
        text, cls = _answer(page, el, question, answer)
        word, css = (words[0], "dlc-correct") if correct else (words[1], "dlc-wrong")
        if not text.startswith(word) or css not in cls.split():
            problems.append(f"answer {answer!r}: expected {word!r} feedback, got {text!r}")
            return
        for explanation in explanations:
            for part in _plain_parts(explanation):
                if " ".join(part.split()) not in text:
                    problems.append(f"answer {answer!r}: the explanation {part!r} is missing "
                                    f"from the feedback {text!r}")

    if question["kind"] == "numeric":
        target, tol = question["answer"], question["tol"]
        expect(target + 10 * tol + 1, False, [question["explanation"]])
        expect(target, True, [question["explanation"]])
    else:
        choices = question["choices"]
        right = [j for j, c in enumerate(choices) if c["correct"]]
        wrong = [j for j, c in enumerate(choices) if not c["correct"]]
        if wrong:
            expect([wrong[0]], False, [choices[wrong[0]]["explanation"]])
        expect(right, True, [choices[j]["explanation"] for j in right])
    return problems


def _language_switch_problems(page: Any, page_url: str, lang: str) -> list[str]:
    """Every content page links to the same page in the other edition (English at the
    root, Chinese under zh/); the link checker checks that the target exists."""
    name = urlsplit(page_url).path.rsplit("/", 1)[-1]
    if name in ("search.html", "genindex.html"):
        return []
    links = page.locator(".dlc-lang-switch a")
    if links.count() != 1:
        return [f"expected one link to the other edition (.dlc-lang-switch), found {links.count()}"]
    target = urlsplit(links.first.evaluate("a => a.href")).path
    here = urlsplit(page_url).path
    zh = lang.lower().startswith("zh")
    if zh != here.startswith("/zh/") or zh == target.startswith("/zh/"):
        return [f"the language switch of a {lang or 'no-lang'} page points to {target}: "
                "expected the other edition"]
    same = here.removeprefix("/zh") == target.removeprefix("/zh")
    if not same and not target.endswith("/index.html"):
        return [f"the language switch points to {target}, not the same page in the other edition"]
    return []


def _is_favicon_probe(msg: Any) -> bool:
    """Chromium asks the server root for /favicon.ico on its own (not a request of the
    page, and Playwright does not see it); its 404 is not the site's fault."""
    return urlsplit(msg.location.get("url", "")).path == "/favicon.ico"


def check_page(browser: Any, page_url: str, screenshot: Path | None = None) -> list[str]:
    """Open ``page_url`` in a fresh browser context and return its problems (see the module
    docstring); requests to other hosts are reported and blocked, never sent."""
    origin = _origin(page_url)
    with urllib.request.urlopen(page_url, timeout=30) as response:
        source = response.read().decode("utf-8", "replace")
    redirect = re.search(r'<meta http-equiv="Refresh" content="\d+;\s*url=([^"]+)"', source, re.I)
    if redirect:  # index.html: a redirect to the root page, which is checked on its own
        return check_links([urljoin(page_url, html.unescape(redirect.group(1)))], page_url)
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")
    try:
        def route(route: Any) -> None:
            if _is_local(route.request.url, origin):
                route.continue_()
            else:
                problems.append(f"request outside the site: {route.request.url}")
                route.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"uncaught JavaScript error: {error}"))
        page.on("console", lambda msg: problems.append(f"console error: {msg.text}")
                if msg.type == "error" and not _is_favicon_probe(msg) else None)
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)
        page.on("requestfailed", lambda r: problems.append(
            f"request failed ({r.failure}): {r.url}") if _is_local(r.url, origin) else None)

        page.goto(page_url, wait_until="load", timeout=120_000)
        page.evaluate(_WAIT_FOR_MATHJAX)
        page.wait_for_load_state("networkidle", timeout=60_000)

        if page.locator(f'script[type="{WIDGET_VIEW}"]').count():
            problems.append("a live-only ipywidget (blank without a kernel) is on the page")
        lang = page.evaluate("() => document.documentElement.lang") or ""
        problems += _drive_quizzes(page, lang)
        problems += _language_switch_problems(page, page_url, lang)
        page.wait_for_load_state("networkidle", timeout=60_000)
        problems += [f"image did not load: {src}" for src in page.evaluate(_BROKEN_IMAGES)]
        problems += page.evaluate(_MATH_PROBLEMS)
        problems += check_links(page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"),
                                page_url)
        if screenshot is not None:  # from the top, nothing focused: sticky headers stay put
            page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return problems


# ---- fixtures ---------------------------------------------------------------------------


def chromium_or_exit() -> str:
    """The browser (dlcourse.browser.find_chromium); without one, the whole run stops
    with one instruction (not one error per page)."""
    from dlcourse.browser import INSTRUCTION, BrowserNotFound, find_chromium

    try:
        path = find_chromium()
    except BrowserNotFound as error:
        pytest.exit(str(error), returncode=1)
    if path is None:
        pytest.exit(INSTRUCTION, returncode=1)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = chromium_or_exit()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives the browser a fresh, temporary user-data-dir.
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site() -> Iterator[SiteServer]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # no stale pictures of removed pages
    with SiteServer(SITE) as server:
        yield server


# ---- the site ---------------------------------------------------------------------------

PAGES = site_pages(SITE)


def test_the_site_is_built() -> None:
    assert PAGES, f"No built site in {SITE}: run `make book` (or set DLCOURSE_SITE)."
    assert (SITE / "_static" / "mathjax" / "tex-chtml.js").is_file(), (
        "MathJax is not served from the site (_static/mathjax): is dlcourse.sphinxext loaded?"
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", PAGES)
def test_page(browser: Any, site: SiteServer, path: str) -> None:
    shot = SCREENSHOTS / (path.removesuffix(".html").replace("/", "__") + ".png")
    problems = check_page(browser, site.url + path, screenshot=shot)
    assert not problems, f"{path}:\n  " + "\n  ".join(problems)


def _notebook_pages() -> list[tuple[str, str]]:
    """(page, its .ipynb download link) for every page that offers one."""
    found = []
    for path in PAGES:
        text = (SITE / path).read_text(encoding="utf-8")
        for href in re.findall(r'href="((?![a-z]+:)[^"]*_sources/[^"]*\.ipynb)"', text):
            found.append((path, html.unescape(href)))
    return found


def test_every_notebook_page_offers_an_ipynb_download_and_colab_opens_it() -> None:
    launchable = [p for p in PAGES if "launch-buttons" in (SITE / p).read_text(encoding="utf-8")]
    offered = dict(_notebook_pages())
    assert launchable, "no page has launch buttons: are launch_buttons set in _config.yml?"
    for path in launchable:
        assert path in offered, f"{path} has launch buttons but no .ipynb download"
        page = path.removesuffix(".html")
        text = (SITE / path).read_text(encoding="utf-8")
        colab = re.findall(r'href="(https://colab\.research\.google\.com/[^"]*)"', text)
        # the Chinese edition is published under zh/: its notebooks are in zh/_sources/
        edition, _, name = page.rpartition("zh/") if page.startswith("zh/") else ("", "", page)
        expected = f"/{'zh/' if page.startswith('zh/') else ''}_sources/{name}.ipynb"
        assert colab and all(u.endswith(expected) for u in colab), (colab, expected)


@pytest.mark.parametrize("path,href", _notebook_pages())
def test_the_ipynb_download_is_a_clean_notebook(path: str, href: str) -> None:
    target = (SITE / path).parent / href
    assert target.is_file(), f"{path} links {href}, which the build did not write"
    nb = nbformat.read(target, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "widget state needs the kernel that made it"
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs)
    assert nb.cells[0].metadata.get("tags") == ["dlcourse-setup"]
    source = target.with_suffix(".md")  # beside it, in the page's own edition's _sources/
    assert source.is_file(), "the .md source download is still offered beside it"


# ---- tests of the tests: each fault, planted in a copy of a page, is reported ------------

MATHJAX_SCRIPTS = (
    '<script>window.MathJax = {"tex": {"inlineMath": [["\\\\(", "\\\\)"], ["$", "$"]]}, '
    '"options": {"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area"}}'
    '</script><script defer src="../_static/mathjax/tex-chtml.js"></script>'
)


def _quiz_html() -> str:
    from dlcourse.quiz import Choice, MultipleChoice, Numeric, Quiz, practice_question

    return Quiz([
        practice_question(),
        MultipleChoice("Which are non-linear in $x$?", [
            Choice("$\\tanh(x)$", True, "$\\tanh$ saturates at $\\pm 1$."),
            Choice("$\\max(0, x)$", True, "ReLU has a kink at $0$."),
            Choice("$3x + 1$", False, "$3x+1$ is a straight line."),
        ]),
        Numeric("What is $\\sigma(0)$?", 0.5, 1e-6, "$\\sigma(0) = 1/2$."),
    ]).to_html()


FAULTS = {
    # name: (what is planted in <head>, in <body>, what the report must say)
    "cdn_script": ('<script src="https://cdn.jsdelivr.net/npm/jquery@3.7.1/dist/jquery.min.js">'
                   "</script>", "", "request outside the site: https://cdn.jsdelivr.net/"),
    "js_error": ('<script>throw new Error("planted error")</script>', "",
                 "uncaught JavaScript error: planted error"),
    "missing_page": ("", '<a href="no-such-page.html">gone</a>',
                     "no-such-page.html (no such file)"),
    "missing_anchor": ("", '<a href="#no-such-anchor">nowhere</a>', "no id 'no-such-anchor'"),
    "missing_image": ("", '<img src="../_images/no-such-image.png" alt="x">',
                      "image did not load: ../_images/no-such-image.png"),
    "raw_tex": ("", '<p class="mathjax_ignore">\\(x^2\\)</p>', "raw TeX left on the page"),
    "live_widget": ("", f'<script type="{WIDGET_VIEW}">{{"model_id": "x"}}</script>',
                    "live-only ipywidget"),
    "unwired_quiz": ("", "QUIZ_WITHOUT_SCRIPT", "is not wired"),
    "wrong_feedback": (MATHJAX_SCRIPTS, "QUIZ_SAYING_CORRECT_TO_WRONG", "expected 'Not quite'"),
    "no_language_switch": ("", "WITHOUT_LANGUAGE_SWITCH", "expected one link to the other edition"),
}


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A site whose pages are a copy of the root page, each with one fault planted (and
    one with a good quiz and math: no problems); assets are links to the real site's."""
    if not PAGES:
        pytest.fail(f"No built site in {SITE}: run `make book` first.")
    root = tmp_path_factory.mktemp("planted")
    for dirpath, dirnames, filenames in os.walk(SITE):  # the real site, as links
        here = Path(dirpath)
        mirror = root / here.relative_to(SITE)
        mirror.mkdir(exist_ok=True)
        for name in [d for d in dirnames if d.startswith("_")] + filenames:
            (mirror / name).symlink_to(here / name)
        dirnames[:] = [d for d in dirnames if not d.startswith("_")]
    base_rel = "book/intro.html" if "book/intro.html" in PAGES else PAGES[0]
    base = (SITE / base_rel).read_text(encoding="utf-8")
    folder = root / Path(base_rel).parent
    quiz = _quiz_html()
    unwired = re.sub(r"<script>\(function\(\)\{.*?</script>", "", quiz, flags=re.S)
    liar = quiz.replace("return{correct:false,message:m.wrong+q.choices",
                        "return{correct:true,message:m.correct+q.choices")
    assert unwired != quiz and liar != quiz
    mathjax = "" if "mathjax/tex-chtml.js" in base else MATHJAX_SCRIPTS
    pages = {name: (head, body) for name, (head, body, _) in FAULTS.items()}
    pages["good_quiz"] = (mathjax, quiz)
    for name, (head, body) in pages.items():
        body = body.replace("QUIZ_WITHOUT_SCRIPT", unwired)
        body = body.replace("QUIZ_SAYING_CORRECT_TO_WRONG", liar)
        page_text = base
        if body == "WITHOUT_LANGUAGE_SWITCH":
            body = ""
            page_text = re.sub(r'<p class="dlc-lang-switch".*?</p>', "", base, flags=re.S)
            assert page_text != base
        if head == MATHJAX_SCRIPTS:
            head = mathjax
        text = page_text.replace("</head>", head + "</head>", 1)
        text = re.sub(r"(<article[^>]*>)", lambda m: m.group(1) + body, text, count=1)
        assert body in text
        (folder / f"{name}.html").write_text(text, encoding="utf-8")
    with SiteServer(root) as server:
        yield urljoin(server.url, base_rel)  # the planted pages are beside this URL


def test_a_good_quiz_with_math_passes(browser: Any, planted_site: str) -> None:
    problems = check_page(browser, urljoin(planted_site, "good_quiz.html"))
    # a planted copy of the intro keeps the intro's link to the Chinese intro
    assert [p for p in problems if "not the same page in the other edition" not in p] == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_checker_reports(browser: Any, planted_site: str, fault: str) -> None:
    problems = check_page(browser, urljoin(planted_site, f"{fault}.html"))
    expected = FAULTS[fault][2]
    assert any(expected in p for p in problems), f"{expected!r} not in {problems}"


def test_site_pages_leaves_out_assets(tmp_path: Path) -> None:
    for rel in ["index.html", "book/a.html", "_static/x.html", "_sources/b.html"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<p>")
    assert site_pages(tmp_path) == ["book/a.html", "index.html"]
    assert site_pages(tmp_path / "missing") == []


# ---- the Chinese edition ----------------------------------------------------------------

ZH_PAGES = [p for p in PAGES if p.startswith("zh/")]


def test_both_editions_are_built() -> None:
    english = {p for p in PAGES if not p.startswith("zh/")}
    chinese = {p.removeprefix("zh/") for p in ZH_PAGES}
    assert "book/glossary.html" in chinese, "no Chinese edition in _build/html/zh: run `make book`"
    assert english - {"search.html", "genindex.html"} <= chinese, sorted(english - chinese)


@pytest.mark.parametrize("start,other", [("book/perceptron.html", "zh"), ("zh/book/perceptron.html", "en"),
                                         ("zh/book/glossary.html", "en")])
def test_the_language_switch_works_from_file_urls(browser: Any, start: str, other: str) -> None:
    """Opened from disk (file://), the switch still lands on the other edition's page."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((SITE / start).as_uri(), wait_until="load")
        expected = {"book/perceptron.html": "zh/book/perceptron.html",
                    "zh/book/perceptron.html": "book/perceptron.html",
                    "zh/book/glossary.html": "book/intro.html"}[start]  # via index.html's redirect
        page.click(".dlc-lang-switch a")
        page.wait_for_url(lambda url: unquote(urlsplit(url).path) == (SITE / expected).as_posix(), timeout=60_000)
        page.wait_for_load_state("load")
        assert page.evaluate("() => document.documentElement.lang").lower().startswith(other), page.url
        path = unquote(urlsplit(page.url).path)
        landed = Path(path).relative_to(SITE).as_posix()
        assert landed == expected, landed
    finally:
        context.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("query,chapter", [("反向传播", "book/backprop.html"), ("卷积", "book/convolution.html"),
                                           ("学习率", "book/learning.html")])
def test_chinese_search_finds_the_chapter(browser: Any, site: SiteServer, query: str, chapter: str) -> None:
    """Sphinx's search in Chinese (jieba segments the pages and the query): the chapter
    about the term is among the first three results."""
    from urllib.parse import quote

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}zh/search.html?q={quote(query)}", wait_until="load")
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s && s.textContent.trim().length > 0; }", timeout=120_000)
        hrefs = page.eval_on_selector_all("#search-results ul.search li a",
                                          "els => els.map(a => a.getAttribute('href'))")
        found = [h.split("?")[0].split("#")[0] for h in hrefs]
        assert any(h.endswith(chapter) for h in found[:3]), (
            f"searching {query!r}: expected {chapter} among the first three results, got {found[:8]}")
    finally:
        context.close()
