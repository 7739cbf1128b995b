"""Peak memory of a CIFAR-10 training run with the course's ``fit``.

    .venv/bin/python bench/memory.py              # one epoch, with and without the data cache
    .venv/bin/python bench/memory.py --quick      # smoke test: 5 training steps, cached data only

A child process does what a chapter does — ``import torch``, ``dlcourse.data.cifar10()``
(the whole data set preloaded as uint8 tensors), ``fit`` LeNet with crop + flip
augmentation, evaluating on the test set after each epoch — and the parent reads the
child's peak resident set size: the kernel's high-water mark of the child's memory
(``VmHWM`` in ``/proc/<pid>/status``, what ``ru_maxrss`` reports, but without the part
``ru_maxrss`` inherits across ``exec`` from the parent that spawned the child). The
parent also samples the child's RSS with psutil every 50 ms as a cross-check, and the
child reports its RSS after each phase.

Two rows: **cached**, the usual case (``make data`` wrote ``data/cache/cifar10-v2.pt``),
and **first load**, with an empty cache, so ``cifar10()`` decodes every image from the
data directory and writes the cache first (what ``make data`` does once). Target: at most
2 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import benchenv  # noqa: E402

TARGET_GIB = 2.0
MIB = 2**20


def _status(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: peak) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


def _rss_now() -> int:
    return _status("VmRSS")


def _peak_now() -> int:
    """The peak RSS of this process since its exec. Not ``ru_maxrss``: Linux carries the
    spawning parent's high-water mark over into the child's (``setmax_mm_hiwater_rss``
    at exec), so a child of a big process (pytest with CIFAR-10 loaded) would report the
    parent's size. ``VmHWM`` belongs to the child's own address space."""
    return _status("VmHWM")


def child(spec: dict[str, Any]) -> None:
    """The measured run: one JSON line per phase on stdout."""

    def phase(name: str) -> None:
        print(json.dumps({"phase": name, "rss": _rss_now(), "peak": _peak_now(), "file": _status("RssFile"),
                          "t": time.perf_counter()}), flush=True)

    phase("python started")
    import torch

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    from dlcourse import data, training
    from dlcourse.models import LeNet

    phase("torch and dlcourse imported")
    with tempfile.TemporaryDirectory(prefix="dlcourse-memory-") as tmp:
        root = empty_cache_root(data.data_dir(), Path(tmp)) if spec["empty_cache"] else data.data_dir()
        cifar = data.cifar10(root, download=False)
        phase("CIFAR-10 loaded")
    train = cifar.train if spec["steps"] is None else cifar.train[: spec["steps"] * spec["batch_size"]]
    training.set_seed(0)
    history = training.fit(LeNet(), train, cifar.test, epochs=spec["epochs"], batch_size=spec["batch_size"],
                           augment=training.Augment(), device="cpu", progress=False)
    phase("trained")
    print(json.dumps({"test_acc": history.final.test_acc, "train_images": len(train),
                      "data": str(data.data_dir())}), flush=True)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``child(spec)`` in a fresh interpreter; its phases, peak RSS, wall time and load."""
    load_before = benchenv.loadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    sampled = [0]

    def sample() -> None:  # psutil's view, every 50 ms, as a cross-check of the kernel's peak
        try:
            import psutil

            p = psutil.Process(proc.pid)
            while proc.returncode is None:
                sampled[0] = max(sampled[0], p.memory_info().rss)
                time.sleep(0.05)
        except Exception:  # the child exited (or psutil is missing): stop sampling
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    lines = [json.loads(line) for line in proc.stdout if line.startswith("{")]
    proc.wait()
    sampler.join(timeout=1)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the measured child failed (exit status {proc.returncode}); its spec: {spec}")
    phases = [line for line in lines if "phase" in line]
    outcome = next(line for line in lines if "test_acc" in line)
    return {
        "peak_rss_bytes": phases[-1]["peak"],
        "sampled_peak_rss_bytes": sampled[0] or None,
        "phases": {p["phase"]: {"rss_bytes": p["rss"], "peak_bytes": p["peak"], "file_backed_rss_bytes": p["file"]}
                   for p in phases},
        "seconds": wall,
        "train_images": outcome["train_images"],
        "data": outcome["data"],
        "test_acc": outcome["test_acc"],
        "load_before": load_before,
        "load_after": benchenv.loadavg()[0],
    }


