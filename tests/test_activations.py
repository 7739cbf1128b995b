"""Tests for dlcourse/activations.py: hand-written derivatives against torch.autograd."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcourse.activations import (
    ACTIVATIONS,
    d_leaky_relu,
    d_scaled_tanh,
    gelu,
    get_activation,
    gradient_norms_per_layer,
    leaky_relu,
    linear_stack_collapse,
    scaled_tanh,
)


def _points() -> torch.Tensor:
    # float64, spread over the interesting range, avoiding the ReLU kink at exactly 0
    g = torch.Generator().manual_seed(0)
    return 6 * torch.rand(200, generator=g, dtype=torch.float64) - 3


def _autograd_derivative(f, a: torch.Tensor) -> torch.Tensor:
    a = a.clone().requires_grad_()
    (df,) = torch.autograd.grad(f(a).sum(), a)  # elementwise f, so the sum's grad is f′
    return df


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_autograd(name):
    act = ACTIVATIONS[name]
    a = _points()
    assert torch.allclose(act.df(a), _autograd_derivative(act.f, a), atol=1e-12, rtol=0)


def test_functions_match_pytorch():
    a = _points()
    assert torch.allclose(ACTIVATIONS["sigmoid"].f(a), torch.sigmoid(a))
    assert torch.allclose(ACTIVATIONS["tanh"].f(a), torch.tanh(a))
    assert torch.allclose(ACTIVATIONS["relu"].f(a), F.relu(a))
    assert torch.allclose(leaky_relu(a, 0.2), F.leaky_relu(a, 0.2))
    assert torch.allclose(gelu(a), F.gelu(a, approximate="none"), atol=1e-14)


def test_leaky_relu_slope_and_kink_convention():
    a = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    assert leaky_relu(a, 0.1).tolist() == pytest.approx([-0.2, 0.0, 3.0])
    assert d_leaky_relu(a, 0.1).tolist() == pytest.approx([0.1, 0.1, 1.0])
    assert torch.allclose(
        d_leaky_relu(_points(), 0.3), _autograd_derivative(lambda x: leaky_relu(x, 0.3), _points())
    )
    assert ACTIVATIONS["relu"].df(torch.zeros(1)).item() == 0.0  # PyTorch's choice at the kink


def test_scaled_tanh_lecun_properties():
    one = torch.tensor([1.0, -1.0], dtype=torch.float64)
    assert scaled_tanh(one).tolist() == pytest.approx([1.0, -1.0], abs=1e-4)
    # gain near 1 at the origin
    gain = d_scaled_tanh(torch.zeros(1, dtype=torch.float64)).item()
    assert gain == pytest.approx(1.7159 * 2 / 3)
    # |f″| is largest near a = 1 (analytically at 1.5·atanh(1/√3) ≈ 0.988)
    a = torch.linspace(0, 3, 30001, dtype=torch.float64)
    f2 = _autograd_derivative(d_scaled_tanh, a)
    a_peak = a[f2.abs().argmax()].item()
    assert a_peak == pytest.approx(1.5 * math.atanh(1 / math.sqrt(3)), abs=1e-3)
    assert abs(a_peak - 1) < 0.02


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("swishy")
    with pytest.raises(ValueError, match="unknown activation"):
        gradient_norms_per_layer("swishy", depth=2)


def test_linear_stack_collapse_equals_the_stack():
    g = torch.Generator().manual_seed(1)
    widths = [5, 7, 3, 8, 2]
    Ws = [torch.randn(m, n, generator=g, dtype=torch.float64) for m, n in zip(widths, widths[1:])]
    X = torch.randn(10, 5, generator=g, dtype=torch.float64)
    h = X
    for W in Ws:
        h = h @ W
    W = linear_stack_collapse(Ws)
    assert W.shape == (5, 2)
    assert torch.allclose(X @ W, h, atol=1e-12)
    # the same stack as torch layers (no bias, no activation) gives the same map
    layers = [torch.nn.Linear(m, n, bias=False).double() for m, n in zip(widths, widths[1:])]
    stack = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for layer, Wl in zip(stack, Ws):
            layer.weight.copy_(Wl.T)  # nn.Linear stores Wᵀ
        assert torch.allclose(stack(X), X @ W, atol=1e-12)


def test_linear_stack_collapse_rejects_bad_shapes():
    with pytest.raises(ValueError, match="does not fit"):
        linear_stack_collapse([torch.ones(2, 3), torch.ones(4, 1)])
    with pytest.raises(ValueError, match="at least one"):
        linear_stack_collapse([])


def test_vanishing_gradients_sigmoid_not_relu():
    sig = gradient_norms_per_layer("sigmoid", depth=20, width=64, seed=0)
    rel = gradient_norms_per_layer("relu", depth=20, width=64, seed=0)
    assert len(sig) == len(rel) == 20
    assert sig[0] / sig[-1] < 1e-6  # many orders of magnitude smaller near the input
    assert 0.1 < rel[0] / rel[-1] < 10  # same order of magnitude everywhere
    assert max(rel) / min(rel) < 10


def test_gradient_norms_are_reproducible():
    assert gradient_norms_per_layer("tanh", depth=4, width=8, seed=3) == gradient_norms_per_layer(
        "tanh", depth=4, width=8, seed=3
    )
