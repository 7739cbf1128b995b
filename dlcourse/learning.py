"""How a network learns: losses, their gradients, and the optimisers that follow them.

From scratch and short, each function mirrors a formula of the chapter *How a network
learns* (``book/learning.md``); ``tests/test_learning.py`` checks every one against
PyTorch (``F.mse_loss``, ``F.softmax``, ``F.cross_entropy``, autograd,
``torch.optim.SGD``/``Adam`` and ``OneCycleLR``).

Conventions: a batch of logits is N×K (one example per row), labels are N integers in
0..K−1, and a point of a loss surface is a 1-D tensor of parameters ``w``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "mse",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "cross_entropy_grad",
    "gradient_descent",
    "adam",
    "one_cycle_lr",
    "Quadratic",
]

Grad = Callable[[Tensor], Tensor]


def _check_logits_labels(z: Tensor, y: Tensor) -> None:
    if not isinstance(z, Tensor) or z.dim() != 2 or not z.is_floating_point():
        raise ValueError(f"logits must be a float tensor N×K, got {_describe(z)}")
    if not isinstance(y, Tensor) or y.dtype != torch.int64 or y.shape != (z.shape[0],):
        raise ValueError(f"labels must be an int64 tensor of shape ({z.shape[0]},), got {_describe(y)}")
    if len(y) and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}, got values in "
                         f"{y.min().item()}..{y.max().item()}")
    if len(y) == 0:
        raise ValueError("the batch is empty: the mean loss of no examples is undefined")


def _check_same_shape(y_hat: Tensor, y: Tensor) -> None:
    if not isinstance(y_hat, Tensor) or not isinstance(y, Tensor) or y_hat.shape != y.shape:
        raise ValueError(f"y_hat and y must be tensors of the same shape, got "
                         f"{_describe(y_hat)} and {_describe(y)}")
    if y.numel() == 0:
        raise ValueError("y is empty: the mean of no errors is undefined")


def _check_scores(z: Tensor) -> None:
    if not isinstance(z, Tensor) or z.dim() < 1 or not z.is_floating_point():
        raise ValueError(f"z must be a float tensor (classes on the last axis), got {_describe(z)}")


def _describe(x: object) -> str:
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__}"


def mse(y_hat: Tensor, y: Tensor) -> Tensor:
    """Mean squared error: the mean of (ŷ − y)² over every entry."""
    _check_same_shape(y_hat, y)
    return ((y_hat - y) ** 2).mean()


def softmax(z: Tensor) -> Tensor:
    """Row-wise softmax, exp(z_k) / Σ_j exp(z_j), computed after subtracting each row's max.

    Subtracting a constant from a row does not change its softmax, and after subtracting
    the max every exponent is ≤ 0, so exp never overflows.
    """
    _check_scores(z)
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def log_softmax(z: Tensor) -> Tensor:
    """Row-wise log softmax, z_k − log Σ_j exp(z_j), stable for large logits."""
    _check_scores(z)
    m = z.max(dim=-1, keepdim=True).values
    return z - m - torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))


def cross_entropy(z: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy of logits z (N×K) and labels y: −mean_i log softmax(z_i)[y_i].

    It is the negative log-likelihood of the labels under the model's softmax
    probabilities, as ``F.cross_entropy`` computes it.
    """
    _check_logits_labels(z, y)
    return -log_softmax(z)[torch.arange(len(y)), y].mean()


def cross_entropy_grad(z: Tensor, y: Tensor) -> Tensor:
    """∂ cross_entropy / ∂z = (softmax(z) − onehot(y)) / N, without autograd."""
    _check_logits_labels(z, y)
    onehot = torch.zeros_like(z)
    onehot[torch.arange(len(y)), y] = 1.0
    return (softmax(z) - onehot) / len(y)


def gradient_descent(grad: Grad, w0: Tensor, lr: float, steps: int,
                     momentum: float = 0.0) -> Tensor:
    """The path w_0, w_1, …, w_steps of gradient descent (with heavy-ball momentum).

    v ← μ·v + ∇L(w),  w ← w − η·v   (η = ``lr``, μ = ``momentum``; μ = 0 is plain
    gradient descent). This is ``torch.optim.SGD(lr=η, momentum=μ)``'s update.
    """
    _check_path_args(w0, lr, steps, momentum=momentum)
    w, v = w0.clone(), torch.zeros_like(w0)
    path = [w.clone()]
    for _ in range(steps):
        v = momentum * v + grad(w)
        w = w - lr * v
        path.append(w.clone())
    return torch.stack(path)


