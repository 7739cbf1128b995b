"""Tests for dlcourse/backprop.py: Value against torch.autograd and numerical gradients,
matrix backprop against torch.autograd, the debt analogy, XOR from scratch."""

import math
import random

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from dlcourse.backprop import (
    DEBT_GRAPH,
    XOR_POINTS,
    Value,
    chase,
    count_paths,
    debts_walk,
    layered_graph,
    mlp2_backward,
    mlp2_forward,
    mlp_scratch,
    mse_loss_and_grad,
    numerical_grad,
    output_of,
    path_enumeration_cost,
    paths,
    repay,
    reverse_mode_cost,
    train_xor_scratch,
)

# ============================================================================ (a), (b) Value

# Every operation is written so that it works on a Value and on a 0-d torch tensor alike,
# and stays finite (log and / get positive arguments, exp a bounded one).
UNARY = {
    "neg": lambda a: -a,
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sigmoid": lambda a: a.sigmoid(),
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 1).log(),
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "rsqrt": lambda a: (a * a + 0.5) ** -0.5,
    "radd": lambda a: 3 + a,
    "rsub": lambda a: 2 - a,
    "rmul": lambda a: 0.5 * a,
    "rdiv": lambda a: 1 / (1 + a * a),
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 1),
}


def random_program(seed: int, n_inputs: int = 3, n_ops: int = 12):
    """A random expression of ``n_ops`` operations: a function of a list of inputs
    (Values or tensors) that returns the sum of every intermediate result, and the
    names of the operations it uses."""
    rng = random.Random(seed)
    steps = []
    for k in range(n_ops):
        if rng.random() < 0.5:
            steps.append((rng.choice(list(UNARY)), rng.randrange(n_inputs + k), None))
        else:
            i, j = rng.randrange(n_inputs + k), rng.randrange(n_inputs + k)
            steps.append((rng.choice(list(BINARY)), i, j))

    def program(xs):
        nodes = list(xs)
        for op, i, j in steps:
            nodes.append(UNARY[op](nodes[i]) if j is None else BINARY[op](nodes[i], nodes[j]))
        return sum(nodes[1:], nodes[0])  # uses every node, so every input matters

    return program, [op for op, _, _ in steps]


