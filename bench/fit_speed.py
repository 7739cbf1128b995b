"""How fast is ``training.fit`` on this machine, and where does the time go?

For the study note's LeNet on CIFAR-10 it times one epoch (scaled from ``--images``
training images) of:

* ``floor``: the model's own work — forward, backward, optimiser and schedule step —
  on batches that were cut and normalised beforehand. No training loop can beat it.
* ``fit``: ``training.fit`` without augmentation and with crop + flip augmentation.
* ``fit@HEAD`` (with ``--baseline``): the same, with ``dlcourse/training.py`` as last
  committed, for a before/after comparison.

each with fp32 or bf16 and NCHW or channels-last. Variants run interleaved, ``--reps``
times, and the fastest run of each counts: on a shared machine the other programs only
ever add time. The CPU time the process used is shown too: with one thread
(``--threads 1``) it hardly depends on the neighbours, so it compares variants fairly
even on a busy machine. The load average is printed with every result; numbers taken at a load
above the core count say more about the neighbours than about the code.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python bench/fit_speed.py --baseline
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):  # dlcourse, and throughput.py's floor step
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from dlcourse import data, training  # noqa: E402
from dlcourse.models import LeNet  # noqa: E402
from throughput import floor_step  # noqa: E402


def head_training_module() -> Any:
    """``dlcourse/training.py`` as committed at git HEAD, imported as a separate module."""
    source = subprocess.run(["git", "show", "HEAD:dlcourse/training.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "training_head.py"
    path.write_text(source.replace("from .data import", "from dlcourse.data import")
                    .replace("from .models import", "from dlcourse.models import")
                    .replace("from .plots import", "from dlcourse.plots import"))
    spec = importlib.util.spec_from_file_location("training_head", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["training_head"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def floor(train: data.Split, batch_size: int, channels_last: bool, bf16: bool) -> Callable[[], None]:
    """One pass of forward + backward + step over pre-cut, pre-normalised batches."""
    torch.manual_seed(0)
    model = LeNet()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    steps = -(-len(train) // batch_size)
    step = floor_step(model, bf16, 1000 * steps)
    xs = [train.normalize(train.images[i:i + batch_size]) for i in range(0, len(train), batch_size)]
    ys = [train.labels[i:i + batch_size] for i in range(0, len(train), batch_size)]

    def run() -> None:
        for x, y in zip(xs, ys):
            step(x, y)

    return run


def fit_run(module: Any, train: data.Split, batch_size: int, augment: bool, **options: Any) -> Callable[[], None]:
    """One epoch of ``module.fit`` (no test set, no progress bar)."""
    aug = module.Augment() if augment else module.NO_AUGMENT

    def run() -> None:
        torch.manual_seed(0)
        module.fit(LeNet(), train, None, epochs=1, batch_size=batch_size, augment=aug,
                   device="cpu", progress=False, **options)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=12_800, help="training images per timed run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--baseline", action="store_true", help="also time fit as committed at HEAD")
    parser.add_argument("--only", default="", help="comma-separated name filter")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    train = data.cifar10().train[: args.images]
    bs = args.batch_size
    variants: dict[str, Callable[[], None]] = {}
    for bf16 in (False, True):
        for cl in (False, True):
            tag = f"{'bf16' if bf16 else 'fp32'} {'channels-last' if cl else 'NCHW'}"
            variants[f"floor {tag}"] = floor(train, bs, cl, bf16)
            variants[f"fit no-aug {tag}"] = fit_run(training, train, bs, False, channels_last=cl, bf16=bf16)
            variants[f"fit crop+flip {tag}"] = fit_run(training, train, bs, True, channels_last=cl, bf16=bf16)
    if args.baseline:
        head = head_training_module()
        variants["fit@HEAD no-aug fp32 NCHW"] = fit_run(head, train, bs, False)
        variants["fit@HEAD crop+flip fp32 NCHW"] = fit_run(head, train, bs, True)
    if args.only:
        keep = args.only.split(",")
        variants = {k: v for k, v in variants.items() if any(s in k for s in keep)}
    scale = 50_000 / len(train)
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    loads = [os.getloadavg()[0]]
    for run in variants.values():  # warm-up: oneDNN builds its kernels on first use
        run()
    for _ in range(args.reps):
        for name, run in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - start) * scale)
            cpu[name].append((time.process_time() - start_cpu) * scale)
        loads.append(os.getloadavg()[0])
    env = {"threads": torch.get_num_threads(), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
           "batch_size": bs, "images": len(train), "cpus": os.cpu_count(), "torch": torch.__version__,
           "load_1min": [round(x, 2) for x in loads]}
    print(json.dumps(env))
    print(f"{'variant':34s} {'best s/epoch':>12s} {'median':>8s} {'best CPU s':>10s}")
    for name, ts in times.items():
        ts = sorted(ts)
        print(f"{name:34s} {ts[0]:12.2f} {ts[len(ts) // 2]:8.2f} {min(cpu[name]):10.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"env": env, "seconds_per_epoch": times, "cpu_seconds_per_epoch": cpu}, indent=1) + "\n")


if __name__ == "__main__":
    main()
