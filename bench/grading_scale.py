"""How grading on Dask scales: scheduler overhead per task, throughput against workers, and
the projected time to grade 1,000 capstones.

The tasks are sleep-only fake submissions (``--tasks`` of them, 0.1 to 1 s each, the same
seeded durations for every cluster size) on a ``LocalCluster`` of single-threaded worker
processes over 127.0.0.1, submitted and collected as ``dlcourse.grading`` does (one
``submit`` per task, ``as_completed``). A sleep costs no CPU, so what the workers do beyond
sleeping is the scheduling: with W workers busy for the makespan T on tasks whose sleeps
add up to S, the overhead per task is (W·T − S) / n, an upper bound (it also counts the
last tasks' imbalance); the idle gap between two tasks on one worker is the scheduling
latency itself.

The projection multiplies the measured time per capstone (bench/results/grading-times.md:
CPU time, i.e. one dedicated core per slot, and the sandboxed wall time recorded in grading-times.md)
by 1,000 / cores and adds the overhead: a projection, not a measurement of 1,000 capstones.

    .venv/bin/python bench/grading_scale.py [--tasks 200] [--workers 1 2] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchenv  # noqa: E402

CLASS = 1000
CORES = (1, 8, 32)


def sleep_task(seconds: float) -> tuple[float, float, str]:
    """A fake submission: sleeps, returns its start, end and worker (wall-clock times)."""
    import os
    started = time.time()
    time.sleep(seconds)
    return started, time.time(), str(os.getpid())


def durations(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.uniform(0.1, 1.0), 3) for _ in range(n)]


def measure(workers: int, sleeps: list[float]) -> dict:
    """Run ``sleeps`` as tasks on a fresh LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster, as_completed

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, memory_limit=0, silence_logs=40) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(lambda: None)  # every worker up and connected before the clock starts
        started = time.time()
        futures = [client.submit(sleep_task, s, key=f"sleep-{i}", pure=False) for i, s in enumerate(sleeps)]
        spans = [future.result() for future in as_completed(futures)]
        makespan = time.time() - started
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for begin, end, worker in spans:
        by_worker.setdefault(worker, []).append((begin, end))
    gaps = [b[0] - a[1] for runs in by_worker.values() for a, b in zip(sorted(runs), sorted(runs)[1:])]
    total = sum(sleeps)
    return {
        "workers": workers, "tasks": len(sleeps), "sleep_total_s": round(total, 3),
        "makespan_s": round(makespan, 3), "ideal_s": round(total / workers, 3),
        "overhead_per_task_ms": round(1000 * (workers * makespan - total) / len(sleeps), 2),
        "gap_median_ms": round(1000 * statistics.median(gaps), 2) if gaps else None,
        "gap_p95_ms": round(1000 * sorted(gaps)[int(0.95 * (len(gaps) - 1))], 2) if gaps else None,
        "throughput_per_s": round(len(sleeps) / makespan, 3),
        "workers_used": len(by_worker),
    }


def capstone_seconds(path: Path = benchenv.RESULTS / "grading-times.md") -> tuple[float, float] | None:
    """(wall, CPU) seconds of one capstone autograde, as recorded by bench/grading_times.py:
    the wall time in the sandbox (``make grade``) when recorded, else nbgrader's alone."""
    if not path.exists():
        return None
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    if not lines:
        return None
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(([c.strip() for c in line.strip("|").split("|")] for line in lines
                if line.startswith("| cifar10 |")), None)
    if row is None:
        return None
    def column(*names: str) -> int:
        return next(header.index(n) for n in names if n in header)

    wall = column("sandboxed: wall (s)", "alone: wall (s)", "wall clock (s)")
    # the sandbox's kernel ends with its PID namespace and its CPU time is not reported:
    # the CPU time of the same grade without the sandbox stands for it
    cpu = column("alone: CPU (s)", "CPU time (s)")
    return float(row[wall]), float(row[cpu])


def projection(per_capstone: float, overhead_s: float) -> dict[int, float]:
    """Hours to grade CLASS capstones on each number of cores (one slot per core)."""
    return {cores: round(CLASS * (per_capstone + overhead_s) / cores / 3600, 2) for cores in CORES}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--quick", action="store_true", help="20 tasks: a smoke test")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--reproject", action="store_true",
                   help="keep the recorded runs of <out>/grading-scale.json, redo only the projection "
                        "(after grading-times.md changed)")
    args = p.parse_args(argv)
    tasks = 20 if args.quick else args.tasks
    out = args.out or benchenv.default_out(args.quick)
    if args.reproject:
        recorded = json.loads((out / "grading-scale.json").read_text())
        runs = recorded["results"]["runs"]
    else:
        started, load = benchenv.now(), benchenv.loadavg()
        sleeps = durations(tasks)
        runs = [measure(w, sleeps) for w in args.workers]
    base = runs[0]
    for run in runs:
        run["speedup"] = round(run["throughput_per_s"] / base["throughput_per_s"] * base["workers"], 2)
    overhead = max(r["overhead_per_task_ms"] for r in runs) / 1000
    capstone = capstone_seconds()
    projected = {}
    if capstone:
        projected = {"wall_busy_2core": projection(capstone[0], overhead), "cpu_one_core_per_slot": projection(capstone[1], overhead),
                     "capstone_wall_s": capstone[0], "capstone_cpu_s": capstone[1], "overhead_s": overhead}
    table = benchenv.markdown_table(
        ["workers", "tasks", "sleeps (s)", "makespan (s)", "ideal (s)", "overhead per task (ms)",
         "gap median / p95 (ms)", "tasks per s", "speed-up vs 1"],
        [[r["workers"], r["tasks"], r["sleep_total_s"], r["makespan_s"], r["ideal_s"], r["overhead_per_task_ms"],
          f"{r['gap_median_ms']} / {r['gap_p95_ms']}", r["throughput_per_s"], r["speedup"]] for r in runs],
        "rrrrrrrrr")
    notes = ["overhead per task = (workers × makespan − sum of sleeps) / tasks: an upper bound "
             "(it includes the imbalance of the last tasks); gap = idle time of a worker between two tasks"]
    if projected:
        rows = [[f"{c} core{'s' if c > 1 else ''}", projected["cpu_one_core_per_slot"][c],
                 projected["wall_busy_2core"][c]] for c in CORES]
        table += ("\n\nProjected time to grade 1,000 capstones (hours; a projection from the measured "
                  "time per capstone and the overhead above, not a measurement):\n\n"
                  + benchenv.markdown_table(
                      ["cores (one slot each)", f"{capstone[1]:g} s CPU per capstone",
                       f"{capstone[0]:g} s wall per capstone (sandboxed, as recorded in grading-times.md)"], rows, "lrr"))
    if args.reproject:  # the measuring run's circumstances, and when the projection was redone
        info = {k: v for k, v in recorded.items() if k not in ("title", "table", "notes", "results")}
        info["reprojected"] = benchenv.now()
    else:
        info = benchenv.context("grading_scale.py", argv, started, load)
    benchenv.write(out, "grading-scale", "Grading on Dask: scheduler overhead and scaling", table, info,
                   {"runs": runs, "projection": projected}, notes)
    print(table)
    print(f"written to {out}/grading-scale.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
