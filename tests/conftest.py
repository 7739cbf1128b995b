"""Shared fixtures: the real data sets, loaded once per test session; Hypothesis profiles."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from dlcourse import data

torch.set_num_threads(2)


def _register_hypothesis_profiles() -> None:
    """The profiles of pyproject.toml's [tool.dlcourse.hypothesis.*]; HYPOTHESIS_PROFILE
    picks one (default "ci")."""
    config = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    for name, options in config["tool"]["dlcourse"]["hypothesis"].items():
        options = {k: (None if v == "none" else v) for k, v in options.items()}
        settings.register_profile(name, **options)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()


@pytest.fixture(scope="session")
def mnist() -> data.Dataset:
    return _load(data.mnist)


@pytest.fixture(scope="session")
def cifar10() -> data.Dataset:
    return _load(data.cifar10)


def _load(load):
    try:
        return load(download=False)
    except data.DataError as error:
        pytest.fail(f"The tests need the real data sets; run `make data` first.\n{error}")
