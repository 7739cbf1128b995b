"""A small, fast training loop on preloaded tensors.

Why it is fast on a laptop: the data set is one uint8 tensor in memory, stored once per
run padded, pixel by pixel and with its mirror images (``AugmentedImages``), so an
augmented batch (random crop with padding, horizontal flip) is one copy of short runs of
bytes, normalised straight into the dtype the model computes in. No per-sample Python,
no PIL, no workers: the model's own compute is almost all the time an epoch takes
(``bench/throughput.py`` measures both).

Threads on a shared CPU. By default each OpenMP thread of torch *spins* while it waits
for the others. On a quiet machine that is the fastest; when other programs also want
the cores, the spinning threads steal the cores from the very threads they wait for, and
an epoch can get many times slower. ``GOMP_SPINCOUNT=10000`` in the environment *before*
torch is imported (libgomp, torch's OpenMP on Linux) bounds the spinning at a small cost
when quiet (``bench/results/fit-speed-2threads-{default,spin10000}.json``, from
``bench/fit_speed.py``); ``OMP_WAIT_POLICY=PASSIVE`` or one thread suit a busy machine.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from ._checks import check_bool, check_callable, check_int, check_module, check_real, check_tensor, describe
from .data import Split
from .models import rbf_loss

__all__ = [
    "DIGITS_AUGMENT",
    "NO_AUGMENT",
    "Augment",
    "AugmentedImages",
    "Epoch",
    "History",
    "crop",
    "default_device",
    "default_loss",
    "evaluate",
    "fast_settings",
    "fit",
    "make_optimizer",
    "make_schedule",
    "native_bf16",
    "predict",
    "random_crop",
    "random_flip",
    "scores",
    "set_seed",
    "shuffled_batches",
    "train_epoch",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, torch (CPU and CUDA) and return a generator for shuffling/augmenting."""
    check_int(seed, "seed")
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------- augmentation

def crop(pixels: Tensor, index: Tensor, top: Tensor, left: Tensor, height: int, width: int) -> Tensor:
    """The height×width window at (top[k], left[k]) of image index[k], for every k.

    ``pixels`` holds images pixel by pixel, N×H×W×C. In that layout one row of a window is
    width·C consecutive values, so a crop of K images is K·height copies of short runs: one
    ``index_select`` on a view whose i-th row is the run that starts at value i
    (``as_strided`` makes such overlapping rows without copying anything).
    """
    _check_crop(pixels, index, top, left, height, width)
    _, h, w, c = pixels.shape
    if len(index) == 0:
        return pixels.new_empty(0, height, width, c)
    flat = pixels.contiguous().view(-1)
    runs = flat.as_strided((flat.numel() - width * c + 1, width * c), (1, 1))
    rows = index[:, None] * h + top[:, None] + torch.arange(height, device=pixels.device)  # K×height
    starts = (rows * w + left[:, None]) * c
    return runs.index_select(0, starts.view(-1)).view(len(index), height, width, c)


def _within(t: Tensor, high: int) -> bool:
    """Whether every value of ``t`` lies in 0…high. Read only on the CPU: on a GPU reading
    the values would make every batch wait for the device."""
    if len(t) == 0 or t.device.type != "cpu":
        return True
    low, top = torch.aminmax(t)
    return 0 <= int(low) and int(top) <= high


def _check_crop(pixels: Tensor, index: Tensor, top: Tensor, left: Tensor, height: int, width: int) -> None:
    check_tensor(pixels, "pixels", dim=4, shape="N×H×W×C")
    check_int(height, "height", minimum=1)
    check_int(width, "width", minimum=1)
    _, h, w, _ = pixels.shape
    for name, t, limit in (("index", index, len(pixels) - 1), ("top", top, h - height), ("left", left, w - width)):
        check_tensor(t, name, dim=1)
        if t.shape != index.shape or t.is_floating_point() or t.dtype == torch.bool:
            raise ValueError(f"{name} must be integers, one per window ({len(index)}), got {describe(t)}")
        if not _within(t, limit):
            raise ValueError(f"{name} puts a {height}×{width} window outside the {len(pixels)} images of "
                             f"{h}×{w} pixels: its values must lie in 0…{limit}")


