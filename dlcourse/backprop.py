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
import numbers
import random
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .lang import tr
from ._checks import check_callable, check_int, check_real, check_tensor, describe

__all__ = [
    "DEBT_GRAPH",
    "XOR_POINTS",
    "Graph",
    "Value",
    "chase",
    "count_paths",
    "debts_walk",
    "inputs_of",
    "layered_graph",
    "mlp2_backward",
    "mlp2_forward",
    "mlp_scratch",
    "mse_loss_and_grad",
    "numerical_grad",
    "output_of",
    "path_enumeration_cost",
    "paths",
    "repay",
    "reverse_mode_cost",
    "train_xor_scratch",
]

# ============================================================================ (a) Value


class Value:
    """A scalar in a computation graph: its value ``data`` and ``grad`` = ∂(output)/∂(self).

    Operations follow Python's floats and PyTorch where they can: ``exp`` (and ``**``)
    overflow to ``math.inf`` as ``torch.exp`` does, instead of raising ``OverflowError``.
    Where the result would not be a real number (log of x <= 0, a negative number to a
    fractional power, division by zero) they raise a ``ValueError`` saying so.
    """

    def __init__(self, data: float, _children: tuple["Value", ...] = (), _op: str = ""):
        if isinstance(data, Tensor) and data.numel() == 1:
            data = data.item()
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value(data) needs a real number, got {describe(data)}")
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None  # adds my share to my inputs' grads
        self._prev = _children
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other: "Value | float") -> "Value":
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # ∂(a+b)/∂a = ∂(a+b)/∂b = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: "Value | float") -> "Value":
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # ∂(ab)/∂a = b, ∂(ab)/∂b = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> "Value":
        if isinstance(k, Value):
            raise ValueError(
                "only constant exponents are supported; for x**y use (y * x.log()).exp()"
            )
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
            raise TypeError(f"the exponent k of x**k must be a finite number, got {describe(k)}")
        x, k = self.data, float(k)
        if x == 0 and k < 0:
            raise ValueError(f"0**{k:g} divides by zero (x**k with x = 0 needs k >= 0)")
        if x < 0 and not k.is_integer():
            raise ValueError(
                f"x**k with x = {x:g} < 0 needs an integer exponent k, got k = {k:g} "
                f"(the result would be a complex number)"
            )
        # ∂(x^k)/∂x = k x^(k−1); at x = 0 with 0 < k < 1 that is +inf, as in PyTorch
        slope = math.inf if x == 0 and 0 < k < 1 else (0.0 if k == 0 else k * _power(x, k - 1))
        return self._unary(_power(x, k), slope, f"**{k:g}")

    def _unary(self, value: float, derivative: float, op: str) -> "Value":
        """A one-input node whose local derivative ∂out/∂self is ``derivative``."""
        out = Value(value, (self,), op)

        def _backward() -> None:
            self.grad += derivative * out.grad

        out._backward = _backward
        return out

    def exp(self) -> "Value":
        """eˣ; ``math.inf`` when it overflows a float (x > 709.78), as ``torch.exp`` gives."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return self._unary(e, e, "exp")  # (eˣ)′ = eˣ

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got x = {self.data:g}")
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
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        return self + (-other)

    def __truediv__(self, other: "Value | float") -> "Value":
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        if other.data == 0:
            raise ValueError(f"division by zero: {self.data:g} / 0 (the divisor's data is 0)")
        return self * other**-1

    def __radd__(self, other: float) -> "Value":  # other + self
        return self + other

    def __rsub__(self, other: float) -> "Value":  # other − self
        return (-self) + other

    def __rmul__(self, other: float) -> "Value":  # other * self
        return self * other

    def __rtruediv__(self, other: float) -> "Value":  # other / self
        other = _as_value(other)
        if other is NotImplemented:
            return NotImplemented
        return other / self

    def _graph(self) -> list["Value"]:
        """Every node this one depends on (itself included), each after all its inputs.

        Depth-first with an explicit stack, not recursion, so a chain of 100,000
        operations is as fine as a short one.
        """
        order: list[Value] = []
        seen = {id(self)}
        stack = [(self, iter(self._prev))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child._prev)))
                    break
            else:  # every input of node is placed: node goes after them
                stack.pop()
                order.append(node)
        return order

    def backward(self) -> None:
        """Add ∂self/∂node to ``grad`` of every node this one depends on.

        Semantics, as in PyTorch: the intermediate nodes (those computed from others)
        start again from 0 on every call, so calling ``backward()`` twice on the same
        graph gives the same intermediate grads; the leaves (``Value(...)`` you made
        yourself) *accumulate*: a second call adds the same gradient again, so
        ``x.grad`` doubles. Reset the leaves with ``x.grad = 0`` (or ``zero_grad()``)
        before each new backward pass, as a training loop does before every step.

        Reverse topological order guarantees a node's grad is complete (all its
        consumers have added their share) before it passes the grad on.
        """
        topo = self._graph()
        for v in topo:
            if v._prev:
                v.grad = 0.0
        self.grad += 1.0  # ∂self/∂self
        for v in reversed(topo):
            v._backward()

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on every node of the graph, leaves included."""
        for v in self._graph():
            v.grad = 0.0


