"""The ablation and seed results the CIFAR-10 chapter shows must come from the script as it is now."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "cifar10-ablation.json"


def _bench() -> ModuleType:
    if "cifar10_recipe" in sys.modules:
        return sys.modules["cifar10_recipe"]
    spec = importlib.util.spec_from_file_location("cifar10_recipe", ROOT / "bench" / "cifar10_recipe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cifar10_recipe"] = module  # what runs while it executes looks it up by name
    spec.loader.exec_module(module)
    return module


def test_ablation_file_matches_the_scripts_current_config() -> None:
    bench = _bench()
    if not RESULTS.exists():
        pytest.fail(f"{RESULTS} is missing: run `.venv/bin/python bench/cifar10_recipe.py ablation "
                    "--jobs 2` (about an hour of CPU time).")
    report = json.loads(RESULTS.read_text())
    assert report["config_hash"] == bench.config_hash(), (
        "bench/cifar10_recipe.py's CONFIG changed since bench/results/cifar10-ablation.json was "
        "written: rerun `.venv/bin/python bench/cifar10_recipe.py ablation --jobs 2` and commit both."
    )
    assert report["config"] == json.loads(json.dumps(bench.CONFIG))
    assert report["smoke_test_limit"] is None, "the results file comes from a smoke run (--limit)"
    for group in bench.GROUPS:
        assert set(report["results"][group]) == set(bench.CONFIG[group])
        for name, result in report["results"][group].items():
            epochs = bench.CONFIG[group][name]["epochs"]
            assert len(result["test_acc_per_epoch"]) == epochs
            assert result["test_acc"] == result["test_acc_per_epoch"][-1]
    for group, key in (("seeds", "recipe_mean_test_acc"), ("long", "long_recipe_mean_test_acc")):
        accs = [r["test_acc"] for r in report["results"][group].values()]
        assert len(accs) == 3 and report[key] == pytest.approx(sum(accs) / len(accs), abs=0.01)
    # seed 0 of the seeds table is the recipe row of the ablation, trained once
    assert next(iter(report["results"]["seeds"].values())) == report["results"]["removed"]["the recipe"]


def test_the_chapters_recipe_is_the_benchs() -> None:
    """book/cifar10.md trains RECIPE; the ablation's 'the recipe' row must be that run's settings."""
    bench = _bench()
    assert bench.CONFIG["removed"]["the recipe"] == bench.RECIPE
    chapter = (ROOT / "book" / "cifar10.md").read_text()
    for key, value in bench.RECIPE.items():
        if key in ("augment", "seed", "bf16"):
            continue
        spellings = {f"{key}={value!r}", f'{key}="{value}"'}
        assert any(x in chapter for x in spellings), f"book/cifar10.md does not train with {key}={value!r}"
    padding, flip = bench.RECIPE["augment"]["crop_padding"], bench.RECIPE["augment"]["flip"]
    assert f"Augment(crop_padding={padding}, flip={flip})" in chapter


def test_config_hash_sees_every_change() -> None:
    bench = _bench()
    changed = json.loads(json.dumps(bench.CONFIG))
    changed["removed"]["the recipe"]["lr"] *= 2
    assert bench.config_hash(changed) != bench.config_hash()
    assert bench.config_hash(json.loads(json.dumps(bench.CONFIG))) == bench.config_hash()


def test_variant_rejects_unknown_settings() -> None:
    bench = _bench()
    with pytest.raises(ValueError, match="unknown settings"):
        bench.variant(bench.RECIPE, learning_rate=0.1)


def test_smoke_run_reports_every_field() -> None:
    bench = _bench()
    threads = torch.get_num_threads()
    try:
        result = bench.train(bench.variant(bench.RECIPE, epochs=2), threads=1, limit=500)
    finally:
        torch.set_num_threads(threads)  # train() pins its thread count; give the other tests theirs back
    assert len(result["test_acc_per_epoch"]) == len(result["train_acc_per_epoch"]) == 2
    assert 0 <= result["test_acc"] <= 100 and 0 <= result["test_acc_flip_tta"] <= 100
    assert result["wall_seconds"] > 0 and result["threads"] == 1
