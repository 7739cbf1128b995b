"""Backpropagation three ways: scalar autograd, matrix form, and the study note's debts.

(a) ``Value``: a scalar that records how it was computed; ``backward()`` walks the
    graph once, in reverse topological order, applying the chain rule (after micrograd).
(b) ``numerical_grad``: central differences, the independent check of (a) and (c).
(c) ``mlp2_forward`` / ``mlp2_backward``: the same chain rule for a 2-layer MLP,
    written with matrices (row-vector convention, as in ``dlcourse.mlp``).
(d) The debt analogy: in a graph of local derivatives, the gradient of the output e
    with respect to an input is the sum over all paths of the product along the path.
    ``chase`` walks every path ("each input chases its wages"); ``repay`` does one
    reverse sweep ("e repays its debts, and the money flows back"). Same numbers,
    very different costs (``path_enumeration_cost`` vs ``reverse_mode_cost``).
(e) ``train_xor_scratch``: XOR learnt with nothing but ``Value``.
"""

import math
import random
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# ============================================================================ (a) Value


class Value:
    """A scalar in a computation graph: its value ``data`` and ``grad`` = ∂(output)/∂(self)."""

    def __init__(self, data: float, _children: tuple["Value", ...] = (), _op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None  # adds my share to my inputs' grads
        self._prev = _children
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other: "Value | float") -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # ∂(a+b)/∂a = ∂(a+b)/∂b = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: "Value | float") -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # ∂(ab)/∂a = b, ∂(ab)/∂b = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> "Value":
        if not isinstance(k, (int, float)):
            raise ValueError(
                "only constant exponents are supported; for x**y use (y * x.log()).exp()"
            )
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward() -> None:  # ∂(x^k)/∂x = k x^(k−1)
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def _unary(self, value: float, derivative: float, op: str) -> "Value":
        """A one-input node whose local derivative ∂out/∂self is ``derivative``."""
        out = Value(value, (self,), op)

        def _backward() -> None:
            self.grad += derivative * out.grad

        out._backward = _backward
        return out

    def exp(self) -> "Value":
        e = math.exp(self.data)
        return self._unary(e, e, "exp")  # (eˣ)′ = eˣ

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data}")
        return self._unary(math.log(self.data), 1 / self.data, "log")  # (ln x)′ = 1/x

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")  # tanh′ = 1 − tanh²

    def relu(self) -> "Value":
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")  # 0 at the kink

    def sigmoid(self) -> "Value":
        # the two forms avoid overflow of e^(−x) (x ≪ 0) and e^x (x ≫ 0)
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return self._unary(s, s * (1 - s), "sigmoid")  # σ′ = σ(1 − σ)

    # everything else is built from the operations above
    def __neg__(self) -> "Value":
        return self * -1

    def __sub__(self, other: "Value | float") -> "Value":
        return self + (-other)

    def __truediv__(self, other: "Value | float") -> "Value":
        return self * (other if isinstance(other, Value) else Value(other)) ** -1

    def __radd__(self, other: float) -> "Value":  # other + self
        return self + other

    def __rsub__(self, other: float) -> "Value":  # other − self
        return (-self) + other

    def __rmul__(self, other: float) -> "Value":  # other * self
        return self * other

    def __rtruediv__(self, other: float) -> "Value":  # other / self
        return Value(other) / self

    def backward(self) -> None:
        """Fill ``grad`` of every node this one depends on with ∂self/∂node.

        Topological order guarantees a node's grad is complete (all its consumers have
        added their share) before it passes the grad on. Grads accumulate (+=), so reset
        the leaves' grads to 0 before calling this again on a new graph.
        """
        topo: list[Value] = []
        visited: set[int] = set()

        def build(v: Value) -> None:
            if id(v) not in visited:
                visited.add(id(v))
                for child in v._prev:
                    build(child)
                topo.append(v)  # after everything it depends on

        build(self)
        self.grad = 1.0  # ∂self/∂self
        for v in reversed(topo):
            v._backward()


# ============================================================================ (b) numerical check