@dataclass(frozen=True)
class Augment:
    """Whole-batch augmentation: crop padding in pixels (0 = off) and horizontal flips.

    Each image is shifted by its own random amount (pad with ``crop_padding`` black
    pixels, cut a random window of the original size) and, with ``flip``, mirrored with
    probability 1/2. ``fit`` applies it to the uint8 images before normalising them, so the
    padding is black (pixel value 0), as in torchvision's ``RandomCrop(32, padding=4)``,
    and on MNIST it is the background.
    """

    crop_padding: int = 4
    flip: bool = True

    def __post_init__(self) -> None:
        check_int(self.crop_padding, "crop_padding")
        check_bool(self.flip, "flip")
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding must be 0 (off) or a positive number of pixels, got {self.crop_padding}")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch N×C×H×W (any dtype); returns a new batch of the same shape."""
        check_tensor(x, "x", dim=4, shape="N×C×H×W")
        if self == NO_AUGMENT:
            return x
        batch = AugmentedImages(x, self).batch(torch.arange(len(x), device=x.device), generator)
        return batch.contiguous()


NO_AUGMENT = Augment(crop_padding=0, flip=False)
DIGITS_AUGMENT = Augment(crop_padding=2, flip=False)  # a mirrored 2 is not a 2


def _check_augment(augment: Augment) -> None:
    if not isinstance(augment, Augment):
        raise TypeError(f"augment must be a dlcourse.training.Augment, e.g. Augment(crop_padding=2, flip=True), "
                        f"got {describe(augment)}")


class AugmentedImages:
    """Images stored so that an augmented batch is one copy: what ``fit`` builds once per run.

    * Pixel by pixel, N×H×W×C (channels last): a row of an image is W·C consecutive values,
      which ``crop`` copies as one run, and batches come out in the layout oneDNN's
      convolutions prefer.
    * Padded once, with ``augment.crop_padding`` black pixels, instead of in every batch.
    * With flips, the mirror image of every image is stored after the originals: flipping
      an image is reading its other copy.

    The price is memory: CIFAR-10's 50,000 training images are 150 MB as bytes; padded by
    4 pixels and with their mirror images, 480 MB.
    """

    def __init__(self, images: Tensor, augment: Augment = NO_AUGMENT) -> None:
        check_tensor(images, "images", dim=4, shape="N×C×H×W")
        _check_augment(augment)
        self.augment, self.count = augment, len(images)
        self.height, self.width = images.shape[2], images.shape[3]
        pixels = images.permute(0, 2, 3, 1)  # N×H×W×C (a view)
        if augment.flip:
            pixels = torch.cat([pixels, pixels.flip(2)])  # image i + count is image i mirrored
        p = augment.crop_padding
        self.pixels = F.pad(pixels, (0, 0, p, p, p, p)).contiguous()

    def batch(self, index: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Images ``index``, each shifted (and mirrored) at random: N×C×H×W, stored channels-last."""
        check_tensor(index, "index", dim=1)
        if not _within(index, self.count - 1):
            raise ValueError(f"index must pick among the {self.count} stored images (0…{self.count - 1}), "
                             f"got values from {int(index.min())} to {int(index.max())}")
        n, p, device = len(index), self.augment.crop_padding, self.pixels.device
        # Random numbers are drawn in a fixed order (window rows, columns, then mirrors) and
        # only for what is on: without augmentation fit shuffles exactly as a plain loop does.
        top = left = torch.zeros(n, dtype=torch.long)
        if p:
            top = torch.randint(0, 2 * p + 1, (n,), generator=generator)
            left = torch.randint(0, 2 * p + 1, (n,), generator=generator)
        if self.augment.flip:
            mirrored = torch.rand(n, generator=generator) < 0.5
            index = index + self.count * mirrored.to(device)
            left = torch.where(mirrored, 2 * p - left, left)  # the same window, seen in the mirror image
        top, left = top.to(device), left.to(device)
        return crop(self.pixels, index, top, left, self.height, self.width).permute(0, 3, 1, 2)


def random_crop(x: Tensor, padding: int, generator: torch.Generator | None = None) -> Tensor:
    """Pad a batch N×C×H×W by ``padding`` zeros and cut a random H×W window per image."""
    check_int(padding, "padding", minimum=0)
    return Augment(crop_padding=padding, flip=False)(x, generator)


def random_flip(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left–right with probability 1/2."""
    return Augment(crop_padding=0, flip=True)(x, generator)


# --------------------------------------------------------------------------- history

@dataclass
class Epoch:
    """What one epoch measured."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    lr: float  # the learning rate of the epoch's last step
    seconds: float  # wall-clock time of the epoch's training (not its evaluation)
    cpu_seconds: float | None = None  # CPU time of this process (all its threads) over the same


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
        fields = list(Epoch.__dataclass_fields__)
        if name not in fields:
            raise ValueError(f"name must be one of the columns {fields}, got {name!r}")
        return [getattr(e, name) for e in self.epochs]

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    @property
    def final(self) -> Epoch:
        if not self.epochs:
            raise ValueError("the history is empty: no epoch has been recorded yet")
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
    check_module(model)
    check_tensor(output, "output")
    return -output if _rbf_head(model) else output


def default_loss(model: nn.Module) -> LossFn:
    """LeNet-5's RBF loss (the paper's eq. 9) for its RBF head, else cross-entropy."""
    check_module(model)
    return rbf_loss if _rbf_head(model) else F.cross_entropy


def _rbf_head(model: nn.Module) -> bool:
    return getattr(model, "head", None) == "rbf"


@torch.no_grad()
def predict(model: nn.Module, split: Split, batch_size: int = 1000,
            device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Predicted labels and class scores (N×classes, on the CPU) for a whole split."""
    _check_split_args(model, split, "split", batch_size)
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
    _check_split_args(model, split, "split", batch_size)
    if loss_fn is not None:
        check_callable(loss_fn, "loss_fn")
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


def _check_split(split: Split, name: str) -> None:
    if not isinstance(split, Split):
        raise TypeError(f"{name} must be a dlcourse.data.Split, got {describe(split)}")
    if len(split) == 0:
        raise ValueError(f"{name} is an empty split (0 examples); it needs at least one")


def _check_split_args(model: nn.Module, split: Split, name: str, batch_size: int) -> None:
    check_module(model)
    _check_split(split, name)
    check_int(batch_size, "batch_size", minimum=1)


# --------------------------------------------------------------------------- training

def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum), Adam or AdamW; weight decay skips biases and 1-D gains.

    On the CPU and CUDA the optimisers run "fused" (one kernel updates every
    parameter), which on LeNet is a few times faster than a Python loop over them.
    """
    check_module(model)
    check_real(lr, "lr", positive=True)
    check_real(momentum, "momentum", minimum=0, below=1)
    check_real(weight_decay, "weight_decay", minimum=0)
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    params = decay + no_decay
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, fused=fused)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=fused)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=fused)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', not {name!r}")


def make_schedule(optimizer: torch.optim.Optimizer, name: str, lr: float,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning-rate schedule: 'onecycle', 'cosine' or 'constant'.

    One-cycle warms up for the first quarter of the steps (at least 1 step) and anneals
    for the rest; a run of fewer than 4 steps is too short for a cycle and keeps ``lr``.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {describe(optimizer)}")
    check_real(lr, "lr", positive=True)
    check_int(total_steps, "total_steps", minimum=1)
    if name == "onecycle":
        if total_steps < 4:
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        # torch divides by (pct_start * total_steps - 1): each phase needs 1 step or more
        pct_start = min(max(0.25, 2 / total_steps), 1 - 2 / total_steps)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=pct_start)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"schedule must be 'onecycle', 'cosine' or 'constant', not {name!r}")


def shuffled_batches(images: AugmentedImages, labels: Tensor, normalize: Callable[..., Tensor],
                     batch_size: int, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32, channels_last: bool = False
                     ) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of mini-batches (x, y) in a fresh random order.

    Each batch is an index into the preloaded images: augmented while still bytes (one
    copy, see ``AugmentedImages``), then normalised straight into ``dtype``.
    """
    _check_batches_args(images, labels, batch_size)
    order = torch.randperm(len(labels), generator=generator).to(labels.device)
    for i in range(0, len(labels), batch_size):
        idx = order[i:i + batch_size]
        x = images.batch(idx, generator)
        x = x if channels_last else x.contiguous()
        yield normalize(x, dtype), labels.index_select(0, idx)


def train_epoch(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], loss_fn: LossFn,
                opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
                bf16: bool = False) -> tuple[float, float, float]:
    """The training loop over one epoch; returns its mean loss, accuracy and last lr.

    For every batch: forward, loss, zero the old gradients, backward, step. The sums stay
    on the device (no ``.item()`` per step), so a GPU never waits for the CPU.
    """
    check_module(model)
    check_callable(loss_fn, "loss_fn")
    model.train()
    total_loss, correct, seen, lr = 0.0, 0, 0, float("nan")
    for x, y in batches:
        lr = opt.param_groups[0]["lr"]  # the rate this step uses (the schedule moves it after)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
            loss = loss_fn(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total_loss = total_loss + loss.detach() * len(y)
        correct = correct + (scores(model, out.detach()).argmax(1) == y).sum()
        seen += len(y)
    if seen == 0:
        raise ValueError("batches was empty: an epoch needs at least one batch")
    return float(total_loss) / seen, int(correct) / seen, lr


def _check_batches_args(images: AugmentedImages, labels: Tensor, batch_size: int) -> None:
    check_int(batch_size, "batch_size", minimum=1)
    if not isinstance(images, AugmentedImages):
        raise TypeError(f"images must be a dlcourse.training.AugmentedImages (the stored images), "
                        f"got {describe(images)}; wrap a uint8 batch with AugmentedImages(images, augment)")
    if not isinstance(labels, Tensor) or labels.shape != (images.count,):
        raise ValueError(f"labels must be a tensor of shape ({images.count},), got {describe(labels)}")


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU
    with AVX-512-BF16 or AMX instructions (elsewhere bf16 is emulated and slower)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                    or getattr(cpu, "_is_amx_tile_supported", lambda: False)())
    return False


