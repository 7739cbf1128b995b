"""Training recipes for the study note's LeNet (62,006 parameters) on CIFAR-10.

The chapter book/cifar10.md trains two of them while the book builds; this script runs
the ablation (what each ingredient of the recipe adds) and the long recipe over several
seeds, which take too long for a build, and writes what the chapter shows:

    .venv/bin/python bench/cifar10_recipe.py ablation --out bench/results/cifar10-ablation.json

(about an hour of CPU time; ``--jobs 2`` runs two trainings at once, one thread each). The
JSON file holds the configurations below, their hash (``tests/test_bench_cifar10.py``
checks that the file matches this script), and for every run the test accuracy after
each epoch, the final accuracy with and without flip test-time augmentation, the wall
time and the load average while it ran. A run whose settings are already in the results
file (or in the partial file of an interrupted invocation) is not trained again, so
adding a row trains only that row; ``--fresh`` retrains everything (do that after a
change to ``dlcourse.training`` that changes the numbers).

    .venv/bin/python bench/cifar10_recipe.py probe --base recipe --set lr=0.2 --set epochs=10

runs one variant and appends it to bench/results/recipe-search.jsonl, the log of the
recipe search (summarised in bench/results/recipe-search.md by ``summary``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"

# Every setting that decides a run's numbers, as ``training.fit`` keywords plus the
# augmentation. Change one, rerun ``ablation``, commit the script and the JSON together.
# The study note does not say how it trained (its result line is the one a public script
# prints; see book/cifar10.md). PLAIN is a plain baseline, not a reconstruction of it.
PLAIN = {  # SGD with momentum, constant rate, no augmentation, no regularisation
    "epochs": 5, "batch_size": 128, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
    "weight_decay": 0.0, "schedule": "constant", "label_smoothing": 0.0,
    "augment": {"crop_padding": 0, "flip": False}, "bf16": False, "seed": 0,
}
RECIPE = {  # the chapter's recipe: about 2–4 minutes on a quiet 2-core laptop
    "epochs": 30, "batch_size": 128, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
    "weight_decay": 5e-4, "schedule": "onecycle", "label_smoothing": 0.1,
    "augment": {"crop_padding": 2, "flip": True}, "bf16": False, "seed": 0,
}
LONG = {**RECIPE, "epochs": 80}  # the same recipe, trained longer (under 10 minutes)
# The same recipe trained fast (the chapter's "Training faster"): 4× larger batches with a
# 4× higher peak learning rate, bfloat16 autocast and channels-last, fit's defaults for a
# convolutional network on a CPU with native bf16 (training.fast_settings).
FAST = {**RECIPE, "batch_size": 512, "lr": 0.2, "bf16": True, "channels_last": True}


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with some settings changed."""
    unknown = set(changes) - set(base)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; a recipe has {sorted(base)}")
    return {**base, **changes}


PLAIN_30 = variant(PLAIN, epochs=RECIPE["epochs"])
CONFIG: dict[str, Any] = {
    "model": "LeNet() (62,006 parameters)",
    "data": "CIFAR-10, 50,000 train / 10,000 test, normalised with the train mean/std",
    "threads": 1,
    # one ingredient at a time, added to the plain baseline at the chapter recipe's length
    # (the one-cycle schedule is one ingredient: its shape and its peak rate) ...
    "added": {
        "plain baseline": PLAIN_30,
        "+ one-cycle schedule (peak lr 0.05)": variant(PLAIN_30, schedule="onecycle", lr=0.05),
        "+ weight decay 5e-4": variant(PLAIN_30, schedule="onecycle", lr=0.05, weight_decay=5e-4),
        "+ horizontal flips": variant(RECIPE, label_smoothing=0.0, augment={"crop_padding": 0, "flip": True}),
        "+ 2-pixel crops": variant(RECIPE, label_smoothing=0.0),
        "+ label smoothing 0.1 (the recipe)": RECIPE,
    },
    # ... and taken away from (or changed in) the recipe one at a time
    "removed": {
        "the recipe": RECIPE,
        "no augmentation": variant(RECIPE, augment={"crop_padding": 0, "flip": False}),
        "flips only (no crops)": variant(RECIPE, augment={"crop_padding": 0, "flip": True}),
        "crops only (no flips)": variant(RECIPE, augment={"crop_padding": 2, "flip": False}),
        "4-pixel crops instead of 2": variant(RECIPE, augment={"crop_padding": 4, "flip": True}),
        "constant lr 0.01 instead of one-cycle": variant(RECIPE, schedule="constant", lr=0.01),
        "no weight decay": variant(RECIPE, weight_decay=0.0),
        "no label smoothing": variant(RECIPE, label_smoothing=0.0),
        "bf16 autocast": variant(RECIPE, bf16=True),
    },
    # the chapter's recipe with three seeds (seed 0 is "the recipe" above, trained once) ...
    "seeds": {f"recipe ({RECIPE['epochs']} epochs), seed {s}": variant(RECIPE, seed=s) for s in (0, 1, 2)},
    # ... and trained longer, also with three seeds
    "long": {f"long recipe ({LONG['epochs']} epochs), seed {s}": variant(LONG, seed=s) for s in (0, 1, 2)},
    # ... and trained fast, with three seeds
    "fast": {f"fast recipe (batch 512, bf16, {FAST['epochs']} epochs), seed {s}": variant(FAST, seed=s)
             for s in (0, 1, 2)},
}
GROUPS = ("added", "removed", "seeds", "long", "fast")


