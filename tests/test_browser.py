"""Finding the browser the browser tests drive (dlcourse/browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcourse import browser


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with no browser anywhere: empty PATH, no macOS apps, no Playwright cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv(browser.ENV, raising=False)
    monkeypatch.setattr(browser, "MACOS_APPS", ())
    monkeypatch.setattr(browser, "_playwright_chromium", lambda: None)
    return bin_dir


def test_nothing_found_gives_one_instruction(bare: Path, capsys: pytest.CaptureFixture) -> None:
    assert browser.find_chromium() is None
    assert browser.main([]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install chromium" in err
    assert "DLCOURSE_CHROMIUM" in err


def test_a_chromium_on_path_is_found(bare: Path) -> None:
    chromium = _executable(bare / "chromium")
    assert browser.find_chromium() == str(chromium)


def test_ubuntus_snap_stub_does_not_count(bare: Path) -> None:
    _executable(bare / "chromium-browser", "#!/bin/sh\necho 'install the chromium snap'\nsnap run chromium\n")
    assert browser.find_chromium() is None


def test_the_environment_variable_wins(bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _executable(bare / "chromium")
    chosen = _executable(tmp_path / "my-chrome")
    monkeypatch.setenv(browser.ENV, str(chosen))
    assert browser.find_chromium() == str(chosen)
    monkeypatch.setenv(browser.ENV, str(tmp_path / "missing"))
    with pytest.raises(browser.BrowserNotFound, match="not an executable"):
        browser.find_chromium()


def test_obtain_fails_at_once_when_nothing_installs(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[list[str]] = []
    monkeypatch.setattr(browser, "_debian_like_root", lambda: True)
    monkeypatch.setattr(browser, "_run", lambda cmd, env=None: tried.append(cmd) or False)
    with pytest.raises(browser.BrowserNotFound, match="make test again"):
        browser.obtain_chromium()
    assert [c[:2] for c in tried] == [["apt-get", "update"], ["apt-get", "install"],
                                      [tried[2][0], "-m"]]
    assert tried[2][-2:] == ["install", "chromium"]  # Playwright's own download


def test_obtain_uses_what_apt_installed(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_apt(cmd: list[str], env: dict | None = None) -> bool:
        if cmd[:2] == ["apt-get", "install"]:
            _executable(bare / "chromium")
        return True

    monkeypatch.setattr(browser, "_debian_like_root", lambda: True)
    monkeypatch.setattr(browser, "_run", fake_apt)
    assert browser.obtain_chromium() == str(bare / "chromium")