def fast_settings(model: nn.Module, device: torch.device | str) -> dict[str, bool]:
    """What ``fit`` uses when ``bf16`` and ``channels_last`` are left at ``None``: both on
    for a network with convolutions (where they pay: ``bench/throughput.py``) on a device
    that computes bfloat16 natively, both off otherwise (a plain MLP stays float32)."""
    check_module(model)
    convolutional = any(isinstance(m, nn.Conv2d) for m in model.modules())
    on = convolutional and native_bf16(device)
    return {"bf16": on, "channels_last": on}


def _counted(batches: Iterable[tuple[Tensor, Tensor]], bar: tqdm) -> Iterator[tuple[Tensor, Tensor]]:
    """The same batches, ticking the progress bar once each."""
    for batch in batches:
        yield batch
        bar.update()


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
    channels_last: bool | None = None,
    bf16: bool | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` on ``train`` for ``epochs``, evaluating on ``test`` after each.

    ``seed`` fixes the shuffling and the augmentation; build the model right after
    ``set_seed(seed)`` to fix its initial weights too. Same seed, same machine → same
    numbers.

    Speed options. ``channels_last`` stores the conv weights and activations pixel by
    pixel (N×H×W×C), the layout oneDNN's CPU convolutions prefer (same results up to
    rounding); the model is put back in the usual layout afterwards. ``bf16`` runs
    forward and backward in bfloat16 (autocast; weights, optimiser and loss stay
    float32): faster on CPUs with AVX-512-BF16/AMX and on recent GPUs. Left at ``None``
    both follow :func:`fast_settings`: on for a network with convolutions on a device
    that computes bfloat16 natively, off elsewhere. Their speed is measured by
    ``bench/throughput.py``, bf16's effect on accuracy by ``bench/cifar10_recipe.py``.

    Memory: at the start ``fit`` stores the training images once more, padded, pixel by
    pixel and (with flips) with their mirror images, so that each augmented batch is one
    copy (``AugmentedImages``): for CIFAR-10 with ``Augment()``, 480 MB next to the 150 MB
    of the data set.
    """
    check_module(model)
    check_int(epochs, "epochs")
    check_int(batch_size, "batch_size")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    _check_split(train, "train")
    if test is not None:
        _check_split(test, "test")  # before training, not after the first epoch
    check_real(label_smoothing, "label_smoothing", minimum=0, below=1)
    _check_augment(augment)
    if loss_fn is not None:
        check_callable(loss_fn, "loss_fn")
    device = torch.device(device) if device is not None else default_device()
    auto = fast_settings(model, device)
    bf16 = auto["bf16"] if bf16 is None else bf16
    channels_last = auto["channels_last"] if channels_last is None else channels_last
    check_bool(bf16, "bf16")
    check_bool(channels_last, "channels_last")
    generator = set_seed(seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if loss_fn is None:
        base = default_loss(model)
        loss_fn = (lambda out, y: F.cross_entropy(out, y, label_smoothing=label_smoothing)) \
            if base is F.cross_entropy else base
    steps_per_epoch = math.ceil(len(train) / batch_size)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    sched = make_schedule(opt, schedule, lr, epochs * steps_per_epoch)
    images = AugmentedImages(train.images.to(device), augment)  # once per run: see its docstring
    labels = train.labels.to(device)
    dtype = torch.bfloat16 if bf16 else torch.float32
    history = History()
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, file=sys.stderr,
               unit="batch", mininterval=1.0, leave=False)
    try:
        for epoch in range(1, epochs + 1):
            start, cpu_start = time.perf_counter(), time.process_time()
            batches = shuffled_batches(images, labels, train.normalize, batch_size, generator, dtype,
                                       channels_last)
            train_loss, train_acc, last_lr = train_epoch(model, _counted(batches, bar), loss_fn,
                                                         opt, sched, bf16=bf16)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            test_loss, test_acc = evaluate(model, test, loss_fn, device=device) if test is not None else (None, None)
            history.epochs.append(Epoch(epoch, train_loss, train_acc, test_loss, test_acc,
                                        last_lr, seconds, cpu_seconds))
            bar.set_postfix(loss=f"{train_loss:.3f}", test_acc="-" if test_acc is None else f"{test_acc:.3f}")
    finally:
        bar.close()
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
    return history
