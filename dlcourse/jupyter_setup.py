"""JupyterLab settings of the course's environments, written into the environment itself.

``make env`` (and Binder's ``binder/postBuild``) run ``python -m dlcourse.jupyter_setup
student``; ``make instructor-env`` runs ``... instructor``. Everything goes under
``<prefix>/etc/jupyter/`` (``<prefix>`` = the virtual environment, ``sys.prefix``), so
nothing outside the environment changes:

* ``labconfig/default_setting_overrides.json``: Markdown files open with jupytext's
  notebook view on double-click, so a chapter (``book/*.md``) opens as a notebook.
* ``labconfig/page_config.json`` (``disabledExtensions``) and
  ``jupyter_server_config.d/zz-dlcourse.json`` (``jpserver_extensions``): a student does
  not see nbgrader's instructor tools (Formgrader, Create Assignment, Courses). The
  Assignment List needs an exchange the instructor set up; without one
  (``--exchange``, or ``NBGRADER_EXCHANGE`` when ``make env`` runs) it is hidden, since
  all it could show is "Error fetching courses!". The instructor gets everything back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

VIEWER = "Jupytext Notebook"
DEFAULT_VIEWERS = {"markdown": VIEWER, "myst": VIEWER}
DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
EXCHANGE_PLUGINS = ("@jupyter/nbgrader:assignment-list",)
# The server side of a hidden plugin is switched off too (its API is then not served).
SERVER_EXTENSION = {
    "@jupyter/nbgrader:formgrader": "nbgrader.server_extensions.formgrader",
    "@jupyter/nbgrader:course-list": "nbgrader.server_extensions.course_list",
    "@jupyter/nbgrader:assignment-list": "nbgrader.server_extensions.assignment_list",
}
SERVER_FILE = "zz-dlcourse.json"  # loaded after nbgrader.json, so it wins
ROLES = ("student", "instructor")


def config_dir(prefix: str | Path | None = None) -> Path:
    """``<prefix>/etc/jupyter``: the environment's own Jupyter configuration folder."""
    return Path(sys.prefix if prefix is None else prefix) / "etc" / "jupyter"


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8").strip()
    return json.loads(text) if text else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def hidden_plugins(role: str, exchange: str | None) -> tuple[str, ...]:
    """The JupyterLab plugins a ``role`` does not see."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}.")
    if role == "instructor":
        return ()
    return INSTRUCTOR_PLUGINS + (() if exchange else EXCHANGE_PLUGINS)


def configure(role: str, prefix: str | Path | None = None, exchange: str | None = None) -> Path:
    """Write the settings of ``role`` into ``<prefix>/etc/jupyter``; return that folder.
    Settings of other tools in the same files are kept."""
    hidden = hidden_plugins(role, exchange)
    root = config_dir(prefix)
    labconfig = root / "labconfig"

    overrides_path = labconfig / "default_setting_overrides.json"
    overrides = _read(overrides_path)
    viewers = overrides.setdefault(DOCMANAGER, {}).setdefault("defaultViewers", {})
    viewers.update(DEFAULT_VIEWERS)
    _write(overrides_path, overrides)

    page_path = labconfig / "page_config.json"
    page = _read(page_path)
    disabled = page.setdefault("disabledExtensions", {})
    for plugin in INSTRUCTOR_PLUGINS + EXCHANGE_PLUGINS:
        disabled.pop(plugin, None)
    disabled.update({plugin: True for plugin in hidden})
    _write(page_path, page)

    server_path = root / "jupyter_server_config.d" / SERVER_FILE
    server = {SERVER_EXTENSION[p]: False for p in hidden if p in SERVER_EXTENSION}
    if server:
        _write(server_path, {"ServerApp": {"jpserver_extensions": server}})
    elif server_path.exists():
        server_path.unlink()
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.jupyter_setup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--prefix", default=None, help="environment folder (default: sys.prefix)")
    parser.add_argument("--exchange", default=os.environ.get("NBGRADER_EXCHANGE") or None,
                        help="nbgrader exchange folder; without one the Assignment List is hidden")
    args = parser.parse_args(argv)
    root = configure(args.role, args.prefix, args.exchange)
    print(f"JupyterLab ({args.role}): .md chapters open as notebooks; settings in {root}")
    hidden = hidden_plugins(args.role, args.exchange)
    if hidden:
        print("  hidden from students: " + ", ".join(p.split(":")[1] for p in hidden))
    if args.role == "student" and not args.exchange:
        print("  the Assignment List is hidden: no nbgrader exchange is configured (submit "
              "your notebook as your instructor says, or rerun with NBGRADER_EXCHANGE=/path)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