def config_hash(config: dict[str, Any] | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the configuration as canonical JSON."""
    text = json.dumps(CONFIG if config is None else config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train(spec: dict[str, Any], threads: int = 1, limit: int | None = None) -> dict[str, Any]:
    """Train a fresh LeNet as ``spec`` says; its accuracies, timings and the load meanwhile."""
    import torch

    torch.set_num_threads(threads)
    from dlcourse import data, training
    from dlcourse.models import LeNet

    cifar = data.cifar10()
    train_split, test = cifar.train, cifar.test
    if limit is not None:  # every k-th image: the files are sorted by class
        train_split, test = train_split[::len(train_split) // limit], test[::len(test) // limit]
    args = dict(spec)
    args.setdefault("channels_last", False)  # the runs before FAST: fit's layout then
    augment = training.Augment(**args.pop("augment"))
    training.set_seed(args["seed"])  # the same seed fixes the initial weights
    model = LeNet()
    load_before = os.getloadavg()[0]
    start, start_cpu = time.perf_counter(), time.process_time()
    history = training.fit(model, train_split, test, augment=augment, device="cpu", progress=False, **args)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    _, scores = training.predict(model, test)
    mirrored = data.Split(test.images.flip(3), test.labels, test.mean, test.std)
    _, scores_flipped = training.predict(model, mirrored)
    tta = (scores.softmax(1) + scores_flipped.softmax(1)).argmax(1)
    return {
        "test_acc": round(100 * history.final.test_acc, 2),
        "test_acc_flip_tta": round(100 * (tta == test.labels).float().mean().item(), 2),
        "best_epoch_test_acc": round(100 * max(history.column("test_acc")), 2),
        "train_acc": round(100 * history.final.train_acc, 2),
        "test_acc_per_epoch": [round(100 * e.test_acc, 2) for e in history.epochs],
        "train_acc_per_epoch": [round(100 * e.train_acc, 2) for e in history.epochs],
        "train_loss_per_epoch": [round(e.train_loss, 4) for e in history.epochs],
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),  # hardly depends on the load (one thread)
        "train_seconds_per_epoch": round(history.seconds / len(history), 2),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "threads": threads,
    }


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}


def _job(item: tuple[str, str, dict[str, Any], int, int | None]) -> tuple[str, str, dict[str, Any]]:
    group, name, spec, threads, limit = item
    result = train(spec, threads, limit)
    print(f"{group} / {name}: {result['test_acc']} % (flip TTA {result['test_acc_flip_tta']} %), "
          f"{result['wall_seconds']} s, load {result['load_average']}", flush=True)
    return group, name, result


def earlier_runs(out: Path, partial: Path, limit: int | None) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Runs trained before, keyed by their settings: from the results file ``out`` and
    from ``partial`` (an interrupted invocation's); and when those invocations started."""
    done: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    if out.exists():
        report = json.loads(out.read_text())
        if report.get("smoke_test_limit") == limit:
            for group, runs in report["results"].items():
                for name, result in runs.items():
                    done[json.dumps(report["config"][group][name], sort_keys=True)] = result
            started.update([report["started"], *report.get("resumed_from", [])])
            if report.get("trained_runs"):  # that invocation trained runs itself
                started.add(report["invocation_started"])
    if partial.exists():
        for line in partial.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("limit") == limit:
                done[entry["key"]] = entry["result"]
                started.add(entry["started"])
    return done, started


def ablation(out: Path, jobs: int, limit: int | None = None, only: str = "",
             fresh: bool = False, retrain: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the configurations of CONFIG not trained yet and write all results to ``out``;
    ``retrain`` names groups to train again although they have results (after a change to
    the code they measure), keeping the other groups' runs."""
    items = [(group, name, spec, CONFIG["threads"], limit)
             for group in GROUPS for name, spec in CONFIG[group].items()
             if only in group]
    # the recipe appears in two tables: train it once
    unique: dict[str, tuple[str, str, dict[str, Any], int, int | None]] = {}
    for item in items:
        unique.setdefault(json.dumps(item[2], sort_keys=True), item)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Each finished run is appended to a partial file at once, so an interrupted ablation
    # resumes where it stopped instead of starting again (the file is deleted at the end).
    partial = out.with_suffix(".partial.jsonl")
    done: dict[str, dict[str, Any]] = {}
    resumed: set[str] = set()  # when the invocations that trained the reused runs started
    if not fresh:
        done, resumed = earlier_runs(out, partial, limit)
        done = {k: v for k, v in done.items() if k in unique}
        for group in retrain:
            for spec in CONFIG[group].values():
                done.pop(json.dumps(spec, sort_keys=True), None)
    todo = sorted((k for k in unique if k not in done), key=lambda k: -unique[k][2]["epochs"])  # longest first
    out.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_job, unique[k]): k for k in todo}
        for future in as_completed(futures):
            key = futures[future]
            done[key] = future.result()[2]
            with open(partial, "a") as f:
                f.write(json.dumps({"key": key, "limit": limit, "started": started, "result": done[key]}) + "\n")
    results: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    for group, name, spec, _, _ in items:
        results[group][name] = done[json.dumps(spec, sort_keys=True)]

    def mean(group: str) -> float | None:
        accs = [r["test_acc"] for r in results[group].values()]
        return round(sum(accs) / len(accs), 2) if accs else None

    report = {
        "config_hash": config_hash(),
        "config": CONFIG,
        "command": "python bench/cifar10_recipe.py ablation --out bench/results/cifar10-ablation.json",
        "started": min([started, *resumed]),
        # runs taken from an earlier invocation (results or partial file): when it started
        "resumed_from": sorted(resumed),
        "invocation_started": started,  # this invocation, which trained the other runs
        "trained_runs": len(todo),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "smoke_test_limit": limit,
        "results": results,
        "recipe_mean_test_acc": mean("seeds"),
        "long_recipe_mean_test_acc": mean("long"),
        "fast_recipe_mean_test_acc": mean("fast"),
    }
    out.write_text(json.dumps(report, indent=1) + "\n")
    partial.unlink(missing_ok=True)
    return report


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def probe(base: str, sets: list[str], note: str, threads: int, log: Path) -> dict[str, Any]:
    """Train one variant of a named recipe and append it to the search log."""
    bases = {"plain": PLAIN, "recipe": RECIPE, "long": LONG}
    changes = {}
    for item in sets:
        key, _, value = item.partition("=")
        changes[key] = _parse_value(value)
    spec = variant(bases[base], **changes)
    result = train(spec, threads)
    entry = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "base": base,
             "changes": changes, "spec": spec, "note": note, **result}
    with open(log, "a") as f:
        f.write(json.dumps(entry) + "\n")
    print(json.dumps({k: v for k, v in entry.items() if k not in ("spec", "train_loss_per_epoch")}))
    return entry


