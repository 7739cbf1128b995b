"""The pictures the chapters draw: image grids, training curves, confusion matrices,
feature maps and filters. Every function returns a matplotlib Figure.

Figures are built with ``Figure()`` rather than ``pyplot`` so that a notebook shows each one
exactly once (as the cell's value) and nothing leaks into pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure
from torch import Tensor

from ._checks import check_int, check_real, check_tensor, describe
from .lang import tr

if TYPE_CHECKING:
    from .training import History

__all__ = [
    "confusion_matrix",
    "feature_maps",
    "filters",
    "image_grid",
    "plot_confusion",
    "training_curves",
]


def _subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6, 4), **kw):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kw)


def _as_image(x: Tensor) -> Tensor:
    """C×H×W (uint8 or float) → H×W or H×W×3 float in [0, 1] for imshow."""
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"an image must be C×H×W with C = 1 or 3, got shape {tuple(x.shape)}")
    x = x.detach().float().cpu()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("an image has NaN or infinite pixels; it cannot be shown faithfully")
    if x.max() > 1 or x.min() < 0:
        x = x / 255 if x.min() >= 0 and x.max() <= 255 else (x - x.min()) / (x.max() - x.min() + 1e-12)
    return x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)


def image_grid(images: Tensor, labels: Sequence[int] | Tensor | None = None,
               classes: Sequence[str] | None = None, ncols: int = 8,
               titles: Sequence[str] | None = None, size: float = 1.2) -> Figure:
    """Show N×C×H×W images in a grid, titled with their class names (or ``titles``)."""
    check_tensor(images, "images", dim=4, nonempty=True, shape="N×C×H×W")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"images must have C = 1 or 3 channels, got shape {tuple(images.shape)}")
    n = len(images)
    check_int(ncols, "ncols", minimum=1)
    check_real(size, "size", positive=True)
    if titles is not None:
        if isinstance(titles, str) or len(titles) != n:
            raise ValueError(f"titles must hold one string per image ({n}), got {describe(titles)}")
    if labels is not None:
        labels = _check_labels(labels, "labels", n, len(classes) if classes else None)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(_as_image(images[i]).numpy(), cmap="gray", vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        elif labels is not None:
            label = int(labels[i])
            ax.set_title(classes[label] if classes else str(label), fontsize=8)
    fig.tight_layout()
    return fig


def _check_labels(labels: Sequence[int] | Tensor, name: str, n: int | None,
                  num_classes: int | None) -> Tensor:
    """Labels as a 1-D int64 tensor of whole numbers in [0, num_classes), or a clear error."""
    try:
        t = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a sequence or tensor of class indices, got {describe(labels)}") from None
    if t.dim() != 1 or (n is not None and len(t) != n):
        want = f"{n} labels" if n is not None else "a 1-D sequence"
        raise ValueError(f"{name} must be {want}, one class index per example, got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold integer class indices, got dtype {t.dtype}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must hold whole-number class indices, got {t[t != t.round()][:3].tolist()}")
    t = t.long()
    if num_classes is not None and len(t) and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        bad = t[(t < 0) | (t >= num_classes)][:5].tolist()
        raise ValueError(f"{name} must be class indices in 0..{num_classes - 1}, found {bad}")
    return t


def training_curves(history: History, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train against test."""
    if not hasattr(history, "column") or not hasattr(history, "epochs"):
        raise TypeError(f"history must be the History that fit returns, got {describe(history)}")
    if len(history.epochs) == 0:
        raise ValueError("history has no epochs to plot; train for at least one epoch")
    epochs = history.column("epoch")
    fig, (ax_loss, ax_acc) = _subplots(1, 2, figsize=(9, 3.2))
    for ax, metric, ylabel in ((ax_loss, "loss", tr("loss", "损失")),
                                  (ax_acc, "acc", tr("accuracy (%)", "准确率 (%)"))):
        scale = 100 if metric == "acc" else 1
        ax.plot(epochs, [v * scale for v in history.column(f"train_{metric}")], "o-", ms=3, label=tr("train", "训练"))
        test = history.column(f"test_{metric}")
        if all(v is not None for v in test):
            ax.plot(epochs, [v * scale for v in test], "s-", ms=3, label=tr("test", "测试"))
        ax.set_xlabel(tr("epoch", "轮次"))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """Counts C[i, j] of examples of class i predicted as class j.

    Every label must be a class index in 0..num_classes − 1: one outside that range
    would otherwise be counted in the wrong cell.
    """
    check_int(num_classes, "num_classes", minimum=1)
    y_true = _check_labels(y_true, "y_true", None, num_classes)
    y_pred = _check_labels(y_pred, "y_pred", len(y_true), num_classes)
    flat = y_true * num_classes + y_pred
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def plot_confusion(y_true: Tensor, y_pred: Tensor, classes: Sequence[str],
                   normalize: bool = True) -> Figure:
    """Confusion matrix as a heat map, rows = true class, each row summing to 100 %."""
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes) or not classes:
        raise TypeError(f"classes must be a non-empty list of class names, got {describe(classes)}")
    cm = confusion_matrix(y_true, y_pred, len(classes)).float()
    if normalize:
        cm = 100 * cm / cm.sum(1, keepdim=True).clamp(min=1)
    fig, ax = _subplots(figsize=(0.55 * len(classes) + 2, 0.55 * len(classes) + 1.5))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel(tr("predicted", "预测类别"))
    ax.set_ylabel(tr("true", "真实类别"))
    for i in range(len(classes)):
        for j in range(len(classes)):
            value = cm[i, j].item()
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if value > cm.max().item() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label=tr("% of true class", "占真实类别的百分比") if normalize
                 else tr("count", "数量"))
    fig.tight_layout()
    return fig