def _as_value(other: object) -> "Value":
    """A Value as is, a real number wrapped; ``NotImplemented`` for anything else, so
    Python raises its usual TypeError ("unsupported operand type(s)")."""
    if isinstance(other, Value):
        return other
    if isinstance(other, numbers.Real) and not isinstance(other, bool):
        return Value(other)
    return NotImplemented


def _power(x: float, k: float) -> float:
    """x**k for a real result, ±inf where it overflows a float (as in PyTorch)."""
    try:
        return x**k
    except OverflowError:
        odd = k.is_integer() and int(k) % 2 == 1
        return -math.inf if x < 0 and odd else math.inf


# ============================================================================ (b) numerical check


def numerical_grad(
    f: Callable[[list[float]], float], xs: Sequence[float], h: float = 1e-6
) -> list[float]:
    """∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h for each i: central differences.

    The error is O(h²) (the even terms of the Taylor series cancel), against O(h) for a
    one-sided difference; h much smaller than 1e-6 loses to floating-point rounding.
    """
    check_callable(f, "f")
    check_real(h, "h", positive=True)
    xs = [check_real(x, f"xs[{i}]") for i, x in enumerate(xs)]
    grads = []
    for i in range(len(xs)):
        up, down = xs.copy(), xs.copy()
        up[i] += h
        down[i] -= h
        # f must give a plain finite number (not a Value: use .data) for the difference
        f_up, f_down = check_real(f(up), "f(xs)"), check_real(f(down), "f(xs)")
        grads.append((f_up - f_down) / (2 * h))
    return grads


# ============================================================================ (c) matrix form