def numerical_grad(
    f: Callable[[list[float]], float], xs: Sequence[float], h: float = 1e-6
) -> list[float]:
    """∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h for each i: central differences.

    The error is O(h²) (the even terms of the Taylor series cancel), against O(h) for a
    one-sided difference; h much smaller than 1e-6 loses to floating-point rounding.
    """
    xs = [float(x) for x in xs]
    grads = []
    for i in range(len(xs)):
        up, down = xs.copy(), xs.copy()
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


# ============================================================================ (c) matrix form


def mlp2_forward(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> dict[str, Tensor]:
    """Forward pass of a 2-layer MLP, keeping what the backward pass needs:

        A = X W1 + b1,   H = tanh(A),   Y = H W2 + b2.

    X is N×d (rows are examples), W1 is d×m, W2 is m×k. Returns the cache
    {X, W1, b1, W2, b2, A, H, Y}; the output is cache["Y"].
    """
    if X.dim() != 2 or X.shape[1] != W1.shape[0] or W1.shape[1] != W2.shape[0]:
        raise ValueError(
            f"shapes do not chain: X {tuple(X.shape)}, W1 {tuple(W1.shape)}, W2 "
            f"{tuple(W2.shape)}; need X N×d, W1 d×m, W2 m×k"
        )
    A = X @ W1 + b1
    H = torch.tanh(A)
    Y = H @ W2 + b2
    return {"X": X, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "A": A, "H": H, "Y": Y}


def mlp2_backward(cache: dict[str, Tensor], dY: Tensor) -> dict[str, Tensor]:
    """Given dY = ∂L/∂Y, the gradients of L with respect to W1, b1, W2, b2 and X.

    The chain rule, one line per forward line, read bottom-up:

        Y = H W2 + b2  →  dW2 = Hᵀ dY,   db2 = Σ_rows dY,   dH = dY W2ᵀ
        H = tanh(A)    →  dA = dH ⊙ (1 − H²)
        A = X W1 + b1  →  dW1 = Xᵀ dA,   db1 = Σ_rows dA,   dX = dA W1ᵀ

    The bias gradients sum over rows because b was added to every example. Each
    gradient has the shape of the thing it is the gradient of.
    """
    X, W1, W2, H = cache["X"], cache["W1"], cache["W2"], cache["H"]
    if dY.shape != cache["Y"].shape:
        raise ValueError(
            f"dY must have the shape of Y {tuple(cache['Y'].shape)}, got {tuple(dY.shape)}"
        )
    dW2 = H.T @ dY
    db2 = dY.sum(dim=0)
    dH = dY @ W2.T
    dA = dH * (1 - H**2)
    dW1 = X.T @ dA
    db1 = dA.sum(dim=0)
    dX = dA @ W1.T
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dX}


def mse_loss_and_grad(Y: Tensor, T: Tensor) -> tuple[float, Tensor]:
    """L = mean over all entries of (Y − T)², and ∂L/∂Y = 2(Y − T)/(number of entries).

    Same reduction as ``torch.nn.functional.mse_loss`` (mean).
    """
    if Y.shape != T.shape:
        raise ValueError(f"Y {tuple(Y.shape)} and T {tuple(T.shape)} must have the same shape")
    diff = Y - T
    return float((diff**2).mean()), 2 * diff / diff.numel()


# ============================================================================ (d) the debt analogy

Graph = dict[str, list[str]]  # node → the nodes it feeds into (in the note: who owes it)

# The study note's graph: c = g(a, b), d = h(b), e = f(c, d). An arrow c → e means
# "e owes c": the money (the derivative) will flow back from e to c.
DEBT_GRAPH: Graph = {"a": ["c"], "b": ["c", "d"], "c": ["e"], "d": ["e"], "e": []}


def inputs_of(graph: Graph) -> list[str]:
    """The nodes nothing points to (a and b in the note's graph), in the graph's order."""
    targets = {child for children in graph.values() for child in children}
    return [v for v in graph if v not in targets]


