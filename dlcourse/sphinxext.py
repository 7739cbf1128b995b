"""The course site's Sphinx extension: offline assets, notebook downloads, static widgets.

``_config.yml`` loads it (``sphinx: extra_extensions: [dlcourse.sphinxext]``). It makes
the built site work with no network (readers behind firewalls, CI) and keeps the
launch/download buttons honest:

* **MathJax from the site.** :func:`ensure_assets` downloads the pinned npm package's
  tarball with Python alone (``urllib`` from the npm registry, no Node needed; its
  sha512 checked against :data:`MATHJAX`, npm's own integrity string) once into
  ``_vendor/mathjax/`` (git-ignored), keeping only what a browser needs for the
  ``tex-chtml`` component (its lazily loaded TeX extensions, CHTML fonts, menu and
  accessibility parts). The extension runs it at the start of every build and adds
  ``_vendor/`` to ``html_static_path``, so ``mathjax_path: mathjax/tex-chtml.js`` in
  ``_config.yml`` resolves to ``_static/mathjax/``. (Not a root ``_static/`` folder:
  Jupyter Book adds every ``.js`` under that to every page.) ``make assets`` runs the
  same fetch on its own: ``python -m dlcourse.sphinxext``.
* **MathJax on quiz pages.** Sphinx loads MathJax only on pages with math nodes; a page
  whose only TeX is in a quiz (raw HTML marked ``mathjax_process``) is marked as having
  math too.
* **No ipywidgets on the site.** Quizzes and interactive figures show static HTML on the
  site (see ``dlcourse.quiz`` and ``dlcourse.widgets``); ``nb_ipywidgets_js: {}`` in
  ``_config.yml`` stops myst-nb from adding require.js and the widget manager from a CDN,
  and this extension drops the widget state that would be dead weight on the page. An
  output that can only show as a live widget (no static fallback) is a build warning
  (an error under ``-W``): it would be blank on the site.
* **No JavaScript errors.** sphinx-thebe's inline config script is added twice to every
  page (a ``const`` declared twice: an uncaught error); repeated inline scripts are
  dropped.
* **Every chapter as .ipynb.** Chapters are MyST Markdown notebooks; next to the ``.md``
  source the download menu offers ``_sources/<page>.ipynb``: the notebook as executed
  by the build (outputs included, widget views and state removed, since they need a
  kernel), with a first cell that installs ``dlcourse`` from the repository when it is
  missing (Colab, a fresh Jupyter).
* **Two editions.** Every page starts with a link to the same page in the other edition
  (English at the root, Chinese under ``zh/``; relative, so it works from ``file://``);
  ``dlcourse_edition`` (``en`` or ``zh``) says which one is being built. jieba's user
  dictionary (``html_search_options.dict``) is found relative to the book's folder.
* **Colab.** Colab opens ``.ipynb`` files from GitHub, not MyST ``.md``: the Colab launch
  button points at ``_sources/<page>.ipynb`` on the branch the built site is published
  to (``dlcourse_notebooks_branch``, default ``gh-pages``; publish with
  ``ghp-import -n -p -f _build/html``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENDOR_DIR = "_vendor"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class NpmAsset:
    """A pinned npm package, of which ``keep`` (paths in the package) is served."""

    name: str
    version: str
    integrity: str  # npm's "sha512-<base64>" of the tarball
    folder: str  # under _vendor/, and so under _static/ on the site
    strip: str  # prefix removed from kept paths
    keep: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


MATHJAX = NpmAsset(
    name="mathjax",
    version="3.2.2",
    integrity=(
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
        "FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
    ),
    folder="mathjax",
    strip="es5/",
    keep=(
        "LICENSE",
        "es5/tex-chtml.js",
        "es5/input/tex/extensions/",  # \require and autoloaded packages (e.g. \boldsymbol)
        "es5/input/mml.js",  # the explorer's semantic enrichment reads MathML
        "es5/input/mml/",
        "es5/output/chtml/fonts/woff-v2/",
        "es5/ui/",  # the context menu
        "es5/a11y/",  # assistive MathML, explorer (loaded by the menu)
        "es5/sre/mathmaps/",  # speech rules for the explorer
    ),
)
ASSETS = (MATHJAX,)


class AssetError(RuntimeError):
    """A pinned site asset could not be fetched or failed its checksum."""


def _stamp(asset: NpmAsset) -> str:
    """What a complete copy records: a changed pin or kept-file list means a new copy."""
    return f"{asset.spec} {asset.integrity} {' '.join(asset.keep)}\n"


def _sri_sha512(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


NPM_REGISTRY = os.environ.get("DLCOURSE_NPM_REGISTRY", "https://registry.npmjs.org")


def _tarball_url(asset: NpmAsset) -> str:
    """The registry's address of the package tarball (the same file ``npm pack`` gets)."""
    base = asset.name.rsplit("/", 1)[-1]
    return f"{NPM_REGISTRY.rstrip('/')}/{asset.name}/-/{base}-{asset.version}.tgz"


def _download(asset: NpmAsset, into: Path) -> Path:
    """Fetch the pinned tarball with Python alone (no Node, no npm) into ``into``.

    ``DLCOURSE_MATHJAX_TARBALL`` names a local copy of the tarball instead (machines
    without network); its checksum is checked all the same."""
    target = into / f"{asset.name.rsplit('/', 1)[-1]}-{asset.version}.tgz"
    local = os.environ.get("DLCOURSE_MATHJAX_TARBALL")
    if local:
        if not Path(local).is_file():
            raise AssetError(f"DLCOURSE_MATHJAX_TARBALL={local!r} is not a file.")
        shutil.copyfile(local, target)
        return target
    url = _tarball_url(asset)
    try:
        with urllib.request.urlopen(url, timeout=120) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as error:
        raise AssetError(
            f"could not download {asset.spec} for the offline site from {url}: {error}. "
            "Connect to the internet once (the copy in _vendor/ is kept), or download that "
            "file by hand and set DLCOURSE_MATHJAX_TARBALL=/path/to/it."
        ) from error
    return target


def _extract(asset: NpmAsset, tarball: Path, dest: Path) -> int:
    """Unpack the kept paths of the package into ``dest``; return the number of files."""
    count = 0
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = member.name.removeprefix("package/")
            if not any(name == k or (k.endswith("/") and name.startswith(k)) for k in asset.keep):
                continue
            rel = Path(name.removeprefix(asset.strip))
            if rel.is_absolute() or ".." in rel.parts:
                raise AssetError(f"{asset.spec}: unsafe path {member.name!r} in the tarball.")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            count += 1
    missing = [k for k in asset.keep if not k.endswith("/") and
               not (dest / k.removeprefix(asset.strip)).is_file()]
    if missing or count == 0:
        raise AssetError(f"{asset.spec}: the package lacks {missing or asset.keep}.")
    return count


