"""dlcourse.fonts: a font with Chinese glyphs, found or obtained, never a stale one."""

from __future__ import annotations

import pytest
from matplotlib import font_manager

from dlcourse import fonts


def test_a_font_listed_in_matplotlibs_cache_but_uninstalled_does_not_count(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    gone = font_manager.FontEntry(fname=str(tmp_path / "removed.ttc"), name="SimHei")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [gone])
    assert fonts.find_cjk_fonts() == []


def test_an_installed_font_is_found_best_first(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    files = []
    for name in ("SimHei", "Noto Sans CJK SC", "DejaVu Sans"):
        path = tmp_path / f"{name}.ttf"
        path.write_bytes(b"")
        files.append(font_manager.FontEntry(fname=str(path), name=name))
    monkeypatch.setattr(font_manager.fontManager, "ttflist", files)
    assert fonts.find_cjk_fonts() == ["Noto Sans CJK SC", "SimHei"]


def test_without_a_font_the_instruction_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "find_cjk_fonts", lambda rescan=False: [])
    monkeypatch.setattr(fonts.os, "geteuid", lambda: 1000)  # not root: nothing is installed
    with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
        fonts.obtain()
    assert fonts.main(["--obtain"]) == 1
