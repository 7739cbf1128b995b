"""LeNet (the study note's CIFAR-10 network) and LeNet-5 (the faithful 1998 network).

Paper: Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to
document recognition", Proc. IEEE 86(11), 1998. The architecture is in section II.B,
the loss in section II.C, the squashing function and initialisation in Appendix A.

``layer_table(model)`` rebuilds the study note's per-layer table from a model itself,
so the numbers in the chapter (60,000 parameters, 340,908 connections) are computed,
not typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .lang import tr
from ._checks import check_int, check_module, check_real, check_tensor, describe

__all__ = [
    "C3_TABLE",
    "EuclideanRBF",
    "LeNet",
    "LeNet5",
    "SparseConv2d",
    "Subsampling",
    "c3_mask",
    "count_connections",
    "count_parameters",
    "digit_bitmaps",
    "layer_outputs",
    "layer_table",
    "rbf_loss",
    "scaled_tanh",
]

# ----------------------------------------------------------------------------------
# The squashing function (section II.B, eq. 6; Appendix A)
# ----------------------------------------------------------------------------------
A = 1.7159
S = 2 / 3


def scaled_tanh(a: Tensor) -> Tensor:
    """LeNet-5's squashing function f(a) = A·tanh(S·a), A = 1.7159, S = 2/3.

    Why these constants (Appendix A): f(1) = 1 and f(−1) = −1, so ±1 targets sit where
    the curvature of f is largest, the gain near 0 is about 1, and the outputs can
    never saturate at the ±1 targets (|f| < 1.7159).
    """
    check_tensor(a, "a")
    return A * torch.tanh(S * a)


# ----------------------------------------------------------------------------------
# Input checks, shared by both networks
# ----------------------------------------------------------------------------------
def _check_images(x: Tensor, channels: int, name: str) -> None:
    """Raise a ValueError that says how to fix ``x`` unless it is an N×C×32×32 batch."""
    # inline, not check_tensor: the lenet5 exercise's hidden test lets a student's model
    # call only forward, scores and this function of dlcourse
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects x to be a torch.Tensor N×{channels}×32×32, got {type(x).__name__}")
    if x.dim() == 3:
        raise ValueError(
            f"{name} expects a batch N×{channels}×32×32, got a 3-D tensor {tuple(x.shape)}: "
            "add a batch dimension, e.g. x.unsqueeze(0) for one image "
            "(or x.unsqueeze(1) for a batch of grayscale images)."
        )
    if x.dim() != 4:
        raise ValueError(f"{name} expects a 4-D batch N×{channels}×32×32, got shape {tuple(x.shape)}.")
    c, h, w = x.shape[1:]
    if (h, w) == (28, 28):
        raise ValueError(
            f"{name} expects 32×32 images, got 28×28 (MNIST?): pad MNIST to 32×32, "
            "e.g. with dlcourse.data's padding, dlcourse.data.pad(images)."
        )
    if (h, w) != (32, 32):
        raise ValueError(f"{name} expects 32×32 images, got {h}×{w}: resize or pad them to 32×32.")
    if c != channels:
        raise ValueError(
            f"{name} expects {channels} input channel(s), got {c}: "
            + ("convert the images to grayscale." if name == "LeNet5" else f"build LeNet(in_channels={c}).")
        )


# ----------------------------------------------------------------------------------
# LeNet: the study note's modern CIFAR-10 network (62,006 parameters with RGB input)
# ----------------------------------------------------------------------------------
class LeNet(nn.Module):
    """The study note's LeNet: conv 6@5×5 → pool → conv 16@5×5 → pool → fc 120 → fc 84 → fc 10.

    ReLU activations and max pooling (the modern reading of LeNet-5). Attribute names
    are those of the note's code, so its state dicts load. Input: N×C×32×32.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        check_int(in_channels, "in_channels", minimum=1)
        check_int(num_classes, "num_classes", minimum=1)
        super().__init__()
        self.input_shape = (in_channels, 32, 32)
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2)  # modules, not F.max_pool2d, so layer_table sees them
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits, N×num_classes."""
        _check_images(x, self.input_shape[0], "LeNet")
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def scores(self, x: Tensor) -> Tensor:
        """Higher-is-better class scores (the logits), as for ``LeNet5.scores``."""
        return self(x)


# ----------------------------------------------------------------------------------
# LeNet-5's layers (section II.B)
# ----------------------------------------------------------------------------------
class Subsampling(nn.Module):
    """S2/S4: each unit sums its 2×2 inputs, × one trainable coefficient + one trainable bias per map.

    The squashing function is applied by the network afterwards. 2 parameters per map.
    """

    def __init__(self, channels: int, kernel_size: int = 2) -> None:
        check_int(channels, "channels", minimum=1)
        check_int(kernel_size, "kernel_size", minimum=1)
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        sums = F.avg_pool2d(x, k) * k * k  # non-overlapping k×k sums
        return sums * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseConv2d(nn.Module):
    """C3: a convolution in which output map j sees only the input maps ``table[j]``.

    Stored as one small convolution per output map, so the weights of missing
    connections do not exist at all: the parameter count is the paper's, 1,516.
    """

    _rows: Tensor
    _cols: Tensor

    def __init__(self, table: tuple[tuple[int, ...], ...], in_channels: int, kernel_size: int = 5) -> None:
        check_int(in_channels, "in_channels", minimum=1)
        check_int(kernel_size, "kernel_size", minimum=1)
        _check_table(table, in_channels)
        super().__init__()
        self.table = table
        self.in_channels = in_channels
        self.kernel_size = kernel_size
        self.convs = nn.ModuleList(nn.Conv2d(len(inputs), 1, kernel_size) for inputs in table)
        # Where each stored kernel slice goes in the dense weight: (output map, input map).
        pairs = [(j, i) for j, inputs in enumerate(table) for i in inputs]
        self.register_buffer("_rows", torch.tensor([j for j, _ in pairs]), persistent=False)
        self.register_buffer("_cols", torch.tensor([i for _, i in pairs]), persistent=False)

    def dense_weight(self) -> Tensor:
        """The stored kernels scattered into an ordinary out×in×k×k conv weight, zero where
        Table I has no connection. Gradients flow back to the stored kernels only."""
        stored = torch.cat([conv.weight[0] for conv in self.convs])  # connections×k×k
        k = self.kernel_size
        dense = stored.new_zeros(len(self.table), self.in_channels, k, k)
        return dense.index_put((self._rows, self._cols), stored)

    def forward(self, x: Tensor) -> Tensor:
        # Same result as one small conv per output map on x[:, table[j]], but one conv
        # call instead of 16 is about 4× faster to train on a CPU.
        bias = torch.cat([conv.bias for conv in self.convs])
        return F.conv2d(x, self.dense_weight(), bias)

    @property
    def mask(self) -> Tensor:
        """in_channels×out_channels bool, True where input map i feeds output map j (Table I layout)."""
        return _mask(self.table, self.in_channels)


def _check_table(table: tuple[tuple[int, ...], ...], in_channels: int) -> None:
    """Each output map lists distinct input maps in 0..in_channels − 1, at least one."""
    if not isinstance(table, (tuple, list)) or not table:
        raise TypeError(f"table must be a non-empty tuple of tuples of input maps, got {describe(table)}")
    for j, inputs in enumerate(table):
        if not isinstance(inputs, (tuple, list)) or not inputs:
            raise ValueError(f"table[{j}] must list the input maps of output map {j}, got {inputs!r}")
        for i in inputs:
            check_int(i, f"table[{j}] entry")
            if not 0 <= i < in_channels:
                raise ValueError(f"table[{j}] has input map {i}, outside 0..{in_channels - 1}")
        if len(set(inputs)) != len(inputs):
            raise ValueError(f"table[{j}] lists an input map twice: {inputs!r}")


class EuclideanRBF(nn.Module):
    """Output layer: y_i = Σ_j (x_j − w_ij)² (section II.B, eq. 7), one unit per class.

    The prototypes w_i are fixed ±1 bitmaps: a buffer, not a parameter, so the
    optimiser never touches them. y_i is a *penalty*: lower means "more like class i".
    """

    prototypes: Tensor

    def __init__(self, prototypes: Tensor) -> None:
        check_tensor(prototypes, "prototypes", floating=True, finite=True, nonempty=True,
                     shape="classes×(code)")
        if prototypes.dim() < 2:
            raise ValueError(
                f"prototypes must be classes×(code), at least 2-D, got shape {tuple(prototypes.shape)}"
            )
        super().__init__()
        self.register_buffer("prototypes", prototypes.flatten(1).float())  # 10×84

    def forward(self, x: Tensor) -> Tensor:
        return ((x.unsqueeze(1) - self.prototypes) ** 2).sum(dim=2)


# Table I of the paper: the S2 maps each C3 map j is connected to. Breaking the
# symmetry forces the C3 maps to learn different features, and saves parameters.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),  # 0–5: 3 contiguous
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5),  # 6–11: 4 contiguous
    (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),  # 12–14: 4 non-contiguous
    (0, 1, 2, 3, 4, 5),  # 15: all six
)  # fmt: skip


def _mask(table: tuple[tuple[int, ...], ...], in_channels: int) -> Tensor:
    mask = torch.zeros(in_channels, len(table), dtype=torch.bool)
    for j, inputs in enumerate(table):
        mask[list(inputs), j] = True
    return mask


def c3_mask() -> Tensor:
    """Table I as a 6×16 bool tensor: rows = S2 maps, columns = C3 maps, True = connected (60)."""
    return _mask(C3_TABLE, 6)


# The RBF prototypes: stylised 7×12 digits 0–9 ('#' = +1, '.' = −1), in the spirit of
# the paper's Fig. 3 (drawn for this course, not copied). Why ±1 bitmaps rather than
# 1-of-10 codes (section II.B): F6 then aims at ±1, where scaled_tanh does not
# saturate, and characters that look alike get codes that are close.
_DIGITS = """
....... ....... ....... ....... ....... ....... ....... ....... ....... .......
..###.. ...##.. .#####. .#####. ....##. ####### ..####. ####### .#####. .#####.
.##.##. ..###.. ##...## ##...## ...###. ##..... .##.... .....## ##...## ##...##
.#...#. .####.. .....## .....## ..#.##. ##..... ##..... ....##. ##...## ##...##
##...## ...##.. .....## .....## .#..##. ######. ##..... ....##. ##...## ##...##
##...## ...##.. ....##. ..####. #...##. .....## ######. ...##.. .#####. ##...##
##...## ...##.. ...##.. .....## ####### .....## ##...## ...##.. ##...## .######
##...## ...##.. ..##... .....## ....##. .....## ##...## ..##... ##...## .....##
.#...#. ...##.. .##.... .....## ....##. .....## ##...## ..##... ##...## .....##
.##.##. ...##.. ##..... ##...## ....##. ##...## ##...## ..##... ##...## ....##.
..###.. ..####. ####### .#####. ....##. .#####. .#####. ..##... .#####. .####..
....... ....... ....... ....... ....... ....... ....... ....... ....... .......
"""


def digit_bitmaps() -> Tensor:
    """The RBF prototypes as a 10×12×7 tensor of ±1 (digit, row, column)."""
    rows = [line.split() for line in _DIGITS.strip().splitlines()]  # 12 rows × 10 digits
    return torch.tensor([[[1.0 if ch == "#" else -1.0 for ch in row[d]] for row in rows] for d in range(10)])


# ----------------------------------------------------------------------------------
# LeNet-5 (section II.B)
# ----------------------------------------------------------------------------------
class LeNet5(nn.Module):
    """The 1998 LeNet-5: C1 → S2 → C3 → S4 → C5 → F6 → output, squashed by ``scaled_tanh``.

    ``head="rbf"``: the paper's Euclidean RBF output; ``forward`` returns the penalties
    y (N×10, lower is better), trained with ``rbf_loss``. ``head="softmax"``: a
    trainable Linear(84, 10) giving logits, trained with cross-entropy.
    Either way ``scores(x)`` is higher-is-better, so ``scores(x).argmax(1)`` predicts.
    Input: N×1×32×32 (MNIST padded to 32×32).
    """

    def __init__(self, head: str = "rbf") -> None:
        super().__init__()
        if head not in ("rbf", "softmax"):
            raise ValueError(f'head must be "rbf" (the paper\'s) or "softmax" (modern), got {head!r}.')
        self.head = head
        self.input_shape = (1, 32, 32)
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)  # 6@28×28
        self.s2 = Subsampling(6)  # 6@14×14
        self.c3 = SparseConv2d(C3_TABLE, in_channels=6)  # 16@10×10, Table I
        self.s4 = Subsampling(16)  # 16@5×5
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # 120@1×1: a conv that acts as fully connected
        self.f6 = nn.Linear(120, 84)  # 84 = 7×12, the size of the bitmaps
        self.output: nn.Module = EuclideanRBF(digit_bitmaps()) if head == "rbf" else nn.Linear(84, 10)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in (−2.4/F, 2.4/F), F = fan-in of the unit the weight belongs to (Appendix A).

        Why divide by the fan-in: the weighted sums of all units then start with about the
        same spread, inside the non-saturated (high-gain) region of the squashing function.
        Biases are drawn the same way; F counts the weighted inputs, not the bias.
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()  # inputs of one output unit
            elif isinstance(module, Subsampling):
                fan_in = module.kernel_size**2
            else:
                continue
            for p in (module.weight, module.bias):
                nn.init.uniform_(p, -2.4 / fan_in, 2.4 / fan_in)

    def forward(self, x: Tensor) -> Tensor:
        """RBF penalties (head="rbf", lower is better) or logits (head="softmax"), N×10."""
        _check_images(x, 1, "LeNet5")
        x = scaled_tanh(self.s2(scaled_tanh(self.c1(x))))
        x = scaled_tanh(self.s4(scaled_tanh(self.c3(x))))
        x = scaled_tanh(self.c5(x)).flatten(1)
        x = scaled_tanh(self.f6(x))
        return self.output(x)

    def scores(self, x: Tensor) -> Tensor:
        """Higher-is-better class scores: −penalties for the RBF head, logits for softmax."""
        out = self(x)
        return -out if self.head == "rbf" else out


def rbf_loss(penalties: Tensor, targets: Tensor, j: float = 0.1) -> Tensor:
    """The paper's loss, eq. (9): mean over samples of y_D + log(e^−j + Σ_i e^−y_i).

    It is cross-entropy on the scores −y with one extra "rubbish" class of constant
    score −j: the first term pulls the correct class's penalty down, the second pushes
    the wrong classes' penalties up, and the e^−j term stops pushing a penalty that is
    already well above j. logsumexp keeps it finite when every y_i is large.
    """
    check_tensor(penalties, "penalties", floating=True)
    check_tensor(targets, "targets")
    check_real(j, "j")
    if penalties.dim() != 2 or targets.shape != penalties.shape[:1]:
        raise ValueError(
            f"rbf_loss expects penalties N×classes and targets of length N, "
            f"got {tuple(penalties.shape)} and {tuple(targets.shape)}."
        )
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if len(targets) == 0:
        raise ValueError("rbf_loss needs at least one sample; penalties and targets are empty")
    if int(targets.min()) < 0 or int(targets.max()) >= penalties.shape[1]:
        raise ValueError(
            f"targets must be class indices in 0..{penalties.shape[1] - 1}, got values from "
            f"{int(targets.min())} to {int(targets.max())}"
        )
    correct = penalties.gather(1, targets.long().unsqueeze(1)).squeeze(1)
    rubbish = torch.full_like(penalties[:, :1], -j)
    return (correct + torch.logsumexp(torch.cat([-penalties, rubbish], dim=1), dim=1)).mean()


# ----------------------------------------------------------------------------------
# Counting: the study note's table, computed from the model
# ----------------------------------------------------------------------------------
def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (fixed buffers such as the RBF prototypes excluded)."""
    check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _shape(shape: torch.Size) -> str:
    """N×C×H×W → "H×W×C" (the paper's order), N×F → "F"."""
    dims = (*shape[2:], shape[1]) if len(shape) == 4 else shape[1:]
    return "×".join(str(d) for d in dims)


