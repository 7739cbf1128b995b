"""Training throughput of the course's ``fit`` against the PyTorch CIFAR-10 tutorial as users run it.

    .venv/bin/python bench/throughput.py            # about 5 minutes on a quiet 2-core laptop
    .venv/bin/python bench/throughput.py --quick    # smoke test, seconds

Same network (the study note's LeNet, 62,006 parameters), same augmentation (random crop
with 4 pixels of zero padding, random horizontal flip), on the CPU, side by side in one run:

* **fit** (the headline): ``dlcourse.training.fit`` with ``Augment()`` and its *default*
  speed settings (``training.fast_settings``: bfloat16 autocast and channels-last where the
  CPU computes bf16 natively, float32 elsewhere), at batch 512, the batch of the CIFAR-10
  chapter's fast recipe, at steady state: its second epoch, as ``fit`` times its epochs.
  The data set is preloaded as uint8, stored once per call padded, pixel by pixel and with
  its mirror images (``training.AugmentedImages``), so an augmented batch is one copy;
  that one-time set-up is reported separately.
* **the tutorial as users run it** (the baseline): the PyTorch CIFAR-10 tutorial's pipeline
  ("Training a classifier") with the augmentation added. torchvision ``CIFAR10`` keeps the
  images in memory as uint8 arrays (with only the JPEG copy here, a data set with its
  ``__getitem__`` on the same arrays) → per-sample ``RandomCrop(32, padding=4)``,
  ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` → ``DataLoader`` (batch 128) → the
  tutorial's loop (``optim.SGD(lr=0.001, momentum=0.9)``, ``loss.item()`` each step),
  with 0, 1, 2 and 3 workers: the fastest is the baseline.
* **floor**: the model's own work alone with fit's settings — forward, backward, ``fit``'s
  fused SGD step and its learning-rate schedule step — on the very batches fit trains on
  (same shuffling, crops and flips), made beforehand. No loop can beat it; fit's distance
  to it is the cost of its data work.
* information: fit in float32 at batch 128 (the settings before the fast defaults), the
  tutorial on the JPEG folder (``ImageFolder`` decodes a JPEG per image and epoch) and the
  tutorial as written (batch 4).

Each variant is timed on a fixed number of images after a warm-up (oneDNN builds its
kernels, DataLoader workers start), and seconds per epoch are extrapolated to the 50,000
training images; the table says which rows are extrapolated. DataLoader worker start-up
is outside the timed window, which favours the tutorial. The floor is also put against
this CPU's measured matrix-multiply peak: LeNet's training FLOPs per image are counted
from its layer shapes (``lenet_flops``).

On a machine shared with other programs every wall-clock time here is inflated; the
results file records the load average at the start and the end of the run and the load
around each row. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import benchenv  # noqa: E402
from dlcourse import data, training  # noqa: E402
from dlcourse.models import LeNet  # noqa: E402

EPOCH = 50_000  # CIFAR-10 training images
# The chapter's fast recipe (book/cifar10.md "Training faster"; bench/cifar10_recipe.py FAST):
# batch 512 with fit's default speed settings (training.fast_settings: bf16 autocast and
# channels-last for a convolutional network on a CPU with native bf16, float32 elsewhere).
FIT_BATCH = 512
TUTORIAL_BATCH = 128
TARGETS = {"vs_in_memory": 5.0, "overhead_percent": 10.0}


# --------------------------------------------------------------------------- FLOPs

def forward_macs(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> dict[str, int]:
    """Multiply-accumulates per image of every Conv2d and Linear layer in one forward pass.

    Counted from the shapes a real forward pass produces: a convolution does
    (in_channels / groups) × kh × kw MACs for each of its output values, a linear layer
    in_features × out_features. Biases, activations and pooling are not MACs (they are a
    fraction of a percent of LeNet's work) and are left out.
    """
    shape = input_shape or getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("forward_macs needs input_shape=(C, H, W) for a model without .input_shape")
    macs: dict[str, int] = {}

    def hook(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                per_output = module.in_channels // module.groups * kh * kw
                macs[name] = output[0].numel() * per_output
            else:
                macs[name] = module.in_features * module.out_features

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape))
    finally:
        for h in handles:
            h.remove()
    return macs


def lenet_flops(model: nn.Module | None = None) -> int:
    """Training FLOPs per image: forward 2 × MACs, and backward about twice the forward
    (one product for the input gradients, one for the weight gradients), so 3 × 2 × MACs."""
    return 3 * 2 * sum(forward_macs(model or LeNet()).values())


def matmul_gflops(n: int, dtype: torch.dtype, reps: int = 5) -> float:
    """This CPU's matrix-multiply rate: best of ``reps`` n×n @ n×n products, in GFLOP/s."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    c = torch.empty(n, n, dtype=dtype)
    torch.matmul(a, b, out=c)  # warm-up
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        torch.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


# --------------------------------------------------------------------------- variants

class Clock:
    """Wall-clock and CPU seconds of a stretch of code, the CPU time of this process and of
    its child processes (DataLoader workers) included, also of workers that exit meanwhile."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), -_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, self.cpu + _cpu_seconds()


def _cpu_seconds() -> float:
    import resource

    import psutil  # a dependency of ipykernel, so always in the course's environment

    own = time.process_time()
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    alive = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            alive += t.user + t.system
        except psutil.Error:  # exited between listing and reading: counted once reaped
            pass
    return own + reaped.ru_utime + reaped.ru_stime + alive


@dataclass
class Timing:
    """One variant's measurement: ``images`` trained on in ``seconds`` (after a warm-up)."""

    key: str
    label: str
    batch: int
    workers: str
    images: int
    seconds: float
    cpu_seconds: float
    load_before: float
    load_after: float

    @property
    def per_second(self) -> float:
        return self.images / self.seconds

    @property
    def epoch_seconds(self) -> float:
        return EPOCH / self.per_second

    @property
    def epoch_cpu_seconds(self) -> float:
        return self.cpu_seconds * EPOCH / self.images


def time_fit(train: data.Split, images: int, batch: int, bf16: bool | None = None,
             channels_last: bool | None = None) -> tuple[Clock, float]:
    """``fit``'s steady state: the second epoch of a two-epoch ``fit`` over the first
    ``images`` training images, as ``fit`` itself times its epochs (wall and CPU seconds of
    the epoch's shuffling, batches and training steps), and fit's one-time set-up (the
    whole call's wall time less its epochs: storing the images, building the optimiser).
    ``None`` leaves a speed setting at fit's default."""
    torch.manual_seed(0)
    model, subset = LeNet(), train[:images]
    with Clock() as whole:
        history = training.fit(model, subset, None, epochs=2, batch_size=batch, augment=training.Augment(),
                               device="cpu", progress=False, bf16=bf16, channels_last=channels_last)
    epoch = history[-1]
    clock = Clock()
    clock.wall, clock.cpu = epoch.seconds, epoch.cpu_seconds
    return clock, whole.wall - history.seconds


def floor_batches(train: data.Split, images: int, batch: int,
                  fast: dict[str, bool]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The very batches ``fit`` trains on in its second epoch (seed 0: the same shuffling,
    crops and flips; fit's dtype and layout), made beforehand, so the floor does the
    model's work on the same data with none of the data work. (The data matter: on
    class-sorted batches the same steps run several per cent faster than on shuffled ones.)"""
    generator = training.set_seed(0)  # what fit(..., seed=0) starts from
    subset = train[:images]
    stored = training.AugmentedImages(subset.images, training.Augment())
    dtype = torch.bfloat16 if fast["bf16"] else torch.float32

    def epoch() -> list[tuple[torch.Tensor, torch.Tensor]]:
        return list(training.shuffled_batches(stored, subset.labels, subset.normalize, batch, generator,
                                              dtype, fast["channels_last"]))

    epoch()  # fit's first epoch
    return epoch()


def floor_step(model: nn.Module, bf16: bool, total_steps: int,
               channels_last: bool = False) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step as ``fit`` takes it, minus all data work: forward, backward,
    fit's fused SGD step and one-cycle schedule step (``bench/fit_speed.py`` uses it too).
    ``channels_last`` stores the model as fit does; the batches stay N×C×H×W as fit's are."""
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = training.make_optimizer(model, "sgd", 0.05, 0.9, 5e-4)
    sched = training.make_schedule(opt, "onecycle", 0.05, total_steps)
    model.train()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

    return step


def time_floor(batches: list[tuple[torch.Tensor, torch.Tensor]], bf16: bool, warm_steps: int,
               channels_last: bool = False) -> Clock:
    """Seconds of forward + backward + fit's optimiser and schedule steps over ``batches``."""
    torch.manual_seed(0)
    step = floor_step(LeNet(), bf16, len(batches) + warm_steps, channels_last)
    for x, y in batches[:warm_steps]:
        step(x, y)
    with Clock() as clock:
        for x, y in batches:
            step(x, y)
    return clock


class InMemoryCIFAR(torch.utils.data.Dataset):
    """The training images as torchvision ``CIFAR10`` holds them (N×32×32×3 uint8 in
    memory), with its ``__getitem__``: ``Image.fromarray`` then the transform."""

    def __init__(self, split: data.Split, transform: Callable[[Any], torch.Tensor]) -> None:
        self.data = split.images.permute(0, 2, 3, 1).contiguous().numpy()
        self.targets = split.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def tutorial_transform(split: data.Split) -> Callable[[Any], torch.Tensor]:
    """The tutorial's per-sample transform with crop + flip, normalised like ``fit``."""
    import torchvision.transforms as T

    return T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(split.mean.tolist(), split.std.tolist())])


