"""Measure how long grading takes for one submission of each assignment.

    .venv/bin/python bench/grading_times.py [ASSIGNMENT ...]

For every assignment: a temporary course with the repo's nbgrader_config.py, the
reference solution handed in as a student's notebook, graded twice and timed (wall clock,
and the CPU time of this process plus the kernels it starts): by `nbgrader autograde`
alone, and by `dlcourse.grading.grade` (`make grade`: the bubblewrap sandbox, the guard,
the static checks). The reference scores full marks, so every hidden test runs, the
capstone's retrain of the student's recipe under its budget included (20 epochs over the
50,000 training images). Writes bench/results/grading-times.md (or the file given by --out).

The budgets (issue "Graded exercises that test understanding"): at most 15 s per
submission for every assignment but the capstone, at most 150 s for the capstone, on 2
quiet cores. The load average before and after each run is recorded: on a shared machine
wall-clock times are longer, and the CPU time column is the steadier number.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from nbgrader_course import ASSIGNMENTS, Course, autograded_cells, make_submission, released_notebook  # noqa: E402


def cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the kernels)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def machine() -> str:
    model = "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else model
    return f"{model}, {os.cpu_count()} logical CPUs visible, {platform.system()} {platform.release()}, Python {platform.python_version()}"


BUDGET_S = {"cifar10": 150, "default": 15}
START_LOAD = os.getloadavg()
OUT = REPO / "bench" / "results" / "grading-times.md"


def time_sandboxed(course: Course, name: str) -> tuple[float, float, float]:
    """Wall and CPU seconds of `dlcourse.grading.grade` for the same submission, and its score."""
    from dlcourse import grading
    course.put_submission(name, "sandboxed", make_submission(name))
    wall, cpu = time.perf_counter(), cpu_seconds()
    # Looser than `make grade`'s defaults (180 s for the capstone, 60 s for the others), so
    # that a slow run on a busy machine is measured rather than cut off.
    limits = grading.Limits(wall=900.0 if name == "cifar10" else 60.0)
    [result] = grading.grade(name, ["sandboxed"], course_root=course.root, limits=limits, log=lambda line: None)
    return time.perf_counter() - wall, cpu_seconds() - cpu, result.score if result.graded else float("nan")


def main(names: list[str]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        course = Course(Path(tmp) / "course", names, monkeypatch)
        for name in names:
            course.run("generate_assignment", name, force=True, create=True)
            course.put_submission(name, "reference", make_submission(name))
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), cpu_seconds()
            course.run("autograde", name, "reference")
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            load_after = os.getloadavg()[0]
            score = course.score(name, "reference")
            full = sum(autograded_cells(released_notebook(name)).values())
            note = ""
            graded = nbformat.read(course.root / "autograded" / "reference" / name / f"{name}.ipynb", as_version=4)
            for cell in graded.cells:
                for output in cell.get("outputs", []):
                    found = re.search(r"fixed-budget retrain: .*", output.get("text", ""))
                    if found:
                        note = found.group(0)
                    if output.get("output_type") == "error" and cell.metadata.get("nbgrader", {}).get("grade"):
                        # a reference that loses points (a cell timeout on a busy machine, ...) says why
                        gid = cell.metadata["nbgrader"]["grade_id"]
                        note += f" {gid} failed: {output.get('ename')}: {output.get('evalue', '')[:160]}"
            load_sandboxed = os.getloadavg()[0]
            s_wall, s_cpu, s_score = time_sandboxed(course, name)
            load_end = os.getloadavg()[0]
            budget = BUDGET_S.get(name, BUDGET_S["default"])
            rows.append((name, wall, cpu, load, load_after, s_wall, s_cpu, load_sandboxed, load_end, score, s_score, full, budget, note))
            print(f"{name:12} {wall:6.1f} s wall {cpu:6.1f} s CPU  load {load:4.1f}->{load_after:4.1f}  "
                  f"{score:g}/{full:g}  | sandboxed {s_wall:6.1f} s wall {s_cpu:6.1f} s CPU  "
                  f"load {load_sandboxed:4.1f}->{load_end:4.1f}  {s_score:g}/{full:g}  budget {budget} s  {note}", flush=True)

    lines = [
        "# Autograding time per submission",
        "",
        f"Measured {datetime.date.today().isoformat()} with `.venv/bin/python bench/grading_times.py`",
        "(the reference solution of each assignment graded by `nbgrader autograde` alone, then by",
        "`dlcourse.grading` (`make grade`: bubblewrap sandbox, guard, static checks): kernel start,",
        "`import torch`, every cell, every hidden test; the capstone's includes the fixed-budget",
        "retrain of LeNet on CIFAR-10).",
        "",
        f"Machine: {machine()}. torch uses {__import__('torch').get_num_threads()} threads"
        + "".join(f", {k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY") if k in os.environ)
        + f"; the sandboxed kernels of `make grade` use {__import__('dlcourse.grading').grading.Limits().threads} (its --threads).",
        f"Load average (1, 5, 15 min) when the measurement started: {', '.join(f'{v:.1f}' for v in START_LOAD)}",
        f"on {os.cpu_count()} logical CPUs; the 1-minute load before and after each run is in the table.",
        "With a load above the number of CPUs the machine was shared with other jobs, and",
        "wall-clock times on a quiet machine are shorter. CPU time counts nbgrader and the",
        "kernel it starts (both processes); torch's spinning threads inflate it under load. In the",
        "sandboxed columns CPU time is the grader's own only: the sandbox's processes end with its",
        "PID namespace without being waited for, so their CPU time is not reported to this process.",
        "",
        "| assignment | alone: wall (s) | alone: CPU (s) | alone: load before → after | sandboxed: wall (s) | sandboxed: CPU (s) | sandboxed: load before → after | budget (s) | within budget (alone, sandboxed) | autograded score (alone, sandboxed) | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for name, wall, cpu, load, load_after, s_wall, s_cpu, s_load, s_load_after, score, s_score, full, budget, note in rows:
        ok = ", ".join("yes" if t <= budget else "no" for t in (wall, s_wall))
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {load:.1f} → {load_after:.1f} | {s_wall:.1f} | {s_cpu:.1f} | "
                     f"{s_load:.1f} → {s_load_after:.1f} | {budget} | {ok} | {score:g}, {s_score:g} / {full:g} | {note} |")
    lines += ["", "Budgets, per submission on 2 quiet cores: at most 150 s for the capstone (cifar10), "
              "whose retrain trains the student's network for up to 20 epochs; 15 s for every other assignment.",
              "`make grade`'s own time limits are looser (180 s for the capstone, 60 s for the others); the",
              "sandboxed runs here allow the capstone 900 s, so that a slow run is measured, not cut off.", ""]
    out = OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" in args:
        i = args.index("--out")
        OUT = Path(args[i + 1]).resolve()
        del args[i:i + 2]
    main(args or ASSIGNMENTS)