def _pair(k: int | tuple[int, ...]) -> tuple[int, ...]:
    return (k, k) if isinstance(k, int) else tuple(k)


def _kernel(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return f"{kh}×{kw}×{module.in_channels}, {module.out_channels}"
    if isinstance(module, SparseConv2d):
        k = module.kernel_size
        return f"{k}×{k}×{module.in_channels}, {len(module.table)}"
    if isinstance(module, Subsampling):
        k = module.kernel_size
        return f"{k}×{k}/{k}"
    if isinstance(module, nn.MaxPool2d):
        (kh, kw), (sh, _) = _pair(module.kernel_size), _pair(module.stride)
        return f"{kh}×{kw}/{sh}"
    if isinstance(module, nn.Linear):
        return f"{module.in_features}×{module.out_features}"
    if isinstance(module, EuclideanRBF):
        n, d = module.prototypes.shape
        return f"{d}×{n}"
    raise ValueError(f"layer_table does not know layers of type {type(module).__name__}.")


_KINDS = {  # (English, Chinese: the study note's words)
    nn.Conv2d: ("conv", "卷积层"),
    SparseConv2d: ("conv (Table I)", "卷积层（表 I）"),
    nn.MaxPool2d: ("max pool", "最大池化层"),
    Subsampling: ("subsampling", "下采样层"),
    nn.Linear: ("fully connected", "全连接层"),
    EuclideanRBF: ("Euclidean RBF (fixed)", "欧氏 RBF 层（固定）"),
}


def _connections(module: nn.Module, out_shape: torch.Size) -> int:
    """Multiply-adds into the output units, bias included (how the paper counts)."""
    units = math.prod(out_shape[1:])
    if isinstance(module, (nn.Conv2d, SparseConv2d)):
        # weight sharing: every position of a map reuses all of that map's weights + bias
        return math.prod(out_shape[2:]) * count_parameters(module)
    if isinstance(module, nn.Linear):
        return count_parameters(module)
    if isinstance(module, Subsampling):
        return units * (module.kernel_size**2 + 1)  # k×k inputs + bias
    if isinstance(module, nn.MaxPool2d):
        kh, kw = _pair(module.kernel_size)
        return units * kh * kw  # k×k inputs, no bias (and no parameters)
    if isinstance(module, EuclideanRBF):
        return module.prototypes.numel()  # one (x_j − w_ij)² per input and unit, no bias
    raise ValueError(f"layer_table does not know layers of type {type(module).__name__}.")


def layer_table(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> list[dict[str, str | int]]:
    """One row per layer (each direct child of ``model``, in the order the forward pass uses them).

    Runs one forward pass on a zero image with hooks to read the input and output
    shapes. Keys: layer, kind, input, kernel, output, params (trainable), connections.
    ``input_shape`` (C, H, W) defaults to ``model.input_shape``.
    """
    check_module(model)
    shape = input_shape or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("layer_table needs input_shape=(C, H, W) for a model without .input_shape.")
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(f"input_shape must be a tuple such as (C, H, W), got {describe(shape)}")
    for d in shape:
        check_int(d, "input_shape entry", minimum=1)
    rows: list[dict[str, str | int]] = []

    def record(name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            rows.append({
                "layer": name,
                "kind": tr(*_KINDS[type(module)]) if type(module) in _KINDS else type(module).__name__,
                "input": _shape(inputs[0].shape),
                "kernel": _kernel(module),
                "output": _shape(output.shape),
                "params": count_parameters(module),
                "connections": _connections(module, output.shape),
            })  # fmt: skip

        return hook

    handles = [child.register_forward_hook(record(name)) for name, child in model.named_children()]
    try:
        device = next(model.parameters(), torch.zeros(())).device
        with torch.no_grad():
            model(torch.zeros(1, *shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return rows


def count_connections(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> int:
    """Total connections of ``model``: the sum of ``layer_table``'s connections column."""
    return sum(int(row["connections"]) for row in layer_table(model, input_shape))


def layer_outputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """The output of every direct child of ``model`` on the batch ``x``, by layer name, in
    the order the forward pass runs them (no gradients; squashing applied in ``forward``
    between layers is not included: LeNet5's c1 output is the map *before* scaled_tanh).
    """
    check_module(model)
    check_tensor(x, "x")
    outputs: dict[str, Tensor] = {}

    def record(name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            outputs[name] = output.detach()

        return hook

    handles = [child.register_forward_hook(record(name)) for name, child in model.named_children()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs
