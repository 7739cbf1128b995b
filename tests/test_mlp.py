"""Tests for dlcourse/mlp.py: XOR by hand and by training, PyTorch equivalence, curve fitting."""

import math
import time

import pytest
import torch
from torch import nn

from dlcourse.mlp import (
    MLPParams,
    as_sequential,
    fit_function,
    forward,
    hidden_layer,
    make_mlp,
    step,
    train_xor,
    xor_accuracy,
    xor_data01,
    xor_weights,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: on a busy 2-core machine extra threads only wait on each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("activation", ["relu", "step"])
def test_hand_weights_solve_xor_exactly(activation):
    X, T = xor_data01()
    params = xor_weights(activation)
    assert isinstance(params, MLPParams)
    W1, b1, W2, b2 = params  # still unpacks like a plain tuple
    assert W1.shape == (2, 2) and b1.shape == (2,) and W2.shape == (2, 1) and b2.shape == (1,)
    assert torch.equal(forward(X, params, activation), T)


def test_hidden_layer_makes_xor_linearly_separable():
    # relu net: the corners land on (0,0), (1,0), (1,0), (2,1); the line h1 − 2·h2 = ½ separates
    X, _ = xor_data01()
    H = hidden_layer(X, xor_weights("relu"), "relu")
    assert H.tolist() == [[0, 0], [1, 0], [1, 0], [2, 1]]


def test_step_convention_matches_sign_zero_plus_one():
    assert step(torch.tensor([-1.0, 0.0, 2.0])).tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("activation", ["relu", "step", "tanh", "sigmoid"])
def test_as_sequential_equals_forward(activation):
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 5), (5,), (5, 2), (2,)]
    params = MLPParams(*(torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes))
    X = torch.randn(7, 3, generator=g, dtype=torch.float64)
    model = as_sequential(params, activation)
    assert isinstance(model, nn.Sequential)
    with torch.no_grad():
        assert torch.allclose(model(X), forward(X, params, activation), atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "step"])
def test_as_sequential_of_hand_weights_solves_xor(activation):
    X, T = xor_data01()
    with torch.no_grad():
        assert torch.equal(as_sequential(xor_weights(activation), activation)(X), T)


def test_make_mlp_shapes():
    model = make_mlp(16, "relu", in_features=3, out_features=2)
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    assert model(torch.zeros(5, 3)).shape == (5, 2)
    assert isinstance(make_mlp(4)[1], nn.Tanh)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown activation"):
        make_mlp(4, "swish")
    with pytest.raises(ValueError, match="hidden unit"):
        make_mlp(0)
    with pytest.raises(ValueError, match="hand-set XOR weights"):
        xor_weights("tanh")
    with pytest.raises(ValueError, match="N×2"):
        forward(torch.zeros(4, 3, dtype=torch.float64), xor_weights())


def test_more_hidden_units_fit_sin_better():
    # Best of 3 seeds per width: with some seeds a 4-unit ReLU net leaves units unused and
    # stalls at the 1-unit optimum; the best run shows what the width can represent.
    widths = [1, 4, 16, 64]
    best = [
        min(fit_function(torch.sin, h, steps=60, seed=s)[1][-1] for s in range(3)) for h in widths
    ]
    for wider, narrower in zip(best[1:], best):
        assert wider < narrower / 4, best


def test_fit_function_returns_model_and_losses():
    t0 = time.process_time()  # CPU time: wall time on a shared machine says little
    model, losses = fit_function(torch.sin, 64, steps=200, seed=0)
    assert time.process_time() - t0 < 2.0  # the chapter fits several of these
    assert len(losses) == 201
    assert losses[-1] < 1e-4 < losses[0]
    x = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64)[:, None]
    with torch.no_grad():
        assert ((model(x) - torch.sin(x)) ** 2).mean().item() == pytest.approx(losses[-1])


def test_fit_function_with_tanh_and_another_interval():
    square = lambda x: x**2  # noqa: E731
    _, losses = fit_function(square, 8, steps=100, seed=1, activation="tanh", interval=(-1, 1))
    assert losses[-1] < 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trained_net_solves_xor(seed):
    model = train_xor(seed)
    assert xor_accuracy(model) == 1.0


def test_fit_function_refuses_inputs_that_would_give_nan_or_broadcast_losses():
    with pytest.raises(ValueError, match="n_points"):
        fit_function(torch.sin, hidden=2, n_points=0)
    # an n-vector target would broadcast against the n×1 predictions into an n×n table
    with pytest.raises(ValueError, match=r"f\(x\) must return one target per point"):
        fit_function(lambda x: torch.sin(x).flatten(), hidden=2, steps=1)
