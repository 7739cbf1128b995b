"""The multi-layer perceptron: XOR by hand, the same net in PyTorch, and fitting curves.

Convention: **row vectors**. A batch X is N×d with one example per row, and a layer
maps it by X W + b with W of shape (fan_in × fan_out). A 2-layer MLP is

    H = φ(X W1 + b1)      (N × hidden)
    Ŷ = H W2 + b2         (N × out)

``torch.nn.Linear`` uses the same formula but stores the transpose, weight = Wᵀ
(out × in), and computes X weightᵀ + bias; ``as_sequential`` does the bookkeeping.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from dlcourse.perceptron import xor_data

# ----------------------------------------------------------------------------- activations


def step(a: Tensor) -> Tensor:
    """Heaviside step: 1 where a ≥ 0, else 0 (so step(a) = (sign(a) + 1)/2 with sign(0) = +1,
    as in ``dlcourse.perceptron``). Its derivative is 0 almost everywhere: not trainable."""
    return (a >= 0).to(a.dtype)


class Step(nn.Module):
    """``step`` as a layer, so a hand-set step network can live in an ``nn.Sequential``."""

    def forward(self, a: Tensor) -> Tensor:
        return step(a)


PHI: dict[str, Callable[[Tensor], Tensor]] = {
    "step": step,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}

LAYERS: dict[str, type[nn.Module]] = {
    "step": Step,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def _check_activation(activation: str) -> None:
    if activation not in PHI:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(PHI)}")


# ----------------------------------------------------------------------------- XOR by hand


class MLPParams(NamedTuple):
    """Weights of a 2-layer MLP in the row-vector convention (W is fan_in × fan_out)."""

    W1: Tensor
    b1: Tensor
    W2: Tensor
    b2: Tensor


def xor_data01() -> tuple[Tensor, Tensor]:
    """The XOR points of ``dlcourse.perceptron.xor_data`` with 0/1 targets:
    X = [[0,0],[0,1],[1,0],[1,1]] (4×2), T = [[0],[1],[1],[0]] (4×1)."""
    X, y = xor_data()
    return X, ((y + 1) / 2)[:, None]  # ±1 labels → 0/1 targets, as a column


def xor_weights(activation: str = "relu") -> MLPParams:
    """Hand-set weights of a 2-2-1 network that computes XOR exactly (outputs 0 or 1).

    ``"relu"`` (Goodfellow, Bengio & Courville, *Deep Learning*, §6.1):
        h1 = relu(x1 + x2),  h2 = relu(x1 + x2 − 1),  ŷ = h1 − 2·h2.
    ``"step"`` (two perceptrons, OR and AND):
        h1 = step(x1 + x2 − 0.5) = OR,  h2 = step(x1 + x2 − 1.5) = AND,  ŷ = h1 − h2.

    Either way the hidden layer moves the four corners so that one line separates them.
    """
    W1 = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    if activation == "relu":
        b1 = torch.tensor([0.0, -1.0], dtype=torch.float64)
        W2 = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    elif activation == "step":
        b1 = torch.tensor([-0.5, -1.5], dtype=torch.float64)
        W2 = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    else:
        raise ValueError(f"hand-set XOR weights exist for 'relu' and 'step', not {activation!r}")
    b2 = torch.tensor([0.0], dtype=torch.float64)
    return MLPParams(W1, b1, W2, b2)


def hidden_layer(X: Tensor, params: MLPParams, activation: str = "relu") -> Tensor:
    """H = φ(X W1 + b1): the hidden representation (N × hidden)."""
    _check_activation(activation)
    W1, b1, _, _ = params
    if X.dim() != 2 or X.shape[1] != W1.shape[0]:
        raise ValueError(
            f"X must be N×{W1.shape[0]} (one example per row), got shape {tuple(X.shape)}"
        )
    return PHI[activation](X @ W1 + b1)


def forward(X: Tensor, params: MLPParams, activation: str = "relu") -> Tensor:
    """Ŷ = φ(X W1 + b1) W2 + b2 for a batch X (N × d, rows are examples); Ŷ is N × out."""
    _, _, W2, b2 = params
    return hidden_layer(X, params, activation) @ W2 + b2


def as_sequential(params: MLPParams, activation: str = "relu") -> nn.Sequential:
    """The same network as ``nn.Sequential(Linear, activation, Linear)``, same weights.

    ``nn.Linear`` computes x weightᵀ + bias, so weight = Wᵀ. The layers get the
    dtype of W1 (float64 for ``xor_weights``).
    """
    _check_activation(activation)
    W1, b1, W2, b2 = params
    first = nn.Linear(W1.shape[0], W1.shape[1], dtype=W1.dtype)
    second = nn.Linear(W2.shape[0], W2.shape[1], dtype=W2.dtype)
    with torch.no_grad():
        first.weight.copy_(W1.T)
        first.bias.copy_(b1)
        second.weight.copy_(W2.T)
        second.bias.copy_(b2)
    return nn.Sequential(first, LAYERS[activation](), second)


# ----------------------------------------------------------------------------- training


def make_mlp(
    hidden: int, activation: str = "tanh", in_features: int = 1, out_features: int = 1
) -> nn.Sequential:
    """A 2-layer MLP in_features → hidden → out_features with PyTorch's default init."""
    _check_activation(activation)
    if hidden < 1:
        raise ValueError(f"need at least one hidden unit, got hidden={hidden}")
    return nn.Sequential(
        nn.Linear(in_features, hidden), LAYERS[activation](), nn.Linear(hidden, out_features)
    )


