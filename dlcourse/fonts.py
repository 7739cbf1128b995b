"""A font with Chinese glyphs for the Chinese edition's figures: found, or obtained, or
one clear instruction.

``make book`` runs ``python -m dlcourse.fonts --obtain`` before building ``book-zh/``.
With no CJK font installed it installs Debian's ``fonts-noto-cjk`` when it can (root
with apt-get); otherwise it prints what to install and exits with status 1, so the build
stops at once instead of failing in the first figure of the first Chinese chapter.
:func:`use_for_figures` (called by ``page.setup(lang="zh")``) sets matplotlib to draw
with it, and makes a glyph that no font has an error.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

# In order of preference: Debian/Ubuntu (fonts-noto-cjk, fonts-wqy-microhei), Adobe's
# release of the same design, then what macOS and Windows ship.
CJK_FONTS = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Source Han Sans SC",
             "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "SimHei")
INSTRUCTION = (
    "No font with Chinese glyphs, which the Chinese edition's figures need: install one "
    "(Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; Fedora: sudo dnf install "
    "google-noto-sans-cjk-fonts; macOS and Windows have one), then run make book again."
)


def find_cjk_fonts(rescan: bool = False) -> list[str]:
    """The installed CJK fonts matplotlib can use, best first (``rescan``: re-read the
    system's fonts instead of matplotlib's cache, e.g. after installing one)."""
    from matplotlib import font_manager

    if rescan:
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
    # matplotlib's cache can list a font that has since been uninstalled: check the file
    installed = {f.name for f in font_manager.fontManager.ttflist if os.path.isfile(f.fname)}
    return [name for name in CJK_FONTS if name in installed]


def obtain() -> str:
    """A CJK font's name: found, else installed with apt-get as root; else RuntimeError."""
    found = find_cjk_fonts() or find_cjk_fonts(rescan=True)
    if found:
        return found[0]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"], check=False, env=env)
        found = find_cjk_fonts(rescan=True)
        if found:
            return found[0]
    raise RuntimeError(INSTRUCTION)


def use_for_figures() -> str:
    """Let figures show Chinese: DejaVu Sans first (Latin text, the minus sign), then a CJK
    font for what it lacks (matplotlib falls back glyph by glyph). A glyph missing from
    every font becomes an error, so no figure silently shows empty boxes. Returns the
    CJK font used."""
    import warnings

    import matplotlib

    cjk = find_cjk_fonts() or find_cjk_fonts(rescan=True)
    if not cjk:
        raise RuntimeError(INSTRUCTION.replace("run make book again", "restart the kernel"))
    # The list itself, not "sans-serif": matplotlib falls back glyph by glyph only along
    # font.family (3.11 also picks the right face of a .ttc collection such as Noto's).
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    matplotlib.rcParams["axes.unicode_minus"] = True
    warnings.filterwarnings("error", message=r"Glyph \d+ .*missing from font")
    # A label with $...$ maths is drawn whole by mathtext, with one Latin font and no
    # fallback: its Chinese would be boxes, and mathtext only logs that. Make it an error.
    mathtext_log = logging.getLogger("matplotlib.mathtext")
    if not any(isinstance(f, _MathtextGlyphError) for f in mathtext_log.filters):
        mathtext_log.addFilter(_MathtextGlyphError())
    return cjk[0]


class _MathtextGlyphError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "does not have a glyph" in message:
            raise UserWarning(
                f"{message} (a glyph missing from font in a figure label with $...$ maths: "
                "mathtext draws the whole label with one Latin font, so Chinese in it would "
                "show as boxes. Write the maths with Unicode characters (η, x₁, √k) or put "
                "the Chinese words in a separate label.)"
            )
        return True


def main(argv: list[str]) -> int:
    if argv != ["--obtain"]:
        print("usage: python -m dlcourse.fonts --obtain", file=sys.stderr)
        return 2
    try:
        print(f"Chinese figures: {obtain()}")
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