def tutorial_dataset(root: Path, split: data.Split) -> tuple[torch.utils.data.Dataset, str]:
    """torchvision CIFAR10 on the official batches when present, else ImageFolder on the JPEGs."""
    import torchvision

    transform = tutorial_transform(split)
    if (root / "cifar-10-batches-py").is_dir():
        return (torchvision.datasets.CIFAR10(str(root), train=True, transform=transform, download=False),
                f"torchvision CIFAR10 ({root / 'cifar-10-batches-py'})")
    folder = root / "cifar10" / "train"
    if not folder.is_dir():
        raise FileNotFoundError(f"Neither {root / 'cifar-10-batches-py'} nor {folder} exists: run `make data`.")
    return torchvision.datasets.ImageFolder(str(folder), transform=transform), f"ImageFolder ({folder}, JPEG)"


def time_tutorial(dataset: torch.utils.data.Dataset, batch: int, workers: int, warm: int, images: int) -> Clock:
    """Seconds the tutorial's loop takes for ``images`` images, after ``warm`` more."""
    torch.manual_seed(0)
    net = LeNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    running_loss = 0.0

    def batches() -> Any:
        while True:  # a small data set (--quick) may end before the count is reached
            yield from loader

    it = batches()

    def train(count: int) -> None:
        nonlocal running_loss
        seen = 0
        while seen < count:
            inputs, labels = next(it)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            seen += len(labels)

    train(warm)
    with Clock() as clock:
        train(images)
    it.close()  # shuts the workers down
    return clock


