"""The first program inside the sandbox: ``python confine.py JSON -- COMMAND...``.

Run by bubblewrap as the sandbox's PID 1 child (standard library only: the grading package
is not importable there). It copies the released files into the empty working folder, sets
the resource limits (``RLIMIT_*``, which every process the kernel starts inherits), drops to
the unprivileged sandbox user (no capabilities, no new privileges: set-user-id programs do
nothing) and replaces itself with the kernel.
"""

import ctypes
import json
import os
import resource
import shutil
import sys

PR_SET_NO_NEW_PRIVS = 38


def copy_released(source: str, target: str) -> None:
    """The assignment's released extra files (data, images), never a notebook."""
    if not os.path.isdir(source):
        return
    for root, dirs, files in os.walk(source):
        relative = os.path.relpath(root, source)
        os.makedirs(os.path.join(target, relative), exist_ok=True)
        for name in files:
            if not name.endswith(".ipynb"):
                shutil.copyfile(os.path.join(root, name), os.path.join(target, relative, name))


def limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def main(settings: dict, command: list[str]) -> None:
    copy_released(settings["released"], settings["workdir"])
    for sub in ("tmp", ".cache", ".config", ".ipython", ".matplotlib"):
        os.makedirs(os.path.join(settings["workdir"], sub), exist_ok=True)
    uid, gid = settings.get("uid"), settings.get("gid")
    if uid is not None:
        for root, dirs, files in os.walk(settings["workdir"]):
            for name in [root, *(os.path.join(root, f) for f in dirs + files)]:
                os.lchown(name, uid, gid)
    os.chdir(settings["workdir"])
    os.umask(0o077)
    for name, value in settings["rlimits"].items():
        limit(getattr(resource, name), value)
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # drops every capability
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("confine: could not drop root")
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.execvpe(command[0], command, settings["env"])


if __name__ == "__main__":
    separator = sys.argv.index("--")
    main(json.loads(sys.argv[1]), sys.argv[separator + 1:])
