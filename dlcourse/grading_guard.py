"""Kept for the hidden tests of the exercises, which call
``dlcourse.grading_guard.assert_untampered(globals())``: the guard now lives in
:mod:`dlcourse.grading.guard`."""

from dlcourse.grading.guard import assert_untampered

__all__ = ["assert_untampered"]
