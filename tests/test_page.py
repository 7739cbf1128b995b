"""dlcourse.page: the chapters' setup and display helpers."""

from __future__ import annotations

import os

import pytest
import torch

from dlcourse import page


def test_setup_sets_threads_and_the_openmp_policy(monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    before = torch.get_num_threads()
    try:
        page.setup(threads=1)
        assert torch.get_num_threads() == 1
        assert os.environ["GOMP_SPINCOUNT"] == "10000"
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_setup_rejects_bad_thread_counts(threads):
    with pytest.raises(ValueError, match="threads"):
        page.setup(threads=threads)


def test_show_returns_the_source():
    code = page.show(page.markdown_table)
    assert "def markdown_table" in code.data
    with pytest.raises(ValueError, match="at least one"):
        page.show()


def test_markdown_table_formats_and_checks_rows():
    table = page.markdown_table(["a", "b"], [[1234, "x|y"], [True, 0.5]]).data
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1,234 | x\\|y |", "| True | 0.5 |"]
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        page.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="header is empty"):
        page.markdown_table([], [])


def test_glue_prints_the_number_for_live_readers(capsys):
    page.glue("answer", 42)
    assert capsys.readouterr().out == "answer = 42\n"
    with pytest.raises(ValueError, match="name"):
        page.glue("two words", 1)
