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
    for group, key in (("seeds", "recipe_mean_test_acc"), ("long", "long_recipe_mean_test_acc"),
                       ("fast", "fast_recipe_mean_test_acc")):
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


def ingredients(a: dict, b: dict, split_augment: bool) -> set[str]:
    """The ingredients in which two runs' settings differ. The learning-rate schedule's
    shape and its peak rate are one ingredient; the augmentation is one, or (with
    ``split_augment``) its crops and its flips are two."""
    changed = set()
    for key in a.keys() | b.keys():
        if a.get(key) == b.get(key):
            continue
        if key == "augment" and split_augment:
            changed |= {f"augment.{k}" for k in a[key].keys() | b[key].keys() if a[key].get(k) != b[key].get(k)}
        else:
            changed.add("schedule" if key == "lr" else key)
    return changed


def test_each_row_of_the_additive_ablation_adds_one_ingredient() -> None:
    bench = _bench()
    rows = list(bench.CONFIG["added"].values())
    for (name, before), after in zip(bench.CONFIG["added"].items(), rows[1:]):
        changed = ingredients(before, after, split_augment=True)
        assert len(changed) == 1, f"the row after {name!r} changes {sorted(changed)}"
    assert rows[-1] == bench.RECIPE


def test_each_row_of_the_removal_ablation_changes_one_ingredient_of_the_recipe() -> None:
    bench = _bench()
    for name, spec in bench.CONFIG["removed"].items():
        changed = ingredients(bench.RECIPE, spec, split_augment=False)
        assert len(changed) == (0 if name == "the recipe" else 1), f"{name!r} changes {sorted(changed)}"


def test_the_ingredient_check_can_fail() -> None:
    bench = _bench()
    both = bench.variant(bench.RECIPE, augment={"crop_padding": 0, "flip": False}, label_smoothing=0.0)
    assert ingredients(bench.RECIPE, both, split_augment=True) == {
        "augment.crop_padding", "augment.flip", "label_smoothing"}


def test_an_ablation_reuses_runs_already_in_the_results_file(tmp_path, monkeypatch) -> None:
    """Adding a row must train only that row: runs with the same settings are reused."""
    bench = _bench()
    out = tmp_path / "ablation.json"
    limit = 100
    specs = list(bench.CONFIG["long"].values())
    # the same settings under other names (rows can be renamed without retraining)
    earlier = {"smoke_test_limit": limit, "started": "2026-01-01T00:00:00+00:00", "resumed_from": [],
               "config": {"long": {f"old {i}": spec for i, spec in enumerate(specs)}},
               "results": {"long": {f"old {i}": {"test_acc": 50.0 + i} for i in range(len(specs))}}}
    out.write_text(json.dumps(earlier))

    def no_training(*args, **kwargs):
        raise AssertionError("a run that was already in the results file was trained again")

    monkeypatch.setattr(bench, "train", no_training)
    report = bench.ablation(out, jobs=1, limit=limit, only="long")
    assert [r["test_acc"] for r in report["results"]["long"].values()] == [50.0 + i for i in range(len(specs))]
    assert list(report["results"]["long"]) == list(bench.CONFIG["long"])
    assert report["started"] == "2026-01-01T00:00:00+00:00"
    assert report["resumed_from"] == ["2026-01-01T00:00:00+00:00"]
    assert report["trained_runs"] == 0
    # an invocation that trained runs itself is remembered when its results are reused
    out.write_text(json.dumps({**report, "trained_runs": 1, "invocation_started": "2026-02-02T00:00:00+00:00"}))
    _, started = bench.earlier_runs(out, tmp_path / "none.jsonl", limit=limit)
    assert "2026-02-02T00:00:00+00:00" in started
    # a smoke run's results are never reused for a full run
    done, _ = bench.earlier_runs(out, tmp_path / "none.jsonl", limit=None)
    assert done == {}


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
