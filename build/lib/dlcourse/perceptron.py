"""The perceptron and its learning algorithm (PLA), with Novikoff's convergence bound.

A perceptron classifies x ∈ ℝᵈ by the side of a hyperplane it falls on:

    ŷ = sign(w·x + b),    labels y ∈ {−1, +1}.

Rosenblatt's rule (PLA) visits the points in order and, on every mistake
y_i (w·x_i + b) ≤ 0, moves the hyperplane towards the point:

    w ← w + y_i x_i,    b ← b + y_i.

Writing z = (x, 1) and v = (w, b) ("augmented" vectors) turns this into the
bias-free rule v ← v + y_i z_i, and that is the form in which Novikoff's theorem is
proved: if some unit vector u separates the data with margin γ = min_i y_i u·z_i > 0
and R = max_i ‖z_i‖, PLA started from v = 0 makes at most (R/γ)² mistakes.

Data are torch tensors: X is N×d (one point per row), y has N entries ±1.
"""

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

# ----------------------------------------------------------------------------- input checks


def _check_X(X: Tensor) -> Tensor:
    """X as an N×d float64 tensor, or a ValueError that says what is wrong."""
    X = torch.as_tensor(X, dtype=torch.float64)
    if X.dim() != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"X must be an N×d matrix with one point per row (N, d >= 1), got shape "
            f"{tuple(X.shape)}; reshape a single point x with x[None, :]"
        )
    return X


def _check_Xy(X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """X (N×d) and y (N labels ±1) as float64 tensors, or a clear ValueError."""
    X = _check_X(X)
    y = torch.as_tensor(y, dtype=torch.float64)
    if y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must be a vector with one label per row of X ({X.shape[0]}), got shape "
            f"{tuple(y.shape)}"
        )
    if not bool(((y == 1) | (y == -1)).all()):
        bad = sorted(set(y[(y != 1) & (y != -1)].tolist()))[:5]
        raise ValueError(
            f"labels must be -1 or +1, found {bad}; for 0/1 labels use y = 2*y - 1"
        )
    return X, y


def _check_w(w: Tensor, d: int) -> Tensor:
    """w as a float64 vector of length d, or a ValueError."""
    w = torch.as_tensor(w, dtype=torch.float64)
    if w.shape != (d,):
        raise ValueError(f"w must be a vector of length d = {d}, got shape {tuple(w.shape)}")
    return w


# ----------------------------------------------------------------------------- the model


def predict(w: Tensor, b: float, X: Tensor) -> Tensor:
    """ŷ_i = sign(w·x_i + b) for every row x_i of X, as a float64 tensor of ±1.

    Points exactly on the hyperplane get +1: we take sign(0) = +1 so that every point
    gets a label. (PLA is stricter: it counts a point on the hyperplane as a mistake.)
    """
    X = _check_X(X)
    w = _check_w(w, X.shape[1])
    scores = X @ w + b
    return torch.where(scores >= 0, 1.0, -1.0).to(torch.float64)


@dataclass
class PLAResult:
    """What ``pla`` returns.

    ``history[k]`` is (w, b) right after the (k+1)-th update, so
    ``len(history) == updates`` and the chapter can animate the moving boundary.
    ``epochs`` is the number of passes made over the data.
    """

    w: Tensor
    b: float
    updates: int
    history: list[tuple[Tensor, float]] = field(default_factory=list)
    converged: bool = False
    epochs: int = 0


def pla(
    X: Tensor,
    y: Tensor,
    max_epochs: int = 100,
    w0: Tensor | None = None,
    b0: float = 0.0,
) -> PLAResult:
    """Rosenblatt's perceptron learning algorithm.

    Cycle through the points in order; whenever y_i (w·x_i + b) ≤ 0 (wrong side, or on
    the hyperplane), update w ← w + y_i x_i and b ← b + y_i. Stop after the first pass
    with no mistake (``converged=True``) or after ``max_epochs`` passes.

    A point on the hyperplane counts as a mistake on purpose: starting from w = 0, b = 0
    every point is on the hyperplane, and Novikoff's proof needs y_i (w·x_i + b) ≤ 0 at
    every update. When PLA converges, every point is *strictly* on its correct side.
    """
    X, y = _check_Xy(X, y)
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    d = X.shape[1]
    w = torch.zeros(d, dtype=torch.float64) if w0 is None else _check_w(w0, d).clone()
    b = float(b0)
    history: list[tuple[Tensor, float]] = []
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x_i, y_i in zip(X, y.tolist()):
            if y_i * (float(w @ x_i) + b) <= 0:
                w = w + y_i * x_i  # a new tensor, so history keeps every version
                b = b + y_i
                history.append((w, b))
                mistakes += 1
        if mistakes == 0:
            return PLAResult(w, b, len(history), history, converged=True, epochs=epoch)
    return PLAResult(w, b, len(history), history, converged=False, epochs=max_epochs)


# ----------------------------------------------------------------------------- margin and bound


