"""Grading on Dask (dlcourse.grading.distributed) and the batch's journal (journal.py).

- A representative part of the adversarial perceptron batch of tests/test_grading.py (honest,
  wrong, crashing, memory bomb, fork hopper, snooping, shared-memory leftovers, invalid
  JSON, IPython hooks: ``SUBSET``) graded serially and then again with ``workers=2`` in the
  same course: the same scores and problems; the memory bomb ran beside another student,
  who was not disturbed.
- A worker process killed (by PID) in the middle of a task: the task runs again on another
  worker, the student is committed once, every other grade is intact.
- The command killed in the middle of a batch: rerunning it finishes the batch; nobody is
  graded twice and the committed rows are untouched.
- 200 sleep-only tasks on a 2-worker LocalCluster: scheduler overhead per task (≤ 50 ms)
  and throughput scaling with workers (bench/grading_scale.py records the same numbers).

Timings and the speed-up of the parallel batch go to test-artifacts/grading-distributed.md.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import nbformat
import psutil
import pytest

from dlcourse import grading
from dlcourse.grading.journal import Journal
from nbgrader_course import REPO, Course, autograded_cells, make_submission, released_notebook
from test_grading import LIMITS, generic_submissions, perceptron_submissions
from test_grading import put as hand_in

sys.path.insert(0, str(REPO / "bench"))
import grading_scale  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning")]

ASSIGNMENT = "perceptron"
# the reference solution's autograded points (what an honest student scores)
FULL = sum(autograded_cells(released_notebook(ASSIGNMENT)).values())
SUBSET = ["honest", "wrong", "exits", "raises", "memory_bomb", "snoop", "invalid_json",
          "c01_hooks", "c03_fork_hopper", "c08_leave_things", "c08_read_leftovers", "zz_honest_after"]
ARTIFACT = REPO / "test-artifacts" / "grading-distributed.md"
SLOW_LIMITS = grading.Limits(wall=90, memory=int(1.5 * grading.GiB), cell_timeout=60)


def put(course: Course, student: str, nb) -> None:
    hand_in(course, ASSIGNMENT, student, nb)


def sleeper(seconds: float) -> nbformat.NotebookNode:
    """A correct submission whose first answer cell sleeps first (a long task)."""
    nb = make_submission(ASSIGNMENT)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and c.cell_type == "code")  # the first answer cell, whatever the task
    cell.source = f"import time\ntime.sleep({seconds})\n" + cell.source
    return nb


def commits(course: Course) -> list[dict]:
    return Journal(grading.Course(course.root), ASSIGNMENT).previous()


class Descendants:
    """Every process started below this one while the block runs (sampled every 0.2 s):
    other people's grading on the same machine is not ours to count."""

    def __enter__(self) -> "Descendants":
        self.procs: set[tuple[int, float, str]] = set()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            for proc in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "multiprocessing.resource_tracker" not in " ".join(proc.cmdline()):  # Python's, lives on
                        self.procs.add((proc.pid, proc.create_time(), proc.name()))
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()

    def alive(self) -> list[tuple[int, str]]:
        """Those still running (same pid and start time), zombies aside."""
        left = []
        for pid, created, name in self.procs:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append((pid, name))
        return left


def overlaps(a: dict, b: dict) -> bool:
    return a["started"] < b["ended"] and b["started"] < a["ended"]


# ------------------------------------------------------------------ serial vs 2 workers
@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The SUBSET graded serially, then with workers=2, in one course."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        course = Course(tmp_path_factory.mktemp("distributed"), [ASSIGNMENT], monkeypatch)
        course.run("generate_assignment", ASSIGNMENT, force=True, create=True)
        made = {**perceptron_submissions(course), **{s: nb for s, (nb, _, _) in generic_submissions(course).items()}}
        for student in SUBSET:
            put(course, student, made[student])
        runs = {}
        loads = {}
        for workers in (1, 2):
            loads[workers] = os.getloadavg()[0]
            started = time.monotonic()
            with Descendants() as seen:
                results = grading.grade(ASSIGNMENT, course_root=course.root, limits=LIMITS, workers=workers,
                                        log=lambda line: None)
            runs[workers] = ({r.student: r for r in results}, time.monotonic() - started, commits(course))
        time.sleep(2)
        alive = seen.alive()
        (serial, t1, _), (parallel, t2, _) = runs[1], runs[2]
        ARTIFACT.parent.mkdir(exist_ok=True)
        ARTIFACT.write_text(
            f"# Autograding serially and on 2 Dask workers\n\n{len(SUBSET)} perceptron submissions of "
            f"tests/test_grading.py ({', '.join(SUBSET)}), limits: wall {LIMITS.wall:g} s, memory 1.5 GiB, "
            f"{LIMITS.cell_timeout:g} s per cell; {len(os.sched_getaffinity(0))} CPUs.\n\n"
            f"| run | wall (s) | load average at its start |\n|---|---:|---:|\n"
            f"| serial (`--workers 1`) | {t1:.1f} | {loads[1]:.1f} |\n"
            f"| `--workers 2` (cluster start included) | {t2:.1f} | {loads[2]:.1f} |\n\n"
            f"speed-up: {t1 / t2:.2f}\n")
        yield course, serial, parallel, runs[2][2], seen, alive


