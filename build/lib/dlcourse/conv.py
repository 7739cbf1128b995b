"""Convolution and pooling from scratch.

The chapter builds the convolution up in three steps, each checked against PyTorch:

1. ``correlate2d`` / ``convolve2d``: one image, one kernel, explicit loops (the definition);
2. ``conv2d_loops``: batches and channels, a loop over output positions (clear, slow);
3. ``conv2d``: ``im2col`` turns every window into a column, then one matrix multiply (fast).

Pooling reuses the same window extraction. Shapes follow PyTorch: images are N×C×H×W,
weights are O×C×kh×kw (O output channels, C input channels).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

IntPair = int | tuple[int, int]


# ----------------------------------------------------------------------------- sizes


def output_size(n: int, k: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Length of the output along one axis: ⌊(n + 2p − d(k−1) − 1) / s⌋ + 1.

    ``n`` is the input length, ``k`` the kernel length, ``p`` the padding on each side,
    ``s`` the stride and ``d`` the dilation (gap between kernel taps).
    """
    if k < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise ValueError(
            f"need kernel >= 1, stride >= 1, dilation >= 1 and padding >= 0; "
            f"got kernel={k}, stride={stride}, dilation={dilation}, padding={padding}"
        )
    span = dilation * (k - 1) + 1  # how many input cells the (dilated) kernel covers
    padded = n + 2 * padding
    if span > padded:
        raise ValueError(
            f"kernel does not fit: a kernel of size {k} with dilation {dilation} spans "
            f"{span} cells, but the input of size {n} padded by {padding} on each side "
            f"has only {padded}; use a smaller kernel or more padding"
        )
    return (padded - span) // stride + 1


def _pair(value: IntPair, name: str, minimum: int) -> tuple[int, int]:
    """Turn an int or an (h, w) tuple into an (h, w) tuple, checking it is >= minimum."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(
            f"{name} must be an int >= {minimum} or a pair (h, w) of them, got {value!r}"
        )
    return pair


def _check_image_batch(x: Tensor) -> None:
    """Raise a helpful ValueError unless x is a 4-D N×C×H×W batch."""
    if x.dim() == 3:
        raise ValueError(
            f"expected a 4-D batch N×C×H×W, got a 3-D tensor of shape {tuple(x.shape)}; "
            f"add a batch dimension with x[None]"
        )
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D batch N×C×H×W, got shape {tuple(x.shape)}")


# ---------------------------------------------------- step 1: one image, one kernel


def correlate2d(x: Tensor, k: Tensor) -> Tensor:
    """Cross-correlation of an H×W image with a kh×kw kernel (no padding, stride 1):

        y[i, j] = Σ_a Σ_b x[i + a, j + b] · k[a, b]

    This is what deep-learning libraries call "convolution". Explicit loops: small inputs only.
    """
    oh, ow, kh, kw = _valid_sizes(x, k, "correlate2d")
    y = torch.zeros(oh, ow, dtype=torch.result_type(x, k))
    for i in range(oh):
        for j in range(ow):
            y[i, j] = sum(x[i + a, j + b] * k[a, b] for a in range(kh) for b in range(kw))
    return y


def convolve2d(x: Tensor, k: Tensor) -> Tensor:
    """True convolution of an H×W image with a kh×kw kernel (no padding, stride 1):

        y[i, j] = Σ_a Σ_b x[i + a, j + b] · k[kh−1−a, kw−1−b]

    The only change from ``correlate2d`` is that the kernel is read back to front (flipped
    in both axes). That flip makes convolution commutative and associative; a learned
    kernel does not care, which is why CNNs use correlation and still call it convolution.
    """
    oh, ow, kh, kw = _valid_sizes(x, k, "convolve2d")
    y = torch.zeros(oh, ow, dtype=torch.result_type(x, k))
    for i in range(oh):
        for j in range(ow):
            y[i, j] = sum(
                x[i + a, j + b] * k[kh - 1 - a, kw - 1 - b] for a in range(kh) for b in range(kw)
            )
    return y


def _valid_sizes(x: Tensor, k: Tensor, name: str) -> tuple[int, int, int, int]:
    """Output and kernel sizes (oh, ow, kh, kw) of a single-image 'valid' correlation."""
    if x.dim() != 2 or k.dim() != 2:
        raise ValueError(
            f"{name} takes one 2-D image H×W and one 2-D kernel kh×kw, got shapes "
            f"{tuple(x.shape)} and {tuple(k.shape)}; use conv2d for batches and channels"
        )
    (h, w), (kh, kw) = x.shape, k.shape
    return output_size(h, kh), output_size(w, kw), kh, kw


# ------------------------------------------- step 2: batches and channels, with loops


def _check_conv_args(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Raise a helpful ValueError when x, weight and bias do not fit together."""
    _check_image_batch(x)
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D O×C×kh×kw, got shape {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"channel mismatch: x has {x.shape[1]} channels but weight expects "
            f"{weight.shape[1]} (weight shape O×C×kh×kw = {tuple(weight.shape)})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"bias must have shape ({weight.shape[0]},), one per output channel, "
            f"got {tuple(bias.shape)}"
        )