def feature_maps(maps: Tensor, ncols: int = 8, title: str | None = None, size: float = 1.1) -> Figure:
    """Show the C maps of one C×H×W activation tensor side by side."""
    check_tensor(maps, "maps", shape="C×H×W")
    if maps.dim() != 3:
        raise ValueError(f"feature maps must be C×H×W (one example), got shape {tuple(maps.shape)}")
    check_tensor(maps, "maps", nonempty=True, finite=maps.is_floating_point())
    check_int(ncols, "ncols", minimum=1)
    return _panel([m for m in maps.detach().cpu()], ncols, title, size, cmap="viridis")


def filters(weight: Tensor, ncols: int = 8, title: str | None = None, size: float = 1.0) -> Figure:
    """Show the kernels of a conv weight O×C×k×k: RGB when C = 3, else the first channel."""
    check_tensor(weight, "weight", shape="O×C×kH×kW")
    if weight.dim() != 4:
        raise ValueError(f"conv weights must be O×C×kH×kW, got shape {tuple(weight.shape)}")
    check_tensor(weight, "weight", nonempty=True, floating=True, finite=True)
    check_int(ncols, "ncols", minimum=1)
    w = weight.detach().cpu().float()
    if w.shape[1] == 3:
        w = (w - w.amin(dim=(1, 2, 3), keepdim=True)) / (
            w.amax(dim=(1, 2, 3), keepdim=True) - w.amin(dim=(1, 2, 3), keepdim=True) + 1e-12)
        return _panel([k.permute(1, 2, 0) for k in w], ncols, title, size)
    return _panel([k[0] for k in w], ncols, title, size, cmap="RdBu_r", symmetric=True)


def _panel(tiles: list[Tensor], ncols: int, title: str | None, size: float,
           cmap: str | None = None, symmetric: bool = False) -> Figure:
    n = len(tiles)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = _subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                          squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            tile = tiles[i]
            limit = tile.abs().max().item() or 1.0
            ax.imshow(tile.numpy(), cmap=cmap, vmin=-limit if symmetric else None, vmax=limit if symmetric else None)
            ax.set_title(str(i), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

