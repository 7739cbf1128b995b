"""dlcourse.learning against PyTorch: losses, their gradients, optimisers, one-cycle."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlcourse import learning as L


@pytest.fixture
def logits_labels():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 5, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, 5, (7,), generator=g)
    return z, y


def test_mse_matches_torch():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    assert torch.allclose(L.mse(a, b), F.mse_loss(a, b))


def test_softmax_and_log_softmax_match_torch(logits_labels):
    z, _ = logits_labels
    assert torch.allclose(L.softmax(z), F.softmax(z, dim=1))
    assert torch.allclose(L.log_softmax(z), F.log_softmax(z, dim=1))


def test_softmax_survives_huge_logits():
    z = torch.tensor([[1000.0, 999.0, -1000.0]])
    naive = torch.exp(z) / torch.exp(z).sum()
    assert torch.isnan(naive).any(), "the naive formula overflows: the test premise"
    p = L.softmax(z)
    assert torch.isfinite(p).all() and torch.allclose(p, F.softmax(z, dim=1))
    assert torch.allclose(L.log_softmax(z), F.log_softmax(z, dim=1))


def test_cross_entropy_is_the_negative_log_likelihood(logits_labels):
    z, y = logits_labels
    assert torch.allclose(L.cross_entropy(z, y), F.cross_entropy(z, y))
    nll = -torch.log(F.softmax(z, 1)[torch.arange(len(y)), y]).mean()
    assert torch.allclose(L.cross_entropy(z, y), nll)


def test_cross_entropy_grad_is_p_minus_y(logits_labels):
    z, y = logits_labels
    z = z.clone().requires_grad_()
    F.cross_entropy(z, y).backward()
    assert torch.allclose(L.cross_entropy_grad(z.detach(), y), z.grad)


@pytest.mark.parametrize("bad", [
    lambda z, y: (z[0], y),                      # 1-D logits
    lambda z, y: (z, y.float()),                  # float labels
    lambda z, y: (z, y[:-1]),                     # wrong count
    lambda z, y: (z, y + 5),                      # out of range
    lambda z, y: (z[:0], y[:0]),                  # empty batch
])
def test_cross_entropy_rejects_bad_input(logits_labels, bad):
    z, y = bad(*logits_labels)
    with pytest.raises(ValueError, match="logits|labels|empty"):
        L.cross_entropy(z, y)
    with pytest.raises(ValueError, match="logits|labels|empty"):
        L.cross_entropy_grad(z, y)


def quadratic():
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    return L.Quadratic(A, torch.tensor([1.0, -2.0], dtype=torch.float64))


def torch_path(make_optimizer, loss, w0, steps):
    """The weights after each of `steps` steps of a torch.optim optimiser on `loss`."""
    w = w0.clone().requires_grad_()
    opt = make_optimizer([w])
    path = [w0.clone()]
    for _ in range(steps):
        opt.zero_grad()
        loss(w).backward()
        opt.step()
        path.append(w.detach().clone())
    return torch.stack(path)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_gradient_descent_is_torch_sgd(momentum):
    f, w0 = quadratic(), torch.tensor([-3.0, 2.0], dtype=torch.float64)
    ours = L.gradient_descent(f.grad, w0, lr=0.1, steps=25, momentum=momentum)
    theirs = torch_path(lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum), f, w0, 25)
    assert torch.allclose(ours, theirs), f"largest gap {(ours - theirs).abs().max():.2e}"


def test_adam_is_torch_adam():
    f, w0 = quadratic(), torch.tensor([-3.0, 2.0], dtype=torch.float64)
    ours = L.adam(f.grad, w0, lr=0.3, steps=40)
    theirs = torch_path(lambda p: torch.optim.Adam(p, lr=0.3), f, w0, 40)
    assert torch.allclose(ours, theirs), f"largest gap {(ours - theirs).abs().max():.2e}"


def test_quadratic_gradient_and_stability_bound():
    f = quadratic()
    w = torch.tensor([0.3, 0.7], dtype=torch.float64, requires_grad=True)
    f(w).backward()
    assert torch.allclose(f.grad(w.detach()), w.grad)
    w0 = torch.tensor([-3.0, 2.0], dtype=torch.float64)
    below = L.gradient_descent(f.grad, w0, 0.95 * f.max_stable_lr, 400)
    above = L.gradient_descent(f.grad, w0, 1.05 * f.max_stable_lr, 400)
    assert f(below[-1]) < 1e-6 < f(w0) < f(above[-1])


@pytest.mark.parametrize("total", [8, 9, 40, 391 * 3])
def test_one_cycle_matches_torch(total):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, pct_start=0.25)
    for step in range(total):
        expected = opt.param_groups[0]["lr"]
        assert math.isclose(L.one_cycle_lr(step, total, 0.1), expected, rel_tol=1e-9), step
        opt.step()
        sched.step()


@pytest.mark.parametrize("call, match", [
    (lambda: L.one_cycle_lr(10, 10, 0.1), "step"),
    (lambda: L.one_cycle_lr(0, 3, 0.1), "total_steps"),
    (lambda: L.gradient_descent(quadratic().grad, torch.zeros(2, 2), 0.1, 3), "w0"),
    (lambda: L.gradient_descent(quadratic().grad, torch.zeros(2), -0.1, 3), "lr"),
    (lambda: L.gradient_descent(quadratic().grad, torch.zeros(2), 0.1, 3, momentum=1.0), "momentum"),
    (lambda: L.adam(quadratic().grad, torch.zeros(2), 0.1, 3, betas=(1.0, 0.9)), "betas"),
    (lambda: L.Quadratic(torch.tensor([[1.0, 2.0], [0.0, 1.0]]), torch.zeros(2)), "symmetric"),
    (lambda: L.Quadratic(-torch.eye(2), torch.zeros(2)), "positive definite"),
    (lambda: L.mse(torch.zeros(3), torch.zeros(2)), "same shape"),
    (lambda: L.softmax(torch.tensor([1, 2])), "float"),
])
def test_bad_input_names_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()
