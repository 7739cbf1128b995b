"""One convolutional layer three ways: Python loops, im2col + one matrix multiply, PyTorch.

    .venv/bin/python bench/conv_speed.py            # 64×3×32×32 ⋆ 16×3×5×5, one thread
    .venv/bin/python bench/conv_speed.py --quick    # smoke test: a batch of 4

The chapter book/convolution.md builds ``conv.conv2d_loops`` (a Python loop over output
positions) and ``conv.conv2d`` (im2col, then one matrix multiply) and checks that both
equal ``torch.nn.functional.conv2d``. This script times the three on one batch of the
shape of 64 CIFAR-10 images with 16 filters of 5×5 (the study note's second layer, on 3
channels): each is the best of a few runs, after a warm-up, in one CPU thread. The
inputs are random numbers: the arithmetic, and so the time, does not depend on them.
It writes bench/results/conv-speed.md and conv-speed.json (with the machine, versions
and load average, see benchenv.py).
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import benchenv  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dlcourse import conv  # noqa: E402

NAME = "conv-speed"
SCRIPT = "conv_speed.py"


def best_seconds(fn: Any, repeats: int) -> float:
    """The fastest of ``repeats`` calls after one warm-up call (the least disturbed run)."""
    fn()
    return min(timeit.repeat(fn, number=1, repeat=repeats))


def measure(batch: int, repeats_loops: int, repeats_fast: int, seed: int = 0) -> dict[str, Any]:
    """Time the three implementations on one batch; check that they agree."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    w, b = torch.randn(16, 3, 5, 5, generator=g), torch.randn(16, generator=g)
    candidates = {
        "loops (conv.conv2d_loops)": (lambda: conv.conv2d_loops(x, w, b), repeats_loops),
        "im2col (conv.conv2d)": (lambda: conv.conv2d(x, w, b), repeats_fast),
        "PyTorch (F.conv2d)": (lambda: F.conv2d(x, w, b), repeats_fast),
    }
    reference = F.conv2d(x, w, b)
    rows = {}
    for name, (fn, repeats) in candidates.items():
        rows[name] = {
            "seconds": best_seconds(fn, repeats),
            "repeats": repeats,
            "max_abs_diff_from_pytorch": (fn() - reference).abs().max().item(),
        }
    loops, im2col, torch_ = (rows[n]["seconds"] for n in candidates)
    return {
        "shape": {"input": list(x.shape), "weight": list(w.shape)},
        "rows": rows,
        "im2col_vs_loops": loops / im2col,
        "pytorch_vs_im2col": im2col / torch_,
        # The column matrix holds every window: kh·kw copies of most pixels.
        "columns_vs_input_size": conv.im2col(x, 5).numel() / x.numel(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: a batch of 4, one repeat")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the results (default bench/results, bench/scratch with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    warning = benchenv.busy_warning(args.threads)
    if warning:
        print(warning, file=sys.stderr)

    started, load_start = benchenv.now(), benchenv.loadavg()
    batch = 4 if args.quick else 64
    results = measure(batch, repeats_loops=1 if args.quick else 3, repeats_fast=1 if args.quick else 20)
    results["threads"] = args.threads

    table = benchenv.markdown_table(
        ["implementation", "ms per batch (best)", "largest difference from F.conv2d"],
        [[name, f"{1000 * r['seconds']:.3g}", f"{r['max_abs_diff_from_pytorch']:.1e}"]
         for name, r in results["rows"].items()],
        align="lrr")
    print(table)
    shape = results["shape"]
    notes = [
        f"One batch {'×'.join(map(str, shape['input']))} ⋆ {'×'.join(map(str, shape['weight']))} "
        f"(random numbers), float32, {args.threads} torch thread(s); each time is the best of "
        "its repeats after one warm-up call.",
        f"im2col is {results['im2col_vs_loops']:.0f}× faster than the loops; PyTorch is "
        f"{results['pytorch_vs_im2col']:.1f}× faster than im2col. im2col's column matrix is "
        f"{results['columns_vs_input_size']:.0f}× the size of the input.",
    ]
    info = benchenv.context(SCRIPT, argv, started, load_start)
    out = args.out or benchenv.default_out(args.quick)
    benchenv.write(out, NAME, "One convolutional layer: loops, im2col, PyTorch", table, info, results, notes)
    print(f"wrote {out / (NAME + '.md')}")
    return results


if __name__ == "__main__":
    main()
