"""Tests for dlcourse/perceptron.py: the PLA rule, Novikoff's bound, the data makers."""

import math

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from dlcourse.perceptron import (
    PLAResult,
    make_separable,
    margin,
    novikoff_bound,
    pla,
    predict,
    radius,
    random_separator,
    xor_data,
)


def _t(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _best_augmented_separator(X, y, w_star, b_star) -> tuple[torch.Tensor, float]:
    """Approximate max-margin separator in the augmented space z = (x, 1), by brute force:
    try ~160,000 unit vectors v = (w, b) on the sphere (plus the generating one) and keep
    the one with the largest min_i y_i v·z_i."""
    theta = torch.linspace(0, math.pi, 400, dtype=torch.float64)
    phi = torch.linspace(0, 2 * math.pi, 400, dtype=torch.float64)
    T, P = torch.meshgrid(theta, phi, indexing="ij")
    V = torch.stack([T.sin() * P.cos(), T.sin() * P.sin(), T.cos()], dim=-1).reshape(-1, 3)
    v_star = torch.cat([w_star, torch.tensor([b_star], dtype=torch.float64)])
    V = torch.cat([V, (v_star / v_star.norm())[None]])
    Z = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], dim=1)
    gammas = (y[:, None] * (Z @ V.T)).min(dim=0).values
    best = V[gammas.argmax()]
    return best[:2], float(best[2])


# ----------------------------------------------------------------------------- the rule


def test_pla_matches_hand_computed_trace():
    # x1 = (2,−1) −1, x2 = (2,1) +1, x3 = (−2,0) −1; start w = (0,0), b = 0.
    # epoch 1: x1: score 0 ≤ 0, mistake → w = (0,0) − (2,−1) = (−2,1), b = −1
    #          x2: score −4+1−1 = −4, y = +1, mistake → w = (−2,1) + (2,1) = (0,2), b = 0
    #          x3: score 0 (on the line), mistake → w = (0,2) − (−2,0) = (2,2), b = −1
    # epoch 2: x1: score 4−2−1 = 1, y = −1, mistake → w = (2,2) − (2,−1) = (0,3), b = −2
    #          x2: score 3−2 = 1 ok;  x3: score −2 ok
    # epoch 3: x1: −5 ok, x2: 1 ok, x3: −2 ok → converged after 4 updates, 3 epochs.
    X = _t([2, -1], [2, 1], [-2, 0])
    y = torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)
    r = pla(X, y)
    assert isinstance(r, PLAResult)
    expected = [([-2, 1], -1), ([0, 2], 0), ([2, 2], -1), ([0, 3], -2)]
    assert [(w.tolist(), b) for w, b in r.history] == expected
    assert r.w.tolist() == [0, 3] and r.b == -2
    assert (r.updates, r.converged, r.epochs) == (4, True, 3)
    assert predict(r.w, r.b, X).tolist() == y.tolist()


def test_pla_accepts_lists_and_a_start_point():
    # from w0 = (0,1), b0 = 0.5 the line already separates: no update at all
    r = pla([[0, 1], [0, -1]], [1, -1], w0=torch.tensor([0.0, 1.0]), b0=0.5)
    assert (r.updates, r.converged, r.epochs, r.history) == (0, True, 1, [])
    assert r.w.tolist() == [0, 1] and r.b == 0.5


def test_predict_sign_zero_is_plus_one():
    w = torch.tensor([1.0, -1.0], dtype=torch.float64)
    assert predict(w, 0.0, _t([1, 1], [2, 1], [1, 2])).tolist() == [1.0, 1.0, -1.0]


@pytest.mark.parametrize("seed", range(6))
def test_pla_converges_within_novikoff_bound(seed):
    X, y = make_separable(n=80, margin=0.05, seed=seed)
    r = pla(X, y, max_epochs=1000)
    assert r.converged
    assert len(r.history) == r.updates
    # the result separates the data, strictly
    assert torch.equal(predict(r.w, r.b, X), y)
    assert margin(r.w, r.b, X, y) > 0
    # Novikoff with the generating separator ...
    w_star, b_star = random_separator(seed)
    bound = novikoff_bound(X, y, w_star, b_star)
    assert r.updates <= bound
    # ... and with (an approximation of) the max-margin one: tighter, still valid
    w_best, b_best = _best_augmented_separator(X, y, w_star, b_star)
    tight = novikoff_bound(X, y, w_best, b_best)
    assert r.updates <= tight <= bound


