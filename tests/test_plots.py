from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from dlcourse import plots
from dlcourse.training import Epoch, History


def _visible_axes(fig: Figure) -> int:
    return sum(ax.get_visible() and ax.axison for ax in fig.axes)


def test_image_grid_titles_each_image_with_its_class() -> None:
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    fig = plots.image_grid(images, torch.tensor([0, 1, 2, 1, 0]), ["cat", "dog", "emu"], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["cat", "dog", "emu", "dog", "cat"]
    assert len(fig.axes) == 6  # 2 rows × 3 columns, the last one empty


def test_image_grid_rejects_a_single_image() -> None:
    with pytest.raises(ValueError, match="N×C×H×W"):
        plots.image_grid(torch.zeros(3, 32, 32))


def test_confusion_matrix_counts_pairs() -> None:
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = plots.confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    fig = plots.plot_confusion(y_true, y_pred, ["a", "b", "c"])
    assert isinstance(fig, Figure) and fig.axes[0].images
    with pytest.raises(ValueError, match="shape"):
        plots.confusion_matrix(y_true, y_pred[:3], 3)


def test_training_curves_draw_train_and_test() -> None:
    history = History([Epoch(e, 1 / e, 0.5 + e / 10, 1.2 / e, 0.4 + e / 10, 0.1, 1.0) for e in (1, 2, 3)])
    fig = history.plot(title="demo")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "test"]
    assert acc_ax.lines[1].get_ydata()[-1] == pytest.approx(70.0)


def test_feature_maps_and_filters_make_one_panel_per_channel() -> None:
    fig = plots.feature_maps(torch.randn(6, 28, 28), ncols=3)
    assert sum(bool(ax.images) for ax in fig.axes) == 6
    fig = plots.filters(torch.randn(16, 6, 5, 5))
    assert sum(bool(ax.images) for ax in fig.axes) == 16
    rgb = plots.filters(torch.randn(6, 3, 5, 5))
    assert rgb.axes[0].images[0].get_array().shape == (5, 5, 3)
    with pytest.raises(ValueError, match="C×H×W"):
        plots.feature_maps(torch.randn(1, 6, 28, 28))
    with pytest.raises(ValueError, match="O×C×kH×kW"):
        plots.filters(torch.randn(6, 5, 5))


def test_confusion_matrix_counts_only_valid_class_indices() -> None:
    with pytest.raises(ValueError, match=r"y_pred must be class indices in 0\.\.2, found \[3\]"):
        plots.confusion_matrix([0, 1], [3, 1], 3)
    # lists and tensors alike; each example lands in exactly one cell
    cm = plots.confusion_matrix([0, 1, 2, 2], torch.tensor([0, 2, 2, 1]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
