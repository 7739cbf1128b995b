"""Activation functions, their derivatives, and why a network needs them.

Every activation φ comes with its derivative φ′, written out by hand so the chapter can
show the formula next to the code; the tests check each φ′ against ``torch.autograd``.

Two demonstrations close the module:

- ``linear_stack_collapse``: without an activation, a stack of linear layers is *one*
  linear layer, so depth buys nothing (the quiz's answer B is wrong for this reason);
- ``gradient_norms_per_layer``: with sigmoid, gradients shrink layer after layer on the
  way back to the input (vanishing gradients); with ReLU they do not.

Convention: layers act on row vectors, ``h_l = φ(h_{l−1} W_l)``, as in ``dlcourse.mlp``.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

# ----------------------------------------------------------------------------- the functions


def sigmoid(a: Tensor) -> Tensor:
    """σ(a) = 1 / (1 + e^(−a)), squashes to (0, 1)."""
    return torch.sigmoid(a)  # torch's version avoids overflow of e^(−a) for very negative a


def d_sigmoid(a: Tensor) -> Tensor:
    """σ′(a) = σ(a)(1 − σ(a)); never more than 1/4, the root of vanishing gradients."""
    s = sigmoid(a)
    return s * (1 - s)


def tanh(a: Tensor) -> Tensor:
    """tanh(a) = (e^a − e^(−a)) / (e^a + e^(−a)) = 2σ(2a) − 1, squashes to (−1, 1)."""
    return torch.tanh(a)


def d_tanh(a: Tensor) -> Tensor:
    """tanh′(a) = 1 − tanh²(a); equal to 1 at the origin."""
    return 1 - torch.tanh(a) ** 2


def relu(a: Tensor) -> Tensor:
    """ReLU(a) = max(0, a)."""
    return torch.clamp(a, min=0)


def d_relu(a: Tensor) -> Tensor:
    """ReLU′(a) = 1 if a > 0 else 0 (at the kink a = 0 we take 0, as PyTorch does)."""
    return (a > 0).to(a.dtype)


def leaky_relu(a: Tensor, slope: float = 0.01) -> Tensor:
    """LeakyReLU(a) = a if a > 0 else slope·a: a small slope keeps negative units learning."""
    return torch.where(a > 0, a, slope * a)


def d_leaky_relu(a: Tensor, slope: float = 0.01) -> Tensor:
    """LeakyReLU′(a) = 1 if a > 0 else slope (at a = 0 we take slope, as PyTorch does)."""
    return torch.where(a > 0, torch.ones_like(a), torch.full_like(a, slope))


def _normal_cdf(a: Tensor) -> Tensor:
    """Φ(a) = ½(1 + erf(a/√2)), the standard normal distribution function."""
    return 0.5 * (1 + torch.erf(a / math.sqrt(2)))


def _normal_pdf(a: Tensor) -> Tensor:
    """φ(a) = e^(−a²/2) / √(2π), the standard normal density."""
    return torch.exp(-0.5 * a**2) / math.sqrt(2 * math.pi)


def gelu(a: Tensor) -> Tensor:
    """GELU(a) = a·Φ(a), the exact (erf-based) form: the input, weighted by how likely
    a standard normal variable is to fall below it (Hendrycks & Gimpel, 2016)."""
    return a * _normal_cdf(a)


def d_gelu(a: Tensor) -> Tensor:
    """GELU′(a) = Φ(a) + a·φ(a) (product rule, with Φ′ = φ)."""
    return _normal_cdf(a) + a * _normal_pdf(a)


# LeCun et al. (1998), appendix A: f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3.
SCALED_TANH_A = 1.7159
SCALED_TANH_S = 2 / 3


def scaled_tanh(a: Tensor) -> Tensor:
    """LeNet-5's squashing function f(a) = 1.7159·tanh(2a/3) (LeCun et al. 1998, app. A).

    The constants are chosen so that f(±1) = ±1, the second derivative |f″| is largest
    near a = ±1 (so targets ±1 sit where the curve bends most, not in the flat
    saturated tails), and the gain at the origin, f′(0) = 1.7159·2/3 ≈ 1.14, is close to 1.
    """
    return SCALED_TANH_A * torch.tanh(SCALED_TANH_S * a)


def d_scaled_tanh(a: Tensor) -> Tensor:
    """f′(a) = A·S·(1 − tanh²(S·a)) (chain rule through tanh)."""
    return SCALED_TANH_A * SCALED_TANH_S * (1 - torch.tanh(SCALED_TANH_S * a) ** 2)


def identity(a: Tensor) -> Tensor:
    """φ(a) = a: "no activation", the linear case."""
    return a


def d_identity(a: Tensor) -> Tensor:
    """φ′(a) = 1."""
    return torch.ones_like(a)


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Activation:
    """An activation function ``f`` together with its derivative ``df``."""

    name: str
    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor], Tensor]


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("sigmoid", sigmoid, d_sigmoid),
        Activation("tanh", tanh, d_tanh),
        Activation("relu", relu, d_relu),
        Activation("leaky_relu", leaky_relu, d_leaky_relu),
        Activation("gelu", gelu, d_gelu),
        Activation("scaled_tanh", scaled_tanh, d_scaled_tanh),
        Activation("identity", identity, d_identity),
    ]
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name in ``ACTIVATIONS``, with a helpful error."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- why they exist


def linear_stack_collapse(weights: list[Tensor]) -> Tensor:
    """The single matrix W = W_1 W_2 ⋯ W_L that a stack of linear layers equals.

    With row vectors, x ↦ x W_1 ↦ x W_1 W_2 ↦ … : by associativity the whole stack is
    x (W_1 ⋯ W_L). (Biases collapse too: an affine map of an affine map is affine.)
    """
    if not weights:
        raise ValueError("need at least one weight matrix")
    W = weights[0]
    for l, W_next in enumerate(weights[1:], start=2):
        if W.dim() != 2 or W_next.dim() != 2 or W.shape[1] != W_next.shape[0]:
            raise ValueError(
                f"layer {l} does not fit: the product so far is {tuple(W.shape)} but "
                f"W_{l} is {tuple(W_next.shape)}; each W_l must be (fan_in × fan_out) "
                f"with fan_in equal to the previous fan_out"
            )
        W = W @ W_next
    return W


def gradient_norms_per_layer(
    activation: str, depth: int = 20, width: int = 64, seed: int = 0
) -> list[float]:
    """‖∂L/∂W_l‖ (Frobenius norm) for l = 1 … depth in a deep MLP at initialisation.

    The network is h_0 = X, h_l = φ(h_{l−1} W_l) for l < depth, y = h_{depth−1} W_depth,
    with W_l ~ N(0, 1/width) (LeCun's initialisation, variance 1/fan_in), no biases, and
    L = ½·mean over the batch of ‖y − t‖², on 256 random inputs X and targets t ~ N(0, 1).
    Entry 0 of the result is the first layer (next to the input), entry −1 the last.

    Why the shapes differ: going back through one layer multiplies the gradient by W_lᵀ
    and by φ′(a_l). For sigmoid, φ′ ≤ 1/4, so the gradient shrinks geometrically towards
    the input. For ReLU, φ′ is 0 or 1: the backward signal shrinks too, but the forward
    activations h_{l−1} shrink at the same rate the other way, and ∂L/∂W_l = h_{l−1}ᵀ δ_l
    stays about the same size in every layer.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"need depth >= 1 and width >= 1, got depth={depth}, width={width}")
    phi = get_activation(activation).f
    g = torch.Generator().manual_seed(seed)
    n = 256
    X = torch.randn(n, width, generator=g, dtype=torch.float64)
    t = torch.randn(n, width, generator=g, dtype=torch.float64)
    Ws = [
        (torch.randn(width, width, generator=g, dtype=torch.float64) / math.sqrt(width))
        .requires_grad_()
        for _ in range(depth)
    ]
    h = X
    for W in Ws[:-1]:
        h = phi(h @ W)
    y = h @ Ws[-1]  # linear output layer
    loss = 0.5 * ((y - t) ** 2).sum(dim=1).mean()
    loss.backward()
    return [W.grad.norm().item() for W in Ws]
