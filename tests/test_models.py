"""Tests of dlcourse.models: LeNet (study note) and LeNet-5 (LeCun et al. 1998)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlcourse.models import (
    C3_TABLE,
    LeNet,
    LeNet5,
    c3_mask,
    count_connections,
    count_parameters,
    digit_bitmaps,
    layer_outputs,
    layer_table,
    rbf_loss,
    scaled_tanh,
)

# Table I of the paper, transcribed independently of the module: the C3 maps each
# S2 map (row) is connected to.
TABLE_I_ROWS = [
    [0, 4, 5, 6, 9, 10, 11, 12, 14, 15],
    [0, 1, 5, 6, 7, 10, 11, 12, 13, 15],
    [0, 1, 2, 6, 7, 8, 11, 13, 14, 15],
    [1, 2, 3, 6, 7, 8, 9, 12, 14, 15],
    [2, 3, 4, 7, 8, 9, 10, 12, 13, 15],
    [3, 4, 5, 8, 9, 10, 11, 13, 14, 15],
]


def table_i() -> torch.Tensor:
    mask = torch.zeros(6, 16, dtype=torch.bool)
    for row, cols in enumerate(TABLE_I_ROWS):
        mask[row, cols] = True
    return mask


@pytest.fixture(autouse=True)
def _small_and_seeded() -> None:
    torch.set_num_threads(1)  # the test machine's cores are shared
    torch.manual_seed(0)


# ---------------------------------------------------------------- parameter counts
def test_lenet_parameter_counts_match_the_study_note() -> None:
    assert count_parameters(LeNet()) == 62_006
    assert count_parameters(LeNet(in_channels=1)) == 61_706
    assert count_parameters(LeNet()) == sum(p.numel() for p in LeNet().parameters())


def test_lenet_keeps_the_study_notes_attribute_names() -> None:
    keys = set(LeNet().state_dict())
    assert keys == {f"{n}.{p}" for n in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")}


def test_lenet5_has_the_papers_60000_parameters_and_340908_connections() -> None:
    model = LeNet5()
    assert count_parameters(model) == 60_000
    assert count_connections(model) == 340_908
    # the paper's sum, layer by layer (RBF: 84×10 connections, no trainable parameter)
    assert 122_304 + 5_880 + 151_600 + 2_000 + 48_120 + 10_164 + 840 == 340_908
    # the softmax head adds a trainable Linear(84, 10): 850 parameters and connections
    assert count_parameters(LeNet5("softmax")) == 60_850
    assert count_connections(LeNet5("softmax")) == 340_918


# --------------------------------------------------------------------- layer tables
def test_lenet5_layer_table_matches_the_paper_and_the_study_note() -> None:
    rows = layer_table(LeNet5())
    got = [(r["input"], r["kernel"], r["output"], r["params"], r["connections"]) for r in rows]
    assert got == [
        ("32×32×1", "5×5×1, 6", "28×28×6", 156, 122_304),  # C1
        ("28×28×6", "2×2/2", "14×14×6", 12, 5_880),  # S2
        ("14×14×6", "5×5×6, 16", "10×10×16", 1_516, 151_600),  # C3 (Table I)
        ("10×10×16", "2×2/2", "5×5×16", 32, 2_000),  # S4
        ("5×5×16", "5×5×16, 120", "1×1×120", 48_120, 48_120),  # C5
        ("120", "120×84", "84", 10_164, 10_164),  # F6
        ("84", "84×10", "10", 0, 840),  # RBF output, fixed
    ]
    assert [r["layer"] for r in rows] == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert set(rows[0]) == {"layer", "kind", "input", "kernel", "output", "params", "connections"}


def test_lenet_layer_table_has_parameter_free_max_pooling() -> None:
    rows = layer_table(LeNet(in_channels=1))
    assert [(r["layer"], r["output"], r["params"]) for r in rows] == [
        ("conv1", "28×28×6", 156),
        ("pool1", "14×14×6", 0),
        ("conv2", "10×10×16", 2_416),  # the study note's fully connected C3
        ("pool2", "5×5×16", 0),
        ("fc1", "120", 48_120),
        ("fc2", "84", 10_164),
        ("fc3", "10", 850),
    ]
    assert sum(r["params"] for r in rows) == count_parameters(LeNet(in_channels=1))
    assert layer_table(LeNet())[0]["input"] == "32×32×3"


# ------------------------------------------------------------------------- Table I
def test_c3_table_is_table_i() -> None:
    assert torch.equal(c3_mask(), table_i())
    assert int(c3_mask().sum()) == 60
    assert [len(cols) for cols in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert torch.equal(LeNet5().c3.mask, table_i())


def test_c3_sparsity_is_real() -> None:
    """Changing S2 map i changes exactly the C3 maps Table I connects it to."""
    c3 = LeNet5().c3
    x = torch.randn(2, 6, 14, 14)
    with torch.no_grad():
        base = c3(x)
        depends = torch.zeros(6, 16, dtype=torch.bool)
        for i in range(6):
            changed = x.clone()
            changed[:, i] += torch.randn(2, 14, 14)
            depends[i] = (c3(changed) - base).abs().amax(dim=(0, 2, 3)) > 0
    assert torch.equal(depends, table_i())
    # and the gradient agrees: output map 0 does not depend on S2 maps 3, 4, 5
    x.requires_grad_(True)
    c3(x)[:, 0].sum().backward()
    assert x.grad is not None
    assert (x.grad[:, 3:] == 0).all() and (x.grad[:, :3] != 0).any()


def test_c3_one_conv_equals_one_small_conv_per_map() -> None:
    """The fast forward (one dense, zero-filled conv) is the definition: map j = conv_j(x[:, table[j]])."""
    c3 = LeNet5().c3
    x = torch.randn(3, 6, 14, 14, requires_grad=True)
    reference = torch.cat([conv(x[:, list(ins)]) for ins, conv in zip(C3_TABLE, c3.convs)], dim=1)
    torch.testing.assert_close(c3(x), reference)
    dense = c3.dense_weight()
    assert dense.shape == (16, 6, 5, 5)
    assert torch.equal(dense.detach().abs().sum(dim=(2, 3)) != 0, table_i().T)
    (g_fast,) = torch.autograd.grad(c3(x).square().sum(), c3.convs[7].weight)
    (g_ref,) = torch.autograd.grad(reference.square().sum(), c3.convs[7].weight)
    torch.testing.assert_close(g_fast, g_ref)
    assert set(c3.state_dict()) == {f"convs.{j}.{p}" for j in range(16) for p in ("weight", "bias")}


# ----------------------------------------------------------------------- RBF output
def test_rbf_prototypes_are_fixed_plus_minus_one_bitmaps() -> None:
    bitmaps = digit_bitmaps()
    assert bitmaps.shape == (10, 12, 7)
    assert set(bitmaps.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(b.flatten().tolist()) for b in bitmaps}) == 10  # all different
    output = LeNet5().output
    assert list(output.parameters()) == []  # a buffer, not trainable
    assert torch.equal(output.prototypes, bitmaps.reshape(10, 84))
    assert "output.prototypes" in LeNet5().state_dict()


def test_rbf_penalty_is_squared_distance_to_the_prototype() -> None:
    output = LeNet5().output
    x = digit_bitmaps()[3].reshape(1, 84)
    y = output(x)
    assert y[0, 3] == 0 and y.argmin() == 3
    assert torch.allclose(y, torch.cdist(x, output.prototypes) ** 2)


def test_output_shapes_and_scores_for_both_heads() -> None:
    x = torch.randn(4, 1, 32, 32)
    rbf, softmax = LeNet5("rbf"), LeNet5("softmax")
    penalties, logits = rbf(x), softmax(x)
    assert penalties.shape == logits.shape == (4, 10)
    assert (penalties >= 0).all()
    assert torch.equal(rbf.scores(x), -penalties)  # higher is better for both heads
    assert torch.equal(rbf.scores(x).argmax(1), penalties.argmin(1))
    assert torch.equal(softmax.scores(x), logits)
    assert LeNet()(torch.randn(4, 3, 32, 32)).shape == (4, 10)
    assert LeNet(num_classes=7).scores(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match="head"):
        LeNet5("gaussian")


def test_rbf_loss_is_the_papers_equation_9() -> None:
    penalties = torch.rand(8, 10) * 5
    targets = torch.randint(0, 10, (8,))
    j = 0.1
    naive = torch.stack([
        penalties[p, targets[p]] + torch.log(torch.exp(torch.tensor(-j)) + torch.exp(-penalties[p]).sum())
        for p in range(8)
    ]).mean()  # fmt: skip
    assert torch.allclose(rbf_loss(penalties, targets, j=j), naive)
    # stable where the naive formula underflows (F6 starts far from every prototype)
    assert torch.isfinite(rbf_loss(penalties + 1000, targets))


def test_rbf_loss_is_lower_for_the_correct_class() -> None:
    penalties = torch.full((1, 10), 20.0)
    penalties[0, 4] = 1.0  # the network says "4"
    right = rbf_loss(penalties, torch.tensor([4]))
    wrong = rbf_loss(penalties, torch.tensor([7]))
    assert right < wrong
    with pytest.raises(ValueError):
        rbf_loss(penalties, torch.tensor([4, 7]))


# -------------------------------------------------------------- squashing function
def test_scaled_tanh_constants() -> None:
    """A = 1.7159, S = 2/3 were chosen so that f(±1) = ±1 (Appendix A)."""
    assert scaled_tanh(torch.tensor(1.0)).item() == pytest.approx(1.0, abs=1e-4)
    assert scaled_tanh(torch.tensor(-1.0)).item() == pytest.approx(-1.0, abs=1e-4)
    assert scaled_tanh(torch.tensor(1e6)).item() == pytest.approx(1.7159)
    # ... so the ±1 targets sit near where the curvature |f''| is largest
    a = torch.linspace(0.01, 3, 300, requires_grad=True)
    (d1,) = torch.autograd.grad(scaled_tanh(a).sum(), a, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), a)
    assert a[d2.abs().argmax()].item() == pytest.approx(1.0, abs=0.05)


def test_lenet5_initialisation_is_uniform_in_2_4_over_fan_in() -> None:
    model = LeNet5()
    fan_ins = [(model.c1, 25), (model.c3.convs[0], 75), (model.c5, 400), (model.f6, 120), (model.s2, 4)]
    for module, fan_in in fan_ins:
        bound = 2.4 / fan_in
        assert module.weight.abs().max() <= bound
        assert module.weight.abs().max() > bound / 2  # really uses the range


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("model", "shape", "message"),
    [
        (LeNet(in_channels=1), (8, 1, 28, 28), "pad MNIST to 32×32"),
        (LeNet5(), (8, 1, 28, 28), "pad MNIST to 32×32"),
        (LeNet(), (3, 32, 32), "add a batch dimension"),
        (LeNet5(), (1, 32, 32), "add a batch dimension"),
        (LeNet(), (2, 1, 32, 32), "3 input channel"),
        (LeNet5(), (2, 3, 32, 32), "1 input channel"),
        (LeNet(), (2, 3, 64, 64), "32×32"),
        (LeNet(), (2, 3072), "4-D"),
    ],
)
def test_clear_errors_for_wrong_input_shapes(
    model: torch.nn.Module, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))


# ------------------------------------------------------------------------ training
@pytest.mark.parametrize("head", ["rbf", "softmax"])
def test_a_few_training_steps_decrease_the_loss(head: str) -> None:
    model = LeNet5(head)
    x, t = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))
    loss_fn = rbf_loss if head == "rbf" else F.cross_entropy
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    if head == "rbf":  # the prototypes stayed fixed
        assert torch.equal(model.output.prototypes, digit_bitmaps().reshape(10, 84))


def test_layer_outputs_follow_the_forward_pass() -> None:
    model = LeNet5().eval()
    x = torch.randn(3, 1, 32, 32)
    outs = layer_outputs(model, x)
    assert list(outs) == ["c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert [tuple(v.shape) for v in outs.values()] == [
        (3, 6, 28, 28), (3, 6, 14, 14), (3, 16, 10, 10), (3, 16, 5, 5), (3, 120, 1, 1), (3, 84), (3, 10)]
    torch.testing.assert_close(outs["output"], model(x).detach())
    torch.testing.assert_close(outs["s2"], model.s2(scaled_tanh(model.c1(x))).detach())
    assert not any(m._forward_hooks for m in model.children())  # hooks removed
