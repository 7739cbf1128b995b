"""Prepared student submissions for the grading tests.

Each one is the released notebook with every answer cell filled in with the reference
solution, except the cells in ``answers``: some plainly wrong, some hard-coded to return
the visible tests' expected values whatever the input (they must pass the visible tests
and lose the hidden ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mixed:
    """A submission with some answers replaced (the rest are the reference solution).

    ``hardcoded``: visible-test cell → hidden-test cell of a task whose answer only fits the
    visible examples (the visible cell must pass, the hidden one fail).
    ``wrong``: other test cells that must fail (a plain bug, or knock-on failures).
    """

    answers: dict[str, str]
    hardcoded: dict[str, str] = field(default_factory=dict)
    wrong: set[str] = field(default_factory=set)

    @property
    def failing(self) -> set[str]:
        return set(self.hardcoded.values()) | self.wrong


MIXED: dict[str, Mixed] = {
    "perceptron": Mixed(
        answers={
            # returns the visible test's expected labels, whatever the input
            "predict": """
def predict(w, b, X):
    return torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
""",
            # bug: one epoch only, and claims convergence
            "train_perceptron": """
def train_perceptron(X, y, max_epochs=100):
    w, b, updates = torch.zeros(X.shape[1], dtype=torch.float64), 0.0, 0
    for x_i, y_i in zip(X, y.tolist()):
        w, b, mistake = pla_update(w, b, x_i, y_i)
        updates += mistake
    return w, b, updates, True
""",
        },
        hardcoded={"predict_visible": "predict_hidden"},
        wrong={"train_perceptron_visible", "train_perceptron_hidden"},
    ),
    "activations": Mixed(
        answers={
            # the visible test's expected values, computed at the visible test's inputs
            "derivatives": """
_A = torch.tensor([-3.0, -0.5, 0.0, 1.0, 4.0], dtype=torch.float64)

def d_sigmoid(a):
    s = 1 / (1 + torch.exp(-_A))
    return s * (1 - s)

def d_tanh(a):
    return 1 / torch.cosh(_A) ** 2

def d_relu(a):
    return torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
""",
            # right product, but mismatched shapes raise RuntimeError, not the ValueError asked for
            "collapse": """
def collapse(weights):
    return torch.linalg.multi_dot(weights) if len(weights) > 1 else weights[0]
""",
            "quiz": 'answer = "A"',
            "why_nonlinear": "Because linear layers stack into one linear layer.",
        },
        hardcoded={"derivatives_visible": "derivatives_hidden"},
        wrong={"collapse_visible", "quiz_check"},
    ),
    "mlp": Mixed(
        answers={
            "forward": """
def forward(X, W1, b1, W2, b2, phi=torch.relu):
    return torch.tensor([[2.75], [0.25]], dtype=torch.float64)
""",
            # bug: nn.Linear's weight is W transposed, and this copies W itself
            "to_sequential": """
def to_sequential(W1, b1, W2, b2, activation):
    first, second = nn.Linear(*W1.shape, dtype=W1.dtype), nn.Linear(*W2.shape, dtype=W2.dtype)
    with torch.no_grad():
        first.weight.copy_(W1)
        first.bias.copy_(b1)
        second.weight.copy_(W2)
        second.bias.copy_(b2)
    return nn.Sequential(first, activation, second)
""",
        },
        hardcoded={"forward_visible": "forward_hidden"},
        wrong={"to_sequential_visible", "to_sequential_hidden"},
    ),
    "backprop": Mixed(
        answers={
            # bug: does not put x back after perturbing it
            "numerical_gradient": """
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros(x.shape, dtype=torch.float64)
    flat = x.view(-1)
    for i in range(x.numel()):
        flat[i] += eps
        f_plus = float(f(x))
        flat[i] -= 2 * eps
        f_minus = float(f(x))
        grad.view(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad
""",
            # reports what the visible test wants to see, checking nothing
            "gradient_check": """
def gradient_check(X, T, params):
    return {"W1": 0.0, "b1": 0.0, "W2": 0.0, "b2": 0.0}
""",
        },
        hardcoded={"gradient_check_visible": "gradient_check_hidden"},
        wrong={"numerical_gradient_visible", "numerical_gradient_hidden"},
    ),
    "convolution": Mixed(
        answers={
            # the visible answer for the first example, PyTorch's conv2d for the rest
            "conv2d": """
def conv2d(x, weight, bias=None, stride=1, padding=0):
    if x.shape == (1, 1, 4, 4):
        return torch.full((1, 1, 3, 3), -5.0)
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)
""",
            # bug: always stride 1
            "max_pool2d": """
def max_pool2d(x, kernel_size, stride=None):
    N, C, H, W = x.shape
    k = kernel_size
    return torch.stack([torch.stack([x[:, :, i:i + k, j:j + k].amax(dim=(2, 3)) for j in range(W - k + 1)], -1)
                        for i in range(H - k + 1)], -2)
""",
        },
        hardcoded={"conv2d_visible": "conv2d_hidden"},
        wrong={"max_pool2d_visible", "max_pool2d_hidden"},
    ),
    "lenet5": Mixed(
        answers={
            # bug: ReLU instead of tanh (the shapes and counts are right)
            "lenet5": """
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.s2 = nn.Conv2d(1, 6, 5), Subsampling(6)
        self.c3, self.s4 = nn.Conv2d(6, 16, 5), Subsampling(16)
        self.c5, self.f6, self.output = nn.Conv2d(16, 120, 5), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        for layer in (self.c1, self.s2, self.c3, self.s4, self.c5):
            x = torch.relu(layer(x))
        return self.output(torch.relu(self.f6(x.flatten(1))))
""",
            "layer_table": """
def layer_table(model, input_shape):
    return [("conv", (4, 6, 6), 40), ("pool", (4, 3, 3), 0), ("fc", (5,), 185)]
""",
        },
        hardcoded={"layer_table_visible": "layer_table_hidden"},
        wrong={"lenet5_hidden"},
    ),
    "cifar10": Mixed(
        answers={
            # the right layers and parameter count, but the output ignores the image
            "lenet": """
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        return self.fc3(self.fc2(self.fc1(torch.zeros(x.shape[0], 400))))
""",
            "analysis": "It got better with more epochs.",
        },
        hardcoded={"lenet_visible": "lenet_hidden"},
        wrong={"retrain"},
    ),
}
