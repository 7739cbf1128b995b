"""Colab/Binder install cell and badge, driven by _config.yml (dlcourse/launch.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from dlcourse import launch
from dlcourse.launch import Repository

ROOT = Path(__file__).resolve().parents[1]


def test_one_setting_drives_everything() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = launch.repository()
    assert repo == Repository(config["repository"]["url"], config["repository"]["branch"])
    assert repo.pip_source == f"git+{repo.url.rstrip('/')}@{repo.branch}"
    url = repo.colab_url("exercises/mlp/mlp.ipynb")
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith(f"/blob/{repo.branch}/exercises/mlp/mlp.ipynb")


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="url must be"):
        Repository("github.com/x/y")
    with pytest.raises(ValueError, match="branch must be"):
        Repository("https://github.com/x/y", " ")
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="repository.url"):
        launch.repository(tmp_path / "_config.yml")


def test_the_cells_are_added_once(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Exercise")])
    for _ in range(2):
        launch.add_install_cell(nb, "git+https://github.com/o/r@main", "https://colab/x.ipynb")
    assert [c.metadata.get("tags") for c in nb.cells] == [[launch.BADGE_TAG], [launch.SETUP_TAG], None]
    assert "colab-badge.svg" in nb.cells[0].source and "(https://colab/x.ipynb)" in nb.cells[0].source
    nbformat.validate(nb)


def test_nbgrader_releases_every_notebook_with_them() -> None:
    """nbgrader_config.py runs the step in generate_assignment, after nbgrader's own."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    steps = config.GenerateAssignment.preprocessors
    assert steps[-1].__name__ == "AddInstallCell" and len(steps) > 1
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb, _ = steps[-1]()(nb, {"nbgrader": {"assignment": "mlp", "notebook": "mlp"}})  # as nbconvert calls it
    repo = launch.repository()
    assert repo.colab_url("exercises/mlp/mlp.ipynb") in nb.cells[0].source
    assert repr(repo.pip_source) in nb.cells[1].source


# ---- the install cell, run for real in a clean virtual environment ----------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("source")
    shutil.copy2(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "dlcourse", source / "dlcourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(source)], check=True, capture_output=True)
    (built,) = out.glob("dlcourse-*.whl")
    return built


def _clean_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return path / "bin" / "python"


def _clean_env() -> dict[str, str]:
    # Offline: the wheel alone (its dependencies are the test's concern, not the cell's);
    # no PYTHONPATH that would show this checkout's dlcourse to the clean venv.
    env = {**os.environ, "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1"}
    env.pop("PYTHONPATH", None)
    return env


def _run_cell(python: Path, source: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", launch.install_cell_source(source)],
                          capture_output=True, text=True, env=_clean_env(), cwd=python.parent,
                          timeout=300)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_install_cell_installs_the_package_in_a_clean_venv(tmp_path: Path, wheel: Path) -> None:
    python = _clean_venv(tmp_path / "venv")
    has = [str(python), "-c", "import importlib.util as u; print(u.find_spec('dlcourse') is not None)"]
    assert subprocess.run(has, capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env()).stdout.strip() == "False"
    result = _run_cell(python, str(wheel))
    assert result.returncode == 0, result.stderr
    assert subprocess.run(has, capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env()).stdout.strip() == "True"
    # where it is installed, the cell does nothing (not even with a source that cannot work)
    assert _run_cell(python, str(tmp_path / "missing.whl")).returncode == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_install_cell_fails_with_a_clear_message(tmp_path: Path) -> None:
    python = _clean_venv(tmp_path / "venv")
    result = _run_cell(python, str(tmp_path / "no-such-dlcourse.whl"))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()
    assert any(line.startswith("RuntimeError: Could not install the course's helper package")
               for line in last)
    assert "pip install " in result.stderr and "no-such-dlcourse.whl" in result.stderr
