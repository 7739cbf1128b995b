"""A small, fast training loop on preloaded tensors.

Why it is fast on a laptop: the data set is one uint8 tensor in memory, a batch is an
index into it, and augmentation (random crop with padding, horizontal flip) is done on
the whole batch at once with tensor indexing. No per-sample Python, no PIL, no workers:
the model's own compute is almost all the time an epoch takes.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .data import Split
from .models import rbf_loss

LossFn = Callable[[Tensor, Tensor], Tensor]


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, torch (CPU and CUDA) and return a generator for shuffling/augmenting."""
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------- augmentation

def random_crop(x: Tensor, padding: int, generator: torch.Generator | None = None) -> Tensor:
    """Pad a batch N×C×H×W by ``padding`` zeros and cut a random H×W window per image.

    One gather for the whole batch: each image gets its own offset (dy, dx).
    """
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # N×1×H×1
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # N×1×1×W
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left–right with probability 1/2."""
    flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@dataclass(frozen=True)
class Augment:
    """Whole-batch augmentation: crop padding in pixels (0 = off) and horizontal flips."""

    crop_padding: int = 4
    flip: bool = True

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = random_crop(x, self.crop_padding, generator)
        return random_flip(x, generator) if self.flip else x


NO_AUGMENT = Augment(crop_padding=0, flip=False)
DIGITS_AUGMENT = Augment(crop_padding=2, flip=False)  # a mirrored 2 is not a 2


# --------------------------------------------------------------------------- history

@dataclass
class Epoch:
    """What one epoch measured."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    lr: float
    seconds: float


@dataclass
class History:
    """Per-epoch losses, accuracies and wall time; ``plot()`` draws the curves."""

    epochs: list[Epoch] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, i: int) -> Epoch:
        return self.epochs[i]

    def column(self, name: str) -> list[float]:
        """One field across epochs, e.g. ``history.column("test_acc")``."""
        return [getattr(e, name) for e in self.epochs]

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    @property
    def final(self) -> Epoch:
        return self.epochs[-1]

    def to_dicts(self) -> list[dict[str, float | int | None]]:
        return [asdict(e) for e in self.epochs]

    def plot(self, title: str | None = None):  # -> matplotlib Figure
        from .plots import training_curves

        return training_curves(self, title=title)


# --------------------------------------------------------------------------- evaluation

def scores(model: nn.Module, output: Tensor) -> Tensor:
    """Turn a model's output into "higher is better" class scores.

    LeNet-5's RBF output units give *penalties* (distance to each digit's code), so the
    best class is the smallest one; every other model here outputs logits.
    """
    return -output if _rbf_head(model) else output


def default_loss(model: nn.Module) -> LossFn:
    """LeNet-5's RBF loss (the paper's eq. 9) for its RBF head, else cross-entropy."""
    return rbf_loss if _rbf_head(model) else F.cross_entropy


def _rbf_head(model: nn.Module) -> bool:
    return getattr(model, "head", None) == "rbf"


@torch.no_grad()
def predict(model: nn.Module, split: Split, batch_size: int = 1000,
            device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Predicted labels and class scores (N×classes, on the CPU) for a whole split."""
    device = device or next(model.parameters()).device
    model.eval()
    outs = []
    for start in range(0, len(split), batch_size):
        x = split.normalize(split.images[start:start + batch_size].to(device))
        outs.append(scores(model, model(x)).float().cpu())
    out = torch.cat(outs)
    return out.argmax(1), out


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, loss_fn: LossFn | None = None,
             batch_size: int = 1000, device: torch.device | None = None) -> tuple[float, float]:
    """Mean loss and accuracy (0–1) of ``model`` on ``split``."""
    device = device or next(model.parameters()).device
    loss_fn = loss_fn or default_loss(model)
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(split), batch_size):
        x = split.normalize(split.images[start:start + batch_size].to(device))
        y = split.labels[start:start + batch_size].to(device)
        out = model(x)
        total_loss += loss_fn(out, y).item() * len(y)
        correct += (scores(model, out).argmax(1) == y).sum().item()
    return total_loss / len(split), correct / len(split)


# --------------------------------------------------------------------------- training

def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum), Adam or AdamW; weight decay skips biases and 1-D gains."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', not {name!r}")


def make_schedule(optimizer: torch.optim.Optimizer, name: str, lr: float,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning-rate schedule: 'onecycle', 'cosine' or 'constant'."""
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=0.25)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"schedule must be 'onecycle', 'cosine' or 'constant', not {name!r}")


def fit(
    model: nn.Module,
    train: Split,
    test: Split | None = None,
    epochs: int = 10,
    *,
    batch_size: int = 128,
    lr: float = 0.05,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    schedule: str = "onecycle",
    label_smoothing: float = 0.0,
    augment: Augment = NO_AUGMENT,
    loss_fn: LossFn | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` on ``train`` for ``epochs``, evaluating on ``test`` after each.

    ``seed`` fixes the shuffling and the augmentation; build the model right after
    ``set_seed(seed)`` to fix its initial weights too. Same seed, same machine → same
    numbers.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if len(train) == 0:
        raise ValueError("the training split is empty")
    device = torch.device(device) if device is not None else default_device()
    generator = set_seed(seed)
    model.to(device)
    if loss_fn is None:
        base = default_loss(model)
        loss_fn = (lambda out, y: F.cross_entropy(out, y, label_smoothing=label_smoothing)) \
            if base is F.cross_entropy else base
    steps_per_epoch = math.ceil(len(train) / batch_size)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    sched = make_schedule(opt, schedule, lr, epochs * steps_per_epoch)
    images, labels = train.images.to(device), train.labels.to(device)
    history = History()
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, file=sys.stderr,
               unit="batch", mininterval=1.0, leave=False)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=generator).to(device)
        total_loss, correct = 0.0, 0
        for i in range(0, len(train), batch_size):
            idx = order[i:i + batch_size]
            x = augment(train.normalize(images[idx]), generator)
            y = labels[idx]
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(y)
            correct += (scores(model, out).argmax(1) == y).sum().item()
            bar.update()
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, test, loss_fn, device=device) if test is not None else (None, None)
        history.epochs.append(Epoch(epoch, total_loss / len(train), correct / len(train),
                                    test_loss, test_acc, opt.param_groups[0]["lr"], seconds))
        bar.set_postfix(loss=f"{total_loss / len(train):.3f}",
                        test_acc="-" if test_acc is None else f"{test_acc:.3f}")
    bar.close()
    return history