def conv2d_loops(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) of an N×C×H×W batch with O×C×kh×kw filters:

        y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b x[n, c, i·s + a·d, j·s + b·d] · w[o, c, a, b]

    (x zero-padded). One Python loop iteration per output position; clear but slow.
    """
    _check_conv_args(x, weight, bias)
    O, C, kh, kw = weight.shape
    N, _, H, W = x.shape
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    oh, ow = output_size(H, kh, ph, sh, dh), output_size(W, kw, pw, sw, dw)

    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # input cells one window covers
    x = F.pad(x, (pw, pw, ph, ph))  # zeros on left, right, top, bottom
    y = x.new_zeros(N, O, oh, ow)
    for i in range(oh):
        for j in range(ow):
            # The N×C×kh×kw window under output (i, j); the step d picks the dilated taps.
            rows = slice(i * sh, i * sh + span_h, dh)
            cols = slice(j * sw, j * sw + span_w, dw)
            window = x[:, :, rows, cols]
            # Dot product of each window with each filter: N×1×C×kh×kw · 1×O×C×kh×kw → N×O.
            y[:, :, i, j] = (window[:, None] * weight[None]).sum(dim=(2, 3, 4))
    if bias is not None:
        y = y + bias[None, :, None, None]
    return y


# ---------------------------------------------- step 3: im2col + one matrix multiply


def sliding_windows(
    x: Tensor, kernel_size: IntPair, stride: IntPair = 1, dilation: IntPair = 1
) -> Tensor:
    """All kh×kw windows of an (already padded) N×C×H×W batch, as an N×C×oh×ow×kh×kw tensor.

    Window (i, j) tap (a, b) reads input row i·s + a·d and column j·s + b·d. ``unfold``
    cuts each axis into overlapping pieces of the span d·(k−1)+1 every s cells, and the
    step d keeps the dilated taps: a *view* of x, so no pixel is copied (copying every
    window with fancy indexing works too, but is several times slower).
    """
    _check_image_batch(x)
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    # output_size raises a helpful ValueError when the (dilated) kernel does not fit.
    output_size(x.shape[2], kh, 0, sh, dh)
    output_size(x.shape[3], kw, 0, sw, dw)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = x.unfold(2, span_h, sh).unfold(3, span_w, sw)  # N×C×oh×ow×span_h×span_w
    return windows[..., ::dh, ::dw]


def im2col(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """Unfold an N×C×H×W batch into N×(C·kh·kw)×L columns, one per output position.

    L = oh·ow. Same layout as ``torch.nn.functional.unfold``: column l holds the window under
    output position l (in reading order), flattened channel by channel.
    """
    _check_image_batch(x)
    ph, pw = _pair(padding, "padding", 0)
    windows = sliding_windows(F.pad(x, (pw, pw, ph, ph)), kernel_size, stride, dilation)
    N, C, oh, ow, kh, kw = windows.shape
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, oh * ow)


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> Tensor:
    """2-D convolution (cross-correlation), same maths as ``conv2d_loops``, vectorised:
    every window becomes a column (im2col) and every filter a row, so the whole layer
    is one matrix multiply (O × C·kh·kw) @ (C·kh·kw × L). groups=1 only.
    """
    _check_conv_args(x, weight, bias)
    O, C, kh, kw = weight.shape
    N, _, H, W = x.shape
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    oh, ow = output_size(H, kh, ph, sh, dh), output_size(W, kw, pw, sw, dw)

    columns = im2col(x, (kh, kw), stride, padding, dilation)  # N × C·kh·kw × L
    y = weight.reshape(O, C * kh * kw) @ columns  # N × O × L (matmul broadcasts over N)
    if bias is not None:
        y = y + bias[None, :, None]
    return y.reshape(N, O, oh, ow)


# ----------------------------------------------------------------------------- pooling


def max_pool2d(
    x: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Maximum over each kh×kw window of an N×C×H×W batch; the stride defaults to the kernel
    size (non-overlapping windows). Padding is −inf, so padded cells never win the max.
    """
    _check_image_batch(x)
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    ph, pw = _pair(padding, "padding", 0)
    if ph > kh // 2 or pw > kw // 2:
        # Same rule as PyTorch: otherwise a window could hold nothing but padding.
        raise ValueError(
            f"padding {padding!r} is too large for kernel_size {kernel_size!r}: "
            f"padding must be at most half the kernel size"
        )
    x = F.pad(x, (pw, pw, ph, ph), value=float("-inf"))
    windows = sliding_windows(x, (kh, kw), kernel_size if stride is None else stride)
    return windows.amax(dim=(-2, -1))


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None) -> Tensor:
    """Mean over each kh×kw window of an N×C×H×W batch; stride defaults to the kernel size."""
    windows = sliding_windows(x, kernel_size, kernel_size if stride is None else stride)
    return windows.mean(dim=(-2, -1))