def mlp2_forward(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> dict[str, Tensor]:
    """Forward pass of a 2-layer MLP, keeping what the backward pass needs:

        A = X W1 + b1,   H = tanh(A),   Y = H W2 + b2.

    X is N×d (rows are examples), W1 is d×m, W2 is m×k. Returns the cache
    {X, W1, b1, W2, b2, A, H, Y}; the output is cache["Y"].
    """
    for name, t in (("X", X), ("W1", W1), ("W2", W2)):
        check_tensor(t, name, dim=2, floating=True)
    if X.shape[1] != W1.shape[0] or W1.shape[1] != W2.shape[0]:
        raise ValueError(
            f"shapes do not chain: X {tuple(X.shape)}, W1 {tuple(W1.shape)}, W2 "
            f"{tuple(W2.shape)}; need X N×d, W1 d×m, W2 m×k"
        )
    # b of shape (m,) is one bias per unit; (N, m) or (m, 1) would broadcast silently
    for name, b, m in (("b1", b1, W1.shape[1]), ("b2", b2, W2.shape[1])):
        check_tensor(b, name, floating=True)
        if b.shape != (m,):
            raise ValueError(f"{name} must have shape ({m},), one bias per unit, got {tuple(b.shape)}")
    dtypes = {t.dtype for t in (X, W1, b1, W2, b2)}
    if len(dtypes) > 1:
        raise TypeError(f"X, W1, b1, W2 and b2 must share one dtype, got {sorted(map(str, dtypes))}")
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
    if not isinstance(cache, dict) or not {"X", "W1", "W2", "H", "Y"} <= cache.keys():
        raise TypeError(f"cache must be the dict that mlp2_forward returns, got {describe(cache)}")
    check_tensor(dY, "dY", floating=True)
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
    check_tensor(Y, "Y", floating=True, nonempty=True)
    check_tensor(T, "T")
    if Y.shape != T.shape:
        raise ValueError(f"Y {tuple(Y.shape)} and T {tuple(T.shape)} must have the same shape")
    diff = Y - T
    return float((diff**2).mean()), 2 * diff / diff.numel()


# ============================================================================ (d) the debt analogy

Graph = dict[str, list[str]]  # node → the nodes it feeds into (in the note: who owes it)

# The study note's graph: c = g(a, b), d = h(b), e = f(c, d). An arrow c → e means
# "e owes c": the money (the derivative) will flow back from e to c.
DEBT_GRAPH: Graph = {"a": ["c"], "b": ["c", "d"], "c": ["e"], "d": ["e"], "e": []}


def _topological_order(graph: Graph) -> list[str]:
    """The nodes ordered so that every edge u → v has u before v, or a ValueError when
    ``graph`` is not a DAG of declared nodes.

    Kahn's algorithm: repeatedly take a node that no remaining node points to. If
    nodes remain but every one of them is pointed to, they lie on a cycle.
    """
    if not isinstance(graph, dict):
        raise TypeError(f"graph must be a dict node → list of the nodes it feeds, got {describe(graph)}")
    for u, children in graph.items():
        if isinstance(children, str) or not isinstance(children, (list, tuple)):
            raise TypeError(
                f"graph[{u!r}] must be a list of the nodes {u!r} feeds into, got {describe(children)}"
            )
        undeclared = [v for v in children if v not in graph]
        if undeclared:
            raise ValueError(
                f"graph has an edge {u!r} → {undeclared[0]!r}, but {undeclared[0]!r} is not a "
                f"node of the graph; add it as a key (an output maps to [])"
            )
        if len(set(children)) != len(children):
            raise ValueError(f"graph[{u!r}] lists the same edge twice: {children}")
    indegree = {u: 0 for u in graph}
    for children in graph.values():
        for v in children:
            indegree[v] += 1
    ready = [u for u in graph if indegree[u] == 0]
    order: list[str] = []
    while ready:
        u = ready.pop()
        order.append(u)
        for v in graph[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    if len(order) < len(graph):
        cyclic = [u for u in graph if indegree[u] > 0]
        raise ValueError(
            f"graph has a cycle through the nodes {cyclic}: a computation graph must be "
            f"acyclic (no node can depend on itself)"
        )
    return order


def inputs_of(graph: Graph) -> list[str]:
    """The nodes nothing points to (a and b in the note's graph), in the graph's order."""
    _topological_order(graph)
    return _inputs(graph)


def _inputs(graph: Graph) -> list[str]:
    targets = {child for children in graph.values() for child in children}
    return [v for v in graph if v not in targets]


def output_of(graph: Graph) -> str:
    """The one node that points nowhere (e), or a ValueError."""
    _topological_order(graph)
    return _output(graph)


def _output(graph: Graph) -> str:
    sinks = [v for v, children in graph.items() if not children]
    if len(sinks) != 1:
        raise ValueError(
            f"the graph needs exactly one output node (no outgoing edges), found {sinks}"
        )
    return sinks[0]


def paths(graph: Graph, start: str) -> list[list[str]]:
    """Every path from ``start`` to the output, as lists of nodes."""
    _topological_order(graph)
    if start not in graph:
        raise ValueError(f"start {start!r} is not a node of the graph {list(graph)}")
    return _paths(graph, start)


def _paths(graph: Graph, start: str) -> list[list[str]]:
    found: list[list[str]] = []
    stack = [[start]]  # partial paths still to extend (a stack, not recursion)
    while stack:
        path = stack.pop()
        children = graph[path[-1]]
        if not children:
            found.append(path)
        stack.extend(path + [child] for child in reversed(children))
    return found


def debts_walk(graph: Graph = DEBT_GRAPH) -> dict[str, list[str]]:
    """For each input, the roads it walks to collect its wages, e.g.
    {"a": ["a chases c then e"], "b": ["b chases c then e", "b chases d then e"]}."""
    output_of(graph)  # checks the graph and that it has one output
    return {
        x: [tr(f"{x} chases " + " then ".join(p[1:]),
               f"{x} 向 " + " 讨薪，又转向 ".join(p[1:])) for p in _paths(graph, x)]
        for x in _inputs(graph)
    }


def _check_local_grads(graph: Graph, local_grads: dict[tuple[str, str], float]) -> list[str]:
    """The graph's topological order, once graph and local_grads are checked."""
    order = _topological_order(graph)
    if not isinstance(local_grads, dict):
        raise TypeError(f"local_grads must be a dict (u, v) → ∂v/∂u, got {describe(local_grads)}")
    edges = [(u, v) for u in graph for v in graph[u]]
    missing = [edge for edge in edges if edge not in local_grads]
    if missing:
        raise ValueError(f"local_grads needs ∂v/∂u for every edge (u, v); missing {missing}")
    extra = [edge for edge in local_grads if edge not in set(edges)]
    if extra:
        raise ValueError(f"local_grads has entries for edges the graph does not have: {extra}")
    for edge, value in local_grads.items():
        check_real(value, f"local_grads[{edge!r}]")
    return order


def chase(graph: Graph, local_grads: dict[tuple[str, str], float]) -> dict[str, float]:
    """∂e/∂x for every input x by path enumeration: Σ over paths of Π of local derivatives.

    ``local_grads[(u, v)]`` is ∂v/∂u on the edge u → v. Shared stretches of road
    (c → e, walked by both a and b) are multiplied out again on every path.
    """
    _check_local_grads(graph, local_grads)
    _output(graph)
    return {
        x: sum(math.prod(local_grads[(u, v)] for u, v in zip(p, p[1:])) for p in _paths(graph, x))
        for x in _inputs(graph)
    }


def repay(graph: Graph, local_grads: dict[tuple[str, str], float]) -> dict[str, float]:
    """∂e/∂v for *every* node v in one reverse sweep (reverse-mode autodiff).

    e starts with ∂e/∂e = 1 and pays what it owes to c and d; each node, once it has
    received everything from the nodes it feeds, passes the money on:
    ∂e/∂u = Σ_{u → v} ∂v/∂u · ∂e/∂v. Each edge is used exactly once.
    """
    order = _check_local_grads(graph, local_grads)
    e = _output(graph)
    grad = {e: 1.0}
    for u in reversed(order):  # e first, inputs last
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
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of widths such as [2, 2, 1], got {describe(layers)}")
    for i, n in enumerate(layers):
        check_int(n, f"layers[{i}]")
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
    if not all(isinstance(p, Value) for p in params):
        raise TypeError("params must all be Value objects (the network's weights)")
    if len(x) != 2:
        raise ValueError(f"x must be one input (x_1, x_2) of length 2, got {x!r}")
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
    check_int(seed, "seed")
    check_int(steps, "steps", minimum=1)
    check_int(hidden, "hidden", minimum=1)
    check_real(lr, "lr", positive=True)
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