def output_of(graph: Graph) -> str:
    """The one node that points nowhere (e), or a ValueError."""
    sinks = [v for v, children in graph.items() if not children]
    if len(sinks) != 1:
        raise ValueError(
            f"the graph needs exactly one output node (no outgoing edges), found {sinks}"
        )
    return sinks[0]


def paths(graph: Graph, start: str) -> list[list[str]]:
    """Every path from ``start`` to the output, as lists of nodes."""
    if not graph[start]:
        return [[start]]
    return [[start] + rest for child in graph[start] for rest in paths(graph, child)]


def debts_walk(graph: Graph = DEBT_GRAPH) -> dict[str, list[str]]:
    """For each input, the roads it walks to collect its wages, e.g.
    {"a": ["a chases c then e"], "b": ["b chases c then e", "b chases d then e"]}."""
    output_of(graph)  # checks there is one output
    return {
        x: [f"{x} chases " + " then ".join(p[1:]) for p in paths(graph, x)]
        for x in inputs_of(graph)
    }


def _check_local_grads(graph: Graph, local_grads: dict[tuple[str, str], float]) -> None:
    missing = [(u, v) for u in graph for v in graph[u] if (u, v) not in local_grads]
    if missing:
        raise ValueError(f"local_grads needs ∂v/∂u for every edge (u, v); missing {missing}")


def chase(graph: Graph, local_grads: dict[tuple[str, str], float]) -> dict[str, float]:
    """∂e/∂x for every input x by path enumeration: Σ over paths of Π of local derivatives.

    ``local_grads[(u, v)]`` is ∂v/∂u on the edge u → v. Shared stretches of road
    (c → e, walked by both a and b) are multiplied out again on every path.
    """
    _check_local_grads(graph, local_grads)
    output_of(graph)
    return {
        x: sum(math.prod(local_grads[(u, v)] for u, v in zip(p, p[1:])) for p in paths(graph, x))
        for x in inputs_of(graph)
    }


def _topological_order(graph: Graph) -> list[str]:
    """The nodes ordered so that every edge u → v has u before v."""
    order: list[str] = []
    done: set[str] = set()

    def visit(u: str) -> None:
        if u not in done:
            done.add(u)
            for v in graph[u]:
                visit(v)
            order.append(u)  # after all the nodes it feeds

    for u in graph:
        visit(u)
    return order[::-1]


def repay(graph: Graph, local_grads: dict[tuple[str, str], float]) -> dict[str, float]:
    """∂e/∂v for *every* node v in one reverse sweep (reverse-mode autodiff).

    e starts with ∂e/∂e = 1 and pays what it owes to c and d; each node, once it has
    received everything from the nodes it feeds, passes the money on:
    ∂e/∂u = Σ_{u → v} ∂v/∂u · ∂e/∂v. Each edge is used exactly once.
    """
    _check_local_grads(graph, local_grads)
    e = output_of(graph)
    grad = {e: 1.0}
    for u in reversed(_topological_order(graph)):  # e first, inputs last
        if u != e:
            grad[u] = sum(local_grads[(u, v)] * grad[v] for v in graph[u])
    return grad


def layered_graph(layers: list[int]) -> Graph:
    """The fully connected layered DAG with the given widths, e.g. [2, 2, 1]:
    inputs x0, x1, …; hidden nodes h{layer}_{i}; a single output e."""
    _check_layers(layers)
    names = [[f"x{i}" for i in range(layers[0])]]
    names += [[f"h{l}_{i}" for i in range(n)] for l, n in enumerate(layers[1:-1], start=1)]
    names += [["e"]]
    graph: Graph = {}
    for here, after in zip(names, names[1:] + [[]]):
        for u in here:
            graph[u] = list(after)
    return graph


def _check_layers(layers: list[int]) -> None:
    if len(layers) < 2 or any(n < 1 for n in layers) or layers[-1] != 1:
        raise ValueError(
            f"layers must list >= 2 positive widths ending in 1 (the single output e), "
            f"e.g. [2, 2, 1]; got {layers}"
        )


def count_paths(layers: list[int]) -> int:
    """Number of input → output paths in the layered graph: n_0 · n_1 ⋯ n_L (a path picks
    one node in every layer; n_L = 1)."""
    _check_layers(layers)
    return math.prod(layers)


