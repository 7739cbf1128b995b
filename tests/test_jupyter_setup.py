"""The JupyterLab settings make env and Binder write (dlcourse/jupyter_setup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlcourse import jupyter_setup as js


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_student_settings(tmp_path: Path) -> None:
    root = js.configure("student", tmp_path)
    overrides = _json(root / "labconfig" / "default_setting_overrides.json")
    assert overrides[js.DOCMANAGER]["defaultViewers"]["markdown"] == "Jupytext Notebook"
    disabled = _json(root / "labconfig" / "page_config.json")["disabledExtensions"]
    assert {p for p, off in disabled.items() if off} == {
        "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
        "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list"}
    server = _json(root / "jupyter_server_config.d" / js.SERVER_FILE)
    assert server["ServerApp"]["jpserver_extensions"] == {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.assignment_list": False}


def test_an_exchange_keeps_the_assignment_list(tmp_path: Path) -> None:
    root = js.configure("student", tmp_path, exchange="/srv/exchange")
    disabled = _json(root / "labconfig" / "page_config.json")["disabledExtensions"]
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert "@jupyter/nbgrader:formgrader" in disabled


def test_instructor_gets_everything_back_and_other_settings_stay(tmp_path: Path) -> None:
    root = js.config_dir(tmp_path)
    (root / "labconfig").mkdir(parents=True)
    (root / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"other:plugin": True}, "x": 1}))
    js.configure("student", tmp_path)
    js.configure("instructor", tmp_path)
    page = _json(root / "labconfig" / "page_config.json")
    assert page == {"disabledExtensions": {"other:plugin": True}, "x": 1}
    assert not (root / "jupyter_server_config.d" / js.SERVER_FILE).exists()
    overrides = _json(root / "labconfig" / "default_setting_overrides.json")
    assert overrides[js.DOCMANAGER]["defaultViewers"]["myst"] == "Jupytext Notebook"


def test_unknown_role() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        js.hidden_plugins("teacher", None)


def test_jupyter_reads_the_settings(tmp_path: Path) -> None:
    """Jupyter's own config loading sees the disabled server extensions and lab settings."""
    root = js.configure("student", tmp_path)
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(root)}
    code = (
        "import json, tempfile\n"
        "from jupyter_core.paths import jupyter_config_path\n"
        "from jupyterlab_server.settings_utils import _get_overrides\n"
        "from jupyter_server.config_manager import BaseJSONConfigManager\n"
        "merged = {}  # lowest priority first, as the server merges them\n"
        "for d in reversed(jupyter_config_path()):\n"
        "    merged.update(BaseJSONConfigManager(config_dir=d).get('jupyter_server_config')"
        ".get('ServerApp', {}).get('jpserver_extensions', {}))\n"
        "overrides, _ = _get_overrides(tempfile.mkdtemp())\n"
        "print(json.dumps({'exts': merged, 'overrides': overrides}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["exts"]["nbgrader.server_extensions.formgrader"] is False
    assert seen["overrides"][js.DOCMANAGER]["defaultViewers"]["markdown"] == "Jupytext Notebook"
