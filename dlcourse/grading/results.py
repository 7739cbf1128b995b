"""What grading produces: problems, one row per student, the limits, and the table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GiB = 2**30
MiB = 2**20


@dataclass(frozen=True)
class Problem:
    """Something found in one submission.

    ``kind``: ``limit`` (time, memory, output), ``crash`` (the kernel died), ``error`` (an
    answer cell raised), ``repair`` (cells put back or dropped), ``tamper`` (cheating or
    snooping, refused or undone), ``invalid`` (no readable notebook), ``note``.
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class Result:
    """One row of the batch: what the gradebook now says for this student."""

    student: str
    assignment: str
    score: float | None  # None: NOT graded (the gradebook keeps what it had)
    max_score: float
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def graded(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Limits:
    """Per-submission limits, enforced by the kernel of the operating system.

    ``memory``: bytes student code may allocate on top of the kernel's own runtime (Python,
    PyTorch); ``wall``: seconds from the kernel being ready; ``cell_timeout``: seconds after
    which one cell is interrupted (None: nbgrader's ``Execute.timeout``, at most ``wall``);
    ``disk``: size of each writable tmpfs of the sandbox (its folder, /tmp, /dev/shm).
    """

    wall: float = 60.0
    memory: int = 2 * GiB
    cell_timeout: float | None = None
    output_bytes: int = 1 * MiB  # per cell, while it runs (nbgrader's LimitOutput trims further)
    file_bytes: int = 64 * MiB  # largest file the kernel may write
    disk: int = 256 * MiB
    processes: int = 256  # processes + threads of the sandbox user
    # OMP/MKL threads per kernel: 1, since a class is many kernels; with 2 on 2 busy cores the
    # capstone's retrain took 4x as long (spinning OpenMP threads; bench/results/grading-times.md)
    threads: int = 1


def parse_size(text: str) -> int:
    """'2GiB', '1.5G', '512MiB', '800M', '1000000' -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GiB, 1.5GiB or 800MiB)")
    unit = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[match.group(2).upper()]
    return int(float(match.group(1)) * unit)


def dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def format_row(result: Result) -> str:
    """One line of the batch's log."""
    score = "NOT GRADED" if result.score is None else f"{result.score:g}"
    return f"{result.student}  {result.assignment}  {score}/{result.max_score:g}  " \
           f"({result.seconds:.1f} s)  {'; '.join(map(str, result.problems)) or 'ok'}"


def format_table(results: list[Result]) -> str:
    """A Markdown table: student, assignment, score, max, problems found; the submissions that
    were NOT graded come first, in bold, so that nobody mistakes an old grade for a new one."""
    lines = ["| student | assignment | score | max | problems found |", "|---|---|---:|---:|---|"]
    for r in sorted(results, key=lambda r: r.graded):
        score = "**NOT GRADED**" if r.score is None else f"{r.score:g}"
        problems = "<br>".join(str(p).replace("|", "\\|").replace("<", "&lt;") for p in r.problems) or "—"
        lines.append(f"| {r.student} | {r.assignment} | {score} | {r.max_score:g} | {problems} |")
    return "\n".join(lines)