def empty_cache_root(source: Path, tmp: Path) -> Path:
    """A data directory that links to ``source``'s data sets but has no cache/ folder."""
    root = tmp / "data"
    root.mkdir()
    for entry in source.iterdir():
        if entry.name != "cache":
            (root / entry.name).symlink_to(entry.resolve())
    return root


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 training steps, cached data only")
    parser.add_argument("--epochs", type=int, default=1, help="epochs to train (default 1)")
    parser.add_argument("--steps", type=int, default=None, help="train on only steps × batch-size images per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads in the child (default: torch's)")
    parser.add_argument("--no-first-load", action="store_true", help="skip the empty-cache row")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: bench/results, --quick: bench/scratch)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(json.loads(args.child))
        return {}
    if args.quick:
        args.steps, args.no_first_load = args.steps or 5, True
    out = args.out or benchenv.default_out(args.quick)
    started, load_start = benchenv.now(), benchenv.loadavg()
    print(f"load average at start: {load_start}", flush=True)

    spec = {"empty_cache": False, "epochs": args.epochs, "steps": args.steps, "batch_size": args.batch_size,
            "threads": args.threads}
    runs: dict[str, dict[str, Any]] = {}
    runs["cached"] = measure(spec)
    if not args.no_first_load:
        runs["first load"] = measure({**spec, "empty_cache": True})

    def mib(b: int | None) -> str:
        return "–" if not b else f"{b / MIB:,.0f}"

    header = ["run", "images trained", "RSS after imports (MiB)", "RSS after data load (MiB)",
              "peak until data loaded (MiB)", "peak RSS, whole run (MiB)", "psutil sampled peak (MiB)",
              "target", "pass", "wall s", "load 1-min before→after"]
    rows = []
    for name, r in runs.items():
        ph = r["phases"]
        ok = r["peak_rss_bytes"] <= TARGET_GIB * 2**30
        r["pass"] = ok
        label = {"cached": "cached (data/cache present)",
                 "first load": "first load (empty cache: decode + write cache)"}[name]
        rows.append([label, f"{r['train_images']:,} × {args.epochs} epoch(s)",
                     mib(ph["torch and dlcourse imported"]["rss_bytes"]), mib(ph["CIFAR-10 loaded"]["rss_bytes"]),
                     mib(ph["CIFAR-10 loaded"]["peak_bytes"]), f"**{mib(r['peak_rss_bytes'])}**", mib(r["sampled_peak_rss_bytes"]),
                     f"≤ {TARGET_GIB * 1024:,.0f} MiB", "PASS" if ok else "FAIL", f"{r['seconds']:.1f}",
                     f"{r['load_before']:.1f}→{r['load_after']:.1f}"])
    table = benchenv.markdown_table(header, rows, "lrrrrrrllrl")
    notes = [
        "Peak RSS: VmHWM of the child process (/proc/self/status), read just before it exits — the most "
        "resident memory it held at any moment; ru_maxrss counts the same but inherits the spawning "
        "parent's peak across exec on Linux. The psutil column samples the RSS from outside every 50 ms "
        "(it can miss short peaks). The first-load row links the data sets into an empty directory so "
        "that cifar10() decodes the images and writes a new cache there.",
        f"The child: import torch and dlcourse, dlcourse.data.cifar10() (50,000 + 10,000 images as uint8 "
        f"tensors), then training.fit(LeNet(), ..., augment=Augment(), batch_size={args.batch_size}, "
        f"device=\"cpu\") with the test set evaluated after each epoch"
        + (f", on the first {args.steps * args.batch_size:,} training images" if args.steps else "") + ".",
        f"Of the RSS after the imports, {mib(runs['cached']['phases']['torch and dlcourse imported']['file_backed_rss_bytes'])} MiB "
        "are file-backed pages (mostly torch's shared libraries: counted in RSS, but shared between "
        "processes and reclaimable).",
        f"Data directory: {runs['cached']['data']}."
        + (" Quick mode (--quick): only a few training steps." if args.quick else ""),
    ]
    info = benchenv.context("memory.py", argv, started, load_start, {"quick": args.quick})
    md, _ = benchenv.write(out, "memory", "Peak memory of a CIFAR-10 training run", table, info,
                           {"runs": runs, "target_gib": TARGET_GIB, "spec": spec}, notes)
    print(table)
    print(f"\nload average: start {load_start}, end {info['load_average_end']}; wrote {md}")
    return runs


if __name__ == "__main__":
    main()