def summary(log: Path, md: Path) -> None:
    """Rewrite the table part of the recipe-search notes from the log."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    lines = ["| # | when (UTC) | base | changes | epochs | test % | flip TTA % | best epoch % | "
             "train % | wall s | s/epoch | load 1 min (start, end) | threads | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in r["changes"].items()) or "—"
        lines.append(f"| {i} | {r['when'][:16]} | {r['base']} | {changes} | {r['spec']['epochs']} | "
                     f"{r['test_acc']} | {r['test_acc_flip_tta']} | {r['best_epoch_test_acc']} | "
                     f"{r['train_acc']} | {r['wall_seconds']} | {r['train_seconds_per_epoch']} | "
                     f"{r['load_average'][0]}, {r['load_average'][1]} | {r['threads']} | {r['note']} |")
    table = "\n".join(lines)
    marker = "<!-- runs table: generated by `python bench/cifar10_recipe.py summary` -->"
    text = md.read_text() if md.exists() else f"# Recipe search\n\n{marker}\n"
    head = text.split(marker)[0]
    tail = text.split(marker + "\n" + "<!-- end runs table -->")[-1] if "<!-- end runs table -->" in text else ""
    md.write_text(f"{head}{marker}\n{table}\n<!-- end runs table -->{tail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ablation", help="run every configuration and write the JSON the chapter reads")
    a.add_argument("--out", type=Path, default=RESULTS / "cifar10-ablation.json")
    a.add_argument("--jobs", type=int, default=1, help="trainings at once (one thread each)")
    a.add_argument("--limit", type=int, default=None, help="smoke test: use only this many images")
    a.add_argument("--only", default="", help="only the groups whose name contains this")
    a.add_argument("--fresh", action="store_true", help="retrain every run, reusing none")
    a.add_argument("--retrain", action="append", default=[], choices=GROUPS,
                   help="retrain this group's runs, reusing the others' (repeatable)")
    p = sub.add_parser("probe", help="train one variant and log it")
    p.add_argument("--base", choices=("plain", "recipe", "long"), default="recipe")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="JSON value")
    p.add_argument("--note", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log", type=Path, default=RESULTS / "recipe-search.jsonl")
    s = sub.add_parser("summary", help="rewrite the runs table of recipe-search.md from the log")
    s.add_argument("--log", type=Path, default=RESULTS / "recipe-search.jsonl")
    s.add_argument("--md", type=Path, default=RESULTS / "recipe-search.md")
    args = parser.parse_args(argv)
    if args.command == "ablation":
        report = ablation(args.out, args.jobs, args.limit, args.only, args.fresh, tuple(args.retrain))
        print(f"wrote {args.out} (recipe mean: {report['recipe_mean_test_acc']} %, "
              f"long recipe mean: {report['long_recipe_mean_test_acc']} %)")
    elif args.command == "probe":
        probe(args.base, args.set, args.note, args.threads, args.log)
    else:
        summary(args.log, args.md)


if __name__ == "__main__":
    main()
