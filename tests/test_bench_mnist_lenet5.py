"""The long-run results the LeNet-5 chapter shows must come from the script as it is now."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mnist_lenet5", ROOT / "bench" / "mnist_lenet5.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_file_matches_the_scripts_current_config() -> None:
    bench = _bench()
    if not bench.RESULTS.exists():
        pytest.fail(f"{bench.RESULTS} is missing: run `.venv/bin/python bench/mnist_lenet5.py`.")
    report = json.loads(bench.RESULTS.read_text())
    assert report["config_hash"] == bench.config_hash(), (
        "bench/mnist_lenet5.py's CONFIG changed since bench/results/mnist-lenet5.json was "
        "written: rerun `.venv/bin/python bench/mnist_lenet5.py` and commit the new results."
    )
    assert report["config"] == bench.CONFIG
    assert set(report["results"]) == set(bench.CONFIG["runs"])
    for name, result in report["results"].items():
        epochs = bench.CONFIG["runs"][name]["fit"]["epochs"]
        assert len(result["test_error_percent_per_epoch"]) == epochs
        assert result["test_error_percent"] == pytest.approx(100 * result["test_errors"] / result["test_images"], abs=0.01)


def test_config_hash_sees_every_change() -> None:
    bench = _bench()
    changed = json.loads(json.dumps(bench.CONFIG))
    changed["runs"]["lenet5"]["fit"]["lr"] *= 2
    assert bench.config_hash(changed) != bench.config_hash()
    assert bench.config_hash(json.loads(json.dumps(bench.CONFIG))) == bench.config_hash()


def test_smoke_run_writes_a_complete_report(tmp_path: Path) -> None:
    bench = _bench()
    out = tmp_path / bench.NAME
    threads = torch.get_num_threads()
    try:
        report = bench.main(["--quick", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)  # main() pins one thread; give the other tests theirs back
    assert json.loads(out.read_text()) == report
    assert report["config"]["data"]["limit"] == 256
    assert report["config_hash"] != bench.config_hash()  # a smoke run never passes for the real one
    assert set(report["results"]) == set(bench.CONFIG["runs"])
    for result in report["results"].values():
        assert len(result["test_error_percent_per_epoch"]) == 1
        assert 0 <= result["test_error_percent"] <= 100
    assert report["machine"]["torch_threads"] == 1
