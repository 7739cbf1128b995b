"""Long MNIST runs of LeNet-5 (the faithful 1998 network) and LeNet (its modern reading).

The chapter book/lenet5.md trains both networks for a few epochs while the book builds;
this script trains them for 20 epochs, and the chapter shows its results as the "long
run". LeNet-5 runs twice: with random shifts of up to 2 pixels (compared with the paper's
0.8 % on distorted training digits) and on the digits as they are (compared with its
0.95 % without distortions). Run it from the repository root (one CPU thread; 15–30
minutes in all):

    .venv/bin/python bench/mnist_lenet5.py

It writes bench/results/mnist-lenet5.json: the configuration below, its hash (a test
checks that the file matches this script), and for each network the test error after
every epoch, the wall time, and the machine and library versions it ran on.
``--quick`` is a smoke test (256 images, one epoch) that writes to the git-ignored
bench/scratch/ unless ``--out DIR`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from dlcourse import data, models, training  # noqa: E402

NAME = "mnist-lenet5.json"
RESULTS = ROOT / "bench" / "results" / NAME
SCRATCH = ROOT / "bench" / "scratch"  # git-ignored: where --quick runs write by default

# Everything that decides the numbers. Change it, rerun the script, commit both.
CONFIG: dict[str, Any] = {
    "data": {"dataset": "MNIST", "pad_to": 32, "normalise": "train mean/std"},
    "threads": 1,
    "runs": {
        "lenet5": {
            "model": "LeNet5(head='rbf')",
            "loss": "rbf_loss (eq. 9, j = 0.1)",
            "fit": {"epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 3e-3,
                    "weight_decay": 0.0, "schedule": "onecycle", "seed": 0},
            "augment": {"crop_padding": 2, "flip": False},
        },
        "lenet5_plain": {  # the paper's 0.95 % run: the training digits as they are
            "model": "LeNet5(head='rbf')",
            "loss": "rbf_loss (eq. 9, j = 0.1)",
            "fit": {"epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 3e-3,
                    "weight_decay": 0.0, "schedule": "onecycle", "seed": 0},
            "augment": {"crop_padding": 0, "flip": False},
        },
        "lenet": {
            "model": "LeNet(in_channels=1)",
            "loss": "cross-entropy",
            "fit": {"epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 3e-3,
                    "weight_decay": 0.0, "schedule": "onecycle", "seed": 0},
            "augment": {"crop_padding": 2, "flip": False},
        },
    },
}


def config_hash(config: dict[str, Any] | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the configuration as canonical JSON."""
    text = json.dumps(CONFIG if config is None else config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# The networks the runs name in their "model" field.
MODELS = {
    "LeNet5(head='rbf')": lambda: models.LeNet5(head="rbf"),
    "LeNet(in_channels=1)": lambda: models.LeNet(in_channels=1),
}


def build(model: str) -> torch.nn.Module:
    """The network a run's ``model`` field names, freshly initialised."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; bench/mnist_lenet5.py knows {sorted(MODELS)}")
    return MODELS[model]()


def padded_mnist(limit: int | None = None) -> tuple[data.Split, data.Split]:
    """MNIST zero-padded to 32×32 (train, test); ``limit`` keeps the first images (smoke tests)."""
    mnist = data.mnist()
    splits = []
    for split in (mnist.train, mnist.test):
        n = len(split) if limit is None else min(limit, len(split))
        splits.append(data.Split(data.pad(split.images[:n]), split.labels[:n], split.mean, split.std))
    return splits[0], splits[1]


def run(spec: dict[str, Any], train: data.Split, test: data.Split) -> dict[str, Any]:
    """Train one network as ``spec`` says; return its per-epoch test errors and timings."""
    fit_args = dict(spec["fit"])
    # float32, usual layout: how the recorded runs trained (before fit's fast defaults)
    fit_args.setdefault("bf16", False)
    fit_args.setdefault("channels_last", False)
    training.set_seed(fit_args["seed"])  # the same seed fixes the initial weights
    model = build(spec["model"])
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    history = training.fit(model, train, test, augment=training.Augment(**spec["augment"]),
                           device="cpu", progress=False, **fit_args)
    wall = time.perf_counter() - start
    predicted, _ = training.predict(model, test)
    errors = int((predicted != test.labels).sum())
    return {
        "test_error_percent": round(100 * errors / len(test), 2),
        "test_errors": errors,
        "test_images": len(test),
        "parameters": models.count_parameters(model),
        "test_error_percent_per_epoch": [round(100 * (1 - e.test_acc), 2) for e in history.epochs],
        "train_loss_per_epoch": [round(e.train_loss, 5) for e in history.epochs],
        "wall_seconds": round(wall, 1),
        "seconds_per_epoch": round(history.seconds / len(history), 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def code_version() -> dict[str, Any]:
    """The repository commit the run started from, and whether the working tree differed."""
    import subprocess

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return out.stdout.rstrip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "modified_files": git("status", "--porcelain", "--untracked-files=no").splitlines()}


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every configured network and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder for {NAME} (default bench/results, bench/scratch with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the first 256 images, one epoch")
    parser.add_argument("--only", choices=sorted(CONFIG["runs"]), action="append",
                        help="run only these networks (repeatable)")
    parser.add_argument("--limit", type=int, default=None,
                        help="smoke test: use only the first LIMIT train and test images")
    parser.add_argument("--epochs", type=int, default=None, help="smoke test: override every run's epochs")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = 256 if args.limit is None else args.limit
        args.epochs = 1 if args.epochs is None else args.epochs
    out = (args.out or (SCRATCH if args.quick else RESULTS.parent)) / NAME

    config = json.loads(json.dumps(CONFIG))  # a deep copy that records any smoke-test overrides
    if args.limit is not None:
        config["data"]["limit"] = args.limit
    for name, spec in config["runs"].items():
        if args.epochs is not None:
            spec["fit"]["epochs"] = args.epochs
    names = args.only or list(config["runs"])

    torch.set_num_threads(config["threads"])
    train, test = padded_mnist(args.limit)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    code = code_version()  # at the start: files edited during a long run did not run
    results = {}
    for name in names:
        print(f"training {name} ...", flush=True)
        results[name] = run(config["runs"][name], train, test)
        print(f"  {name}: test error {results[name]['test_error_percent']} % "
              f"in {results[name]['wall_seconds']} s", flush=True)
    report = {
        "command": " ".join([".venv/bin/python bench/mnist_lenet5.py", *argv]),
        "config": config,
        "config_hash": config_hash(config),
        "started": started,
        "machine": machine(),
        "code": code,
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