def test_novikoff_bound_uses_augmented_radius_and_margin():
    X = _t([3, 4], [-1, 0])
    y = torch.tensor([1.0, -1.0], dtype=torch.float64)
    w, b = torch.tensor([1.0, 0.0], dtype=torch.float64), 0.0
    assert radius(X) == pytest.approx(math.sqrt(26))  # ‖(3, 4, 1)‖
    assert margin(w, b, X, y) == pytest.approx(1.0)
    # with b ≠ 0 the augmented margin divides by ‖(w, b)‖ instead of ‖w‖
    assert margin(w, 1.0, X, y) == pytest.approx(0.0)
    # b = −0.5: scores 2.5 and −1.5, so min y·score = 1.5
    assert margin(w, -0.5, X, y) == pytest.approx(1.5)
    assert margin(w, -0.5, X, y, augmented=True) == pytest.approx(1.5 / math.sqrt(1.25))
    assert margin(w, 0.0, X, y, augmented=True) == margin(w, 0.0, X, y)
    assert novikoff_bound(X, y, w, b) == pytest.approx(26.0)
    assert novikoff_bound(X, y, 2 * w, 0.0) == pytest.approx(26.0)  # scale-free
    with pytest.raises(ValueError, match="does not separate"):
        novikoff_bound(X, y, -w, 0.0)


def test_pla_fails_on_xor():
    X, y = xor_data()
    assert X.shape == (4, 2) and y.tolist() == [-1, 1, 1, -1]
    r = pla(X, y, max_epochs=25)
    assert not r.converged
    assert r.epochs == 25
    assert r.updates >= 25  # at least one mistake in every pass
    assert not torch.equal(predict(r.w, r.b, X), y)


# ----------------------------------------------------------------------------- the data


def test_make_separable_guarantees_its_margin():
    X, y = make_separable(n=101, margin=0.2, seed=7)
    assert X.shape == (101, 2) and X.dtype == torch.float64
    assert set(y.tolist()) == {-1.0, 1.0} and int((y == 1).sum()) == 51
    assert X.abs().max() <= 1
    w_star, b_star = random_separator(7)
    assert margin(w_star, b_star, X, y) >= 0.2
    X2, y2 = make_separable(n=101, margin=0.2, seed=7)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_make_separable_rejects_bad_arguments():
    with pytest.raises(ValueError, match="margin"):
        make_separable(n=10, margin=0.0)
    with pytest.raises(ValueError, match="margin"):
        make_separable(n=10, margin=0.9)
    with pytest.raises(ValueError, match="n >= 2"):
        make_separable(n=1)


# ----------------------------------------------------------------------------- bad input


def test_bad_labels_raise():
    X = _t([0, 0], [1, 1])
    with pytest.raises(ValueError, match="labels must be -1 or \\+1"):
        pla(X, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="labels must be -1 or \\+1"):
        margin(torch.ones(2), 0.0, X, torch.tensor([2.0, -1.0]))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="N×d"):
        pla(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="one label per row"):
        pla(torch.ones(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match="length d = 2"):
        predict(torch.ones(3), 0.0, torch.ones(4, 2))
    with pytest.raises(ValueError, match="max_epochs"):
        pla(torch.ones(1, 2), torch.ones(1), max_epochs=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_pla_refuses_non_finite_points_instead_of_converging(bad: float) -> None:
    X = torch.tensor([[1.0, 1.0], [bad, -1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN or infinite"):
        pla(X, torch.tensor([1.0, -1.0]))


@given(
    d=st.integers(1, 4),
    n=st.integers(1, 25),
    gap=st.floats(0.05, 0.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_pla_converges_within_novikoffs_bound_on_random_separable_data(d, n, gap, seed):
    """Any d, any hyperplane (w*, b*), points at distance >= gap from it: PLA stops with
    every point strictly on its side, after at most (R/γ)² updates."""
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=g, dtype=torch.float64)
    w_star /= w_star.norm()
    b_star = float(torch.rand(1, generator=g, dtype=torch.float64)) - 0.5
    X = 2 * torch.rand(4 * n, d, generator=g, dtype=torch.float64) - 1
    distance = X @ w_star + b_star
    keep = distance.abs() >= gap
    assume(int(keep.sum()) >= 1)
    X, y = X[keep][:n], torch.sign(distance[keep][:n])
    bound = novikoff_bound(X, y, w_star, b_star)
    # every epoch but the last makes an update, so bound + 1 epochs always suffice
    result = pla(X, y, max_epochs=math.floor(bound) + 1)
    assert result.converged
    assert result.updates <= bound
    assert torch.equal(predict(result.w, result.b, X), y)
    assert float((y * (X @ result.w + result.b)).min()) > 0
