"""Tests for dlcourse/conv.py: every from-scratch function is checked against PyTorch."""

import random

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from dlcourse.conv import (
    KERNELS,
    avg_pool2d,
    conv2d,
    conv2d_loops,
    conv_params,
    convolve2d,
    correlate2d,
    dense_params,
    im2col,
    max_pool2d,
    output_size,
    receptive_field,
    sliding_window_frames,
    sliding_windows,
)


def _as_pair(v):
    return (v, v) if isinstance(v, int) else v


def _maybe_tuple(rng: random.Random, low: int, high: int):
    """An int, or an (h, w) tuple of possibly different ints, to exercise both call styles."""
    if rng.random() < 0.5:
        return rng.randint(low, high)
    return (rng.randint(low, high), rng.randint(low, high))


def _conv_configs(count: int = 30, seed: int = 0) -> list[dict]:
    """Random but valid conv configurations: kernels 1–5 (non-square too), stride 1–3,
    padding 0–2, dilation 1–2, with and without bias, int and tuple arguments."""
    rng = random.Random(seed)
    configs = []
    for _ in range(count):
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        stride, padding, dilation = (
            _maybe_tuple(rng, 1, 3),
            _maybe_tuple(rng, 0, 2),
            _maybe_tuple(rng, 1, 2),
        )
        (ph, pw), (dh, dw) = _as_pair(padding), _as_pair(dilation)
        # Smallest input the dilated kernel fits into, plus a little.
        h = max(1, dh * (kh - 1) + 1 - 2 * ph) + rng.randint(0, 6)
        w = max(1, dw * (kw - 1) + 1 - 2 * pw) + rng.randint(0, 6)
        configs.append(
            dict(
                n=rng.randint(1, 3), c=rng.randint(1, 4), o=rng.randint(1, 5), h=h, w=w,
                kh=kh, kw=kw, stride=stride, padding=padding, dilation=dilation,
                bias=rng.random() < 0.5,
            )
        )
    return configs


CONV_CONFIGS = _conv_configs()


def _config_id(value) -> str:
    """Short test ids such as 'n2-c3-h9-w3-kh4-kw4-stride3-padding1-dilation(2, 1)'."""
    if isinstance(value, int):
        return str(value)
    return "-".join(f"{k}{v}" for k, v in value.items()).replace(" ", "")


@pytest.mark.parametrize("seed, cfg", list(enumerate(CONV_CONFIGS)), ids=_config_id)
def test_conv2d_matches_pytorch(seed: int, cfg: dict) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg["n"], cfg["c"], cfg["h"], cfg["w"], dtype=torch.float64, generator=g)
    weight = torch.randn(cfg["o"], cfg["c"], cfg["kh"], cfg["kw"], dtype=torch.float64, generator=g)
    bias = torch.randn(cfg["o"], dtype=torch.float64, generator=g) if cfg["bias"] else None
    args = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])

    expected = F.conv2d(x, weight, bias, **args)
    torch.testing.assert_close(conv2d(x, weight, bias, **args), expected)
    torch.testing.assert_close(conv2d_loops(x, weight, bias, **args), expected)

    # im2col has F.unfold's layout.
    columns = im2col(x, (cfg["kh"], cfg["kw"]), **args)
    torch.testing.assert_close(columns, F.unfold(x, (cfg["kh"], cfg["kw"]), **args))

    # The output-size formula predicts the real shape.
    (sh, sw), (ph, pw), (dh, dw) = (_as_pair(args[k]) for k in ("stride", "padding", "dilation"))
    assert expected.shape[2:] == (
        output_size(cfg["h"], cfg["kh"], ph, sh, dh),
        output_size(cfg["w"], cfg["kw"], pw, sw, dw),
    )


@pytest.mark.parametrize("fn", [conv2d, conv2d_loops])
def test_gradients_flow_like_pytorch(fn) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, generator=g)
    weight = torch.randn(4, 3, 3, 2, dtype=torch.float64, generator=g)
    bias = torch.randn(4, dtype=torch.float64, generator=g)
    args = dict(stride=(2, 3), padding=1, dilation=(1, 2))
    upstream = torch.randn(2, 4, 5, 3, dtype=torch.float64, generator=g)  # dL/dy, any values

    grads = []
    for conv in (fn, F.conv2d):
        leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
        (conv(*leaves, **args) * upstream).sum().backward()
        grads.append([t.grad for t in leaves])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs)


