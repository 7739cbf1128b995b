"""Who grades: this process, one submission after another, or the workers of a Dask cluster.

Each submission is one task, a plain function of plain data (:class:`Job`: the submission's
bytes, the assignment's spec and the limits) run by :func:`grade_job` in a sandbox of its
own on whichever worker gets it; the result (:class:`Outcome`: grades, the autograded files,
the problems) comes back to the client, which alone writes the gradebook (:mod:`.batch`),
in the order results arrive. Nothing a worker does reaches the course folder.

- ``workers=1`` and no scheduler: :func:`serial`, in this process, no cluster (a laptop);
- ``workers=N``: a ``LocalCluster`` of N single-threaded worker processes on 127.0.0.1;
- ``scheduler="tcp://host:8786"``: an existing cluster (SSH, SLURM, Kubernetes: the
  instructors' page says what its workers need).

A student's failure is an :class:`Outcome` with ``error`` set, never an exception, so Dask
never retries it; only a lost worker (killed, out of memory, its machine gone) makes the
scheduler run the task again elsewhere, at most ``ALLOWED_FAILURES`` times.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .results import Limits
from .sandbox import Sandbox
from .submission import Assignment, Graded, grade_submission

ALLOWED_FAILURES = 2  # workers a task may lose before its student is reported NOT GRADED
EXTRA_FILE_BYTES = 1 << 20  # extra files of a submission travel only by name beyond this size


@dataclass
class Job:
    """Everything a worker needs to grade one submission; no path of the client's machine."""

    student: str
    submitted: dict[str, bytes]  # the submission folder: relative path -> bytes
    assignment: Assignment  # template and released are None here: the bytes below travel
    template: bytes  # the gradebook holding only the assignment
    released: dict[str, bytes]  # the released extra files
    limits: Limits
    sandbox_user: str | None
    unsafe_no_sandbox: bool


@dataclass
class Outcome:
    """One submission, graded (``graded``) or not (``error``), and where and how long."""

    student: str
    graded: Graded | None
    error: str | None
    seconds: float
    worker: str  # host:pid of the process that graded it
    started: float  # wall-clock time.time() of the start and end (the tests check overlaps)
    ended: float


# ------------------------------------------------------------------ the task
def read_folder(folder: Path, names: set[str] | None = None) -> dict[str, bytes]:
    """A folder's files as bytes; files not in ``names`` and larger than EXTRA_FILE_BYTES
    travel empty (grading only reports their names)."""
    files = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.is_symlink():
            name = str(path.relative_to(folder))
            small = path.stat().st_size <= EXTRA_FILE_BYTES
            files[name] = path.read_bytes() if names is None or name in names or small else b""
    return files


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            raise ValueError(f"file name {name!r} leaves its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def make_job(student: str, submitted: Path, assignment: Assignment, limits: Limits,
             sandbox_user: str | None, unsafe: bool) -> Job:
    names = {f"{spec.name}.ipynb" for spec in assignment.specs} | {"timestamp.txt", "submission_secret.txt"}
    released = read_folder(assignment.released) if assignment.released else {}
    portable = replace(assignment, template=None, released=None)
    return Job(student, read_folder(submitted, names) if submitted.is_dir() else None, portable,
               assignment.template.read_bytes(), released, limits, sandbox_user, unsafe)


def grade_job(job: Job) -> Outcome:
    """Grade one submission in a sandbox of its own (runs on a worker)."""
    started, wall = time.monotonic(), time.time()
    # nbgrader runs `alembic` from the interpreter's folder
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    graded, error = None, None
    try:
        # no "dlcourse" in the name: without a sandbox, the kernel's cell files live below it,
        # and the hidden tests refuse calls into code whose file name says dlcourse
        with tempfile.TemporaryDirectory(prefix="grading-job-") as tmp:
            os.chmod(tmp, 0o711)  # the sandbox user must reach its kernel's socket folder
            work = Path(tmp)
            try:
                sandbox = Sandbox.create(job.limits, work, job.sandbox_user, job.unsafe_no_sandbox, log=_quiet)
            except subprocess.CalledProcessError:  # another worker created the sandbox user meanwhile
                sandbox = Sandbox.create(job.limits, work, job.sandbox_user, job.unsafe_no_sandbox, log=_quiet)
            (work / "template.db").write_bytes(job.template)
            released = write_folder(job.released, work / "released") if job.released else None
            assignment = replace(job.assignment, template=work / "template.db", released=released)
            submitted = work / "submitted" if job.submitted is not None else work / "missing"
            if job.submitted is not None:
                write_folder(job.submitted, submitted)
            graded = grade_submission(submitted, job.student, assignment, sandbox)
    except Exception as failure:  # the student's row, never a retry
        error = f"{type(failure).__name__}: {str(failure)[:300]}"
    return Outcome(job.student, graded, error, time.monotonic() - started,
                   f"{socket.gethostname()}:{os.getpid()}", wall, time.time())