def value_grads(program, xs: list[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    out = program(leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


def torch_grads(program, xs: list[float]) -> tuple[float, list[float]]:
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = program(leaves)
    grads = torch.autograd.grad(out, leaves)
    return out.item(), [g.item() for g in grads]


@pytest.mark.parametrize("seed", range(40))
def test_value_matches_torch_autograd_and_numerical(seed):
    program, _ = random_program(seed)
    rng = random.Random(1000 + seed)
    xs = [rng.uniform(-1.5, 1.5) for _ in range(3)]
    data, grads = value_grads(program, xs)
    t_data, t_grads = torch_grads(program, xs)
    assert data == pytest.approx(t_data, rel=1e-12, abs=1e-12)
    assert grads == pytest.approx(t_grads, rel=1e-10, abs=1e-10)
    num = numerical_grad(lambda v: program([Value(x) for x in v]).data, xs)
    assert grads == pytest.approx(num, rel=1e-5, abs=1e-6)


def test_random_programs_cover_every_operation():
    used = {op for seed in range(40) for op in random_program(seed)[1]}
    assert used == set(UNARY) | set(BINARY)


def test_value_local_derivatives():
    x = Value(0.7)
    cases = {
        "exp": (x.exp(), math.exp(0.7)),
        "log": (x.log(), 1 / 0.7),
        "tanh": (x.tanh(), 1 - math.tanh(0.7) ** 2),
        "relu": (x.relu(), 1.0),
        "sigmoid": (x.sigmoid(), math.exp(-0.7) / (1 + math.exp(-0.7)) ** 2),
        "pow": (x**2.5, 2.5 * 0.7**1.5),
        "div": (1 / x, -1 / 0.49),
    }
    for name, (out, expected) in cases.items():
        x.grad = 0.0
        out.backward()
        assert x.grad == pytest.approx(expected), name


def test_value_reuse_accumulates_and_relu_kink():
    a = Value(3.0)
    b = a * a + a  # a used three times: grad 2a + 1
    b.backward()
    assert a.grad == 7.0
    z = Value(0.0)
    z.relu().backward()
    assert z.grad == 0.0  # same choice as PyTorch at the kink


def test_sigmoid_does_not_overflow():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_value_bad_input_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="constant exponents"):
        Value(2.0) ** Value(3.0)


def test_numerical_grad_on_a_known_function():
    assert numerical_grad(lambda v: v[0] ** 2 * v[1], [3.0, -2.0]) == pytest.approx([-12.0, 9.0])


# ============================================================================ (c) matrix form


def test_mlp2_backward_matches_torch_autograd():
    g = torch.Generator().manual_seed(0)
    N, d, m, k = 6, 3, 5, 2
    shapes = {"X": (N, d), "W1": (d, m), "b1": (m,), "W2": (m, k), "b2": (k,)}
    P = {
        n: torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
        for n, s in shapes.items()
    }
    T = torch.randn(N, k, generator=g, dtype=torch.float64)

    cache = mlp2_forward(P["X"], P["W1"], P["b1"], P["W2"], P["b2"])
    loss, dY = mse_loss_and_grad(cache["Y"].detach(), T)
    torch_loss = torch.nn.functional.mse_loss(cache["Y"], T)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-14)

    ours = mlp2_backward({n: t.detach() for n, t in cache.items()}, dY)
    theirs = torch.autograd.grad(torch_loss, list(P.values()))
    for name, expected in zip(P, theirs):
        assert ours[name].shape == expected.shape
        assert torch.allclose(ours[name], expected, rtol=0, atol=1e-10), name


def test_mlp2_backward_any_upstream_gradient():
    # backward computes the vector-Jacobian product for any dY, not only the MSE one
    g = torch.Generator().manual_seed(1)
    X = torch.randn(4, 2, generator=g, dtype=torch.float64)
    shapes = [(2, 3), (3,), (3, 1), (1,), (4, 1)]
    W1, b1, W2, b2, dY = (torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes)
    params = [t.clone().requires_grad_() for t in (W1, b1, W2, b2)]
    Y = mlp2_forward(X, *params)["Y"]
    theirs = torch.autograd.grad(Y, params, grad_outputs=dY)
    ours = mlp2_backward(mlp2_forward(X, W1, b1, W2, b2), dY)
    for name, expected in zip(["W1", "b1", "W2", "b2"], theirs):
        assert torch.allclose(ours[name], expected, rtol=0, atol=1e-10)


def test_matrix_form_bad_shapes_raise():
    with pytest.raises(ValueError, match="do not chain"):
        X, W1, W2 = torch.ones(2, 3), torch.ones(2, 4), torch.ones(4, 1)  # X is N×3, W1 is 2×4
        mlp2_forward(X, W1, torch.ones(4), W2, torch.ones(1))
    with pytest.raises(ValueError, match="same shape"):
        mse_loss_and_grad(torch.ones(2, 1), torch.ones(2))


# ============================================================================ (d) the debt analogy


def random_local_grads(graph, seed: int) -> dict[tuple[str, str], float]:
    rng = random.Random(seed)
    return {(u, v): rng.uniform(-2, 2) for u in graph for v in graph[u]}


def test_debts_walk_on_the_notes_graph():
    assert debts_walk(DEBT_GRAPH) == {
        "a": ["a chases c then e"],
        "b": ["b chases c then e", "b chases d then e"],
    }


@pytest.mark.parametrize("seed", range(5))
def test_chase_and_repay_agree_on_the_notes_graph(seed):
    g = random_local_grads(DEBT_GRAPH, seed)
    chased, repaid = chase(DEBT_GRAPH, g), repay(DEBT_GRAPH, g)
    # the chain rule written out for e = f(c, d), c = g(a, b), d = h(b)
    de_da = g[("a", "c")] * g[("c", "e")]
    de_db = g[("b", "c")] * g[("c", "e")] + g[("b", "d")] * g[("d", "e")]
    assert chased == pytest.approx({"a": de_da, "b": de_db})
    assert repaid == pytest.approx(
        {"e": 1.0, "c": g[("c", "e")], "d": g[("d", "e")], "a": de_da, "b": de_db}
    )


def test_repay_equals_value_backward_on_real_functions():
    # c = a·b, d = tanh(b), e = exp(c·d): the local derivatives, by hand
    a, b = Value(0.3), Value(-1.2)
    c = a * b
    d = b.tanh()
    e = (c * d).exp()
    e.backward()
    local = {
        ("a", "c"): b.data,
        ("b", "c"): a.data,
        ("b", "d"): 1 - d.data**2,
        ("c", "e"): d.data * e.data,
        ("d", "e"): c.data * e.data,
    }
    grads = repay(DEBT_GRAPH, local)
    for name, node in {"a": a, "b": b, "c": c, "d": d}.items():
        assert grads[name] == pytest.approx(node.grad, rel=1e-12)


@pytest.mark.parametrize("layers", [[2, 2, 1], [3, 2, 4, 1], [2, 2, 2, 2, 2, 1], [1, 3, 1]])
def test_chase_and_repay_agree_on_layered_graphs(layers):
    graph = layered_graph(layers)
    g = random_local_grads(graph, seed=len(layers))
    repaid = repay(graph, g)
    for x, value in chase(graph, g).items():
        assert repaid[x] == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_layered_graph_structure():
    assert layered_graph([2, 2, 1]) == {
        "x0": ["h1_0", "h1_1"],
        "x1": ["h1_0", "h1_1"],
        "h1_0": ["e"],
        "h1_1": ["e"],
        "e": [],
    }
    assert count_paths([2, 2, 1]) == 4
    graph = layered_graph([3, 2, 4, 1])
    assert count_paths([3, 2, 4, 1]) == sum(len(paths(graph, x)) for x in ["x0", "x1", "x2"])


# Counting the operations by walking the graphs, independently of the closed forms.


def ops_by_walking_paths(graph) -> int:
    """For each input: one multiplication per edge of each path except the first, and
    (number of paths − 1) additions to add the path products up."""
    total = 0
    for x in [v for v in graph if all(v not in ch for ch in graph.values())]:
        ps = paths(graph, x)
        total += sum(len(p) - 2 for p in ps) + len(ps) - 1
    return total


def ops_by_reverse_sweep(graph) -> int:
    """For each node u ≠ e: one multiplication per edge u → v with v ≠ e (∂e/∂e = 1 is
    free), and (out-degree − 1) additions."""
    e = output_of(graph)
    return sum(sum(v != e for v in ch) + len(ch) - 1 for u, ch in graph.items() if u != e)


@pytest.mark.parametrize(
    "layers", [[2, 1], [2, 2, 1], [3, 2, 4, 1], [2, 3, 3, 3, 1], [4, 1, 5, 2, 1]]
)
def test_cost_formulas_match_counting(layers):
    graph = layered_graph(layers)
    assert path_enumeration_cost(layers) == ops_by_walking_paths(graph)
    assert reverse_mode_cost(layers) == ops_by_reverse_sweep(graph)


def test_costs_on_the_notes_graph():
    # a: 1 multiplication; b: 2 multiplications + 1 addition. Reverse: a→c, b→c, b→d
    # multiplications, 1 addition at b. Too small a graph for repaying to pay off.
    assert ops_by_walking_paths(DEBT_GRAPH) == 4
    assert ops_by_reverse_sweep(DEBT_GRAPH) == 4


def test_path_enumeration_is_exponential_reverse_mode_linear():
    depths = range(2, 21)
    path_cost = [path_enumeration_cost([2] * D + [1]) for D in depths]
    rev_cost = [reverse_mode_cost([2] * D + [1]) for D in depths]
    assert path_cost == [D * 2**D - 2 for D in depths]
    assert rev_cost == [6 * (D - 1) for D in depths]
    assert all(later - earlier == 6 for earlier, later in zip(rev_cost, rev_cost[1:]))
    assert all(later > 2 * earlier for earlier, later in zip(path_cost, path_cost[1:]))
    assert count_paths([2] * 20 + [1]) == 2**20
    # equal at depth 2 (one hidden layer: nothing shared to reuse), then apart
    assert path_cost[0] == rev_cost[0] == 6
    assert path_cost[-1] / rev_cost[-1] > 100_000


def test_debt_graph_bad_input_raises():
    with pytest.raises(ValueError, match="ending in 1"):
        path_enumeration_cost([2, 2, 2])
    with pytest.raises(ValueError, match="ending in 1"):
        reverse_mode_cost([3])
    with pytest.raises(ValueError, match="ending in 1"):
        count_paths([2, 0, 1])
    with pytest.raises(ValueError, match="missing"):
        repay(DEBT_GRAPH, {("a", "c"): 1.0})
    with pytest.raises(ValueError, match="exactly one output"):
        chase({"a": ["c", "d"], "c": [], "d": []}, {("a", "c"): 1.0, ("a", "d"): 1.0})


# ============================================================================ (e) XOR from scratch


@pytest.mark.parametrize("seed", [0, 1])
def test_train_xor_scratch_reaches_full_accuracy(seed):
    params, losses = train_xor_scratch(seed=seed)
    assert all(isinstance(p, Value) for p in params) and len(params) == 4 * 4 + 1
    assert losses[-1] < 0.01 < losses[0]
    predictions = [float(mlp_scratch(params, x).data > 0.5) for x, _ in XOR_POINTS]
    assert predictions == [t for _, t in XOR_POINTS]


# ============================================================================ issue 15: edge cases


def test_backward_twice_accumulates_into_leaves_like_pytorch():
    """x = 0.4, y = tanh(3x)·x: 1.1997, then 2.3994 (leaves accumulate), then after
    x.grad = 0 the right value again (intermediates never keep old gradients)."""
    x = Value(0.4)
    y = (3 * x).tanh() * x
    xt = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    yt = torch.tanh(3 * xt) * xt
    y.backward()
    yt.backward(retain_graph=True)
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-12)
    assert x.grad == pytest.approx(1.1997, abs=1e-4)
    y.backward()
    yt.backward(retain_graph=True)
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-12)
    assert x.grad == pytest.approx(2.3994, abs=1e-4)
    x.grad = 0.0
    xt.grad.zero_()
    y.backward()
    yt.backward()
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-12)
    assert x.grad == pytest.approx(1.1997, abs=1e-4)


