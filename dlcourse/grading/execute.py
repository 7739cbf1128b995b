"""nbgrader's ``Execute`` preprocessor with the kernel in the sandbox and the guard in it.

Cells run one by one. Before and after every test cell the guard restores the kernel and
reports (:mod:`.guard`); every test cell itself runs through the guard's ``run_test``, in a
copy of the namespace and without being kept in the kernel's history. A test cell's
stderr (warnings) is shown as stdout: nbgrader would score it 0. When the kernel dies (a
limit, ``os._exit``, a crash) the cells already run keep their outputs, and every test
cell that could not run gets an error output, so it scores 0 instead of nbgrader's "no
output, full marks".
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Any, Dict

from . import guard as guard_module
from .feedback import sanitize_notebook
from .results import GiB, Limits, Problem
from .sandbox import Sandbox

GUARD_MODULE = "_grading_guard"


def _memory_of(pid: int) -> int:
    """Resident anonymous + shared-memory bytes (not the shared libraries' pages)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        return sum(int(fields.get(k, "0 kB").split()[0]) * 1024 for k in ("RssAnon", "RssShmem"))
    except (OSError, ValueError):
        return 0


class Watchdog(threading.Thread):
    """Ends the sandbox from outside at the wall-time limit, or when all its processes
    together hold more memory than allowed (each one alone is bounded by RLIMIT_AS)."""

    def __init__(self, sandbox: Sandbox, pid: int, memory_limit: int) -> None:
        super().__init__(daemon=True, name="grading-watchdog")
        self.sandbox, self.pid, self.memory_limit = sandbox, pid, memory_limit
        self.reason: str | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.sandbox.limits.wall
        while not self._stop_event.wait(0.2):
            if time.monotonic() > deadline:
                self.reason = "time"
            elif sum(_memory_of(p.pid) for p in self.sandbox.processes(self.pid)) > self.memory_limit:
                self.reason = "memory"
            if self.reason:
                self.sandbox.kill(self.pid)
                return

    def stop(self) -> None:
        self._stop_event.set()


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel in the sandbox, talking over Unix sockets (it has no network)."""

    sandbox: Sandbox | None = None
    runtime: Path | None = None
    released: Path | None = None
    log_path: Path | None = None

    async def _async_pre_start_kernel(self, **kw):
        self.transport, self.ip = "ipc", str(self.runtime / "kernel")
        self.connection_file = str(self.runtime / "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
                  "--HistoryManager.hist_file=:memory:"]  # whatever the notebook's kernelspec says
        if self.sandbox.identity is not None:
            Path(self.connection_file).chmod(0o600)
            os.chown(self.connection_file, *self.sandbox.identity)
        kw["env"] = {"PATH": "/usr/bin:/bin"}
        kw.pop("cwd", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 (the sandbox holds it; closed with us)
        kw["stdout"] = kw["stderr"] = log
        try:
            return await super()._async_launch_kernel(self.sandbox.command(kernel, self.runtime, self.released), **kw)
        finally:
            log.close()

    async def _async_interrupt_kernel(self) -> None:
        """By message: the kernel runs in its own session, out of reach of signals to ours."""
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel


@dataclass
class _Run:
    """What happened while one notebook ran (becomes the report)."""

    problems: list[Problem] = field(default_factory=list)
    stopped: str | None = None  # why the remaining cells were not run
    guard_ok: bool = True
    truncated: set = field(default_factory=set)
    skipped: list = field(default_factory=list)
    events: dict = field(default_factory=lambda: {"read": [], "process": [], "introspection": []})

    def add(self, kind: str, message: str) -> None:
        problem = Problem(kind, message)
        if problem not in self.problems:
            self.problems.append(problem)


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with the kernel in the sandbox (see the module doc).

    ``settings`` (set for each submission): the guard's view of each notebook (tests,
    locked cells, names they bind) and where to write the report; ``sandbox``: the
    :class:`Sandbox`, with its limits.
    """

    settings = Dict(help="Set by dlcourse.grading for each submission.").tag(config=True)
    sandbox = Any(help="The dlcourse.grading.sandbox.Sandbox kernels run in.").tag(config=True)

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.sandbox, km.runtime, km.released = self.sandbox, self._runtime, self.settings.get("released")
        km.log_path = Path(self._settings["report"]).with_suffix(".kernel.log")
        return km

    def _kernel_pid(self) -> int | None:
        return getattr(getattr(self.km, "provisioner", None), "pid", None) if self.km is not None else None

    def _kernel_exit(self) -> str:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel died"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return f"the kernel was killed by {name}"
        if code == 137:  # bubblewrap reports its child's SIGKILL as 128 + 9
            return "the kernel was killed by SIGKILL"
        return f"the kernel exited with code {code} (os._exit, exit() or a crash in student code)"

    # --- the guard ------------------------------------------------------------------
    def _install_guard(self) -> None:
        config = {"secret": self._secret, "modules": self._settings["modules"],
                  "memory": self._limits.memory, "protected": self.settings.get("protected", [])}
        code = (f"import sys as _s, types as _t\n"
                f"_m = _t.ModuleType({GUARD_MODULE!r})\n"
                f"exec(compile({Path(guard_module.__file__).read_text()!r}, {guard_module.GUARD_FILE!r}, 'exec'), _m.__dict__)\n"
                f"_s.modules[{GUARD_MODULE!r}] = _m\n"
                f"_m.install({config!r})\n"
                f"del _s, _t, _m\n")
        reply = self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
        if reply is None or reply["content"]["status"] != "ok":
            detail = "" if reply is None else f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
            raise RuntimeError(f"could not install the grading guard in the kernel ({detail})")

    def _guard(self, phase: str, bind: list[str], test_nonce: str | None = None) -> dict | str:
        """Ask the guard: its report, or "busy" (no answer in time) or "bad" (not the guard's)."""
        nonce = secrets.token_hex(8)
        expr = f"__import__('sys').modules[{GUARD_MODULE!r}].check({phase!r}, {nonce!r}, {bind!r}, {test_nonce!r})"
        reply = self.wait_for_reply(self.kc.execute("", silent=True, store_history=False,
                                                    user_expressions={"r": expr}))
        if reply is None:
            return "busy"
        answer = reply["content"].get("user_expressions", {}).get("r", {})
        if answer.get("status") != "ok":
            return "busy" if answer.get("ename") == "MemoryError" else "bad"
        try:
            outer = json.loads(ast.literal_eval(answer["data"]["text/plain"]))
            expected = hmac.new(self._secret.encode(), (nonce + phase + outer["payload"]).encode(),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, outer["signature"]):
                return "bad"
            return json.loads(outer["payload"])
        except Exception:
            return "bad"

    def _record_guard(self, name: str, phase: str, report: dict | str, errored: bool = False) -> bool:
        """Turn the guard's answer into problems; True when the test cell must fail."""
        run = self._run
        if report == "busy":  # the kernel is stuck (the watchdog will end it): cannot vouch
            return phase == "after"
        if report == "bad":
            if run.guard_ok:
                run.add("tamper", f"the grading guard did not answer correctly at {name} "
                                  "(removed or replaced by student code); later tests fail")
            run.guard_ok = False
            return phase == "after"
        where = f"during test {name}" if phase == "after" else f"before {name}"
        for thing in report.get("changed", []):
            run.add("tamper", f"{thing} was replaced by student code ({where}; restored)")
        for thing in report.get("fake", []):
            run.add("tamper", f"{thing} claims equality with anything ({where}; disarmed)")
        for thing in report.get("threads", []):
            run.add("tamper", f"a background {thing} ({where}; the test fails)")
        for kind, detail in report.get("events", []):
            if kind in run.events and detail not in run.events[kind]:
                run.events[kind].append(detail)
            elif kind == "hook":
                run.add("tamper", "installed its own audit hook")
        unfinished = phase == "after" and report.get("completed") is False and not errored
        if unfinished:
            run.add("tamper", f"test {name} did not run to its end, without an error (the test fails)")
        return phase == "after" and bool(report.get("changed") or report.get("fake")
                                         or report.get("threads") or unfinished)

    # --- outputs ----------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        """Collect outputs, but at most ``output_bytes`` per cell (errors are always kept);
        a test cell's stderr becomes stdout (warnings must not cost points)."""
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return out
        if out.output_type == "error":
            out.traceback = [line[:10000] for line in out.traceback[-200:]]
            out.evalue = str(out.evalue)[:10000]
            return out
        if out.output_type == "stream" and out.name == "stderr" and cell_index in self._test_indexes:
            out.name = "stdout"
        size = self._output_sizes.get(cell_index, 0) + len(str(out.get("text", ""))) \
            + sum(len(str(v)) for v in out.get("data", {}).values())
        self._output_sizes[cell_index] = size
        if size > self._limits.output_bytes:
            outs.remove(out)
            if cell_index not in self._run.truncated:
                self._run.truncated.add(cell_index)
                outs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"\n... output over {self._limits.output_bytes} bytes dropped by the grader ...\n"))
            return None
        return out

    # --- the notebook ---------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._settings = self.settings["notebooks"][resources["nbgrader"]["notebook"]]
        self._limits: Limits = self.sandbox.limits
        self._secret = secrets.token_hex(16)
        self._run = _Run()
        self._output_sizes: dict[int, int] = {}
        tests = set(self._settings["tests"])
        self._test_indexes = {i for i, c in enumerate(nb.cells)
                              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in tests}
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        cell_timeout = self._limits.cell_timeout or self.timeout or self._limits.wall
        self.timeout = int(max(1, min(cell_timeout, self._limits.wall)))
        self.shutdown_kernel = "immediate"
        self._runtime = self.sandbox.runtime_dir(f"{resources['nbgrader']['notebook']}-{secrets.token_hex(4)}")
        watchdog, self._tree = None, []
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                self._install_guard()
                pid = self._kernel_pid()
                self._tree = self.sandbox.processes(pid)  # psutil remembers start times: no pid reuse
                baseline = sum(_memory_of(p.pid) for p in self.sandbox.processes(pid))
                watchdog = Watchdog(self.sandbox, pid, baseline + int(1.25 * self._limits.memory))
                watchdog.start()
                for index, cell in enumerate(self.nb.cells):
                    self._run_cell(cell, index, resources, watchdog)
        finally:
            if watchdog is not None:
                watchdog.stop()
            self.sandbox.kill(None, self._tree)  # and reap what the kernel manager's shutdown left
            self.sandbox.release(self._runtime)
            self._finish()
        sanitize_notebook(self.nb)
        return self.nb, self.resources

    def _run_cell(self, cell, index, resources, watchdog) -> None:
        run = self._run
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
        is_test = index in self._test_indexes
        if cell.cell_type != "code":
            return
        if run.stopped:
            if is_test:
                cell.outputs = [_error_output("GradingStopped", f"not run: {run.stopped}")]
                run.skipped.append(name)
            return
        try:
            if is_test:
                self._run_test(cell, index, name)
            else:
                self.preprocess_cell(cell, resources, index)
                self._note_errors(cell, name, locked=name in self._settings["locked"])
                if name in self._settings["locked"]:
                    self._record_guard(name, "locked", self._guard("locked", self._settings["bind"].get(name, [])))
        except DeadKernelError:
            reason = watchdog.reason if watchdog is not None else None
            if reason == "time":
                why = f"wall-time limit of {self._limits.wall:g} s reached in {name}"
            elif reason == "memory":
                why = f"memory limit ({self._limits.memory / GiB:.3g} GiB) reached in {name}"
            else:
                why = f"{self._kernel_exit()} in {name}"
            run.add("limit" if reason else "crash", why)
            run.stopped = why
            cell.outputs.append(_error_output("GradingStopped", why))
        except CellTimeoutError as error:
            run.add("limit", f"cell {name} did not stop at the cell time limit of {self.timeout} s "
                             "(interrupted, but stuck, e.g. in compiled code)")
            cell.outputs.append(_error_output("CellTimeoutError", str(error)[:200]))
        if index in run.truncated:
            run.add("limit", f"output of {name} truncated (over {self._limits.output_bytes} bytes)")

    def _run_test(self, cell, index, name) -> None:
        """A test cell: guard check, the test through ``run_test`` (not kept in the kernel's
        history), guard check; its source in the notebook stays the test's."""
        if not self._run.guard_ok:
            cell.outputs = [_error_output("TamperingDetected", "the grading guard was disabled")]
            return
        self._record_guard(name, "before", self._guard("before", []))
        nonce = secrets.token_hex(8)
        source = cell.source
        keep = self._settings["keep"].get(name, [])
        cell.source = f"__import__('sys').modules[{GUARD_MODULE!r}].run_test({nonce!r}, {source!r}, {keep!r})"
        try:
            self.execute_cell(cell, index, store_history=False)
        finally:
            cell.source = source
        errored = self._note_errors(cell, name, locked=True)
        if self._record_guard(name, "after", self._guard("after", [], nonce), errored):
            cell.outputs.append(_error_output(
                "TamperingDetected", "student code changed the grading environment during this test"))

    def _note_errors(self, cell, name: str, locked: bool) -> bool:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        for error in errors:
            if error.ename == "CellTimeoutError":
                self._run.add("limit", f"cell {name} interrupted after the cell time limit of {self.timeout} s")
            elif error.ename == "MemoryError" or "can't allocate memory" in str(error.evalue) \
                    or "DefaultCPUAllocator" in str(error.evalue):
                self._run.add("limit", f"memory limit ({self._limits.memory / GiB:.3g} GiB) reached in {name}: "
                                       f"{error.ename}")
            elif not locked:
                self._run.add("error", f"{name} raised {error.ename}: {str(error.evalue)[:80]}")
        return bool(errors)

    def _finish(self) -> None:
        run = self._run
        if run.skipped:
            run.add("limit", f"tests not run after that (0 points): {', '.join(run.skipped)}")
        for kind, what in (("read", "tried to open instructor files (not in its sandbox)"),
                           ("process", "started processes"),
                           ("introspection", "tried to inspect frames or the interpreter (refused)")):
            things = run.events[kind]
            if things:
                listed = ", ".join(t[:100] for t in things[:6]) + (f" and {len(things) - 6} more" if len(things) > 6 else "")
                run.add("tamper", f"{what}: {listed}")
        Path(self._settings["report"]).write_text(json.dumps(
            {"problems": [[p.kind, p.message] for p in run.problems]}))
