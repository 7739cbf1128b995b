"""Measure how long grading takes for one submission of each assignment.

    .venv/bin/python bench/grading_times.py [ASSIGNMENT ...]

For every assignment: a temporary course with the repo's nbgrader_config.py, the
reference solution handed in as a student's notebook, graded twice and timed (wall clock,
and the CPU time of this process plus the kernels it starts): by `nbgrader autograde`
alone, and by `dlcourse.grading` (`make grade`: the bubblewrap sandbox, the guard, the
static checks). The reference scores full marks, so every hidden test runs, the capstone's
fixed-budget retrain included. Writes bench/results/grading-times.md.
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


def time_sandboxed(course: Course, name: str) -> tuple[float, float, float]:
    """Wall and CPU seconds of `dlcourse.grading.grade` for the same submission, and its score."""
    from dlcourse import grading
    course.put_submission(name, "sandboxed", make_submission(name))
    wall, cpu = time.perf_counter(), cpu_seconds()
    limits = grading.Limits(wall=180.0 if name == "cifar10" else 60.0)
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
            score = course.score(name, "reference")
            full = sum(autograded_cells(released_notebook(name)).values())
            note = ""
            graded = nbformat.read(course.root / "autograded" / "reference" / name / f"{name}.ipynb", as_version=4)
            for cell in graded.cells:
                for output in cell.get("outputs", []):
                    found = re.search(r"fixed-budget retrain: .*", output.get("text", ""))
                    if found:
                        note = found.group(0)
            sandboxed = time_sandboxed(course, name)
            rows.append((name, wall, cpu, load, score, full, note, *sandboxed))
            print(f"{name:12} {wall:6.1f} s wall {cpu:6.1f} s CPU  load {load:4.1f}  {score:g}/{full:g} {note}"
                  f" | sandboxed {sandboxed[0]:6.1f} s wall {sandboxed[1]:6.1f} s CPU {sandboxed[2]:g}", flush=True)

    lines = [
        "# Autograding time per submission",
        "",
        f"Measured {datetime.date.today().isoformat()} with `.venv/bin/python bench/grading_times.py`",
        "(the reference solution of each assignment graded by `nbgrader autograde` alone, then by",
        "`dlcourse.grading` (`make grade`: bubblewrap sandbox, guard, static checks): kernel start,",
        "`import torch`, every cell, every hidden test; the capstone's includes the fixed-budget",
        "retrain of LeNet on CIFAR-10).",
        "",
        f"Machine: {machine()}. torch uses {__import__('torch').get_num_threads()} threads.",
        "The machine was shared with other jobs while measuring: the 1-minute load average at the",
        "start of each run is in the table; wall-clock times on an idle machine are shorter.",
        "CPU time counts nbgrader and the kernel it starts (both processes); in the sandboxed",
        "column only the grader's own: the sandbox's processes end with its PID namespace",
        "without being waited for, so their CPU time is not reported to this process.",
        "",
        "| assignment | wall clock (s) | CPU time (s) | sandboxed: wall (s) | sandboxed: CPU (s) | load average | autograded score (alone, sandboxed) | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, wall, cpu, load, score, full, note, s_wall, s_cpu, s_score in rows:
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {s_wall:.1f} | {s_cpu:.1f} | {load:.1f} | "
                     f"{score:g}, {s_score:g} / {full:g} | {note} |")
    lines += ["", "Budgets: at most 180 s for the capstone (cifar10), 60 s for every other assignment.", ""]
    out = REPO / "bench" / "results" / "grading-times.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:] or ASSIGNMENTS)