def test_zero_grad_resets_every_node_of_the_graph():
    x = Value(0.4)
    y = (3 * x).tanh() * x
    y.backward()
    y.zero_grad()
    assert x.grad == 0.0 and y.grad == 0.0 and all(v.grad == 0.0 for v in y._prev)
    y.backward()
    assert x.grad == pytest.approx(1.1997, abs=1e-4)


def test_backward_on_deep_graphs_needs_no_recursion():
    total = sum(Value(1.0) for _ in range(1000))
    total.backward()
    assert total.data == 1000.0
    x = Value(0.5)
    chain = x
    for _ in range(100_000):  # a chain 100,000 operations deep
        chain = chain * 1.0 + 0.0
    chain.backward()
    assert x.grad == 1.0


def test_value_matches_pytorch_at_the_edges():
    assert Value(1000.0).exp().data == math.inf == torch.tensor(1000.0, dtype=torch.float64).exp().item()
    big = Value(10.0) ** 400
    assert big.data == math.inf
    z = Value(0.0)
    (z**0.5).backward()  # d√x/dx at 0 is +inf in PyTorch too
    zt = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (zt**0.5).backward()
    assert z.grad == zt.grad.item() == math.inf


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Value(-2) ** 0.5, ValueError, "integer exponent"),
        (lambda: Value(1) / Value(0), ValueError, "division by zero"),
        (lambda: 1 / Value(0), ValueError, "division by zero"),
        (lambda: Value(-1.0).log(), ValueError, "positive"),
    ],
)
def test_value_domain_errors_are_clear(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_mlp2_forward_refuses_biases_that_would_broadcast_per_example():
    X, W1, W2 = torch.randn(3, 2), torch.randn(2, 4), torch.randn(4, 1)
    for b1 in (torch.zeros(3, 4), torch.zeros(4, 1), torch.zeros(1)):
        with pytest.raises(ValueError, match="b1 must have shape"):
            mlp2_forward(X, W1, b1, W2, torch.zeros(1))


def test_debt_graphs_must_be_acyclic_and_declare_every_node():
    cyclic = {"a": ["c"], "c": ["d"], "d": ["c", "e"], "e": []}
    grads = {("a", "c"): 1.0, ("c", "d"): 1.0, ("d", "c"): 1.0, ("d", "e"): 1.0}
    for run in (chase, repay):
        with pytest.raises(ValueError, match="cycle"):
            run(cyclic, grads)
        with pytest.raises(ValueError, match="'z' is not a node"):
            run({"a": ["z"], "e": []}, {("a", "z"): 1.0})


# ============================================================================ properties
# Random expression graphs, drawn by Hypothesis from the same safe operations as above.


@st.composite
def programs(draw, max_ops: int = 10):
    """(program, inputs): up to ``max_ops`` operations, each on any earlier node (so
    nodes are reused), summed at the end so that every node matters."""
    n_inputs = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, max_ops))):
        earlier = st.integers(0, n_inputs + k - 1)
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(UNARY))), draw(earlier), None))
        else:
            steps.append((draw(st.sampled_from(sorted(BINARY))), draw(earlier), draw(earlier)))

    def program(xs):
        nodes = list(xs)
        for op, i, j in steps:
            nodes.append(UNARY[op](nodes[i]) if j is None else BINARY[op](nodes[i], nodes[j]))
        return sum(nodes[1:], nodes[0])

    xs = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_inputs, max_size=n_inputs))
    return program, xs


