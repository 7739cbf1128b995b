"""Colab and Binder: one setting, the repository in ``_config.yml``, drives them all.

``repository.url`` and ``repository.branch`` in ``_config.yml`` give

* the book's launch buttons (Jupyter Book reads them),
* the install cell at the top of every downloadable chapter (``dlcourse.sphinxext``)
  and of every released exercise notebook (:class:`AddInstallCell`, an nbgrader
  preprocessor that ``nbgrader_config.py`` adds to ``generate_assignment``),
* the Colab badge of every exercise notebook.

The install cell does nothing where ``dlcourse`` is importable (the course's own
environment, Binder, the grader); elsewhere (Colab, a fresh Jupyter) it installs the
helper package from the repository, and if that fails it stops the notebook with an
error that says what to do, instead of failing later at ``import dlcourse``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "dlcourse-setup"
BADGE_TAG = "dlcourse-colab"
COLAB = "https://colab.research.google.com"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

INSTALL_CELL = '''\
# The course's helper package: where it is missing (Colab, a fresh Jupyter) this installs
# it from the course repository; where it is installed it does nothing.
import importlib.util, subprocess, sys
if importlib.util.find_spec("dlcourse") is None:
    DLCOURSE_SOURCE = {source!r}
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", DLCOURSE_SOURCE],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(
            f"Could not install the course's helper package from {{DLCOURSE_SOURCE}}:\\n"
            f"{{pip.stderr.strip()[-1500:]}}\\n"
            "Check the internet connection and run this cell again, or install it yourself: "
            f"pip install {{DLCOURSE_SOURCE}}")
    importlib.invalidate_caches()'''


@dataclass(frozen=True)
class Repository:
    """Where the course lives: a GitHub URL and the branch chapters and exercises come from."""

    url: str
    branch: str = "main"

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("https://", "http://", "file://")):
            raise ValueError(f"url must be an https:// (or file://) repository URL, got {self.url!r}.")
        if not isinstance(self.branch, str) or not self.branch.strip():
            raise ValueError(f"branch must be a branch name, got {self.branch!r}.")

    @property
    def pip_source(self) -> str:
        """What ``pip install`` installs the helper package from."""
        return f"git+{self.url.rstrip('/')}@{self.branch}"

    def colab_url(self, path: str, branch: str | None = None) -> str:
        """Colab's address of the ``.ipynb`` at ``path`` in this (GitHub) repository."""
        org_repo = self.url.rstrip("/").removeprefix("https://github.com/")
        return f"{COLAB}/github/{org_repo}/blob/{branch or self.branch}/{path.lstrip('/')}"


def repository(config: Path = ROOT / "_config.yml") -> Repository:
    """The repository named in the book's ``_config.yml``."""
    import yaml

    settings = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    repo = settings.get("repository") or {}
    if "url" not in repo:
        raise ValueError(f"{config}: no repository.url; set it to the course's repository.")
    return Repository(str(repo["url"]), str(repo.get("branch") or "main"))


def install_cell_source(source: str) -> str:
    """The install cell's code, installing the helper package from ``source`` (a pip
    requirement: ``git+URL@BRANCH``, a wheel's path or URL)."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a pip requirement, got {source!r}.")
    return INSTALL_CELL.format(source=source)


def badge_markdown(url: str) -> str:
    return f"[![Open In Colab]({COLAB_BADGE})]({url})"


def add_install_cell(nb: Any, source: str, colab_url: str | None = None) -> Any:
    """Put the install cell (and, with ``colab_url``, a Colab badge above it) at the top
    of ``nb``, replacing earlier ones: running it twice gives the same notebook."""
    import nbformat

    nb.cells = [c for c in nb.cells if not {SETUP_TAG, BADGE_TAG} & set(c.metadata.get("tags", []))]
    setup = nbformat.v4.new_code_cell(install_cell_source(source))
    setup.metadata["tags"] = [SETUP_TAG]
    added = [setup]
    if colab_url:
        badge = nbformat.v4.new_markdown_cell(badge_markdown(colab_url))
        badge.metadata["tags"] = [BADGE_TAG]
        added.insert(0, badge)
    for cell, name in zip(added, ("dlcourse-colab", "dlcourse-setup")[-len(added):]):
        if (nb.nbformat, nb.get("nbformat_minor", 0)) >= (4, 5):
            cell["id"] = name
        else:
            cell.pop("id", None)
    nb.cells = added + nb.cells
    return nb


@functools.cache
def _nbgrader_preprocessor() -> type:
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool

    class AddInstallCell(Preprocessor):
        """nbgrader ``generate_assignment`` step: every released notebook starts with a
        Colab badge and the install cell, both from ``_config.yml``'s repository."""

        enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

        def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
            repo = repository()
            nbgrader = resources.get("nbgrader", {})
            name, notebook = nbgrader.get("assignment"), nbgrader.get("notebook")
            path = f"exercises/{name}/{notebook}.ipynb" if name and notebook else None
            add_install_cell(nb, repo.pip_source, repo.colab_url(path) if path else None)
            return nb, resources

    return AddInstallCell


def __getattr__(name: str) -> Any:
    # nbconvert is imported only by the one who asks for the preprocessor.
    if name == "AddInstallCell":
        return _nbgrader_preprocessor()
    raise AttributeError(name)