def ensure_asset(asset: NpmAsset, vendor: Path, log: Any = None) -> Path:
    """``vendor/<asset.folder>``, fetched and checked first if missing or stale.

    Safe to run from several builds at once: each unpacks into its own temporary
    folder and moves it into place in one rename."""
    dest = vendor / asset.folder
    stamp = dest / ".dlcourse-asset"
    if stamp.is_file() and stamp.read_text() == _stamp(asset):
        return dest
    vendor.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"fetching {asset.spec} from the npm registry into {dest}")
    with tempfile.TemporaryDirectory(dir=vendor, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        tarball = _download(asset, tmp_path)
        actual = _sri_sha512(tarball)
        if actual != asset.integrity:
            raise AssetError(
                f"{asset.spec}: checksum mismatch (expected {asset.integrity}, got {actual}); "
                "refusing to serve it."
            )
        staged = tmp_path / "staged"
        _extract(asset, tarball, staged)
        (staged / ".dlcourse-asset").write_text(_stamp(asset))
        if dest.exists():  # stale: another version or an interrupted copy
            shutil.move(str(dest), str(tmp_path / "stale"))
        try:
            staged.rename(dest)
        except OSError:  # another build moved its copy in first
            if not (stamp.is_file() and stamp.read_text() == _stamp(asset)):
                raise
    return dest


def ensure_assets(root: Path, log: Any = None) -> Path:
    """Fetch every pinned asset into ``root/_vendor``; return that folder."""
    vendor = Path(root) / VENDOR_DIR
    for asset in ASSETS:
        ensure_asset(asset, vendor, log)
    return vendor


# ---- Sphinx hooks ---------------------------------------------------------------------


def _logger() -> Any:
    from sphinx.util import logging

    return logging.getLogger(__name__)


def _add_vendor_static_path(app: Any, config: Any) -> None:
    root = Path(app.srcdir)
    if not (root / "dlcourse").is_dir() and (root.parent / "dlcourse").is_dir():
        root = root.parent  # the Chinese edition (book-zh/) shares the English one's copy
    vendor = ensure_assets(root, log=_logger().info)
    if str(vendor) not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, str(vendor)]


def _search_dictionary_path(app: Any, config: Any) -> None:
    """jieba loads the user dictionary from a path: make ``html_search_options.dict``
    relative to the book's folder, wherever the build was started from."""
    options = config.html_search_options or {}
    path = options.get("dict")
    if path and not os.path.isabs(path):
        config.html_search_options = {**options, "dict": str(Path(app.confdir) / path)}


# The two editions: English at the site's root (book/), Chinese under zh/ (book-zh/).
EDITIONS = {"en": ("English", "en"), "zh": ("中文", "zh-CN")}


def language_switch_href(pagename: str, edition: str, other_exists: bool) -> str:
    """A relative link from ``pagename`` in ``edition`` to the same page in the other
    edition (or to its front page when the other has no such page). Relative, so it works
    from ``file://`` as well as from a server."""
    up = "../" * pagename.count("/")
    target = pagename if other_exists else "index"
    return f"{up}zh/{target}.html" if edition == "en" else f"../{up}{target}.html"


