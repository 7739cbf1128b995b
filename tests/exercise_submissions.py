"""Prepared student submissions for the grading tests.

Each one is the released notebook with every answer cell filled in with the reference
solution, except the cells in ``answers``.

``MIXED``: some answers plainly wrong, some hard-coded to the visible tests' expected values
(they must pass the visible tests and lose the hidden ones): a partly right submission.

``VARIATIONS``: the reference solution rewritten in harmless ways a student may well choose
(a 0-d tensor where a float is asked for, float64 inputs, another valid order of operations,
``torch.no_grad()`` in a numerical gradient, another algorithm for the same result). The
instructions allow every one of them, so each must keep full marks.

``CAPSTONE_CHEATS``: capstone submissions the retrain must give 0 (a recipe too weak for the
budget, training on the test images, a network over the parameter budget).
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
            # the visible test's answer (2 mistakes), whatever the input
            "mistakes": """
def mistakes(w, b, X, y):
    return 2
""",
            # bug: divides by the number of epochs, not by the number of visits
            "averaged": """
def averaged(X, y, epochs):
    X, y = X.double(), y.double()
    w, b = torch.zeros(X.shape[1], dtype=torch.float64), 0.0
    w_sum, b_sum = torch.zeros_like(w), 0.0
    for _ in range(epochs):
        for x_i, y_i in zip(X, y.tolist()):
            if y_i * (float(w @ x_i) + b) <= 0:
                w, b = w + y_i * x_i, b + y_i
            w_sum, b_sum = w_sum + w, b_sum + b
    return w_sum / epochs, b_sum / epochs
""",
        },
        hardcoded={"mistakes_visible": "mistakes_hidden"},
        # the pocket counts mistakes with the hard-coded function: it never finds a better one
        wrong={"pocket_visible", "pocket_hidden", "averaged_visible", "averaged_hidden"},
    ),
    "mlp": Mixed(
        answers={
            # the visible example's answer, and no max-subtraction otherwise (nan for large logits)
            "softmax": """
def softmax(Z):
    if Z.shape == (2, 3) and float(Z[1, 0]) == 1000.0:
        return torch.tensor([[0.09003057317038046, 0.24472847105479764, 0.6652409557748219], [1.0, 0.0, 0.0]], dtype=Z.dtype)
    e = torch.exp(Z)
    return e / e.sum(dim=1, keepdim=True)
""",
            # bug: the log of the softmax, -inf when a probability underflows
            "cross_entropy": """
def cross_entropy(Z, y):
    return -torch.log(softmax(Z)[torch.arange(len(y)), y]).mean()
""",
        },
        hardcoded={"softmax_visible": "softmax_hidden"},
        wrong={"cross_entropy_visible", "cross_entropy_hidden"},
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
            # the formula as written: math.exp overflows for large negative inputs
            "sigmoid": """
def value_sigmoid(a):
    s = 1.0 / (1.0 + math.exp(-a.data))
    out = Value(s, (a,))

    def _backward():
        a.grad += s * (1.0 - s) * out.grad

    out._backward = _backward
    return out
""",
            "derivation": "By the chain rule the gradient is -y x sigma(-y w.x).",
        },
        wrong={"numerical_gradient_visible", "numerical_gradient_hidden", "sigmoid_visible", "sigmoid_hidden"},
    ),
    "activations": Mixed(
        answers={
            # the formulas as written: log σ(-800) = -inf, tanh(1000) = nan
            "functions": """
def sigmoid(a):
    return 1 / (1 + torch.exp(-a))

def log_sigmoid(a):
    return torch.log(sigmoid(a))

def tanh(a):
    return (torch.exp(a) - torch.exp(-a)) / (torch.exp(a) + torch.exp(-a))
""",
            # the visible test's numbers for depth 4, and one identity layer right
            "gradient_norms": """
def gradient_norms(phi, d_phi, depth, width, seed):
    if depth == 4:
        return [0.0030744277090838123, 0.0788332936860555, 0.2877453561436341, 1.0598662642916215]
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, width, generator=g, dtype=torch.float64)
    return [float(torch.linalg.matrix_norm(X.T @ torch.full((64, width), 1 / 64, dtype=torch.float64)))] * depth
""",
            "quiz": 'answer = "A"',
            "why_vanish": "The gradients get smaller.",
        },
        hardcoded={"gradient_norms_visible": "gradient_norms_hidden"},
        wrong={"functions_visible", "functions_hidden", "quiz_check"},
    ),
    "convolution": Mixed(
        answers={
            # PyTorch's conv2d: right numbers, but not from scratch
            "conv2d": """
def conv2d(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)
""",
            # bug: ignores the stride (non-overlapping windows only)
            "max_pool2d_backward": """
