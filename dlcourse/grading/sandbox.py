"""Where student code runs: a bubblewrap sandbox per submission, with limits from the kernel.

Each kernel gets new PID, IPC, network and UTS namespaces (all its processes die with it, no
network, no SysV shared memory shared with anyone), ``--die-with-parent`` and
``--new-session``, and a file system of its own: read-only the interpreter, the venv, the
``dlcourse`` package and the data cache; size-capped tmpfs for its working folder (which
holds only the assignment's released files), ``/tmp`` and ``/dev/shm``; a folder for the
kernel's sockets; and nothing else of the host (no course folder, ``.git``, exchange,
gradebook, ``/run/lock``). Inside, :mod:`.confine` sets ``RLIMIT_*`` and drops to the
unprivileged user ``nbgrader-sandbox`` before the kernel starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from .results import GiB, Limits

SANDBOX_USER = "nbgrader-sandbox"
BWRAP = "/usr/bin/bwrap"
PACKAGE = Path(__file__).resolve().parents[1]  # dlcourse/: students import it
CONFINE = Path(__file__).resolve().with_name("confine.py")
INSIDE_PACKAGE = "/opt/dlcourse"
INSIDE_HOME = "/home/student"
INSIDE_DATA = "/data"
INSIDE_RELEASED = "/released"
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts",
             "mime.types", "nsswitch.conf")


class SandboxUnavailable(RuntimeError):
    """Grading as root without bubblewrap, unless the instructor asked for it explicitly."""


def bwrap_works() -> bool:
    """Whether bubblewrap can create the namespaces the sandbox needs here."""
    if not os.access(BWRAP, os.X_OK):
        return False
    probe = [BWRAP, "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--die-with-parent",
             "--as-pid-1", "--ro-bind", "/", "/", "true"]  # as PID 1: no reaper process left to us
    if os.geteuid() != 0:
        probe.insert(1, "--unshare-user")
    return subprocess.run(probe, capture_output=True).returncode == 0


def sandbox_identity(name: str | None, log: Callable[[str], None] = print) -> tuple[int, int] | None:
    """(uid, gid) of the unprivileged user kernels run as; created when missing (root only)."""
    if not name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
        entry = pwd.getpwnam(name)
        log(f"created the sandbox user {name} (uid {entry.pw_uid})")
    if entry.pw_uid == 0:
        raise ValueError(f"the sandbox user {name!r} must not be root")
    return entry.pw_uid, entry.pw_gid


@dataclass
class Sandbox:
    """How one batch runs its kernels: bubblewrap (``isolated``) or, when the instructor
    asked for it, a bare process in a scratch folder (``--unsafe-no-sandbox``)."""

    limits: Limits
    identity: tuple[int, int] | None  # None: the grader's own user
    isolated: bool
    scratch: Path  # the batch's private folder (passwd file, kernels' sockets)

    @classmethod
    def create(cls, limits: Limits, scratch: Path, user: str | None, unsafe: bool,
               log: Callable[[str], None] = print) -> "Sandbox":
        isolated = bwrap_works()
        if not isolated:
            if not unsafe and os.geteuid() == 0:
                raise SandboxUnavailable(
                    f"bubblewrap ({BWRAP}) is missing or cannot create namespaces here, and grading as "
                    "root without it would run student code with root's access to the course: install "
                    "it (apt-get install bubblewrap) or, on a throw-away machine only, pass "
                    "--unsafe-no-sandbox")
            log("warning: NO SANDBOX (bubblewrap unavailable): student code can read what this user "
                "can read; only the resource limits and the guard apply")
        _become_subreaper()
        identity = sandbox_identity(user, log)
        if identity is not None and not isolated and not _can_run_python(identity):
            log(f"warning: the user {user} cannot run {sys.executable} (a private folder on the way): "
                "without a sandbox, student code runs as this user")
            identity = None
        sandbox = cls(limits, identity, isolated, scratch)
        sandbox._write_passwd()
        return sandbox

    # ------------------------------------------------------------------ the command
    def _write_passwd(self) -> None:
        uid, gid = self.identity or (os.getuid(), os.getgid())
        (self.scratch / "passwd").write_text(f"student:x:{uid}:{gid}:student:{INSIDE_HOME}:/usr/sbin/nologin\n")
        (self.scratch / "group").write_text(f"student:x:{gid}:\n")

    def runtime_dir(self, name: str) -> Path:
        """A folder for one kernel's connection file and sockets (same path inside and out)."""
        folder = self.scratch / "run" / name
        folder.mkdir(parents=True)
        if self.identity is not None:
            os.chown(folder, *self.identity)
        folder.chmod(0o700)
        return folder

    def _mounts(self, runtime: Path, released: Path | None) -> list[str]:
        disk = str(self.limits.disk)
        # The fresh /tmp comes first: a later mount on top of it would hide binds below /tmp
        # (a course, or its .venv, cloned under /tmp).
        args: list[str] = ["--proc", "/proc", "--dev", "/dev",
                           "--perms", "1777", "--size", disk, "--tmpfs", "/tmp",
                           "--perms", "1777", "--size", disk, "--tmpfs", "/dev/shm"]
        for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--ro-bind", str(self.scratch / "passwd"), "/etc/passwd",
                 "--ro-bind", str(self.scratch / "group"), "/etc/group"]
        prefixes = {os.path.realpath(sys.base_prefix): [os.path.realpath(sys.base_prefix)],
                    os.path.realpath(sys.prefix): [sys.prefix, os.path.realpath(sys.prefix)]}
        for real, places in prefixes.items():
            for place in dict.fromkeys(places):
                args += ["--ro-bind", real, place]
        args += ["--ro-bind", str(PACKAGE), f"{INSIDE_PACKAGE}/{PACKAGE.name}"]
        cache = data_root() / "cache"
        if cache.is_dir():
            args += ["--ro-bind", str(cache), f"{INSIDE_DATA}/cache"]
        if released is not None and released.is_dir():
            args += ["--ro-bind", str(released), INSIDE_RELEASED]
        args += ["--size", disk, "--tmpfs", INSIDE_HOME,
                 "--bind", str(runtime), str(runtime)]
        return _traversable_parents(args)

    def environment(self, home: str) -> dict[str, str]:
        """The kernel's whole environment: nothing of the instructor's."""
        bin_dir = str(Path(sys.executable).parent)
        threads = str(self.limits.threads)
        return {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": f"{home}/tmp",
            "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib", "MPLBACKEND": "Agg",
            "XDG_CACHE_HOME": f"{home}/.cache", "XDG_CONFIG_HOME": f"{home}/.config",
            "JUPYTER_CONFIG_DIR": f"{home}/.config/jupyter", "JUPYTER_DATA_DIR": f"{home}/.cache/jupyter",
            "TORCH_HOME": f"{home}/.cache/torch", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": INSIDE_PACKAGE if self.isolated else str(PACKAGE.parent),
            "DLCOURSE_DATA": INSIDE_DATA if self.isolated else str(data_root()),
            "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "NBGRADER_EXECUTION": "autograde",
        }

    def rlimits(self) -> dict[str, int]:
        """Generous memory until the kernel is up (the guard then lowers it for good)."""
        startup = self.limits.memory + 8 * GiB
        limits = {"RLIMIT_DATA": startup, "RLIMIT_AS": startup + 8 * GiB,
                  "RLIMIT_CPU": int(2 * self.limits.wall * max(1, self.limits.threads) + 30),
                  "RLIMIT_FSIZE": self.limits.file_bytes, "RLIMIT_CORE": 0}
        if self.identity is not None:  # counted per user: only meaningful for the sandbox user
            limits["RLIMIT_NPROC"] = self.limits.processes
        return limits

    def command(self, kernel: list[str], runtime: Path, released: Path | None) -> list[str]:
        """The kernel command wrapped in bubblewrap and :mod:`.confine`."""
        home = INSIDE_HOME if self.isolated else str(runtime / "home")
        uid, gid = self.identity or (None, None)
        settings = {"workdir": home, "uid": uid, "gid": gid, "rlimits": self.rlimits(),
                    "env": self.environment(home),
                    "released": INSIDE_RELEASED if self.isolated else str(released or "/nonexistent")}
        inner = [sys.executable, "-I", self._confine_path(), json.dumps(settings), "--", *kernel]
        if not self.isolated:
            return inner
        wrapper = [BWRAP, "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts",
                   "--unshare-cgroup-try", "--hostname", "grading", "--die-with-parent", "--new-session"]
        if os.geteuid() != 0:
            wrapper.append("--unshare-user")
        return [*wrapper, *self._mounts(runtime, released), "--chdir", "/", "--", *inner]

    def _confine_path(self) -> str:
        if self.isolated:
            return f"{INSIDE_PACKAGE}/{PACKAGE.name}/grading/{CONFINE.name}"
        return str(CONFINE)

    # ------------------------------------------------------------------ the processes
    @staticmethod
    def processes(root_pid: int | None) -> list[psutil.Process]:
        """The sandbox's processes, as the host sees them."""
        if root_pid is None:
            return []
        try:
            root = psutil.Process(root_pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def kill(self, root_pid: int | None, known: list[psutil.Process] = ()) -> None:
        """End the sandbox: killing bubblewrap ends its PID namespace, and with it every
        process in it (however many times they forked). Outside a sandbox: the tree.
        ``known``: processes seen earlier (bubblewrap's own, orphaned by then) to reap too."""
        procs = list({p.pid: p for p in [*known, *self.processes(root_pid)] if p.is_running()}.values())
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=5)
        for proc in procs:  # orphans come to us (a subreaper): reap them, no zombie stays
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(proc.pid, os.WNOHANG)

    def release(self, runtime: Path) -> None:
        shutil.rmtree(runtime, ignore_errors=True)