def _pool_configs(count: int = 20, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    configs = []
    for _ in range(count):
        kh, kw = rng.randint(1, 4), rng.randint(1, 4)
        stride = None if rng.random() < 0.25 else _maybe_tuple(rng, 1, 3)  # None: = kernel
        padding = (rng.randint(0, kh // 2), rng.randint(0, kw // 2))  # PyTorch: ≤ half kernel
        h, w = kh + rng.randint(0, 6), kw + rng.randint(0, 6)
        configs.append(dict(n=rng.randint(1, 3), c=rng.randint(1, 3), h=h, w=w,
                            kernel=(kh, kw), stride=stride, padding=padding))
    return configs


@pytest.mark.parametrize("seed, cfg", list(enumerate(_pool_configs())), ids=_config_id)
def test_pooling_matches_pytorch(seed: int, cfg: dict) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg["n"], cfg["c"], cfg["h"], cfg["w"], dtype=torch.float64, generator=g)
    kernel, stride, padding = cfg["kernel"], cfg["stride"], cfg["padding"]

    expected_max = F.max_pool2d(x, kernel, stride, padding)
    torch.testing.assert_close(max_pool2d(x, kernel, stride, padding), expected_max)
    torch.testing.assert_close(avg_pool2d(x, kernel, stride), F.avg_pool2d(x, kernel, stride))

    sh, sw = _as_pair(kernel if stride is None else stride)
    assert expected_max.shape[2:] == (
        output_size(cfg["h"], kernel[0], padding[0], sh),
        output_size(cfg["w"], kernel[1], padding[1], sw),
    )


def test_max_pool_pads_with_minus_infinity() -> None:
    # All values negative: zero padding would wrongly win the max at the border.
    x = -1 - torch.rand(1, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ours = max_pool2d(x, 3, stride=2, padding=1)
    torch.testing.assert_close(ours, F.max_pool2d(x, 3, stride=2, padding=1))
    assert (ours < 0).all()


def test_lenet_style_pooling_halves_the_size() -> None:
    x = torch.randn(1, 6, 28, 28)
    assert max_pool2d(x, 2).shape == avg_pool2d(x, 2).shape == (1, 6, 14, 14)


def test_output_size_known_values() -> None:
    assert output_size(32, 5) == 28  # LeNet C1
    assert output_size(28, 2, stride=2) == 14  # LeNet S2
    assert output_size(7, 3, padding=1) == 7  # "same" padding
    assert output_size(5, 3, dilation=2) == 1  # a dilated 3-tap kernel spans 5
    assert output_size(8, 3, stride=2) == 3  # floor: the last column is dropped


def test_correlate2d_matches_pytorch_and_convolve2d_flips() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 6, dtype=torch.float64, generator=g)
    k = torch.randn(3, 2, dtype=torch.float64, generator=g)

    torch.testing.assert_close(correlate2d(x, k), F.conv2d(x[None, None], k[None, None])[0, 0])
    torch.testing.assert_close(convolve2d(x, k), correlate2d(x, k.flip(0, 1)))
    # The flip matters for a lopsided kernel, not for a symmetric one.
    assert not torch.allclose(convolve2d(x, k), correlate2d(x, k))
    gauss = KERNELS["gaussian_blur"].double()
    torch.testing.assert_close(convolve2d(x, gauss), correlate2d(x, gauss))


def test_helpful_errors() -> None:
    x, weight = torch.randn(1, 3, 8, 8), torch.randn(6, 1, 5, 5)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        conv2d(torch.randn(3, 8, 8), torch.randn(6, 3, 5, 5))
    with pytest.raises(ValueError, match="x has 3 channels but weight expects 1"):
        conv2d(x, weight)
    with pytest.raises(ValueError, match="x has 3 channels but weight expects 1"):
        conv2d_loops(x, weight)
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(x, torch.randn(6, 3, 9, 3))
    with pytest.raises(ValueError, match="padded by 1 on each side has only 10"):
        conv2d(x, torch.randn(6, 3, 11, 3), padding=1)
    with pytest.raises(ValueError, match="does not fit"):
        output_size(4, 3, dilation=2)
    with pytest.raises(ValueError, match="bias must have shape"):
        conv2d(x, torch.randn(6, 3, 3, 3), torch.randn(5))
    with pytest.raises(ValueError, match="stride must be"):
        conv2d(x, torch.randn(6, 3, 3, 3), stride=0)
    with pytest.raises(ValueError, match="padding must be"):
        conv2d(x, torch.randn(6, 3, 3, 3), padding=(1, 2, 3))
    with pytest.raises(ValueError, match="at most half the kernel size"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="use conv2d"):
        correlate2d(x, torch.randn(3, 3))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        max_pool2d(torch.randn(3, 8, 8), 2)


def test_receptive_field_of_known_stacks() -> None:
    assert receptive_field([]) == 1
    assert receptive_field([(3, 1)] * 3) == 7  # three 3×3 convs see as far as one 7×7
    assert receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)]) == 16  # LeNet-5 up to S4
    assert receptive_field([(3, 2), (3, 2)]) == 7
    assert receptive_field([(7, 2), (3, 2)]) == 11  # ResNet stem: conv7/2, pool3/2