def max_pool2d_backward(x, grad_out, kernel_size, stride=None):
    k = kernel_size
    grad_x = torch.zeros_like(x)
    N, C, H, W = x.shape
    for i in range(H // k):
        for j in range(W // k):
            window = x[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(N, C, k * k)
            first = window.argmax(dim=2)
            for n in range(N):
                for c in range(C):
                    r, s = divmod(int(first[n, c]), k)
                    if i < grad_out.shape[2] and j < grad_out.shape[3]:
                        grad_x[n, c, i * k + r, j * k + s] += grad_out[n, c, i, j]
    return grad_x
""",
        },
        hardcoded={"conv2d_visible": "conv2d_hidden"},
        wrong={"max_pool2d_backward_visible", "max_pool2d_backward_hidden"},
    ),
    "lenet5": Mixed(
        answers={
            # right for the maps the visible test looks at, wrong for maps 12-14
            "c3_mask": """
def c3_mask():
    mask = torch.zeros(6, 16, dtype=torch.bool)
    for j in range(6):
        mask[[j, (j + 1) % 6, (j + 2) % 6], j] = True
        mask[[j, (j + 1) % 6, (j + 2) % 6, (j + 3) % 6], 6 + j] = True
    for j in range(3):
        mask[[j, (j + 2) % 6, (j + 3) % 6, (j + 5) % 6], 12 + j] = True
    mask[:, 15] = True
    return mask
""",
            # bug: leaves the model in evaluation mode
            "layer_counts": """
def layer_counts(model, input_shape):
    rows, calls = [], {name: [] for name, _ in model.named_children()}
    handles = [child.register_forward_hook(lambda m, i, o, name=name: calls[name].append(o))
               for name, child in model.named_children()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for handle in handles:
        handle.remove()
    for name, child in model.named_children():
        params = child.n_params() if hasattr(child, "n_params") else sum(p.numel() for p in child.parameters() if p.requires_grad)
        connections = 0
        for out in calls[name]:
            if isinstance(child, (nn.Conv2d, MaskedConv2d)):
                connections += out.shape[2] * out.shape[3] * params
            elif isinstance(child, nn.Linear):
                connections += params
            elif isinstance(child, Subsampling):
                connections += out[0].numel() * 5
        rows.append((name, int(params), int(connections)))
    return rows
""",
        },
        hardcoded={"c3_mask_visible": "c3_mask_hidden"},
        wrong={"layer_counts_visible", "layer_counts_hidden"},
    ),
    "cifar10": Mixed(
        answers={
            # a valid recipe, but far too weak for the budget: one epoch, no augmentation
            "recipe": """
def make_model():
    return LeNet()

RECIPE = dict(epochs=1, batch_size=256, lr=0.05, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
              schedule="onecycle", label_smoothing=0.0, augment=training.Augment(crop_padding=0, flip=False))
""",
            "analysis": "It got better with more epochs.",
        },
        wrong={"retrain"},
    ),
}


VARIATIONS: dict[str, dict[str, str]] = {
    "perceptron": {
        # float64 throughout by .to(), b as a 0-d tensor, in-place updates on fresh copies
        "mistakes": """
def mistakes(w, b, X, y):
    b = torch.as_tensor(b, dtype=torch.float64)
    scores = torch.mv(X.to(torch.float64), w.to(torch.float64)) + b
    return (scores * y.to(torch.float64) <= 0).sum().item()
""",
        "pocket": """
def pocket(X, y, epochs):
    X, y = X.to(torch.float64), y.to(torch.float64)
    w, b = X.new_zeros(X.shape[1]), torch.tensor(0.0, dtype=torch.float64)
    best = (w.clone(), b.clone(), mistakes(w, b, X, y))
    for epoch in range(epochs):
        for i in range(X.shape[0]):
            if y[i] * (X[i] @ w + b) <= 0:
                w = w + y[i] * X[i]
                b = b + y[i]
                count = mistakes(w, b, X, y)
                if count < best[2]:
                    best = (w.clone(), b.clone(), count)
    return best[0], best[1], w, b
""",
        "averaged": """
def averaged(X, y, epochs):
    X, y = X.to(torch.float64), y.to(torch.float64)
    w, b = torch.zeros(X.shape[1], dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    history = []
    for _ in range(epochs):
        for i in range(len(y)):
            if y[i] * (w @ X[i] + b) <= 0:
                w, b = w + y[i] * X[i], b + y[i]
            history.append(torch.cat([w, b.view(1)]))
    mean = torch.stack(history).mean(dim=0)
    return mean[:-1], mean[-1]
""",
        "geometric_margin": """
def geometric_margin(w, b, X, y):
    if not bool(w.abs().sum() > 0):
        raise ValueError("w must not be zero")
    distances = (X.double() @ w.double() + float(b)) / w.double().norm()
    return (distances * y.double()).min().item()
""",
    },
    "mlp": {
        "softmax": """
def softmax(Z):
    shifted = Z - Z.max(dim=1, keepdim=True).values
    return shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
""",
        "cross_entropy": """
def cross_entropy(Z, y):
    m = Z.max(dim=1).values
    lse = m + (Z - m[:, None]).exp().sum(dim=1).log()
    return torch.mean(lse - Z[torch.arange(Z.shape[0]), y])
""",
        "cross_entropy_grad": """
def cross_entropy_grad(Z, y):
    onehot = torch.zeros_like(Z)
    onehot[torch.arange(len(y)), y] = 1.0
    return (softmax(Z) - onehot) / Z.shape[0]
""",
        # the gradients of one forward pass, then in-place updates, first layer first
        "train_xor": """
def train_xor(hidden, lr, steps, seed):
    X, T = xor_data01()
    y = T.flatten().long()
    g = torch.Generator().manual_seed(seed)
    p = {"W1": torch.randn(2, hidden, generator=g, dtype=torch.float64)}
    p["W2"] = torch.randn(hidden, 2, generator=g, dtype=torch.float64)
    p["b1"], p["b2"] = torch.zeros(hidden, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    losses = []
    for step in range(steps):
        H = (X @ p["W1"] + p["b1"]).tanh()
        Z = H @ p["W2"] + p["b2"]
        losses.append(cross_entropy(Z, y).item())
        dZ = cross_entropy_grad(Z, y)
        dA = dZ @ p["W2"].T * (1 - H * H)
        grads = {"W1": X.T @ dA, "b1": dA.sum(0), "W2": H.T @ dZ, "b2": dZ.sum(0)}
        for name in ("W1", "b1", "W2", "b2"):
            p[name] -= lr * grads[name]
    return {k: p[k] for k in ("W1", "b1", "W2", "b2")}, losses
""",
    },
    "backprop": {
        # torch.no_grad() and in-place perturbation that puts x back: allowed
        "numerical_gradient": """
def numerical_gradient(f, x, eps=1e-6):
    grad = torch.zeros_like(x, dtype=torch.float64)
    with torch.no_grad():
        flat = x.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = float(f(x))
            flat[i] = old - eps
            down = float(f(x))
            flat[i] = old
            grad.view(-1)[i] = (up - down) / (2 * eps)
    return grad
""",
        "sigmoid": """
def value_sigmoid(a):
    z = math.exp(-abs(a.data))
    s = 1 / (1 + z) if a.data >= 0 else z / (1 + z)
    out = Value(s, (a,))
    def _backward():
        a.grad = a.grad + out.grad * out.data * (1 - out.data)
    out._backward = _backward
    return out
""",
        "logistic_grad": """
def logistic_grad(w, x, y):
    m = y * torch.dot(w, x)
    return (torch.sigmoid(m) - 1) * y * x
""",
    },
    "activations": {
        "functions": """
def sigmoid(a):
    z = torch.exp(-torch.abs(a))
    return torch.where(a < 0, z / (1 + z), 1 / (1 + z))

def log_sigmoid(a):
    return torch.minimum(a, torch.zeros_like(a)) - torch.log1p(torch.exp(-torch.abs(a)))

def tanh(a):
    e = torch.exp(-2 * a.abs())
    return a.sign() * torch.expm1(-2 * a.abs()).neg() / (1 + e)
""",
        "gradient_norms": """
def gradient_norms(phi, d_phi, depth, width, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, width, generator=g, dtype=torch.float64)
    Ws = []
    for _ in range(depth):
        Ws.append(torch.randn(width, width, generator=g, dtype=torch.float64) / width**0.5)
    inputs, pre = [], []
    h = X
    for W in Ws:
        inputs.append(h)
        pre.append(h @ W)
        h = phi(pre[-1])
    upstream = torch.ones_like(h) / X.shape[0]
    norms = [0.0] * depth
    for l in range(depth - 1, -1, -1):
        delta = upstream * d_phi(pre[l])
        norms[l] = (inputs[l].T @ delta).pow(2).sum().sqrt().item()
        upstream = delta @ Ws[l].T
    return norms
""",
        "quiz": 'answer = " b "',
    },
    "convolution": {
        # im2col with Tensor.unfold and one matrix product
        "conv2d": """
def conv2d(x, weight, bias=None, stride=1, padding=0):
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    O, C, kh, kw = weight.shape
    x = F.pad(x, (pw, pw, ph, ph))
    windows = x.unfold(2, kh, sh).unfold(3, kw, sw)  # N, C, oh, ow, kh, kw
    y = torch.einsum("ncijab,ocab->noij", windows, weight)
    return y if bias is None else y + bias[None, :, None, None]
""",
        "max_pool2d_backward": """
def max_pool2d_backward(x, grad_out, kernel_size, stride=None):
    s = stride or kernel_size
    k = kernel_size
    grad_x = torch.zeros_like(x)
    N, C, oh, ow = grad_out.shape
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                    best = None
                    for r in range(k):
                        for q in range(k):
                            if best is None or window[r, q] > window[best]:
                                best = (r, q)
                    grad_x[n, c, i * s + best[0], j * s + best[1]] += grad_out[n, c, i, j]
    return grad_x
""",
    },
    "lenet5": {
        "c3_mask": """
def c3_mask():
    table = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
             [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
             [0, 1, 3, 4], [1, 2, 4, 5], [2, 3, 5, 0], [0, 1, 2, 3, 4, 5]]
    mask = torch.zeros(6, 16, dtype=torch.bool)
    for j, inputs in enumerate(table):
        mask[inputs, j] = True
    return mask
""",
        # a float mask buffer, nn.Conv2d's own initialisation
        "masked_conv": """
class MaskedConv2d(nn.Module):
    def __init__(self, mask, kernel_size):
        super().__init__()
        conv = nn.Conv2d(mask.shape[0], mask.shape[1], kernel_size)
        self.weight, self.bias = conv.weight, conv.bias
        self.register_buffer("mask", mask.clone())

    def forward(self, x):
        w = self.weight * self.mask.t().float().unsqueeze(-1).unsqueeze(-1)
        return F.conv2d(x, w, self.bias)

    def n_params(self):
        return int(self.mask.sum().item() * self.weight[0, 0].numel() + len(self.bias))
""",
        "layer_counts": """
def layer_counts(model, input_shape):
    children = list(model.named_children())
    conns = {name: 0 for name, _ in children}
    def params_of(child):
        return child.n_params() if hasattr(child, "n_params") else sum(p.numel() for p in child.parameters() if p.requires_grad)
    def make_hook(name):
        def hook(module, inputs, output):
            if isinstance(module, (nn.Conv2d, MaskedConv2d)):
                conns[name] += output[0, 0].numel() * params_of(module)
            elif isinstance(module, nn.Linear):
                conns[name] += params_of(module)
            elif isinstance(module, Subsampling):
                conns[name] += 5 * output.shape[1] * output.shape[2] * output.shape[3]
        return hook
    handles = [child.register_forward_hook(make_hook(name)) for name, child in children]
    mode = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros((1,) + tuple(input_shape)))
    model.train(mode)
    for h in handles:
        h.remove()
    return [(name, int(params_of(child)), int(conns[name])) for name, child in children]
""",
    },
    "cifar10": {
        # gradients cleared before the forward pass (set_to_none), sums kept as tensors
        "train_one_epoch": """
def train_one_epoch(model, train, optimizer, schedule, augment, batch_size, generator, loss_fn):
    model.train()
    order = torch.randperm(len(train), generator=generator)
    loss_sum, hits = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.int64)
    for start in range(0, len(train), batch_size):
        idx = order[start:start + batch_size]
        images = augment(train.images[idx], generator)
        x, y = train.normalize(images), train.labels[idx]
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.detach().double() * y.numel()
        hits += (out.detach().argmax(1) == y).sum()
    return float(loss_sum / len(train)), float(hits) / len(train)
""",
    },
}


CAPSTONE_CHEATS: dict[str, tuple[dict[str, str], str]] = {
    # student -> (answers, words the retrain cell's error must contain)
    "weak_recipe": ({"recipe": MIXED["cifar10"].answers["recipe"]}, "66.05%"),
    "trains_on_test": ({"train_model": """
def train_model(model, recipe, train, test, seed=0):
    generator = training.set_seed(seed)
    optimizer = training.make_optimizer(model, recipe["optimizer"], recipe["lr"], recipe["momentum"], recipe["weight_decay"])
    both = data.Split(torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels]), train.mean, train.std)
    schedule = training.make_schedule(optimizer, recipe["schedule"], recipe["lr"], recipe["epochs"] * math.ceil(len(both) / recipe["batch_size"]))
    history = []
    for epoch in range(1, recipe["epochs"] + 1):
        loss, acc = train_one_epoch(model, both, optimizer, schedule, recipe["augment"], recipe["batch_size"], generator, F.cross_entropy)
        test_loss, test_acc = training.evaluate(model, test)
        history.append({"epoch": epoch, "train_loss": loss, "train_acc": acc, "test_loss": test_loss, "test_acc": test_acc})
    return history
"""}, "test images"),
    "too_big": ({"recipe": """
class Wide(LeNet):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(400, 200), nn.Linear(200, 84)

def make_model():
    return Wide()

RECIPE = dict(epochs=20, batch_size=128, lr=0.05, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
              schedule="onecycle", label_smoothing=0.1, augment=training.Augment(crop_padding=2, flip=True))
"""}, "parameters"),
}