def margin(w: Tensor, b: float, X: Tensor, y: Tensor, augmented: bool = False) -> float:
    """Geometric margin of the hyperplane w·x + b = 0 on the data: γ = min_i y_i (w·x_i + b) / ‖w‖.

    That is the signed distance from the hyperplane to the closest point; it is positive
    exactly when the hyperplane separates the data, and does not change if (w, b) is scaled.

    With ``augmented=True`` the hyperplane is read as the vector v = (w, b) acting on
    z = (x, 1), and the margin is min_i y_i v·z_i / ‖v‖ = min_i y_i (w·x_i + b) / √(‖w‖² + b²).
    That is the γ of Novikoff's theorem for PLA with a bias. It is never larger than the
    ordinary margin, and equal to it when b = 0.
    """
    X, y = _check_Xy(X, y)
    w = _check_w(w, X.shape[1])
    norm = math.sqrt(float(w @ w) + b * b) if augmented else float(w.norm())
    if norm == 0:
        raise ValueError("w = 0 (and b = 0) is not a hyperplane; its margin is undefined")
    return float((y * (X @ w + b)).min()) / norm


def radius(X: Tensor) -> float:
    """R = max_i ‖(x_i, 1)‖ = max_i √(‖x_i‖² + 1), the radius of the *augmented* data.

    The 1 is there because PLA also updates the bias: b is the weight of a constant
    input 1, so that coordinate counts in the length of every update.
    """
    X = _check_X(X)
    return math.sqrt(float((X**2).sum(dim=1).max()) + 1.0)


def novikoff_bound(X: Tensor, y: Tensor, w_star: Tensor, b_star: float) -> float:
    """Novikoff's bound (R/γ)² on the number of PLA updates (``pla`` started from w=0, b=0).

    Here R = ``radius(X)`` = max_i ‖(x_i, 1)‖ and γ = ``margin(w_star, b_star, X, y,
    augmented=True)`` = min_i y_i (w*·x_i + b*) / ‖(w*, b*)‖, both in the augmented space
    z = (x, 1) where PLA with a bias is the bias-free rule v ← v + y_i z_i.

    Proof in two lines, with u = (w*, b*)/‖(w*, b*)‖ and v_k the weights after k updates:
    each update adds y_i u·z_i ≥ γ to u·v, so u·v_k ≥ kγ; and it adds
    2 y_i v·z_i + ‖z_i‖² ≤ R² to ‖v‖² (the first term is ≤ 0 on a mistake), so
    ‖v_k‖ ≤ √k R. Since u·v_k ≤ ‖v_k‖: kγ ≤ √k R, that is k ≤ (R/γ)².

    Any separating (w*, b*) gives a valid bound; the best one maximises γ.
    """
    gamma = margin(w_star, b_star, X, y, augmented=True)
    if gamma <= 0:
        raise ValueError(
            f"(w_star, b_star) does not separate the data (margin {gamma:.3g} <= 0); "
            f"the bound needs a separating hyperplane"
        )
    return (radius(X) / gamma) ** 2


# ----------------------------------------------------------------------------- data


def random_separator(seed: int) -> tuple[Tensor, float]:
    """The hyperplane (w*, b*) that ``make_separable(..., seed)`` labels its points with.

    w* is a random unit vector in ℝ², b* is uniform in [−0.3, 0.3], so the line passes
    within 0.3 of the origin and cuts the square [−1, 1]² into two sizeable parts.
    """
    g = torch.Generator().manual_seed(seed)
    theta = 2 * math.pi * torch.rand(1, generator=g, dtype=torch.float64).item()
    w_star = torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)
    b_star = 0.6 * torch.rand(1, generator=g, dtype=torch.float64).item() - 0.3
    return w_star, b_star


def make_separable(n: int = 50, margin: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """n points in [−1, 1]², linearly separable with geometric margin at least ``margin``.

    Points are drawn uniformly from the square and kept only if they lie at distance
    ≥ ``margin`` from the line w*·x + b* = 0 of ``random_separator(seed)``; the label is
    the side, y = sign(w*·x + b*). Half the points (rounded up) are +1.

    Returns (X, y): X is n×2 float64, y holds ±1. The margin is capped at 0.5: the line
    passes within 0.3 of the origin and the square reaches at least 1 from the origin
    in every direction, so points at distance > 0.5 exist on both sides.
    """
    if n < 2:
        raise ValueError(f"need n >= 2 points (one per class at least), got {n}")
    if not 0 < margin <= 0.5:
        raise ValueError(f"margin must be in (0, 0.5], got {margin}")
    w_star, b_star = random_separator(seed)
    g = torch.Generator().manual_seed(seed + 1)  # not the separator's stream
    n_pos, n_neg = (n + 1) // 2, n // 2
    pos: list[Tensor] = []
    neg: list[Tensor] = []
    while len(pos) < n_pos or len(neg) < n_neg:
        x = 2 * torch.rand(2, generator=g, dtype=torch.float64) - 1
        distance = float(x @ w_star) + b_star  # signed, since ‖w*‖ = 1
        if distance >= margin and len(pos) < n_pos:
            pos.append(x)
        elif distance <= -margin and len(neg) < n_neg:
            neg.append(x)
    X = torch.stack(pos + neg)
    y = torch.tensor([1.0] * n_pos + [-1.0] * n_neg, dtype=torch.float64)
    order = torch.randperm(n, generator=g)  # shuffle: PLA visits points in this order
    return X[order], y[order]


def xor_data() -> tuple[Tensor, Tensor]:
    """The XOR problem: the four corners of the unit square, labelled +1 when exactly one
    coordinate is 1. No line separates them, so PLA never converges on it.

    Returns (X, y) with X = [[0,0],[0,1],[1,0],[1,1]] and y = [−1, +1, +1, −1].
    """
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([-1.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    return X, y
