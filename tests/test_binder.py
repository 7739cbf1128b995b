"""Binder's configuration (binder/): Python 3.11, CPU torch, the student's JupyterLab."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def test_python_311() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_are_the_courses_with_cpu_torch() -> None:
    lines = [ln.split("#")[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "-r ../requirements.txt" in lines
    assert not (ROOT / "postBuild").exists(), "repo2docker reads binder/ only"


def test_postbuild_installs_the_package_and_the_jupyterlab_settings(tmp_path: Path) -> None:
    """Run postBuild with a stand-in python that records what it is asked to do."""
    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    postbuild = BINDER / "postBuild"
    assert os.access(postbuild, os.X_OK)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    subprocess.run([str(postbuild)], cwd=ROOT, env=env, check=True)
    assert log.read_text().splitlines() == [
        "-m pip install --no-deps -e .", "-m dlcourse.jupyter_setup student"]