def adam(grad: Grad, w0: Tensor, lr: float, steps: int, betas: tuple[float, float] = (0.9, 0.999),
         eps: float = 1e-8) -> Tensor:
    """The path of Adam: running means of the gradient and of its square, bias-corrected.

    m ← β₁m + (1−β₁)g,  s ← β₂s + (1−β₂)g²,  w ← w − η · m̂ / (√ŝ + ε)
    with m̂ = m / (1−β₁ᵗ), ŝ = s / (1−β₂ᵗ) at step t = 1, 2, …
    """
    _check_path_args(w0, lr, steps, betas=betas)
    beta1, beta2 = betas
    w, m, s = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0)
    path = [w.clone()]
    for t in range(1, steps + 1):
        g = grad(w)
        m = beta1 * m + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * g**2
        m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
        w = w - lr * m_hat / (s_hat.sqrt() + eps)
        path.append(w.clone())
    return torch.stack(path)


def _check_path_args(w0: Tensor, lr: float, steps: int, momentum: float = 0.0,
                     betas: tuple[float, float] = (0.0, 0.0)) -> None:
    if not isinstance(w0, Tensor) or w0.dim() != 1 or not w0.is_floating_point():
        raise ValueError(f"w0 must be a 1-D float tensor of parameters, got {_describe(w0)}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not all(0.0 <= beta < 1.0 for beta in betas):
        raise ValueError(f"betas must lie in [0, 1), got {betas}")


def one_cycle_lr(step: int, total_steps: int, max_lr: float, pct_start: float = 0.25,
                 div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
    """The learning rate of the one-cycle schedule at ``step`` (0-based).

    It rises from max_lr/div_factor to max_lr over the first ``pct_start`` of the run,
    then falls to max_lr/(div_factor·final_div_factor), both along half a cosine. This is
    ``torch.optim.lr_scheduler.OneCycleLR``'s learning rate with its default cosine
    annealing (which also cycles momentum, the other way round: see the chapter).
    """
    _check_cycle(step, total_steps, pct_start)
    start, low = max_lr / div_factor, max_lr / div_factor / final_div_factor
    # As OneCycleLR: the peak is at step pct_start·total − 1, the end at step total − 1.
    peak = pct_start * total_steps - 1
    if step <= peak:
        return _cosine(start, max_lr, step / peak)
    return _cosine(max_lr, low, (step - peak) / (total_steps - 1 - peak))


def _check_cycle(step: int, total_steps: int, pct_start: float) -> None:
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must be in (0, 1), got {pct_start}")
    if not isinstance(total_steps, int) or min(pct_start, 1 - pct_start) * total_steps < 2:
        raise ValueError(f"total_steps must be an integer large enough for 2 steps in each "
                         f"phase (pct_start={pct_start}), got {total_steps!r}")
    if not isinstance(step, int) or not 0 <= step < total_steps:
        raise ValueError(f"step must be an integer in 0..{total_steps - 1}, got {step!r}")


def _cosine(start: float, end: float, fraction: float) -> float:
    """From ``start`` (fraction 0) to ``end`` (fraction 1) along half a cosine."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))


class Quadratic:
    """The loss surface L(w) = ½ (w − w*)ᵀ A (w − w*) of a symmetric positive definite A.

    The simplest surface with a minimum (at w*): its gradient is A (w − w*), its
    curvature along each eigenvector of A is the eigenvalue. Gradient descent on it is
    stable exactly when lr < 2 / λ_max.
    """

    def __init__(self, A: Tensor, w_star: Tensor) -> None:
        if not isinstance(A, Tensor) or A.dim() != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix, got {_describe(A)}")
        if not torch.allclose(A, A.T):
            raise ValueError("A must be symmetric")
        if torch.linalg.eigvalsh(A).min() <= 0:
            raise ValueError("A must be positive definite (every eigenvalue > 0)")
        if not isinstance(w_star, Tensor) or w_star.shape != (A.shape[0],):
            raise ValueError(f"w_star must have shape ({A.shape[0]},), got {_describe(w_star)}")
        self.A, self.w_star = A, w_star

    def __call__(self, w: Tensor) -> Tensor:
        """L at one point w (shape d) or at many points (shape …×d)."""
        d = w - self.w_star
        return 0.5 * ((d @ self.A) * d).sum(-1)

    def grad(self, w: Tensor) -> Tensor:
        return (w - self.w_star) @ self.A

    @property
    def max_stable_lr(self) -> float:
        """2 / λ_max: gradient descent diverges for any larger learning rate."""
        return 2.0 / torch.linalg.eigvalsh(self.A).max().item()