def test_receptive_field_agrees_with_gradients() -> None:
    # Which input pixels can change one output cell of LeNet's conv5/pool2/conv5/pool2?
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    w1 = torch.rand(1, 1, 5, 5, dtype=torch.float64)  # positive weights: nothing cancels
    w2 = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    y = avg_pool2d(conv2d(avg_pool2d(conv2d(x, w1), 2), w2), 2)
    y[0, 0, 2, 2].backward()
    rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
    assert rows.max() - rows.min() + 1 == cols.max() - cols.min() + 1 == 16
    assert receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)]) == 16


def test_weight_sharing_parameter_counts() -> None:
    # 32×32×3 input → 28×28×6 output: LeNet's C1 versus a dense layer with the same output.
    assert conv_params(3, 6, 5) == 6 * (3 * 5 * 5 + 1) == 456
    assert dense_params(32 * 32 * 3, 28 * 28 * 6) == (3072 + 1) * 4704 == 14_455_392
    assert conv_params(3, 6, (5, 5), bias=False) == 450
    assert dense_params(10, 2, bias=False) == 20
    # and conv_params counts exactly what torch.nn.Conv2d learns
    layer = torch.nn.Conv2d(3, 6, 5)
    assert conv_params(3, 6, 5) == sum(p.numel() for p in layer.parameters())


