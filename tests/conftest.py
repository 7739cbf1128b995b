"""Shared fixtures: the real data sets, loaded once per test session."""

from __future__ import annotations

import pytest
import torch

from dlcourse import data

torch.set_num_threads(2)


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