def _quiet(message: str) -> None:
    pass


# ------------------------------------------------------------------ the runners
Runner = Callable[[list[str]], Iterator[Outcome]]


def serial(jobs: Callable[[str], Job]) -> Runner:
    """Grade in this process, one after another."""
    def run(students: list[str]) -> Iterator[Outcome]:
        for student in students:
            yield grade_job(jobs(student))
    return run


def on_dask(jobs: Callable[[str], Job], *, workers: int | None = None, scheduler: str | None = None,
            priority: Callable[[str], float] = lambda s: 0.0,
            log: Callable[[str], None] = print) -> Runner:
    """Grade on a Dask cluster: ``scheduler``'s, or a LocalCluster of ``workers`` processes."""
    def run(students: list[str]) -> Iterator[Outcome]:
        import dask
        from distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker

        with contextlib.ExitStack() as stack:
            if scheduler:
                client = stack.enter_context(Client(scheduler, timeout="60s"))
            else:
                stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}))
                starting = time.monotonic()
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, memory_limit=0,  # the sandbox bounds memory, not Dask
                    silence_logs=40))
                client = stack.enter_context(Client(cluster))
                log(f"Dask: {workers} local worker processes, scheduler {cluster.scheduler_address}, "
                    f"ready in {time.monotonic() - starting:.1f} s")
            # longest first: a long submission started last would keep everyone waiting
            order = sorted(students, key=priority, reverse=True)
            futures = {}
            for rank, student in enumerate(order):
                future = client.submit(grade_job, jobs(student), key=f"grade-{student}-{os.urandom(4).hex()}",
                                       priority=len(order) - rank, retries=0, pure=False)
                futures[future] = student
            for future in as_completed(futures):
                student = futures[future]
                try:
                    yield future.result()
                except KilledWorker as lost:
                    yield Outcome(student, None, f"KilledWorker: its task ended {ALLOWED_FAILURES + 1} workers "
                                  f"({lost})", 0.0, "?", 0.0, 0.0)
                except Exception as error:  # the grader's own failure on the worker
                    yield Outcome(student, None, f"{type(error).__name__}: {str(error)[:300]}", 0.0, "?", 0.0, 0.0)
                finally:
                    future.release()
    return run


def default_workers(limits: Limits) -> int:
    """One slot per core, as many as memory allows (each may use ``limits.memory`` plus about
    1 GiB for its kernel's Python and PyTorch)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil
        memory = psutil.virtual_memory().available
    except Exception:
        return cores
    return max(1, min(cores, int(memory // (limits.memory + (1 << 30)))))


# ------------------------------------------------------------------ progress
class Progress:
    """done / remaining / estimated time left, from the pace of this run."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done, self.start_done = total, done, done
        self.started = time.monotonic()

    def step(self) -> str:
        self.done += 1
        left = self.total - self.done
        graded_now = self.done - self.start_done
        eta = (time.monotonic() - self.started) / graded_now * left if graded_now else 0.0
        return f"[{self.done}/{self.total} done, {left} left, about {_duration(eta)} to go]"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def choose_runner(jobs: Callable[[str], Job], workers: int | None, scheduler: str | None,
                  priority: Callable[[str], float], log: Callable[[str], None]) -> Runner:
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if scheduler is None and (workers is None or workers == 1):
        return serial(jobs)
    return on_dask(jobs, workers=workers, scheduler=scheduler, priority=priority, log=log)


def expected_seconds(previous: Iterable[dict]) -> dict[str, float]:
    """student -> seconds their submission took in the last finished batch."""
    return {row["student"]: float(row.get("seconds") or 0.0) for row in previous}