def test_classic_kernels() -> None:
    assert set(KERNELS) == {
        "identity", "edge", "sobel_x", "sobel_y", "blur", "gaussian_blur", "sharpen"
    }
    assert all(k.shape == (3, 3) and k.dtype == torch.float32 for k in KERNELS.values())
    image = torch.rand(1, 1, 8, 8)
    inner = image[:, :, 1:-1, 1:-1]
    torch.testing.assert_close(conv2d(image, KERNELS["identity"][None, None]), inner)
    # Smoothing and sharpening keep the overall brightness; edge detectors ignore it.
    for name in ("blur", "gaussian_blur", "sharpen", "identity"):
        assert KERNELS[name].sum().item() == pytest.approx(1.0)
    flat = torch.full((1, 1, 5, 5), 0.7)
    for name in ("edge", "sobel_x", "sobel_y"):
        assert conv2d(flat, KERNELS[name][None, None]).abs().max() < 1e-6
    # Sobel x responds to brightness increasing to the right, Sobel y to it increasing downwards.
    ramp = torch.arange(5.0).expand(5, 5)[None, None]  # columns 0, 1, 2, 3, 4
    assert (conv2d(ramp, KERNELS["sobel_x"][None, None]) == 8).all()
    assert (conv2d(ramp, KERNELS["sobel_y"][None, None]) == 0).all()
    assert (conv2d(ramp.transpose(2, 3), KERNELS["sobel_y"][None, None]) == 8).all()


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (3, 2)])
def test_sliding_window_frames(stride: int, padding: int) -> None:
    x, k = torch.randn(6, 7, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    frames = sliding_window_frames(x, k, stride, padding)
    expected = F.conv2d(x[None, None], k[None, None], stride=stride, padding=padding)[0, 0]

    assert len(frames) == expected.numel()
    assert [(f.row, f.col) for f in frames] == [
        (i, j) for i in range(expected.shape[0]) for j in range(expected.shape[1])
    ]
    for f in frames:
        assert f.window.shape == (3, 3)
        assert f.value == pytest.approx(expected[f.row, f.col].item())
    if padding == 0:
        torch.testing.assert_close(frames[0].window, x[:3, :3])


@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2), ((2, 1), (1, 3))])
def test_sliding_windows_follow_the_index_formula_without_copying(stride, dilation) -> None:
    """Window (i, j) tap (a, b) is x[..., i·s + a·d, j·s + b·d], and the windows are a view of x."""
    x = torch.randn(2, 3, 11, 12)
    windows = sliding_windows(x, (3, 2), stride, dilation)
    (sh, sw), (dh, dw) = _as_pair(stride), _as_pair(dilation)
    _, _, oh, ow, kh, kw = windows.shape
    assert (oh, ow, kh, kw) == (output_size(11, 3, 0, sh, dh), output_size(12, 2, 0, sw, dw), 3, 2)
    for i, j, a, b in [(0, 0, 0, 0), (oh - 1, ow - 1, kh - 1, kw - 1), (oh // 2, 1, 1, 0)]:
        assert torch.equal(windows[:, :, i, j, a, b], x[:, :, i * sh + a * dh, j * sw + b * dw])
    assert windows.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()


def test_parameter_counts_refuse_impossible_layers() -> None:
    with pytest.raises(ValueError, match="in_ch"):
        conv_params(-1, 3, 3)
    with pytest.raises(ValueError, match="in_features"):
        dense_params(-1, 3)
    with pytest.raises(TypeError, match="stride must be an int"):
        conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), stride=1.5)


# ----------------------------------------------------------------------------- properties
# Hypothesis draws the shapes and settings; the numbers come from a seeded generator
# (drawing every pixel through Hypothesis would be slow and teach it nothing).


def _int_or_pair(low: int, high: int):
    one = st.integers(low, high)
    return st.one_of(one, st.tuples(one, one))


@st.composite
def conv_settings(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, padding, dilation = (draw(_int_or_pair(a, b)) for a, b in ((1, 3), (0, 2), (1, 3)))
    (sh, sw), (ph, pw), (dh, dw) = (_as_pair(v) for v in (stride, padding, dilation))
    # an input at least as large as the dilated kernel once padded
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 5))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, 5))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(o, c, kh, kw, generator=g, dtype=torch.float64)
    bias = torch.randn(o, generator=g, dtype=torch.float64) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation)


@given(conv_settings())
def test_conv2d_and_im2col_match_pytorch_on_random_settings(case) -> None:
    x, weight, bias, settings = case
    expected = F.conv2d(x, weight, bias, **{k: _as_pair(v) for k, v in settings.items()})
    torch.testing.assert_close(conv2d(x, weight, bias, **settings), expected)
    torch.testing.assert_close(conv2d_loops(x, weight, bias, **settings), expected)
    kernel = tuple(weight.shape[2:])
    torch.testing.assert_close(
        im2col(x, kernel, **settings),
        F.unfold(x, kernel, **{k: _as_pair(v) for k, v in settings.items()}),
    )


@given(
    kernel=_int_or_pair(1, 4),
    stride=st.one_of(st.none(), _int_or_pair(1, 3)),
    extra=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    pad_fraction=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pooling_matches_pytorch_on_random_settings(kernel, stride, extra, pad_fraction, seed) -> None:
    kh, kw = _as_pair(kernel)
    padding = (int(kh // 2 * pad_fraction), int(kw // 2 * pad_fraction))  # at most half the kernel
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, kh + extra[0], kw + extra[1], generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        max_pool2d(x, kernel, stride, padding), F.max_pool2d(x, kernel, stride, padding)
    )
    torch.testing.assert_close(avg_pool2d(x, kernel, stride), F.avg_pool2d(x, kernel, stride))
