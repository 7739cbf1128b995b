"""requirements.lock: every package pinned with hashes, agreeing with requirements.txt."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if m:
            pins[_name(m.group(1))] = m.group(2)
    return pins


def _hashes(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==", line)
        if m:
            current = _name(m.group(1))
            found[current] = []
        if current is not None:
            found[current].extend(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return found


def test_the_lock_agrees_with_the_direct_pins() -> None:
    direct, locked = _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements.lock")
    assert direct, "no pins in requirements.txt?"
    wrong = {n: (v, locked.get(n)) for n, v in direct.items() if locked.get(n) != v}
    assert not wrong, f"requirements.lock is stale (run `make lock`): {wrong}"


def test_every_locked_package_has_hashes_and_no_local_paths() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "file://" not in text and "--index-url" not in text and "--find-links" not in text
    hashes = _hashes(ROOT / "requirements.lock")
    assert len(hashes) > len(_pins(ROOT / "requirements.txt"))  # transitive ones too
    assert all(hashes.values()), [n for n, h in hashes.items() if not h]


def test_the_environment_is_the_locked_one() -> None:
    """What `make env` installed is what the lock says (pip, setuptools and wheel aside,
    which the venv may carry in other versions)."""
    differ = {}
    for name, version in _pins(ROOT / "requirements.lock").items():
        if name in {"pip", "setuptools", "wheel"}:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ[name] = (version, installed)
    assert not differ, f"installed packages differ from requirements.lock (locked, installed): {differ}"