# --------------------------------------------------------------------------- report

def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def best_of(rows: dict[str, Timing], prefix: str) -> str | None:
    """The fastest of the rows whose key starts with ``prefix`` (the tuned worker count)."""
    keys = [k for k in rows if k.startswith(prefix)]
    return max(keys, key=lambda k: rows[k].per_second) if keys else None


def build_table(rows: dict[str, Timing], peaks: dict[str, float], flops: int,
                extrapolated: set[str], fast: dict[str, bool]) -> tuple[str, dict[str, Any]]:
    """The one table of the report, and the derived numbers (ratios, verdicts).

    The headline: ``fit`` (its default speed settings, the fast recipe's batch) against
    the tutorial as users run it (in memory, per-sample transforms, batch 128, the best
    worker count); its data overhead against the compute floor of the same settings."""
    fit, floor = rows["fit"], rows["floor"]
    baseline = best_of(rows, "tutorial_mem_w")
    derived: dict[str, Any] = {
        "baseline": baseline,
        "fit_vs_in_memory": fit.per_second / rows[baseline].per_second,
        "overhead_percent": 100 * (fit.seconds / fit.images) / (floor.seconds / floor.images) - 100,
        "fit_epoch_seconds": fit.epoch_seconds,
        "fit_settings": fast,
    }
    derived["pass"] = {
        "vs_in_memory": derived["fit_vs_in_memory"] >= TARGETS["vs_in_memory"],
        "overhead": derived["overhead_percent"] <= TARGETS["overhead_percent"],
    }
    folder = best_of(rows, "tutorial_folder_w")
    if folder:
        derived["fit_vs_folder"] = fit.per_second / rows[folder].per_second
        derived["folder_baseline"] = folder
    if "as_written" in rows:
        derived["fit_vs_as_written"] = fit.per_second / rows["as_written"].per_second
    if "fit_fp32_128" in rows:
        derived["fit_fp32_128_vs_in_memory"] = rows["fit_fp32_128"].per_second / rows[baseline].per_second
        derived["default_vs_fp32_128"] = fit.per_second / rows["fit_fp32_128"].per_second

    def cpu_ratio(key: str) -> float:  # how many times fit's CPU time per image the row needs
        return rows[key].epoch_cpu_seconds / fit.epoch_cpu_seconds

    derived["cpu_ratio"] = {k: cpu_ratio(k) for k in rows if k != "fit"}
    derived["cpu_overhead_percent"] = 100 * fit.epoch_cpu_seconds / floor.epoch_cpu_seconds - 100
    peak_key = "bf16" if fast["bf16"] and "bf16" in peaks else "fp32"
    derived["floor_share_of_peak"] = floor.per_second * flops / 1e9 / peaks[peak_key]

    def faster(key: str) -> str:
        return (f"fit is {fit.per_second / rows[key].per_second:.1f}× faster "
                f"({cpu_ratio(key):.1f}× in CPU time)")

    checks: dict[str, tuple[str, str, str]] = {
        "fit": (f"{derived['fit_epoch_seconds']:.1f} s per epoch ({fit.epoch_cpu_seconds:.1f} CPU s)", "", ""),
        "floor": (f"fit's data work adds {derived['overhead_percent']:+.1f} % "
                  f"({derived['cpu_overhead_percent']:+.1f} % in CPU time)",
                  f"≤ {TARGETS['overhead_percent']:g} %", verdict(derived["pass"]["overhead"])),
    }
    for key in rows:
        if key.startswith("tutorial_mem_w"):
            checks[key] = ((faster(key), f"≥ {TARGETS['vs_in_memory']:g}× (the baseline: best worker count)",
                            verdict(derived["pass"]["vs_in_memory"])) if key == baseline
                           else (faster(key), "(not the best worker count)", ""))
        elif key.startswith("tutorial_folder_w") or key == "as_written":
            checks[key] = (faster(key), "(information)", "")
    if "fit_fp32_128" in rows:
        checks["fit_fp32_128"] = (f"{rows['fit_fp32_128'].per_second / rows[baseline].per_second:.1f}× the "
                                  f"baseline; fit's defaults are {derived['default_vs_fp32_128']:.2f}× this",
                                  "(information)", "")

    header = ["variant", "batch", "workers", "images timed", "images/s", "s per 50k epoch", "CPU s per epoch",
              "GFLOP/s (% of matmul peak)", "result", "target", "pass", "load 1-min before→after"]
    table: list[list[Any]] = []
    for key, r in rows.items():
        peak = peaks[peak_key] if key in ("fit", "floor") else peaks["fp32"]
        gflops = r.per_second * flops / 1e9
        epoch = fmt(r.epoch_seconds, 1) + (" (extrapolated)" if key in extrapolated else "")
        result, target, ok = checks.get(key, ("", "", ""))
        table.append([r.label, r.batch, r.workers, fmt(r.images), fmt(r.per_second), epoch,
                      fmt(r.epoch_cpu_seconds, 1),
                      f"{gflops:.1f} ({100 * gflops / peak:.1f} %)", result, target, ok,
                      f"{r.load_before:.1f}→{r.load_after:.1f}"])
    for dtype, peak in peaks.items():
        table.append([f"reference: {dtype} matmul peak (n×n @ n×n)", "", "", "", "", "", "",
                      f"{peak:.0f} (100 %)", "", "", "", ""])
    return benchenv.markdown_table(header, table, "lrrrrrrrllll"), derived


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the script")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--images", type=int, default=EPOCH, help="images timed for fit and the floor (default: a whole epoch)")
    parser.add_argument("--tutorial-images", type=int, default=20_000, help="images timed per batch-128 tutorial row")
    parser.add_argument("--as-written-images", type=int, default=4_000, help="images timed for the batch-4 tutorial")
    parser.add_argument("--workers", default="0,1,2,3", help="DataLoader worker counts tried for the in-memory tutorial")
    parser.add_argument("--reps", type=int, default=1, help="repeat every variant, keep the fastest (noise only adds time)")
    parser.add_argument("--matmul-n", type=int, default=4096, help="matrix size of the peak measurement")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: bench/results, --quick: bench/scratch)")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.tutorial_images, args.as_written_images, args.matmul_n = 2_048, 512, 64, 512
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or benchenv.default_out(args.quick)
    started, load_start = benchenv.now(), benchenv.loadavg()
    print(f"load average at start: {load_start}, torch threads: {torch.get_num_threads()}", flush=True)
    warning = benchenv.busy_warning(torch.get_num_threads())
    if warning:
        print(warning, flush=True)

    root = data.data_dir()
    cifar = data.cifar10(download=False)
    train = cifar.train
    images = min(args.images, len(train))
    fast = training.fast_settings(LeNet(), "cpu")
    precision = "bf16 autocast, channels-last" if fast["bf16"] else "fp32"
    bs, tbs = FIT_BATCH, TUTORIAL_BATCH
    flops = lenet_flops()
    peaks: dict[str, float] = {}

    def measure_peaks() -> None:  # at the start of every rep: the best one is the least disturbed
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            peaks[name] = max(peaks.get(name, 0.0), matmul_gflops(args.matmul_n, dtype))
        print("matmul peak GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()), flush=True)

    folder_set, source = tutorial_dataset(root, train)
    # The tutorial as users run it: torchvision CIFAR10 holds the images in memory. With only
    # the JPEG folder here, a data set with CIFAR10's own __getitem__ on the same uint8 arrays.
    official = source.startswith("torchvision CIFAR10")
    in_memory = folder_set if official else InMemoryCIFAR(train, tutorial_transform(train))
    batches = floor_batches(train, images, bs, fast)
    tut_warm, b4_warm = 10 * tbs, 100 * 4
    if args.quick:
        tut_warm, b4_warm = 2 * tbs, 8
    setups: dict[str, list[float]] = {}  # fit's one-time set-up per call, in seconds

    def fit_epoch(key: str, **settings: Any) -> Clock:
        clock, setup = time_fit(train, images, **settings)
        setups.setdefault(key, []).append(setup)
        return clock
    workers = [int(w) for w in args.workers.split(",")]

    variants: dict[str, tuple[str, int, str, int, Callable[[], Clock]]] = {
        "fit": (f"fit, default settings ({precision}), crop+flip", bs, "–", images,
                lambda: fit_epoch("fit", batch=bs)),
        "floor": (f"compute floor, same settings ({precision})", bs, "–", images,
                  lambda: time_floor(batches, fast["bf16"], 3, fast["channels_last"])),
    }
    for w in workers:
        variants[f"tutorial_mem_w{w}"] = (f"tutorial as users run it: in memory, batch {tbs}", tbs, str(w),
                                          args.tutorial_images,
                                          lambda w=w: time_tutorial(in_memory, tbs, w, tut_warm, args.tutorial_images))
    variants["fit_fp32_128"] = (f"fit, fp32, batch {tbs} (before the fast defaults)", tbs, "–", images,
                                lambda: fit_epoch("fit_fp32_128", batch=tbs, bf16=False, channels_last=False))
    if not official:
        for w in (0, 2):
            variants[f"tutorial_folder_w{w}"] = (f"tutorial on the JPEG folder (ImageFolder), batch {tbs}", tbs,
                                                 str(w), args.tutorial_images // 2,
                                                 lambda w=w: time_tutorial(folder_set, tbs, w, tut_warm,
                                                                           args.tutorial_images // 2))
    variants["as_written"] = ("tutorial as written: in memory, batch 4", 4, "2", args.as_written_images,
                              lambda: time_tutorial(in_memory, 4, 2, b4_warm, args.as_written_images))

    best: dict[str, Timing] = {}

    def record(key: str, label: str, batch: int, workers_: str, n: int, run: Callable[[], Clock]) -> None:
        before = benchenv.loadavg()[0]
        clock = run()
        t = Timing(key, label, batch, workers_, n, clock.wall, clock.cpu, before, benchenv.loadavg()[0])
        print(f"  {label:52s} workers {workers_:2s} {t.per_second:9,.0f} images/s  "
              f"{t.epoch_seconds:7.1f} s/epoch  {t.epoch_cpu_seconds:7.1f} CPU s/epoch  "
              f"load {before:.1f}→{t.load_after:.1f}", flush=True)
        if key not in best or t.per_second > best[key].per_second:
            best[key] = t

    for rep in range(args.reps):
        print(f"rep {rep + 1}/{args.reps}", flush=True)
        measure_peaks()
        for key, (label, batch, workers_, n, run) in variants.items():
            record(key, label, batch, workers_, n, run)

    rows = dict(best)
    extrapolated = {k for k, r in rows.items() if r.images < EPOCH}
    table, derived = build_table(rows, peaks, flops, extrapolated, fast)
    macs = forward_macs(LeNet())
    notes = [
        "The headline: fit with its default speed settings at the batch of the chapter's fast recipe "
        f"(batch {bs}; training.fast_settings chose {fast} on this CPU) against the PyTorch CIFAR-10 "
        "tutorial as users run it: the images in memory (torchvision CIFAR10"
        + ("" if official else "'s __getitem__ on the same uint8 arrays, since only the JPEG folder is here")
        + f"), per-sample RandomCrop(32, padding=4) → RandomHorizontalFlip → ToTensor → Normalize, DataLoader "
        f"(shuffle=True) with batch {tbs} and the fastest of {len(workers)} worker counts ({args.workers}), "
        "the tutorial's loop (optim.SGD lr 0.001 momentum 0.9, loss.item() every step), at steady state.",
        f"Each row times the number of images in \"images timed\" after a warm-up; seconds per epoch are "
        f"that rate applied to the {EPOCH:,} training images (rows marked \"extrapolated\" timed fewer). "
        f"Best of {args.reps} run(s) per row. DataLoader worker start-up is outside the timed window.",
        "Information rows: fit in fp32 at batch 128 (the settings before the fast defaults), "
        + ("the tutorial on the JPEG folder (ImageFolder decodes a JPEG per image and epoch), " if not official else "")
        + "and the tutorial as written (batch 4).",
        "fit: dlcourse.training.fit(LeNet(), ..., epochs=2, augment=Augment(), device=\"cpu\"); the row is its "
        "second epoch (steady state) as fit times its epochs (History: wall and CPU seconds of the epoch's "
        "shuffling, augmented batches and training steps). fit's one-time set-up per call (storing the images "
        "padded, channels-last and with their mirror images; the optimiser), outside the epochs: "
        + ", ".join(f"{k} {min(v):.2f} s" for k, v in setups.items()) + ". "
        "Floor: forward + backward + fit's fused SGD step + schedule step, with fit's settings, on the very "
        "batches fit trains on (same shuffling, crops and flips, seed 0) made beforehand (on class-sorted "
        "batches the same steps run several per cent faster, so the floor uses fit's own); \"fit's data work adds\" = fit's time per image over the floor's, in the same run. "
        "CPU s per epoch: the CPU time of this process and its DataLoader workers over the timed images, "
        "scaled to an epoch. The pass/fail verdicts use wall time.",
        f"FLOPs: LeNet does {sum(macs.values()):,} multiply-accumulates per image forward "
        f"({', '.join(f'{k} {v:,}' for k, v in macs.items())}); training ≈ 3 × 2 × that = {flops:,} FLOPs "
        f"per image. Matmul peak: best of 5 products of {args.matmul_n}×{args.matmul_n} matrices; fit and "
        "its floor are put against the peak of their precision.",
        f"torch threads: {torch.get_num_threads()}."
        + (" Quick mode (--quick): sizes far too small for meaningful numbers." if args.quick else ""),
    ]
    cpus = benchenv.machine()["usable_cpus"]
    if benchenv.others_busy(load_start, cpus):
        warning = (f"WARNING: the 1-minute load average was {load_start[0]:.1f} on {cpus} CPUs before the run "
                   "started: other programs were busy, and every time here is inflated by them. Rerun on a "
                   "quieter machine.")
        notes.insert(0, warning)
        print(warning, flush=True)
    info = benchenv.context("throughput.py", argv, started, load_start,
                            {"torch_threads": torch.get_num_threads(), "quick": args.quick})
    results = {"rows": {k: {**asdict(r), "images_per_second": r.per_second, "epoch_seconds": r.epoch_seconds,
                            "epoch_cpu_seconds": r.epoch_cpu_seconds,
                            "extrapolated": k in extrapolated} for k, r in rows.items()},
               "matmul_peak_gflops": peaks, "flops_per_image": flops, "forward_macs": macs,
               "derived": derived, "targets": TARGETS, "tutorial_source": source,
               "fit_batch": bs, "tutorial_batch": tbs,
               "fit_setup_seconds": {k: min(v) for k, v in setups.items()}}
    md, _ = benchenv.write(out, "throughput", "Training throughput: fit vs the PyTorch CIFAR-10 tutorial",
                           table, info, results, notes)
    print()
    print(table)
    print(f"\nload average: start {load_start}, end {info['load_average_end']}; wrote {md}")
    return results


if __name__ == "__main__":
    main()