def _finite(*numbers: float) -> bool:
    return all(math.isfinite(v) for v in numbers)


@given(programs())
def test_value_matches_torch_on_random_graphs_with_reused_nodes(case):
    program, xs = case
    t_data, t_grads = torch_grads(program, xs)
    assume(_finite(t_data, *t_grads))  # cubes of cubes can overflow; not what is tested here
    data, grads = value_grads(program, xs)
    assert data == pytest.approx(t_data, rel=1e-9, abs=1e-9)
    assert grads == pytest.approx(t_grads, rel=1e-9, abs=1e-9)


@given(programs())
def test_second_backward_doubles_the_leaves_and_keeps_the_intermediates(case):
    program, xs = case
    leaves = [Value(x) for x in xs]
    out = program(leaves)
    out.backward()
    first = [v.grad for v in leaves]
    nodes = out._graph()
    inner = {id(v): v.grad for v in nodes if v._prev}
    assume(_finite(*first, *inner.values()))
    out.backward()
    assert [v.grad for v in leaves] == pytest.approx([2 * g for g in first], rel=1e-12, abs=0)
    assert {id(v): v.grad for v in nodes if v._prev} == inner


CHAIN_OPS = {  # each keeps the value bounded, so a chain thousands deep stays finite
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "affine": lambda a: a * 0.9 + 0.1,
    "relu": lambda a: (a - 0.2).relu(),
    "neg": lambda a: -a,
    "square": lambda a: a * a,
}