def test_two_workers_give_exactly_the_serial_scores_and_problems(both):
    _, serial, parallel, _, _, _ = both
    assert set(serial) == set(parallel) == set(SUBSET)
    assert all(r.graded for r in parallel.values()), {s: r.problems for s, r in parallel.items() if not r.graded}
    for student in SUBSET:
        assert (parallel[student].score, parallel[student].max_score) == \
            (serial[student].score, serial[student].max_score), student
        assert parallel[student].problems == serial[student].problems, student


def test_a_memory_bomb_does_not_disturb_the_other_slot(both):
    _, serial, parallel, log, _, _ = both
    assert any(p.kind == "limit" and "memory" in p.message for p in parallel["memory_bomb"].problems)
    rows = {row["student"]: row for row in log}
    bomb = rows["memory_bomb"]
    beside = [s for s, row in rows.items() if s != "memory_bomb" and row["worker"] != bomb["worker"]
              and overlaps(row, bomb)]
    assert beside, "the memory bomb ran alone: nothing shows the other slot was undisturbed"
    for student in beside:
        assert parallel[student].score == serial[student].score and parallel[student].problems == serial[student].problems


def test_parallel_batches_leave_nothing_behind(both):
    _, _, _, log, seen, alive = both
    assert len({row["worker"] for row in log}) == 2, "both workers graded"
    assert {name for _, _, name in seen.procs} >= {"bwrap"}, "the sampler saw the sandboxes"
    assert alive == [], alive


# ------------------------------------------------------------------ a worker killed
def test_a_worker_killed_mid_task_is_replaced_and_its_student_graded_once(tmp_path, monkeypatch):
    import dask
    from distributed import Client, LocalCluster

    course = Course(tmp_path / "course", [ASSIGNMENT], monkeypatch)
    course.run("generate_assignment", ASSIGNMENT, force=True, create=True)
    for student in ("a_honest", "b_honest", "c_honest"):
        course.put_submission(ASSIGNMENT, student, make_submission(ASSIGNMENT))
    course.put_submission(ASSIGNMENT, "slow", sleeper(20))
    with dask.config.set({"distributed.scheduler.allowed-failures": 2}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, memory_limit=0, silence_logs=50) as cluster, \
            Client(cluster) as client:
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.update(results=grading.grade(
            ASSIGNMENT, course_root=course.root, limits=SLOW_LIMITS, scheduler=cluster.scheduler_address,
            log=lambda line: None)))
        thread.start()
        killed = None
        deadline = time.monotonic() + 240
        while killed is None and time.monotonic() < deadline:
            executing = client.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing])
            found = [addr for addr, keys in executing.items() if any(k.startswith("grade-slow-") for k in keys)]
            if found:
                time.sleep(8)  # well inside the student's 20 s sleep: the kernel is running
                killed = client.run(os.getpid, workers=found)[found[0]]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.5)
        assert killed is not None, "the slow task never started"
        thread.join(timeout=400)
        assert not thread.is_alive()
    results = {r.student: r for r in outcome["results"]}
    assert {s: r.score for s, r in results.items()} == dict.fromkeys(["a_honest", "b_honest", "c_honest", "slow"], FULL)
    log = commits(course)
    assert collections.Counter(row["student"] for row in log) == {s: 1 for s in results}
    slow = next(row for row in log if row["student"] == "slow")
    assert slow["worker"] != f"{socket.gethostname()}:{killed}", "retried on another worker process"


