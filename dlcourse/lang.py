"""The book's two editions: which language a page is in, and the package's words in it.

The English chapters live in ``book/``, the Simplified Chinese ones in ``book-zh/book/``.
A chapter's hidden setup cell says its language (``page.setup(lang="zh")``), which sets
``BOOK_LANG`` for the kernel; everything the package writes on a page (quiz buttons and
feedback, axis labels of its plots) then comes in that language through :func:`tr`.
"""

from __future__ import annotations

import os

__all__ = ["LANGUAGES", "current", "tr", "set_language"]

LANGUAGES = ("en", "zh")


def _check(lang: object) -> str:
    if lang not in LANGUAGES:
        raise ValueError(
            f"language must be one of {', '.join(LANGUAGES)}, got {lang!r} "
            "(BOOK_LANG=zh builds the Chinese edition; unset or en for English)"
        )
    return lang  # type: ignore[return-value]


def current() -> str:
    """The page's language: ``BOOK_LANG`` (``en`` when unset)."""
    return _check(os.environ.get("BOOK_LANG", "en") or "en")


def set_language(lang: str) -> None:
    """Make ``lang`` the language of everything the package writes from now on."""
    os.environ["BOOK_LANG"] = _check(lang)


def tr(en: str, zh: str) -> str:
    """The same words in the current language: ``tr("Check", "检查")``."""
    return zh if current() == "zh" else en