# ---------------------------------------------------------- classic hand-made kernels

# 3×3 kernels for correlation (what conv2d computes). Sobel x is large where the image
# gets brighter to the right (vertical edges), Sobel y where it gets brighter downwards.
KERNELS: dict[str, Tensor] = {
    "identity": torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edge": torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]),  # Laplacian-style
    "sobel_x": torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "blur": torch.full((3, 3), 1 / 9),  # box blur: plain average
    "gaussian_blur": torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "sharpen": torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
}


# ----------------------------------------------------- weight sharing, receptive field


def conv_params(in_ch: int, out_ch: int, k: IntPair, bias: bool = True) -> int:
    """Learnable parameters of a conv layer: out_ch filters of in_ch·kh·kw weights (+ 1 bias).
    The count does not depend on the image size: the same filter slides everywhere.
    """
    kh, kw = _pair(k, "k", 1)
    return out_ch * (in_ch * kh * kw + int(bias))


def dense_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Learnable parameters of a dense layer: one weight per (input, output) pair (+ biases)."""
    return out_features * (in_features + int(bias))


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Side length of the input region one output cell sees, after a stack of
    (kernel, stride) layers (convolutions or poolings):

        r_out = r_in + (k − 1) · j_in,   j_out = j_in · s,   starting from r = j = 1,

    where j is the jump: the distance in input pixels between neighbouring cells of a layer.
    """
    r, j = 1, 1
    for k, s in layers:
        if k < 1 or s < 1:
            raise ValueError(f"each layer must be (kernel >= 1, stride >= 1), got {(k, s)}")
        r, j = r + (k - 1) * j, j * s
    return r


# ------------------------------------------------------- frames for the animation


class Frame(NamedTuple):
    """One step of the sliding window: output position (row, col), the kh×kw window of the
    padded input under the kernel (its top-left corner is at row·stride, col·stride) and
    the output value Σ window · kernel."""

    row: int
    col: int
    window: Tensor
    value: float


def sliding_window_frames(x: Tensor, k: Tensor, stride: int = 1, padding: int = 0) -> list[Frame]:
    """Every step of correlating an H×W image with a kh×kw kernel, in reading order,
    for drawing the sliding-window animation frame by frame.
    """
    if x.dim() != 2 or k.dim() != 2:
        raise ValueError(
            f"sliding_window_frames takes one 2-D image H×W and one 2-D kernel kh×kw, got "
            f"shapes {tuple(x.shape)} and {tuple(k.shape)}"
        )
    (h, w), (kh, kw) = x.shape, k.shape
    oh, ow = output_size(h, kh, padding, stride), output_size(w, kw, padding, stride)
    x = F.pad(x, (padding, padding, padding, padding))
    frames = []
    for row in range(oh):
        for col in range(ow):
            window = x[row * stride : row * stride + kh, col * stride : col * stride + kw]
            frames.append(Frame(row, col, window, float((window * k).sum())))
    return frames