def _become_subreaper() -> None:
    """Processes of a sandbox that lose their parent become this process's children (not
    init's, which in a container may never reap them), so :meth:`Sandbox.kill` reaps them."""
    import ctypes
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _can_run_python(identity: tuple[int, int]) -> bool:
    """Whether that user can start this interpreter (outside a sandbox, on the real file system)."""
    try:
        return subprocess.run([sys.executable, "-c", "pass"], user=identity[0], group=identity[1], extra_groups=[],
                              capture_output=True, cwd="/", timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _traversable_parents(args: list[str]) -> list[str]:
    """bubblewrap makes missing parent folders of a mount point private (0700): create them
    world-traversable just before each bind, or the sandbox user could not reach them."""
    out: list[str] = []
    made: set[str] = set()
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("--tmpfs", "--proc", "--dev"):
            made = {m for m in made if not (m + "/").startswith(args[index + 1].rstrip("/") + "/")}
        if arg in ("--ro-bind", "--bind", "--ro-bind-try"):
            for parent in reversed(Path(args[index + 2]).parents):
                if str(parent) != "/" and str(parent) not in made:
                    made.add(str(parent))
                    out += ["--perms", "0755", "--dir", str(parent)]
        step = 3 if arg in ("--ro-bind", "--bind", "--ro-bind-try", "--symlink") else \
            2 if arg in ("--tmpfs", "--proc", "--dev", "--dir", "--size", "--perms") else 1
        out += args[index:index + step]
        index += step
    return out


def data_root() -> Path:
    """The data sets (as dlcourse.data finds them); only their cache/ enters the sandbox."""
    return Path(os.environ.get("DLCOURSE_DATA") or PACKAGE.parent / "data").resolve()
