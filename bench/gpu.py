"""The whole CIFAR-10 training on a GPU: data, augmentation and model all on the device.

    .venv/bin/python bench/gpu.py             # the chapter's recipe, every epoch
    .venv/bin/python bench/gpu.py --quick     # smoke test: one short epoch

Trains the study note's LeNet with the chapter's recipe (``RECIPE`` in
``bench/cifar10_recipe.py``: epochs, batch size, schedule, crop + flip augmentation) by
``dlcourse.training.fit(..., device="cuda")``: the uint8 data set is copied to the GPU
once, and shuffling, the crop + flip gather, normalisation, forward, backward and the
fused optimiser step all run there. Reports the wall time of the ``fit`` call (test
evaluation after every epoch included), the training time and images per second, after a
short warm-up run (CUDA context, kernel selection) that is reported separately.

Without a CUDA device it prints "skipped: no CUDA device", writes that to the results
file and exits with status 0. ``--device cpu`` runs the same code on the CPU, to check
the script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import benchenv  # noqa: E402

SKIPPED = "skipped: no CUDA device"


def chapter_recipe() -> dict[str, Any]:
    """The chapter's training recipe, as ``bench/cifar10_recipe.py`` defines it."""
    path = ROOT / "bench" / "cifar10_recipe.py"
    spec = importlib.util.spec_from_file_location("cifar10_recipe", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path} is missing: gpu.py trains with its RECIPE")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.RECIPE)


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one epoch on 2,048 random training images")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    parser.add_argument("--bf16", action="store_true", help="train in bf16 autocast")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to check the script without a GPU")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default: bench/results, --quick: bench/scratch)")
    args = parser.parse_args(argv)
    out = args.out or benchenv.default_out(args.quick)
    started, load_start = benchenv.now(), benchenv.loadavg()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(SKIPPED)
        info = benchenv.context("gpu.py", argv, started, load_start, {"quick": args.quick, "skipped": True})
        md, _ = benchenv.write(out, "gpu", "CIFAR-10 training on the GPU", SKIPPED, info, {"skipped": True})
        print(f"wrote {md}")
        return {"skipped": True}

    from dlcourse import data, training
    from dlcourse.models import LeNet

    device = torch.device(args.device)
    recipe = chapter_recipe()
    if args.epochs:
        recipe["epochs"] = args.epochs
    if args.bf16:
        recipe["bf16"] = True
    cifar = data.cifar10(download=False)
    train, test = cifar.train, cifar.test
    warm = 2048
    if args.quick:  # a random subset: the image-folder copy is stored class by class
        g = torch.Generator().manual_seed(0)
        recipe["epochs"], warm = 1, 256
        train, test = train[torch.randperm(len(train), generator=g)[:2048]], test[torch.randperm(len(test), generator=g)[:1000]]
    options = dict(recipe)
    augment = training.Augment(**options.pop("augment"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else benchenv.cpu_model()
    print(f"load average at start: {load_start}; device: {name}", flush=True)

    # warm-up: CUDA context, cuDNN/cuBLAS kernel choice, the allocator's first blocks
    start = time.perf_counter()
    training.fit(LeNet(), train[:warm], None, epochs=1, augment=augment, device=device, progress=False,
                 **{k: v for k, v in options.items() if k != "epochs"})
    synchronize(device)
    warmup = time.perf_counter() - start

    load_before = benchenv.loadavg()[0]
    training.set_seed(options["seed"])
    model = LeNet()
    start = time.perf_counter()
    history = training.fit(model, train, test, augment=augment, device=device, progress=False, **options)
    synchronize(device)
    wall = time.perf_counter() - start
    train_seconds = history.seconds  # the epochs' training loops, test evaluation excluded
    images = len(train) * len(history)
    result = {
        "device": name,
        "recipe": recipe,
        "epochs": len(history),
        "train_images_per_epoch": len(train),
        "warmup_seconds": warmup,
        "wall_seconds": wall,
        "train_seconds": train_seconds,
        "images_per_second": images / train_seconds,
        "epoch_seconds": train_seconds / len(history),
        "test_acc": history.final.test_acc,
        "cuda": torch.version.cuda,
        "load_before": load_before,
        "load_after": benchenv.loadavg()[0],
        "skipped": False,
    }
    header = ["device", "epochs × images", "fit wall time (s)", "training time (s)", "s per epoch",
              "images/s (training)", "test accuracy", "warm-up (s)", "load 1-min before→after"]
    row = [name, f"{len(history)} × {len(train):,}", f"{wall:.1f}", f"{train_seconds:.1f}",
           f"{result['epoch_seconds']:.2f}", f"{result['images_per_second']:,.0f}", f"{100 * result['test_acc']:.2f} %",
           f"{warmup:.1f}", f"{load_before:.1f}→{result['load_after']:.1f}"]
    table = benchenv.markdown_table(header, [row], "lrrrrrrrl")
    notes = [
        "Recipe (bench/cifar10_recipe.py RECIPE" + (", changed by the command line" if args.epochs or args.bf16 or args.quick else "")
        + "): " + ", ".join(f"{k}={v}" for k, v in recipe.items()) + ".",
        "fit wall time: the whole training.fit call, test-set evaluation after every epoch included; "
        "training time: the sum of fit's per-epoch training loops (images/s is computed from it).",
        f"CUDA {torch.version.cuda}." if device.type == "cuda" else "Run on the CPU (--device cpu): a check of the script, not a GPU result.",
    ]
    if args.quick:
        notes.append("Quick mode (--quick): one epoch on 2,048 random training images, tested on 1,000.")
    info = benchenv.context("gpu.py", argv, started, load_start, {"quick": args.quick, "skipped": False})
    md, _ = benchenv.write(out, "gpu", "CIFAR-10 training on the GPU", table, info, result, notes)
    print(table)
    print(f"\nload average: start {load_start}, end {info['load_average_end']}; wrote {md}")
    return result


if __name__ == "__main__":
    main()