def path_enumeration_cost(layers: list[int]) -> int:
    """Multiplications + additions for ∂e/∂(every input) by walking every path (``chase``).

    With L = len(layers) − 1 edges per path and P = n_1 ⋯ n_{L−1} paths from each input:
    each path multiplies its L local derivatives (L − 1 multiplications), and each input
    adds its P path products (P − 1 additions). Total n_0 · (P(L − 1) + P − 1) = n_0 (PL − 1).
    For width 2 and depth L that is L·2^L − 2: exponential in depth.
    """
    _check_layers(layers)
    L = len(layers) - 1
    P = math.prod(layers[1:-1])
    return layers[0] * (P * (L - 1) + (P - 1))


def reverse_mode_cost(layers: list[int]) -> int:
    """Multiplications + additions for ∂e/∂(every node) by one reverse sweep (``repay``).

    Roughly one multiply-add per edge; exactly, counted the same way as the paths
    (no multiplying by ∂e/∂e = 1, no adding to 0): ∂e/∂u = Σ_{u → v} ∂v/∂u · ∂e/∂v costs
    one multiplication per edge not into e, and (out-degree − 1) additions per node.
    That is Σ_{l<L−1} n_l n_{l+1} + Σ_{l<L} n_l (n_{l+1} − 1); for width 2 and depth L,
    6(L − 1): linear in depth.
    """
    _check_layers(layers)
    L = len(layers) - 1
    multiplications = sum(layers[l] * layers[l + 1] for l in range(L - 1))
    additions = sum(layers[l] * (layers[l + 1] - 1) for l in range(L))
    return multiplications + additions


# ============================================================================ (e) XOR from scratch


def mlp_scratch(params: list[Value], x: Sequence[float]) -> Value:
    """ŷ = Σ_j v_j tanh(w_1j x_1 + w_2j x_2 + b_j) + c for one input x = (x_1, x_2).

    ``params`` for H hidden units, flat: [w_11 … w_1H, w_21 … w_2H, b_1 … b_H, v_1 … v_H, c]
    (4H + 1 Values; W1 row by row, as in ``dlcourse.mlp``).
    """
    if len(params) < 5 or (len(params) - 1) % 4:
        raise ValueError(f"need 4H + 1 parameters for H >= 1 hidden units, got {len(params)}")
    H = (len(params) - 1) // 4
    w1, w2, b, v = (params[k * H : (k + 1) * H] for k in range(4))
    c = params[-1]
    hidden = [(w1[j] * x[0] + w2[j] * x[1] + b[j]).tanh() for j in range(H)]
    return sum((v[j] * hidden[j] for j in range(H)), c)


# XOR as (x, target) pairs: the points of ``dlcourse.perceptron.xor_data``, 0/1 targets
XOR_POINTS = [((0.0, 0.0), 0.0), ((0.0, 1.0), 1.0), ((1.0, 0.0), 1.0), ((1.0, 1.0), 0.0)]


def train_xor_scratch(
    seed: int = 0, steps: int = 300, hidden: int = 4, lr: float = 0.3
) -> tuple[list[Value], list[float]]:
    """Learn XOR with ``Value`` only: a 2-``hidden``-1 tanh network, squared error on
    0/1 targets, plain gradient descent on all four points at once. (With these
    defaults it solved XOR for every seed in 0–99; 2 hidden units often get stuck.)

    Returns the trained parameters (see ``mlp_scratch`` for their order) and the loss
    before each step; the net predicts 1 where ``mlp_scratch(params, x).data > 0.5``.
    """
    rng = random.Random(seed)
    params = [Value(rng.uniform(-1, 1)) for _ in range(4 * hidden + 1)]
    losses = []
    for _ in range(steps):
        errors = [(mlp_scratch(params, x) - t) ** 2 for x, t in XOR_POINTS]
        loss = sum(errors, Value(0.0)) / len(errors)
        for p in params:
            p.grad = 0.0  # grads accumulate: start each step from zero
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
        losses.append(loss.data)
    return params, losses
