"""Bad input to every public function of ``dlcourse`` raises a clear error.

``CASES`` is the table: for each public function or class (``module.name``), calls with
bad input, the exception they must raise and a pattern its message must match (the
argument's name, what was expected). ``test_every_public_name_has_a_bad_input_case``
enumerates the modules' ``__all__`` and fails when a function or class has no case, so a
new public function needs one.

The grading modules and the Sphinx extension are not in scope (they are not called by
chapters or exercises); ``main`` is the command line of ``dlcourse.data``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from collections.abc import Callable
from typing import NamedTuple

import ipywidgets as w
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from dlcourse import (
    activations,
    backprop,
    conv,
    data,
    learning,
    mlp,
    models,
    page,
    perceptron,
    plots,
    quiz,
    training,
    widgets,
)

MODULES = [activations, backprop, conv, data, learning, mlp, models, page, perceptron, plots, quiz, training, widgets]

# Public names that take no input at all: nothing to get wrong (checked below).
NO_INPUT = {
    "mlp.xor_data01",
    "perceptron.xor_data",
    "models.c3_mask",
    "models.digit_bitmaps",
    "quiz.practice_question",
    "training.default_device",
}

# Records the package returns; they compute nothing from their fields (checked below).
RECORDS = {"conv.Frame", "perceptron.PLAResult", "training.Epoch"}


class Case(NamedTuple):
    name: str  # module.function the case exercises
    call: Callable[[], object]
    error: type[Exception]
    match: str  # regex the message must contain


def _split(n: int = 4, channels: int = 1) -> data.Split:
    images = torch.zeros(n, channels, 4, 4, dtype=torch.uint8)
    labels = torch.zeros(n, dtype=torch.long)
    return data.Split(images, labels, torch.zeros(channels), torch.ones(channels))


def _tiny_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def _figure() -> Figure:
    fig = Figure()
    fig.subplots()
    return fig


def _params(**change) -> mlp.MLPParams:
    return mlp.xor_weights("relu")._replace(**change)


X2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
Y2 = torch.tensor([1.0, -1.0], dtype=torch.float64)
NAN_X = torch.tensor([[0.0, 1.0], [math.nan, 0.0]], dtype=torch.float64)
IMG = torch.zeros(1, 1, 5, 5)
W = torch.zeros(2, 1, 3, 3)
CYCLE = {"a": ["b"], "b": ["c"], "c": ["b", "e"], "e": []}
UNDECLARED = {"a": ["c"], "c": ["z"], "e": []}
DEBT_GRADS = {("a", "c"): 1.0, ("b", "c"): 2.0, ("b", "d"): 3.0, ("c", "e"): 4.0, ("d", "e"): 5.0}
MLP2 = dict(X=torch.zeros(3, 2), W1=torch.zeros(2, 4), b1=torch.zeros(4), W2=torch.zeros(4, 1), b2=torch.zeros(1))
CHOICES = [quiz.Choice("yes", True, "because"), quiz.Choice("no", False, "because not")]

CASES: list[Case] = [
    # ---------------------------------------------------------------- activations
    *[
        Case(f"activations.{name}", (lambda f=getattr(activations, name): f(0.5)), TypeError, r"\ba\b.*Tensor")
        for name in ["sigmoid", "d_sigmoid", "tanh", "d_tanh", "relu", "d_relu", "leaky_relu",
                     "d_leaky_relu", "gelu", "d_gelu", "scaled_tanh", "d_scaled_tanh",
                     "identity", "d_identity"]
    ],
    Case("activations.leaky_relu", lambda: activations.leaky_relu(torch.ones(2), slope=math.nan), ValueError, "slope"),
    Case("activations.Activation", lambda: activations.Activation("x", torch.tanh, "not a function"), TypeError, "df"),
    Case("activations.get_activation", lambda: activations.get_activation("swish"), ValueError, "unknown activation"),
    Case("activations.get_activation", lambda: activations.get_activation(["relu"]), TypeError, "name"),
    Case("activations.linear_stack_collapse", lambda: activations.linear_stack_collapse([torch.ones(3)]), ValueError, r"weights\[0\]"),
    Case("activations.linear_stack_collapse", lambda: activations.linear_stack_collapse(torch.ones(2, 2)), TypeError, "weights"),
    Case("activations.gradient_norms_per_layer", lambda: activations.gradient_norms_per_layer("relu", depth=2.5), TypeError, "depth"),
    Case("activations.gradient_norms_per_layer", lambda: activations.gradient_norms_per_layer("swish"), ValueError, "unknown activation"),
    # ---------------------------------------------------------------- backprop
    Case("backprop.Value", lambda: backprop.Value("3"), TypeError, "data.*real number"),
    Case("backprop.Value", lambda: backprop.Value(-2.0) ** 0.5, ValueError, "integer exponent"),
    Case("backprop.Value", lambda: backprop.Value(1.0) / backprop.Value(0.0), ValueError, "division by zero"),
    Case("backprop.Value", lambda: backprop.Value(0.0) ** -1, ValueError, "divides by zero"),
    Case("backprop.Value", lambda: backprop.Value(0.0).log(), ValueError, "log needs a positive"),
    Case("backprop.Value", lambda: backprop.Value(1.0) + "2", TypeError, "unsupported operand"),
    Case("backprop.Value", lambda: backprop.Value(2.0) ** "k", TypeError, "exponent"),
    Case("backprop.numerical_grad", lambda: backprop.numerical_grad(lambda v: v[0], [1.0], h=0), ValueError, r"\bh\b"),
    Case("backprop.numerical_grad", lambda: backprop.numerical_grad(lambda v: v[0], [math.inf]), ValueError, r"xs\[0\]"),
    Case("backprop.numerical_grad", lambda: backprop.numerical_grad("f", [1.0]), TypeError, r"\bf\b"),
    Case("backprop.numerical_grad", lambda: backprop.numerical_grad(lambda v: backprop.Value(v[0]), [1.0]), TypeError, r"f\(xs\) must be a real number"),
    Case("backprop.mlp2_forward", lambda: backprop.mlp2_forward(**{**MLP2, "b1": torch.zeros(4, 1)}), ValueError, r"b1.*\(4,\)"),
    Case("backprop.mlp2_forward", lambda: backprop.mlp2_forward(**{**MLP2, "b2": torch.zeros(3, 1)}), ValueError, "b2"),
    Case("backprop.mlp2_forward", lambda: backprop.mlp2_forward(**{**MLP2, "X": torch.zeros(3, 5)}), ValueError, "do not chain"),
    Case("backprop.mlp2_forward", lambda: backprop.mlp2_forward(**{**MLP2, "X": torch.zeros(3, 2, dtype=torch.float64)}), TypeError, "dtype"),
    Case("backprop.mlp2_backward", lambda: backprop.mlp2_backward(backprop.mlp2_forward(**MLP2), torch.zeros(3, 2)), ValueError, "dY"),
    Case("backprop.mlp2_backward", lambda: backprop.mlp2_backward({"Y": 1}, torch.zeros(3, 1)), TypeError, "cache"),
    Case("backprop.mse_loss_and_grad", lambda: backprop.mse_loss_and_grad(torch.zeros(0), torch.zeros(0)), ValueError, r"\bY\b.*empty"),
    Case("backprop.mse_loss_and_grad", lambda: backprop.mse_loss_and_grad(torch.zeros(2), torch.zeros(3)), ValueError, "same shape"),
    *[
        Case(f"backprop.{name}", call, ValueError, "cycle")
        for name, call in [
            ("inputs_of", lambda: backprop.inputs_of(CYCLE)),
            ("output_of", lambda: backprop.output_of(CYCLE)),
            ("paths", lambda: backprop.paths(CYCLE, "a")),
            ("debts_walk", lambda: backprop.debts_walk(CYCLE)),
            ("chase", lambda: backprop.chase(CYCLE, {})),
            ("repay", lambda: backprop.repay(CYCLE, {})),
        ]
    ],
    Case("backprop.chase", lambda: backprop.chase(UNDECLARED, {}), ValueError, "'z' is not a node"),
    Case("backprop.repay", lambda: backprop.repay(UNDECLARED, {}), ValueError, "'z' is not a node"),
    Case("backprop.repay", lambda: backprop.repay(backprop.DEBT_GRAPH, {**DEBT_GRADS, ("a", "e"): 1.0}), ValueError, "does not have"),
    Case("backprop.chase", lambda: backprop.chase(backprop.DEBT_GRAPH, {**DEBT_GRADS, ("a", "c"): "1"}), TypeError, "local_grads"),
    Case("backprop.chase", lambda: backprop.chase({"a": "e", "e": []}, {}), TypeError, r"graph\['a'\]"),
    Case("backprop.paths", lambda: backprop.paths(backprop.DEBT_GRAPH, "z"), ValueError, "start"),
    Case("backprop.output_of", lambda: backprop.output_of({"a": [], "b": []}), ValueError, "exactly one output"),
    Case("backprop.inputs_of", lambda: backprop.inputs_of(["a"]), TypeError, "graph"),
    Case("backprop.layered_graph", lambda: backprop.layered_graph([2, 2.0, 1]), TypeError, r"layers\[1\]"),
    Case("backprop.count_paths", lambda: backprop.count_paths([2, 0, 1]), ValueError, "layers"),
    Case("backprop.path_enumeration_cost", lambda: backprop.path_enumeration_cost([2, 2]), ValueError, "ending in 1"),
    Case("backprop.reverse_mode_cost", lambda: backprop.reverse_mode_cost("221"), TypeError, "layers"),
    Case("backprop.mlp_scratch", lambda: backprop.mlp_scratch([1.0] * 5, (0, 1)), TypeError, "params"),
    Case("backprop.mlp_scratch", lambda: backprop.mlp_scratch([backprop.Value(0)] * 5, (0, 1, 2)), ValueError, r"\bx\b"),
    Case("backprop.train_xor_scratch", lambda: backprop.train_xor_scratch(steps=0), ValueError, "steps"),
    Case("backprop.train_xor_scratch", lambda: backprop.train_xor_scratch(lr=-0.1), ValueError, "lr"),
    # ---------------------------------------------------------------- conv
    Case("conv.output_size", lambda: conv.output_size(28, 5, stride=1.5), TypeError, "stride"),
    Case("conv.output_size", lambda: conv.output_size(0, 1), ValueError, r"\bn\b"),
    Case("conv.correlate2d", lambda: conv.correlate2d(torch.zeros(1, 5, 5), torch.zeros(3, 3)), ValueError, "2-D image"),
    Case("conv.correlate2d", lambda: conv.correlate2d([[1.0]], torch.zeros(1, 1)), TypeError, r"\bx\b.*Tensor"),
    Case("conv.convolve2d", lambda: conv.convolve2d(torch.zeros(2, 2), torch.zeros(3, 3)), ValueError, "does not fit"),
    Case("conv.conv2d", lambda: conv.conv2d(IMG, W, stride=1.5), TypeError, "stride must be an int"),
    Case("conv.conv2d", lambda: conv.conv2d(IMG, W, padding=-1), ValueError, "padding"),
    Case("conv.conv2d", lambda: conv.conv2d(IMG, W.double()), TypeError, "dtype"),
    Case("conv.conv2d", lambda: conv.conv2d(IMG, W, bias=torch.zeros(3)), ValueError, "bias"),
    Case("conv.conv2d", lambda: conv.conv2d(IMG[0], W), ValueError, "add a batch dimension"),
    Case("conv.conv2d_loops", lambda: conv.conv2d_loops(IMG, torch.zeros(2, 3, 3, 3)), ValueError, "channel mismatch"),
    Case("conv.conv2d_loops", lambda: conv.conv2d_loops(IMG, W, dilation=(1, 2, 3)), ValueError, "dilation"),
    Case("conv.im2col", lambda: conv.im2col(IMG, kernel_size=True), TypeError, "kernel_size"),
    Case("conv.sliding_windows", lambda: conv.sliding_windows(IMG, 6), ValueError, "does not fit"),
    Case("conv.max_pool2d", lambda: conv.max_pool2d(IMG, 2, padding=2), ValueError, "padding"),
    Case("conv.max_pool2d", lambda: conv.max_pool2d(IMG.long(), 3, padding=1), TypeError, r"\bx\b.*floating"),
    Case("conv.avg_pool2d", lambda: conv.avg_pool2d(IMG.long(), 2), TypeError, r"\bx\b.*floating"),
    Case("conv.avg_pool2d", lambda: conv.avg_pool2d(IMG, 2, stride=0), ValueError, "stride"),
    Case("conv.conv_params", lambda: conv.conv_params(-1, 3, 3), ValueError, "in_ch"),
    Case("conv.conv_params", lambda: conv.conv_params(1, 3, 3, bias=1), TypeError, "bias"),
    Case("conv.dense_params", lambda: conv.dense_params(-1, 3), ValueError, "in_features"),
    Case("conv.dense_params", lambda: conv.dense_params(3, 2.0), TypeError, "out_features"),
    Case("conv.receptive_field", lambda: conv.receptive_field([(5, 1), (2, 0)]), ValueError, "stride >= 1"),
    Case("conv.receptive_field", lambda: conv.receptive_field([(5.0, 1)]), TypeError, r"layers\[0\]"),
    Case("conv.sliding_window_frames", lambda: conv.sliding_window_frames(torch.zeros(4, 4), torch.zeros(3, 3), stride=0), ValueError, "stride"),
    Case("conv.sliding_window_frames", lambda: conv.sliding_window_frames(IMG, torch.zeros(3, 3)), ValueError, "2-D image"),
    # ---------------------------------------------------------------- data
    Case("data.Split", lambda: data.Split(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long), torch.zeros(1), torch.ones(1)), ValueError, "uint8"),
    Case("data.Split", lambda: data.Split(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(2), torch.zeros(1), torch.ones(1)), TypeError, "labels.*integer"),
    Case("data.Split", lambda: data.Split(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), torch.zeros(1), torch.ones(1)), ValueError, r"mean.*\(3,\)"),
    Case("data.Split", lambda: data.Split(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), torch.zeros(1), torch.tensor([math.nan])), ValueError, "std"),
    Case("data.Split", lambda: _split().normalize(torch.zeros(1, 1, 4, 4)), ValueError, "images must be uint8"),
    Case("data.Dataset", lambda: data.Dataset("x", _split(), _split(), [], "official", True), TypeError, "classes"),
    Case("data.Dataset", lambda: data.Dataset("x", _split(), "test", ["a"], "official", True), TypeError, "test"),
    Case("data.data_dir", lambda: data.data_dir(3), TypeError, "root"),
    Case("data.mnist", lambda: data.mnist(download="no"), TypeError, "download"),
    Case("data.cifar10", lambda: data.cifar10(download=0), TypeError, "download"),
    Case("data.pad", lambda: data.pad(torch.zeros(2, 1, 40, 40)), ValueError, "larger than the target"),
    Case("data.pad", lambda: data.pad(torch.zeros(4)), ValueError, "images"),
    Case("data.pad", lambda: data.pad(torch.zeros(1, 1, 4, 4), to=4.0), TypeError, r"\bto\b"),
    Case("data.channel_stats", lambda: data.channel_stats(torch.zeros(2, 1, 4, 4)), TypeError, "uint8"),
    Case("data.channel_stats", lambda: data.channel_stats(torch.zeros(1, 1, 1, 1, dtype=torch.uint8)), ValueError, "at least 2 pixels"),
    # ---------------------------------------------------------------- mlp
    Case("mlp.step", lambda: mlp.step([0.0, 1.0]), TypeError, r"\ba\b.*Tensor"),
    Case("mlp.Step", lambda: mlp.Step()(1.0), TypeError, r"\ba\b.*Tensor"),
    Case("mlp.xor_weights", lambda: mlp.xor_weights("tanh"), ValueError, "relu.*step"),
    Case("mlp.xor_weights", lambda: mlp.xor_weights(None), TypeError, "activation"),
    Case("mlp.MLPParams", lambda: mlp.forward(X2, _params(b1=torch.zeros(2, 1, dtype=torch.float64))), ValueError, "b1"),
    Case("mlp.hidden_layer", lambda: mlp.hidden_layer(X2.float(), mlp.xor_weights()), TypeError, "dtype"),
    Case("mlp.hidden_layer", lambda: mlp.hidden_layer(torch.zeros(2, 3, dtype=torch.float64), mlp.xor_weights()), ValueError, r"\bX\b"),
    Case("mlp.forward", lambda: mlp.forward(X2, _params(W2=torch.zeros(3, 1, dtype=torch.float64))), ValueError, "do not fit"),
    Case("mlp.forward", lambda: mlp.forward(X2, (1, 2)), TypeError, "params"),
    Case("mlp.as_sequential", lambda: mlp.as_sequential(_params(b2=torch.zeros(2, dtype=torch.float64))), ValueError, "b2"),
    Case("mlp.make_mlp", lambda: mlp.make_mlp(0), ValueError, "hidden"),
    Case("mlp.make_mlp", lambda: mlp.make_mlp(2.5), TypeError, "hidden"),
    Case("mlp.fit_function", lambda: mlp.fit_function(torch.sin, 2, n_points=0), ValueError, "n_points"),
    Case("mlp.fit_function", lambda: mlp.fit_function(lambda x: torch.sin(x)[:, 0], 2, steps=1), ValueError, r"f\(x\).*shape"),
    Case("mlp.fit_function", lambda: mlp.fit_function(torch.sin, 2, interval=(1, -1)), ValueError, "interval"),
    Case("mlp.fit_function", lambda: mlp.fit_function(torch.log, 2, interval=(-1, 1), steps=1), ValueError, r"f\(x\).*NaN"),
    Case("mlp.xor_accuracy", lambda: mlp.xor_accuracy(nn.Linear(2, 2)), ValueError, r"\(4, 1\)"),
    Case("mlp.xor_accuracy", lambda: mlp.xor_accuracy("model"), TypeError, "model"),
    Case("mlp.train_xor", lambda: mlp.train_xor(steps=0), ValueError, "steps"),
    Case("mlp.train_xor", lambda: mlp.train_xor(lr=math.inf), ValueError, "lr"),
    # ---------------------------------------------------------------- models
    Case("models.scaled_tanh", lambda: models.scaled_tanh(1.0), TypeError, r"\ba\b.*Tensor"),
    Case("models.LeNet", lambda: models.LeNet(in_channels=0), ValueError, "in_channels"),
    Case("models.LeNet", lambda: models.LeNet()([[0.0]]), TypeError, r"\bx\b.*torch\.Tensor"),
    Case("models.LeNet", lambda: models.LeNet(in_channels=1)(torch.zeros(2, 1, 28, 28)), ValueError, "pad"),
    Case("models.LeNet5", lambda: models.LeNet5(head="linear"), ValueError, "head"),
    Case("models.LeNet5", lambda: models.LeNet5()(torch.zeros(2, 3, 32, 32)), ValueError, "input channel"),
    Case("models.Subsampling", lambda: models.Subsampling(0), ValueError, "channels"),
    Case("models.SparseConv2d", lambda: models.SparseConv2d(((0, 7),), in_channels=6), ValueError, r"table\[0\].*7"),
    Case("models.SparseConv2d", lambda: models.SparseConv2d(((0, 0),), in_channels=6), ValueError, "twice"),
    Case("models.EuclideanRBF", lambda: models.EuclideanRBF(torch.ones(10)), ValueError, "prototypes"),
    Case("models.rbf_loss", lambda: models.rbf_loss(torch.zeros(2, 10), torch.tensor([0.0, 1.7])), TypeError, "targets.*integer"),
    Case("models.rbf_loss", lambda: models.rbf_loss(torch.zeros(2, 10), torch.tensor([0, 10])), ValueError, r"targets.*0\.\.9"),
    Case("models.rbf_loss", lambda: models.rbf_loss(torch.zeros(2, 10), torch.tensor([0])), ValueError, "targets of length"),
    Case("models.count_parameters", lambda: models.count_parameters([torch.zeros(2)]), TypeError, "model"),
    Case("models.layer_table", lambda: models.layer_table(nn.Sequential(nn.Linear(2, 2))), ValueError, "input_shape"),
    Case("models.layer_table", lambda: models.layer_table(models.LeNet(), input_shape=(3, 32.0, 32)), TypeError, "input_shape"),
    Case("models.count_connections", lambda: models.count_connections("LeNet"), TypeError, "model"),
    Case("models.layer_outputs", lambda: models.layer_outputs(models.LeNet(), [[0.0]]), TypeError, r"\bx\b"),
    # ---------------------------------------------------------------- perceptron
    Case("perceptron.predict", lambda: perceptron.predict(torch.zeros(2), 0.0, NAN_X), ValueError, r"\bX\b.*NaN"),
    Case("perceptron.predict", lambda: perceptron.predict(torch.zeros(2), math.inf, X2), ValueError, r"\bb\b"),
    Case("perceptron.predict", lambda: perceptron.predict(torch.zeros(3), 0.0, X2), ValueError, r"\bw\b.*length"),
    Case("perceptron.pla", lambda: perceptron.pla(NAN_X, Y2), ValueError, r"\bX\b.*NaN"),
    Case("perceptron.pla", lambda: perceptron.pla(X2, torch.tensor([1.0, 0.0])), ValueError, "labels must be -1 or \\+1"),
    Case("perceptron.pla", lambda: perceptron.pla(X2, Y2, max_epochs=2.5), TypeError, "max_epochs"),
    Case("perceptron.pla", lambda: perceptron.pla(X2, Y2, w0=torch.tensor([math.nan, 0.0])), ValueError, "w0"),
    Case("perceptron.pla", lambda: perceptron.pla("X", Y2), TypeError, r"\bX\b"),
    Case("perceptron.margin", lambda: perceptron.margin(torch.zeros(2), 0.0, X2, Y2), ValueError, "not a hyperplane"),
    Case("perceptron.margin", lambda: perceptron.margin(torch.ones(2), 0.0, X2, Y2, augmented="yes"), TypeError, "augmented"),
    Case("perceptron.radius", lambda: perceptron.radius(torch.zeros(0, 2)), ValueError, r"\bX\b"),
    Case("perceptron.novikoff_bound", lambda: perceptron.novikoff_bound(X2, Y2, torch.tensor([1.0, -1.0]), 0.0), ValueError, "does not separate"),
    Case("perceptron.random_separator", lambda: perceptron.random_separator(1.5), TypeError, "seed"),
    Case("perceptron.make_separable", lambda: perceptron.make_separable(n=1), ValueError, r"\bn\b"),
    Case("perceptron.make_separable", lambda: perceptron.make_separable(margin=0.7), ValueError, "margin"),
    # ---------------------------------------------------------------- plots
    Case("plots.image_grid", lambda: plots.image_grid(torch.zeros(0, 1, 4, 4)), ValueError, "images is empty"),
    Case("plots.image_grid", lambda: plots.image_grid(torch.zeros(2, 1, 4, 4), labels=[0, 5], classes=["a", "b"]), ValueError, r"labels.*0\.\.1.*5"),
    Case("plots.image_grid", lambda: plots.image_grid(torch.zeros(2, 1, 4, 4), labels=[0]), ValueError, "labels must be 2 labels"),
    Case("plots.image_grid", lambda: plots.image_grid(torch.zeros(2, 1, 4, 4), titles=["a"]), ValueError, "titles"),
    Case("plots.image_grid", lambda: plots.image_grid(torch.zeros(1, 2, 4, 4)), ValueError, "C = 1 or 3"),
    Case("plots.image_grid", lambda: plots.image_grid(torch.full((1, 1, 2, 2), math.nan)), ValueError, "NaN"),
    Case("plots.training_curves", lambda: plots.training_curves(training.History()), ValueError, "no epochs"),
    Case("plots.training_curves", lambda: plots.training_curves([1, 2]), TypeError, "history"),
    Case("plots.confusion_matrix", lambda: plots.confusion_matrix([0, 1], [3, 1], 3), ValueError, r"y_pred.*0\.\.2.*3"),
    Case("plots.confusion_matrix", lambda: plots.confusion_matrix([0, -1], [0, 1], 3), ValueError, "y_true"),
    Case("plots.confusion_matrix", lambda: plots.confusion_matrix([0, 1], [0.5, 1], 3), ValueError, "y_pred.*whole"),
    Case("plots.confusion_matrix", lambda: plots.confusion_matrix([0, 1], [0], 3), ValueError, "y_pred must be 2 labels"),
    Case("plots.confusion_matrix", lambda: plots.confusion_matrix([0], [0], 0), ValueError, "num_classes"),
    Case("plots.plot_confusion", lambda: plots.plot_confusion([0], [0], "ab"), TypeError, "classes"),
    Case("plots.plot_confusion", lambda: plots.plot_confusion([0, 2], [0, 1], ["a", "b"]), ValueError, "y_true"),
    Case("plots.feature_maps", lambda: plots.feature_maps(torch.zeros(1, 6, 4, 4)), ValueError, "C×H×W"),
    Case("plots.feature_maps", lambda: plots.feature_maps(torch.zeros(0, 4, 4)), ValueError, "maps is empty"),
    Case("plots.filters", lambda: plots.filters(torch.zeros(6, 5, 5)), ValueError, "O×C×kH×kW"),
    Case("plots.filters", lambda: plots.filters(torch.zeros(0, 1, 5, 5)), ValueError, "weight is empty"),
    # ---------------------------------------------------------------- quiz
    Case("quiz.Choice", lambda: quiz.Choice("", True, "why"), ValueError, "text is empty"),
    Case("quiz.Choice", lambda: quiz.Choice("a", "yes", "why"), ValueError, "correct must be True or False"),
    Case("quiz.Feedback", lambda: quiz.Feedback("yes", "message"), TypeError, "correct"),
    Case("quiz.MultipleChoice", lambda: quiz.MultipleChoice("Q?", CHOICES[:1]), ValueError, "at least two"),
    Case("quiz.MultipleChoice", lambda: quiz.MultipleChoice("Q?", CHOICES).check(0.0), TypeError, r"answer.*0\.0.*float"),
    Case("quiz.MultipleChoice", lambda: quiz.MultipleChoice("Q?", CHOICES).check("0"), TypeError, "answer"),
    Case("quiz.MultipleChoice", lambda: quiz.MultipleChoice("Q?", CHOICES).check([True]), TypeError, "answer"),
    Case("quiz.MultipleChoice", lambda: quiz.MultipleChoice("Q?", CHOICES).check(2), ValueError, r"index 2 is not in 0\.\.1"),
    Case("quiz.Numeric", lambda: quiz.Numeric("Q?", 1.0, -0.1, "why"), ValueError, "tolerances"),
    Case("quiz.Numeric", lambda: quiz.Numeric("Q?", math.nan, 0.1, "why"), ValueError, "answer must be finite"),
    Case("quiz.Quiz", lambda: quiz.Quiz([]), ValueError, "at least one question"),
    Case("quiz.Quiz", lambda: quiz.Quiz(["Q?"]), TypeError, "MultipleChoice or Numeric"),
    Case("quiz.Quiz", lambda: quiz.Quiz(quiz.practice_question(), title=3), TypeError, "title"),
    # ---------------------------------------------------------------- training
    Case("training.set_seed", lambda: training.set_seed(1.5), TypeError, "seed"),
    Case("training.fast_settings", lambda: training.fast_settings("LeNet", "cpu"), TypeError, "model"),
    Case("training.native_bf16", lambda: training.native_bf16("gpu0"), RuntimeError, "device"),
    Case("training.random_crop", lambda: training.random_crop(torch.zeros(1, 4, 4), 2), ValueError, r"\bx\b.*4-D"),
    Case("training.random_crop", lambda: training.random_crop(torch.zeros(1, 1, 4, 4), -2), ValueError, "padding"),
    Case("training.random_flip", lambda: training.random_flip(torch.zeros(4, 4)), ValueError, r"\bx\b.*4-D"),
    Case("training.Augment", lambda: training.Augment(crop_padding=-1), ValueError, "crop_padding"),
    Case("training.Augment", lambda: training.Augment(flip="yes"), TypeError, "flip"),
    Case("training.History", lambda: training.History().final, ValueError, "history is empty"),
    Case("training.History", lambda: training.History().column("accuracy"), ValueError, "name must be one of"),
    Case("training.scores", lambda: training.scores("model", torch.zeros(2, 3)), TypeError, "model"),
    Case("training.default_loss", lambda: training.default_loss(None), TypeError, "model"),
    Case("training.predict", lambda: training.predict(_tiny_model(), _split()[:0]), ValueError, "split is an empty split"),
    Case("training.predict", lambda: training.predict(_tiny_model(), _split(), batch_size=0), ValueError, "batch_size"),
    Case("training.evaluate", lambda: training.evaluate(_tiny_model(), _split()[:0]), ValueError, "split is an empty split"),
    Case("training.evaluate", lambda: training.evaluate(_tiny_model(), (torch.zeros(1), torch.zeros(1))), TypeError, "split"),
    Case("training.make_optimizer", lambda: training.make_optimizer(_tiny_model(), "sgd", -0.1, 0.9, 0.0), ValueError, "lr"),
    Case("training.make_optimizer", lambda: training.make_optimizer(_tiny_model(), "sgd", 0.1, 1.5, 0.0), ValueError, "momentum"),
    Case("training.make_optimizer", lambda: training.make_optimizer(_tiny_model(), "rmsprop", 0.1, 0.9, 0.0), ValueError, "optimizer must be"),
    Case("training.make_schedule", lambda: training.make_schedule(torch.optim.SGD(_tiny_model().parameters(), lr=0.1), "onecycle", 0.1, 0), ValueError, "total_steps"),
    Case("training.make_schedule", lambda: training.make_schedule("sgd", "onecycle", 0.1, 10), TypeError, "optimizer"),
    Case("training.fit", lambda: training.fit(_tiny_model(), _split(), _split()[:0], progress=False), ValueError, "test is an empty split"),
    Case("training.fit", lambda: training.fit(_tiny_model(), _split()[:0], progress=False), ValueError, "train is an empty split"),
    Case("training.fit", lambda: training.fit(_tiny_model(), _split(), epochs=1.5, progress=False), TypeError, "epochs"),
    Case("training.fit", lambda: training.fit(_tiny_model(), _split(), label_smoothing=1.0, progress=False), ValueError, "label_smoothing"),
    # ---------------------------------------------------------------- widgets
    Case("widgets.figure_png", lambda: widgets.figure_png("figure"), TypeError, "fig must be a matplotlib Figure"),
    Case("widgets.figure_png", lambda: widgets.figure_png(_figure(), dpi=0), ValueError, "dpi"),
    Case("widgets.interactive_figure", lambda: widgets.interactive_figure(lambda: _figure()), ValueError, "at least one control"),
    Case("widgets.interactive_figure", lambda: widgets.interactive_figure(lambda n: None, n=w.IntSlider(1)), TypeError, "must return a matplotlib Figure"),
    Case("widgets.InteractiveFigure", lambda: widgets.InteractiveFigure(lambda n: _figure(), n=3), TypeError, "control n="),
    Case("widgets.InteractiveFigure", lambda: widgets.InteractiveFigure("draw", n=w.IntSlider(1)), TypeError, "draw"),
    # ---------------------------------------------------------------- learning
    Case("learning.mse", lambda: learning.mse(torch.zeros(3), torch.zeros(2)), ValueError, "same shape"),
    Case("learning.softmax", lambda: learning.softmax(torch.tensor([1, 2])), ValueError, r"\bz\b.*float"),
    Case("learning.log_softmax", lambda: learning.log_softmax([1.0, 2.0]), ValueError, r"\bz\b.*float"),
    Case("learning.cross_entropy", lambda: learning.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3])), ValueError, "labels"),
    Case("learning.cross_entropy_grad", lambda: learning.cross_entropy_grad(torch.zeros(3), torch.tensor([0])), ValueError, "logits"),
    Case("learning.gradient_descent", lambda: learning.gradient_descent(lambda w: w, torch.zeros(2), 0.1, 3, momentum=1.0), ValueError, "momentum"),
    Case("learning.adam", lambda: learning.adam(lambda w: w, torch.zeros(2), -1.0, 3), ValueError, r"\blr\b"),
    Case("learning.one_cycle_lr", lambda: learning.one_cycle_lr(8, 8, 0.1), ValueError, r"\bstep\b"),
    Case("learning.Quadratic", lambda: learning.Quadratic(-torch.eye(2), torch.zeros(2)), ValueError, "positive definite"),
    Case("widgets.FramePlayer", lambda: widgets.FramePlayer([], "t"), TypeError, "frames"),
    Case("widgets.frame_player", lambda: widgets.frame_player([_figure()], interval_ms=1), ValueError, "interval_ms"),
    Case("quiz.letter", lambda: quiz.letter(26), ValueError, "index"),
    # ---------------------------------------------------------------- page
    Case("page.setup", lambda: page.setup(threads=0), ValueError, "threads"),
    Case("page.setup", lambda: page.setup(lang="fr"), ValueError, "en, zh"),
    Case("page.show", lambda: page.show(), ValueError, "at least one"),
    Case("page.markdown_table", lambda: page.markdown_table(["a"], [[1, 2]]), ValueError, "row 0"),
    Case("page.glue", lambda: page.glue("two words", 1), ValueError, "name"),
    # ---------------------------------------------------------------- training: fit's pieces
    Case("training.shuffled_batches", lambda: list(training.shuffled_batches(torch.zeros(4, 1, 4, 4), torch.zeros(4, dtype=torch.long), lambda x, d: x, 2)), TypeError, "AugmentedImages"),
    Case("training.shuffled_batches", lambda: list(training.shuffled_batches(training.AugmentedImages(torch.zeros(4, 1, 4, 4, dtype=torch.uint8)), torch.zeros(4, dtype=torch.long), lambda x, d: x, 0)), ValueError, "batch_size"),
    Case("training.shuffled_batches", lambda: list(training.shuffled_batches(training.AugmentedImages(torch.zeros(4, 1, 4, 4, dtype=torch.uint8)), torch.zeros(3, dtype=torch.long), lambda x, d: x, 2)), ValueError, r"labels.*\(4,\)"),
    Case("training.AugmentedImages", lambda: training.AugmentedImages(torch.zeros(4, 4, 4)), ValueError, r"images.*4-D"),
    Case("training.AugmentedImages", lambda: training.AugmentedImages(torch.zeros(4, 1, 4, 4), "flip"), TypeError, "Augment"),
    Case("training.AugmentedImages", lambda: training.AugmentedImages(torch.zeros(4, 1, 4, 4), training.Augment()).batch(torch.tensor([0, 4])), ValueError, r"among the 4 stored images"),
    Case("training.fit", lambda: training.fit(_tiny_model(), _split(), augment=lambda x, g: x, progress=False), TypeError, r"augment must be a dlcourse\.training\.Augment"),
    Case("training.crop", lambda: training.crop(torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), 2, 2), ValueError, r"pixels.*4-D"),
    Case("training.crop", lambda: training.crop(torch.zeros(2, 4, 4, 1), torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), torch.full((2,), 3), 2, 2), ValueError, "outside"),
    Case("training.train_epoch", lambda: training.train_epoch("model", [], None, None, None), TypeError, "model"),

]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_raises_a_clear_error(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.call()


def _public_names() -> dict[str, object]:
    """``module.name`` → object for every function and class in a module's ``__all__``
    (constants and exception classes left out)."""
    names = {}
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or (inspect.isclass(obj) and not issubclass(obj, BaseException)):
                names[f"{module.__name__.removeprefix('dlcourse.')}.{name}"] = obj
    return names


def test_every_public_name_has_a_bad_input_case() -> None:
    covered = {c.name for c in CASES}
    missing = sorted(set(_public_names()) - covered - NO_INPUT - RECORDS)
    assert not missing, f"public functions/classes without a bad-input case in CASES: {missing}"
    assert covered <= set(_public_names()), sorted(covered - set(_public_names()))


def test_exempt_names_really_take_no_input_or_only_hold_results() -> None:
    public = _public_names()
    for name in NO_INPUT:
        assert not inspect.signature(public[name]).parameters, name
    for name in RECORDS:
        cls = public[name]
        is_namedtuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
        assert dataclasses.is_dataclass(cls) or is_namedtuple, name
        methods = {n for n, v in vars(cls).items() if inspect.isfunction(v) and not n.startswith("_")}
        assert not methods, f"{name} computes something ({methods}): give it a bad-input case"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_lists_every_public_function_and_class(module) -> None:
    defined = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    defined.discard("main")  # dlcourse.data's command line
    assert defined <= set(module.__all__), sorted(defined - set(module.__all__))
    assert all(hasattr(module, name) for name in module.__all__)


def test_the_scope_is_every_module_but_grading_and_sphinx() -> None:
    import pkgutil

    import dlcourse

    found = {m.name for m in pkgutil.iter_modules(dlcourse.__path__) if not m.name.startswith("_")}
    # The build's and the environment's tooling, not what chapters and exercises call.
    tooling = {"sphinxext", "browser", "chapters", "jupyter_setup", "launch", "lang", "fonts", "translation", "exercises_zh"}
    in_scope = {name for name in found if not name.startswith("grading") and name not in tooling}
    listed = {m.__name__.removeprefix("dlcourse.") for m in MODULES}
    assert in_scope <= listed, (
        f"new modules {sorted(in_scope - listed)}: add them to MODULES with bad-input cases"
    )
