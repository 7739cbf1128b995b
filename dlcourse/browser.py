"""The Chromium the browser tests drive: found, or obtained, or one clear instruction.

``make test`` runs ``python -m dlcourse.browser --obtain`` before anything else, and the
browser tests (``tests/test_site.py``, ``tests/test_jupyterlab.py``) call
:func:`find_chromium`. Where a browser comes from, first match wins:

1. ``DLCOURSE_CHROMIUM``: a path to a Chromium or Chrome executable (any system);
2. a Chromium or Chrome on ``PATH`` (``chromium``, ``chromium-browser``,
   ``google-chrome``...) or in macOS's ``/Applications``;
3. the Chromium that Playwright downloads into its own cache
   (``python -m playwright install chromium``).

With ``--obtain`` and none found, it gets one: as root on Debian
``apt-get install -y chromium``; otherwise Playwright's own download (with the system
libraries it needs, as root on Ubuntu). If that fails too it prints one line saying what to do and
exits with status 1, so ``make test`` stops at once instead of failing every browser
test one by one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = "DLCOURSE_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
INSTRUCTION = (
    "No Chromium for the browser tests: install one (Debian/Ubuntu: sudo apt-get install "
    "chromium, or .venv/bin/python -m playwright install --with-deps chromium; macOS: "
    "brew install --cask chromium) or set DLCOURSE_CHROMIUM=/path/to/chromium, then run "
    "make test again."
)


class BrowserNotFound(RuntimeError):
    """No usable Chromium; the message says how to get one."""


def _is_executable(path: str | Path) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _snap_stub(path: str) -> bool:
    """Ubuntu's ``chromium-browser`` deb is a script that asks for the snap: not usable
    headless in containers, so it does not count as found."""
    try:
        head = Path(path).read_bytes()[:4096]
    except OSError:
        return False
    return head.startswith(b"#!") and b"snap" in head


def _playwright_chromium() -> str | None:
    """Playwright's own Chromium, if it has been downloaded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # no driver, or no browser registry: nothing downloaded
        return None
    return path if path and _is_executable(path) else None


def find_chromium(use_playwright: bool = True) -> str | None:
    """The path of a usable Chromium (see the module docstring), or None."""
    chosen = os.environ.get(ENV)
    if chosen:
        if not _is_executable(chosen):
            raise BrowserNotFound(f"{ENV}={chosen!r} is not an executable file. {INSTRUCTION}")
        return chosen
    for name in NAMES:
        path = shutil.which(name)
        if path and not _snap_stub(path):
            return path
    for path in MACOS_APPS:
        if _is_executable(path):
            return path
    return _playwright_chromium() if use_playwright else None


def _os_release() -> dict[str, str]:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {k: v.strip().strip('"') for k, v in pairs}


def _debian_like_root() -> bool:
    """Root on Debian (where ``chromium`` is a real package, not a snap stub)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    return _os_release().get("ID") == "debian"


def _run(cmd: list[str], env: dict[str, str] | None = None) -> bool:
    print("dlcourse.browser: " + " ".join(cmd), file=sys.stderr)
    try:
        return subprocess.run(cmd, env=env, timeout=1800).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def obtain_chromium() -> str:
    """A usable Chromium: found, else installed (apt-get as root on Debian, else
    Playwright's download). Raises :class:`BrowserNotFound` with what to do."""
    found = find_chromium()
    if found:
        return found
    if _debian_like_root():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], env)
        _run(["apt-get", "install", "-y", "-qq", "chromium"], env)
        found = find_chromium(use_playwright=False)
        if found:
            return found
    # As root with apt (Ubuntu, whose chromium package is a snap stub), Playwright can
    # install the libraries its Chromium needs too.
    root_apt = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    _run([sys.executable, "-m", "playwright", "install",
          *(["--with-deps"] if root_apt else []), "chromium"])
    found = find_chromium()
    if found:
        return found
    raise BrowserNotFound(INSTRUCTION)


def main(argv: list[str] | None = None) -> int:
    """``python -m dlcourse.browser [--obtain]``: print the browser's path, or one
    instruction and exit status 1."""
    args = sys.argv[1:] if argv is None else argv
    try:
        path = obtain_chromium() if "--obtain" in args else find_chromium()
    except BrowserNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if path is None:
        print(f"error: {INSTRUCTION}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