# ------------------------------------------------------------------ the command killed
def test_a_killed_batch_is_finished_by_rerunning_it_and_nobody_is_graded_twice(tmp_path, monkeypatch):
    course = Course(tmp_path / "course", [ASSIGNMENT], monkeypatch)
    course.run("generate_assignment", ASSIGNMENT, force=True, create=True)
    students = [f"s{i}" for i in range(1, 6)]
    for student in students:
        course.put_submission(ASSIGNMENT, student, sleeper(4))
    command = [sys.executable, "-m", "dlcourse.grading", ASSIGNMENT, "--course", str(course.root),
               "--workers", "2", "--timeout", "60", "--memory", "1.5GiB"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    journal = course.root / ".grading" / "batches" / ASSIGNMENT
    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(journal.glob("*.done"))) < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the command, its scheduler and its workers at once
    first.wait()
    done = sorted(p.stem for p in journal.glob("*.done"))
    recorded = set(done) | {p.stem for p in journal.glob("*.graded")}  # graded, maybe not committed
    assert 2 <= len(done) < len(students), f"killed too late or too early: {done}"
    kept = {s: (course.score(ASSIGNMENT, s),
                (course.root / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_mtime_ns)
            for s in done}

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"{len(recorded)} of {len(students)} students already graded" in again.stdout
    assert collections.Counter(row["student"] for row in commits(course)) == {s: 1 for s in students}
    assert {s: (course.score(ASSIGNMENT, s),
                (course.root / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_mtime_ns)
            for s in done} == kept
    assert all(course.score(ASSIGNMENT, s) == FULL for s in students)
    assert not journal.exists(), "a finished batch leaves no journal: the next run grades everyone"


# ------------------------------------------------------------------ scheduling
def test_scheduler_overhead_per_task_and_scaling_with_workers():
    sleeps = grading_scale.durations(200)
    two = grading_scale.measure(2, sleeps)
    one = grading_scale.measure(1, sleeps[:50])
    assert two["workers_used"] == 2
    assert two["overhead_per_task_ms"] <= 50, two
    assert two["throughput_per_s"] / one["throughput_per_s"] >= 1.6, (one, two)


def _duration(hours: float) -> str:
    return f"{hours:.1f} h" if hours >= 2 else f"{round(hours * 60)} min"


def test_the_instructors_page_quotes_the_recorded_projection():
    """book/instructors.md's table for 1,000 capstones is bench/results/grading-scale.json's."""
    import json

    recorded = json.loads((REPO / "bench" / "results" / "grading-scale.json").read_text())["results"]
    projection, runs = recorded["projection"], recorded["runs"]
    page = " ".join((REPO / "book" / "instructors.md").read_text().split())
    for cores in grading_scale.CORES:
        cpu, wall = (projection[k][str(cores)] for k in ("cpu_one_core_per_slot", "wall_busy_2core"))
        assert f"| {cores} | {_duration(cpu)} | {_duration(wall)} |" in page, cores
    two = next(r for r in runs if r["workers"] == 2)
    assert f"{two['overhead_per_task_ms']} ms per task on 2 workers" in page
    assert f"delivered {two['speedup']:.1f} times the throughput" in page


def test_a_crash_between_grading_and_committing_is_recovered_without_regrading(tmp_path, monkeypatch):
    """The write-ahead record: graded, then the command dies before the commit; the rerun
    commits what was graded and grades nobody again."""
    from dlcourse.grading import batch as grading_batch
    from dlcourse.grading import distributed

    course = Course(tmp_path / "course", [ASSIGNMENT], monkeypatch)
    course.run("generate_assignment", ASSIGNMENT, force=True, create=True)
    course.put_submission(ASSIGNMENT, "alice", make_submission(ASSIGNMENT))
    course.put_submission(ASSIGNMENT, "bob", make_submission(ASSIGNMENT, solved=False))
    real_commit = grading_batch._commit_graded

    def dies_on_bob(course_, assignment, student, graded):
        if student == "bob":
            raise KeyboardInterrupt("the power went out")
        return real_commit(course_, assignment, student, graded)

    monkeypatch.setattr(grading_batch, "_commit_graded", dies_on_bob)
    with pytest.raises(KeyboardInterrupt):
        grading.grade(ASSIGNMENT, course_root=course.root, limits=SLOW_LIMITS, log=lambda line: None)
    journal = course.root / ".grading" / "batches" / ASSIGNMENT
    assert (journal / "alice.done").exists() and (journal / "bob.graded").exists()
    assert not (journal / "bob.done").exists()

    monkeypatch.setattr(grading_batch, "_commit_graded", real_commit)
    monkeypatch.setattr(distributed, "grade_job", lambda job: pytest.fail(f"{job.student} graded again"))
    lines = []
    results = {r.student: r.score for r in grading.grade(ASSIGNMENT, course_root=course.root,
                                                          limits=SLOW_LIMITS, log=lines.append)}
    assert results == {"alice": FULL, "bob": 0}
    assert any("2 of 2 students already graded" in line for line in lines), lines
    assert collections.Counter(row["student"] for row in commits(course)) == {"alice": 1, "bob": 1}
    assert course.score(ASSIGNMENT, "bob") == 0