def _language_switch(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """A link at the top of every page to the same page in the other edition."""
    if doctree is None or "body" not in context:
        return
    edition = app.config.dlcourse_edition
    other = "zh" if edition == "en" else "en"
    srcdir = Path(app.srcdir)
    other_src = srcdir / "book-zh" if edition == "en" else srcdir.parent
    exists = any((other_src / f"{pagename}{suffix}").is_file() for suffix in (".md", ".ipynb"))
    href = language_switch_href(pagename, edition, exists)
    label, lang = EDITIONS[other]
    context["body"] = (
        f'<p class="dlc-lang-switch" style="text-align:right;margin:0 0 .5em">'
        f'<a href="{href}" hreflang="{lang}" lang="{lang}">{label}</a></p>\n' + context["body"]
    )


def _page_math_and_widget_state(app: Any, doctree: Any) -> None:
    """Mark raw HTML that asks for MathJax as math; drop ipywidgets state (unused here)."""
    from docutils import nodes

    docname = app.env.docname
    if any(
        "mathjax_process" in node.astext()
        for node in doctree.findall(nodes.raw)
        if "html" in node.get("format", "").split()
    ):
        app.env.get_domain("math").data["has_equations"][docname] = True
    nb_metadata = getattr(app.env, "nb_metadata", None)
    if nb_metadata is not None and docname in nb_metadata:
        nb_metadata[docname].get("js_files", {}).pop("ipywidgets_state", None)


def _warn_live_only_widgets(app: Any, doctree: Any, docname: str) -> None:
    """After myst-nb picked one mime type per output: a widget view renders blank here."""
    from docutils import nodes

    if app.builder.format != "html":
        return
    for node in doctree.findall(nodes.raw):
        if f'type="{WIDGET_VIEW}"' in node.astext():
            _logger().warning(
                "an output shows only as a live ipywidget, which is blank on the static "
                "site: give it a text/html fallback (dlcourse.widgets.interactive_figure "
                "does) or display something static",
                location=node,
                type="dlcourse",
                subtype="live_widget",
            )


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop repeated inline scripts. sphinx-thebe's config script (``const THEBE_JS_URL``)
    reaches the page twice (once registered with filename None, once with ''), and a
    second ``const`` is an uncaught SyntaxError on every page."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "priority", 0),
               json.dumps(attributes, sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _is_notebook(app: Any, pagename: str) -> bool:
    return pagename in app.env.all_docs and "kernelspec" in app.env.metadata.get(pagename, {})


def _offer_ipynb(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Before sphinx-book-theme builds its buttons: the download menu offers .ipynb."""
    if doctree is not None and _is_notebook(app, pagename):
        context["ipynb_source"] = pagename + ".ipynb"


def _write_ipynb_and_fix_colab(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """After the theme: write ``_sources/<page>.ipynb``, point Colab at the published copy."""
    if doctree is None or not _is_notebook(app, pagename):
        return
    import nbformat

    outdir = Path(app.outdir)
    executed = outdir.parent / "jupyter_execute" / (pagename + ".ipynb")
    if executed.is_file():
        nb = nbformat.read(executed, as_version=4)
    else:  # not executed (execution off): the source itself, without outputs
        import jupytext

        nb = jupytext.read(app.env.doc2path(pagename))
    options = app.config.html_theme_options or {}
    nb = downloadable_notebook(nb, options.get("repository_url", ""),
                               options.get("repository_branch", "main"))
    target = outdir / "_sources" / (pagename + ".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)

    branch = app.config.dlcourse_notebooks_branch
    repo = options.get("repository_url", "").rstrip("/")
    if not (branch and repo.startswith("https://github.com/")):
        return
    org_repo = repo.removeprefix("https://github.com/")
    colab = (options.get("launch_buttons") or {}).get("colab_url", "").rstrip("/")
    edition = "zh/" if app.config.dlcourse_edition == "zh" else ""  # published under zh/
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab" and colab:
                button["url"] = f"{colab}/github/{org_repo}/blob/{branch}/{edition}_sources/{pagename}.ipynb"


def downloadable_notebook(nb: Any, repository_url: str = "", branch: str = "main") -> Any:
    """The notebook readers download: widget views and widget state removed (they need
    the kernel that made them; static fallbacks stay), the install cell of
    ``dlcourse.launch`` first (the helper package from ``repository_url`` at ``branch``)."""
    from dlcourse.launch import Repository, add_install_cell

    import nbformat

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy
    for key in ("widgets", "source_map", "jupytext"):  # dead state; build-only details
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
    if repository_url:
        add_install_cell(nb, Repository(repository_url, branch or "main").pip_source)
    for cell in nb.cells:
        cell.pop("id", None)  # fresh ids below: nbformat 4.5 wants unique ones
    nb.nbformat, nb.nbformat_minor = 4, 5
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"
    nbformat.validate(nb)
    return nb


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("dlcourse_notebooks_branch", "gh-pages", "html", [str])
    app.add_config_value("dlcourse_edition", "en", "html", [str])
    app.connect("config-inited", _add_vendor_static_path)
    app.connect("config-inited", _search_dictionary_path)
    app.connect("html-page-context", _language_switch, priority=300)
    app.connect("doctree-read", _page_math_and_widget_state)
    app.connect("doctree-resolved", _warn_live_only_widgets)
    # sphinx-book-theme builds the header buttons at priority 501.
    app.connect("html-page-context", _offer_ipynb, priority=400)
    app.connect("html-page-context", _write_ipynb_and_fix_colab, priority=600)
    app.connect("html-page-context", _dedupe_scripts, priority=990)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """``python -m dlcourse.sphinxext [ROOT]``: fetch the site's pinned assets."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else os.getcwd())
    try:
        vendor = ensure_assets(root, log=print)
    except AssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for asset in ASSETS:
        print(f"{asset.spec}: {vendor / asset.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
