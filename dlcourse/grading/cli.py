"""``python -m dlcourse.grading ASSIGNMENT [...]`` (and ``make grade A=ASSIGNMENT``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .batch import grade
from .results import GiB, Limits, format_table, parse_size
from .sandbox import SANDBOX_USER, SandboxUnavailable

# Default wall time per submission; the capstone's hidden test retrains LeNet (about 90 s on
# 2 busy cores, see bench/results/grading-times.md), so it gets three minutes.
DEFAULT_WALL = 60.0
WALL_FOR = {"cifar10": 180.0}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.grading",
        description="Autograde every submission of an assignment, each in its own sandbox; "
                    "one bad submission never stops or corrupts the rest.")
    p.add_argument("assignment")
    p.add_argument("--student", nargs="+", default=None, help="only these students (default: all)")
    p.add_argument("--timeout", type=float, default=None,
                   help=f"wall seconds per submission (default {DEFAULT_WALL:g}; "
                        + ", ".join(f"{a}: {t:g}" for a, t in WALL_FOR.items()) + ")")
    p.add_argument("--memory", type=parse_size, default=2 * GiB,
                   help="memory student code may use on top of the kernel's own (default 2GiB)")
    p.add_argument("--disk", type=parse_size, default=Limits().disk,
                   help="size of each writable tmpfs of the sandbox (default 256MiB)")
    p.add_argument("--threads", type=int, default=Limits().threads,
                   help="PyTorch (OpenMP) threads per kernel (default 1)")
    p.add_argument("--cell-timeout", type=float, default=None,
                   help="seconds before one cell is interrupted (default: nbgrader's Execute.timeout)")
    p.add_argument("--course", default=".", help="the course folder (with nbgrader_config.py)")
    p.add_argument("--sandbox-user", default=SANDBOX_USER,
                   help=f"user the kernels run as inside the sandbox when grading as root (default {SANDBOX_USER})")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade without bubblewrap even as root: student code can then read what you can "
                        "(only on a throw-away machine)")
    p.add_argument("--report", default=None, help="also write the Markdown table here")
    p.add_argument("--workers", type=_workers, default=1,
                   help="grade N submissions at a time on a local Dask cluster of N processes "
                        "('auto': one per core, as memory allows; default 1: one by one, no cluster)")
    p.add_argument("--scheduler", default=None,
                   help="grade on an existing Dask cluster, e.g. tcp://HOST:8786 (see the instructors' page)")
    p.add_argument("--restart", action="store_true",
                   help="grade everyone again, even if an unfinished batch of this assignment exists "
                        "(by default a rerun keeps its committed students and grades the rest)")
    return p


def _workers(text: str) -> int | None:
    if text == "auto":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers takes a number of processes (1 or more) or 'auto', got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    wall = args.timeout if args.timeout is not None else WALL_FOR.get(args.assignment, DEFAULT_WALL)
    if args.threads < 1:
        raise SystemExit(f"error: --threads must be at least 1, got {args.threads}")
    limits = Limits(wall=wall, memory=args.memory, cell_timeout=args.cell_timeout, disk=args.disk,
                    threads=args.threads)
    try:
        results = grade(args.assignment, args.student, course_root=args.course, limits=limits,
                        sandbox_user=args.sandbox_user or None, unsafe_no_sandbox=args.unsafe_no_sandbox,
                        workers=args.workers, scheduler=args.scheduler, restart=args.restart)
    except (ValueError, OSError, SandboxUnavailable) as error:  # OSError: files, the scheduler
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = format_table(results)
    print()
    print(table)
    if args.report:
        Path(args.report).write_text(table + "\n")
    return 0 if all(r.graded for r in results) else 1
