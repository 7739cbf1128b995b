"""Autograding that survives real classes: each submission in its own sandbox, tests the
student cannot reach, nothing left behind. For instructors::

    python -m dlcourse.grading ASSIGNMENT [--student S ...] [--timeout 60] [--memory 2GiB] [--workers N]
    make grade A=ASSIGNMENT [WORKERS=N]

A layer around nbgrader's own autograde, one module per stage:

- :mod:`.course`: the course folder and the assignment's cells, from the gradebook;
- :mod:`.read` and :mod:`.static`: read and repair a submission (executing nothing), and
  report what its code does that no honest answer needs, bounded in time and size;
- :mod:`.sandbox` (+ :mod:`.confine`, run inside it): bubblewrap namespaces, a private
  file system and ``RLIMIT_*`` limits per kernel;
- :mod:`.guard`: sent into each kernel; restores what student code changed before every
  test, runs tests in a namespace copy, refuses frame introspection;
- :mod:`.execute`: nbgrader's ``Execute`` preprocessor running cells in that kernel;
- :mod:`.submission`: :func:`grade_submission`, ONE submission -> grades and problems;
- :mod:`.commit`: the only writer of the course's gradebook, one transaction per student;
- :mod:`.batch` and :mod:`.cli`: the loop and the command line;
- :mod:`.distributed`: who grades: this process, or Dask workers (``--workers N``,
  ``--scheduler tcp://HOST:8786``), one task per submission, results committed as they arrive;
- :mod:`.journal`: a killed batch is finished by running it again, nobody graded twice;
- :mod:`.feedback`: no hidden tests and no student HTML in feedback and formgrader.

Submodules are imported on first use, so the kernel-side ``guard`` imports nothing else.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Limits": "results", "Problem": "results", "Result": "results", "GiB": "results", "MiB": "results",
    "parse_size": "results", "format_table": "results", "grade": "batch", "main": "cli",
    "static_findings": "static", "read_submission": "read", "grade_submission": "submission",
    "Assignment": "submission", "Graded": "submission", "Sandbox": "sandbox", "SANDBOX_USER": "sandbox",
    "SandboxUnavailable": "sandbox", "SandboxedExecute": "execute", "Course": "course",
    "load_assignment": "course", "FeedbackPreprocessor": "feedback", "sanitize_notebook": "feedback",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