@given(depth=st.integers(500, 3000), seed=st.integers(0, 2**32 - 1))
def test_value_matches_torch_on_deep_chains(depth, seed):
    rng = random.Random(seed)
    ops = [rng.choice(list(CHAIN_OPS)) for _ in range(depth)]
    x0 = rng.uniform(-1, 1)

    def chain(x):
        for op in ops:
            x = CHAIN_OPS[op](x)
        return x

    x = Value(x0)
    out = chain(x)
    out.backward()
    xt = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    outt = chain(xt)
    outt.backward()
    assert out.data == pytest.approx(outt.item(), rel=1e-9, abs=1e-12)
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-7, abs=1e-12)


@given(
    sizes=st.tuples(*(st.integers(1, 6) for _ in range(4))),  # N, d, m, k
    seed=st.integers(0, 2**32 - 1),
)
def test_matrix_backprop_matches_torch_on_random_sizes(sizes, seed):
    N, d, m, k = sizes
    g = torch.Generator().manual_seed(seed)
    X, W1, b1, W2, b2, T = (
        torch.randn(*shape, generator=g, dtype=torch.float64)
        for shape in ((N, d), (d, m), (m,), (m, k), (k,), (N, k))
    )
    cache = mlp2_forward(X, W1, b1, W2, b2)
    loss, dY = mse_loss_and_grad(cache["Y"], T)
    grads = mlp2_backward(cache, dY)
    leaves = {name: t.clone().requires_grad_() for name, t in dict(X=X, W1=W1, b1=b1, W2=W2, b2=b2).items()}
    Y = torch.tanh(leaves["X"] @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
    torch_loss = torch.nn.functional.mse_loss(Y, T)
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for name, leaf in leaves.items():
        assert grads[name].shape == leaf.shape, name
        torch.testing.assert_close(grads[name], leaf.grad, rtol=1e-10, atol=1e-12)