def fit_function(
    f: Callable[[Tensor], Tensor],
    hidden: int,
    steps: int = 200,
    seed: int = 0,
    activation: str = "relu",
    interval: tuple[float, float] = (-math.pi, math.pi),
    n_points: int = 200,
) -> tuple[nn.Sequential, list[float]]:
    """Fit ŷ(x) ≈ f(x) on ``n_points`` evenly spaced x in ``interval`` with a 1-hidden-layer MLP.

    This is the universal-approximation picture: more hidden units, closer fit. With the
    default ReLU each unit adds one kink, so the fit is visibly a polyline with at most
    ``hidden`` corners.

    Minimises the mean squared error with full-batch L-BFGS (``steps`` iterations,
    float64): a quasi-Newton method that, unlike plain gradient steps, gets close to the
    best fit a given width allows, so the comparison between widths is about capacity,
    not about how long we trained. Returns the model and ``steps + 1`` losses: before
    each iteration and after the last. Seeds torch's global RNG (for the initial weights).
    """
    torch.manual_seed(seed)
    x = torch.linspace(interval[0], interval[1], n_points, dtype=torch.float64)[:, None]
    y = f(x)
    model = make_mlp(hidden, activation).double()
    optimizer = torch.optim.LBFGS(
        model.parameters(), max_iter=1, max_eval=25, history_size=50, line_search_fn="strong_wolfe"
    )

    def mse() -> Tensor:
        # L-BFGS may evaluate the loss several times per iteration (line search)
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    losses = [optimizer.step(mse).item() for _ in range(steps)]  # loss before each step
    with torch.no_grad():
        losses.append(((model(x) - y) ** 2).mean().item())
    return model, losses


def xor_accuracy(model: nn.Module) -> float:
    """Fraction of the 4 XOR inputs that ``model`` gets right, reading output > 0 as 1."""
    X, T = xor_data01()
    with torch.no_grad():
        prediction = (model(X.to(next(model.parameters()).dtype)) > 0).to(T.dtype)
    return float((prediction == T).to(torch.float64).mean())


def train_xor(seed: int = 0, hidden: int = 8, steps: int = 200, lr: float = 0.1) -> nn.Sequential:
    """Train a 2-``hidden``-1 tanh MLP on XOR with full-batch Adam; returns the model.

    The output is a logit: the net predicts 1 where it is > 0, and the loss is binary
    cross-entropy on σ(output). Why 8 hidden units when 2 suffice (``xor_weights``)?
    With 2, training often ends in a local minimum that gets 2 or 3 of the 4 points right
    (more than half of seeds 0–99); a wider layer gives gradient descent many more ways
    down, and solved XOR for every seed in 0–99. Seeds torch's global RNG.
    """
    torch.manual_seed(seed)
    X, T = xor_data01()
    X, T = X.float(), T.float()
    model = make_mlp(hidden, "tanh", in_features=2, out_features=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(X), T)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model
