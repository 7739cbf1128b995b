"""MNIST and CIFAR-10 as preloaded tensors, ready for fast batched training.

Training on a laptop is fast when the whole data set sits in memory as one uint8 tensor
and every batch is a slice of it: no per-sample Python, no PIL, no DataLoader workers.
`mnist()` and `cifar10()` return exactly that.

Where the data comes from, in order:

1. a cache file this module wrote earlier (``<root>/cache/<name>.pt``): decoded once,
   reloaded in about a second, its SHA-256 checked so a truncated file is rebuilt;
2. torchvision's official layouts: ``<root>/MNIST/raw/*-ubyte`` and
   ``<root>/cifar-10-batches-py``;
3. an image-folder layout ``<root>/cifar10/{train,test}/<class>/*.jpg|png`` (what
   ``torchvision.datasets.ImageFolder`` reads; class folders sort into the official order);
4. torchvision's official download, when ``download`` is true and the machine is online.

The root directory is the ``root`` argument, else the ``DLCOURSE_DATA`` environment
variable, else the ``data/`` folder at the root of the course repository (``./data``
outside it).
"""

from __future__ import annotations

import hashlib
import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .lang import tr
from ._checks import check_bool, check_int, check_tensor, describe

__all__ = [
    "CIFAR10_CLASSES",
    "MNIST_CLASSES",
    "DataError",
    "Dataset",
    "Split",
    "channel_stats",
    "cifar10",
    "data_dir",
    "mnist",
    "pad",
]

DATA_ENV = "DLCOURSE_DATA"
CACHE_VERSION = 2

MNIST_CLASSES = [str(d) for d in range(10)]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]
# What the Chinese edition shows for each class (dlcourse.lang); the data keep English keys.
CLASS_NAMES_ZH = {
    "airplane": "飞机", "automobile": "汽车", "bird": "鸟", "cat": "猫", "deer": "鹿",
    "dog": "狗", "frog": "青蛙", "horse": "马", "ship": "船", "truck": "卡车",
}


class DataError(RuntimeError):
    """The data set could not be found or read; the message says what to do."""


@dataclass(frozen=True)
class Split:
    """One split of a data set: uint8 images N×C×H×W and int64 labels N.

    ``mean`` and ``std`` are per-channel statistics of the *training* images (in [0, 1]
    units); they travel with every split so that training, evaluation and prediction all
    normalise the same way. A channel whose ``std`` is 0 (constant in the training
    images) is only centred, as scikit-learn's ``StandardScaler`` does: dividing by 0
    would turn every pixel into NaN.
    """

    images: Tensor
    labels: Tensor
    mean: Tensor = field(repr=False)
    std: Tensor = field(repr=False)

    def __post_init__(self) -> None:
        check_tensor(self.images, "Split.images", shape="N×C×H×W")
        check_tensor(self.labels, "Split.labels")
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"Split.images must be a uint8 tensor N×C×H×W, got {self.images.dtype} "
                f"with shape {tuple(self.images.shape)}"
            )
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"Split.labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}"
            )
        if self.labels.is_floating_point() or self.labels.dtype == torch.bool:
            raise TypeError(f"Split.labels must be integer class indices, got dtype {self.labels.dtype}")
        if len(self.labels) and int(self.labels.min()) < 0:
            raise ValueError(f"Split.labels must be class indices >= 0, found {int(self.labels.min())}")
        channels = self.images.shape[1]
        for name in ("mean", "std"):
            stat = check_tensor(getattr(self, name), f"Split.{name}", floating=True, finite=True)
            if stat.shape != (channels,):
                raise ValueError(
                    f"Split.{name} must have one entry per channel, shape ({channels},), "
                    f"got {tuple(stat.shape)}"
                )
        if bool((self.std < 0).any()):
            raise ValueError(f"Split.std must be >= 0, got {self.std.tolist()}")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: slice | Tensor) -> Split:
        """A subset (slice or index tensor) with the same normalisation statistics."""
        return Split(self.images[index], self.labels[index], self.mean, self.std)

    def normalize(self, images: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """uint8 images N×C×H×W (any device or layout) → ``dtype``, scaled to [0, 1] and standardised.

        (x / 255 − mean) / std is computed as one multiply-add, x · scale + shift, with
        ``scale`` and ``shift`` laid out as a whole image in the batch's own memory layout,
        so the arithmetic runs over contiguous memory also for channels-last batches, in
        float32, then rounded once to ``dtype``.
        """
        check_tensor(images, "images", dim=4, shape="N×C×H×W")
        if images.dtype != torch.uint8 or images.shape[1] != len(self.mean):
            raise ValueError(
                f"images must be uint8 with {len(self.mean)} channel(s), like the split's, "
                f"got {describe(images)}"
            )
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
        # computed in float32 (or float64) and rounded once into a narrower dtype: a bfloat16
        # batch holds exactly the values autocast would make of the float32 one
        compute = dtype if dtype in (torch.float32, torch.float64) else torch.float32
        x = images.to(compute)  # keeps the layout; 0…255 are exact
        layout = torch.channels_last if not images.is_contiguous() \
            and images.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        scale, shift = _scale_shift(tuple(self.mean.tolist()), tuple(self.std.tolist()),
                                    tuple(images.shape[1:]), compute, x.device, layout)
        return torch.addcmul(shift, x, scale, out=x).to(dtype)


@functools.lru_cache(maxsize=64)  # built once per split, dtype and layout, not once per batch
def _scale_shift(mean: tuple[float, ...], std: tuple[float, ...], shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device, layout: torch.memory_format) -> tuple[Tensor, Tensor]:
    """(x / 255 − mean) / std = x · scale + shift, with scale and shift as one whole image."""
    # a constant channel (std 0) is only centred; dividing would give NaN
    s = torch.tensor([v if v > 0 else 1.0 for v in std], dtype=torch.float64).view(-1, 1, 1)
    m = torch.tensor(mean, dtype=torch.float64).view(-1, 1, 1)
    image = torch.empty((1, *shape), dtype=dtype, device=device, memory_format=layout)
    scale = image.copy_((1 / (255 * s)).expand(shape))
    shift = torch.empty_like(image).copy_((-m / s).expand(shape))
    return scale, shift


@dataclass(frozen=True)
class Dataset:
    """Train and test splits, the class names, and where the pixels came from."""

    name: str
    train: Split
    test: Split
    classes: list[str]
    source: str  # "official" or "image-folder"
    exact: bool  # False when the pixels are a lossy (JPEG) copy of the official release

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            if not isinstance(getattr(self, name), Split):
                raise TypeError(f"Dataset.{name} must be a Split, got {describe(getattr(self, name))}")
        if not self.classes or not all(isinstance(c, str) for c in self.classes):
            raise TypeError(f"Dataset.classes must be a non-empty list of names, got {describe(self.classes)}")
        for name in ("train", "test"):
            labels = getattr(self, name).labels
            if len(labels) and int(labels.max()) >= len(self.classes):
                raise ValueError(
                    f"Dataset.{name} has label {int(labels.max())}, but there are only "
                    f"{len(self.classes)} classes"
                )

    @property
    def names(self) -> list[str]:
        """The class names to show on a page, in the page's language (``classes`` are keys)."""
        return [tr(c, CLASS_NAMES_ZH.get(c, c)) for c in self.classes]

    @property
    def note(self) -> str:
        """One line for chapter output saying which copy of the data this is."""
        n_train, n_test = len(self.train), len(self.test)
        if self.exact:
            return tr(f"{self.name}: official pixels ({n_train:,} train / {n_test:,} test).",
                      f"{self.name}：官方原始像素（训练 {n_train:,} 张 / 测试 {n_test:,} 张）。")
        return tr(
            f"{self.name}: loaded from an image-folder copy ({n_train:,} train / "
            f"{n_test:,} test). If its images are JPEG, accuracy can differ from the "
            "official release by about a point.",
            f"{self.name}：从图像文件夹副本读取（训练 {n_train:,} 张 / 测试 {n_test:,} 张）。"
            "如果其中的图像是 JPEG，准确率可能与官方发布的数据相差约一个百分点。",
        )


def data_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``root``, else ``$DLCOURSE_DATA``, else the course's ``data/``.

    Without either, a notebook opened from ``book/`` or ``exercises/<name>/`` still finds
    the course's ``data/`` folder: the nearest folder above that holds ``_config.yml``
    (the repository root). Outside the course, ``./data``.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path (str or Path), got {describe(root)}")
        return Path(root).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "_config.yml").is_file() and (folder / "dlcourse").is_dir():
            return folder / "data"
    return Path("data")


def mnist(root: str | os.PathLike[str] | None = None, download: bool = True) -> Dataset:
    """MNIST: 60,000 train and 10,000 test digits, uint8 N×1×28×28."""
    check_bool(download, "download")
    return _load("mnist", data_dir(root), download)


def cifar10(root: str | os.PathLike[str] | None = None, download: bool = True) -> Dataset:
    """CIFAR-10: 50,000 train and 10,000 test images, uint8 N×3×32×32."""
    check_bool(download, "download")
    return _load("cifar10", data_dir(root), download)


def pad(images: Tensor, to: int = 32) -> Tensor:
    """Zero-pad square images to ``to``×``to`` (MNIST's 28×28 → LeNet-5's 32×32).

    LeCun et al. padded the digits so that strokes reach the centre of the receptive
    fields of C3's highest-level detectors (section II.B).
    """
    check_tensor(images, "images", dim=(2, 3, 4), shape="(N×)(C×)H×W")
    check_int(to, "to", minimum=1)
    *_, h, w = images.shape
    if h > to or w > to:
        raise ValueError(f"images are {h}×{w}, larger than the target {to}×{to}")
    top, left = (to - h) // 2, (to - w) // 2
    return torch.nn.functional.pad(images, (left, to - w - left, top, to - h - top))


# --------------------------------------------------------------------------- loading

Arrays = tuple[Tensor, Tensor, Tensor, Tensor]  # train images, train labels, test images, test labels


def _load(name: str, root: Path, download: bool) -> Dataset:
    cache = root / "cache" / f"{name}-v{CACHE_VERSION}.pt"
    cached = _read_cache(cache)
    if cached is not None:
        arrays, source, stats = cached
    else:
        arrays, source = _read_sources(name, root, download)
        stats = channel_stats(arrays[0])  # slow (seconds), so it is cached too
        _write_cache(cache, arrays, source, stats)
    return _dataset(name, arrays, source, stats)


def _dataset(name: str, arrays: Arrays, source: str, stats: tuple[Tensor, Tensor]) -> Dataset:
    x_train, y_train, x_test, y_test = arrays
    mean, std = stats
    classes = MNIST_CLASSES if name == "mnist" else CIFAR10_CLASSES
    return Dataset(
        name="MNIST" if name == "mnist" else "CIFAR-10",
        train=Split(x_train, y_train, mean, std),
        test=Split(x_test, y_test, mean, std),
        classes=list(classes),
        source=source,
        exact=source == "official",
    )


def channel_stats(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units.

    Summed chunk by chunk in float64: converting all of CIFAR-10 at once would need
    over 2 GiB of memory for a number that needs two sums per channel.
    """
    check_tensor(images, "images", dim=4, shape="N×C×H×W")
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 (pixel values 0–255), got dtype {images.dtype}")
    if images.numel() < 2 * images.shape[1]:
        raise ValueError(
            f"images must hold at least 2 pixels per channel for a standard deviation, "
            f"got shape {tuple(images.shape)}"
        )
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(2048):
        x = chunk.transpose(0, 1).reshape(c, -1).double()
        total += x.sum(1)
        total_sq += (x * x).sum(1)
    n = images.numel() // c
    mean = total / n
    var = (total_sq - n * mean**2) / (n - 1)
    return (mean / 255).float(), (var.clamp(min=0).sqrt() / 255).float()


def _read_sources(name: str, root: Path, download: bool) -> tuple[Arrays, str]:
    if name == "mnist":
        if _mnist_raw_exists(root):
            return _read_mnist_official(root), "official"
    else:
        if (root / "cifar-10-batches-py").is_dir():
            return _read_cifar_official(root), "official"
        if (root / "cifar10" / "train").is_dir():
            return _read_image_folder(root / "cifar10"), "image-folder"
    if download:
        try:
            return _download(name, root), "official"
        except Exception as error:  # no network, proxy, disk full: say it plainly below
            raise _not_found(name, root, f"Downloading failed: {error}") from None
    raise _not_found(name, root, "Downloading is switched off (download=False).")


def _not_found(name: str, root: Path, why: str) -> DataError:
    layouts = {
        "mnist": [root / "MNIST" / "raw" / "train-images-idx3-ubyte"],
        "cifar10": [root / "cifar-10-batches-py", root / "cifar10" / "train" / "<class>" / "*.jpg"],
    }[name]
    looked = "\n".join(f"  - {p}" for p in [root / "cache" / f"{name}-v{CACHE_VERSION}.pt", *layouts])
    return DataError(
        f"No {name} data found under '{root}'. Looked for:\n{looked}\n{why}\n"
        f"To fix: run `make data` (or `python -m dlcourse.data --download`) on a machine "
        f"with internet, or copy the data set there, or point the course at an existing "
        f"copy with `export {DATA_ENV}=/path/to/data` (or the `root=` argument)."
    )


def _mnist_raw_exists(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / f"{s}-images-idx3-ubyte").exists() for s in ("train", "t10k"))


def _read_mnist_official(root: Path) -> Arrays:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    raw = root / "MNIST" / "raw"
    try:
        parts = []
        for split, n in (("train", 60_000), ("t10k", 10_000)):
            images = read_image_file(str(raw / f"{split}-images-idx3-ubyte"))
            labels = read_label_file(str(raw / f"{split}-labels-idx1-ubyte"))
            if len(images) != n or len(labels) != n:
                raise ValueError(f"{split} split has {len(images)} images / {len(labels)} labels, expected {n}")
            parts += [images.unsqueeze(1).contiguous(), labels.long()]
    except Exception as error:
        raise DataError(
            f"The MNIST files under '{raw}' are unreadable ({error}). They may be truncated: "
            "delete that folder and run `make data` again."
        ) from None
    return parts[0], parts[1], parts[2], parts[3]


def _read_cifar_official(root: Path) -> Arrays:
    from torchvision.datasets import CIFAR10

    try:
        splits = [CIFAR10(str(root), train=train, download=False) for train in (True, False)]
    except Exception as error:
        raise DataError(
            f"The CIFAR-10 batches under '{root / 'cifar-10-batches-py'}' are unreadable ({error}). "
            "Delete that folder and run `make data` again."
        ) from None
    out: list[Tensor] = []
    for s in splits:
        out += [torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(s.targets)]
    return out[0], out[1], out[2], out[3]


def _read_image_folder(folder: Path) -> Arrays:
    """Decode ``folder/{train,test}/<class>/*`` into tensors, checking names and sizes."""
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders; they still work
        warnings.simplefilter("ignore", DeprecationWarning)
        return _decode_image_folder(folder)


def _decode_image_folder(folder: Path) -> Arrays:
    from torchvision.io import ImageReadMode, decode_image, read_file

    out: list[Tensor] = []
    for split in ("train", "test"):
        split_dir = folder / split
        found = sorted(p.name for p in split_dir.iterdir() if p.is_dir()) if split_dir.is_dir() else []
        if found != CIFAR10_CLASSES:
            missing = sorted(set(CIFAR10_CLASSES) - set(found))
            extra = sorted(set(found) - set(CIFAR10_CLASSES))
            raise DataError(
                f"'{split_dir}' must hold one folder per CIFAR-10 class {CIFAR10_CLASSES}; "
                f"missing: {missing or 'none'}, unexpected: {extra or 'none'}."
            )
        images, labels = [], []
        for label, name in enumerate(CIFAR10_CLASSES):
            for path in sorted((split_dir / name).iterdir()):
                try:
                    image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
                except Exception as error:
                    raise DataError(f"Cannot decode '{path}' ({error}); delete or replace it.") from None
                if image.shape != (3, 32, 32):
                    raise DataError(f"'{path}' is {tuple(image.shape[1:])} pixels; CIFAR-10 images are 32×32.")
                images.append(image)
                labels.append(label)
        if not images:
            raise DataError(f"'{split_dir}' has class folders but no images.")
        out += [torch.stack(images), torch.tensor(labels)]
    return out[0], out[1], out[2], out[3]


def _download(name: str, root: Path) -> Arrays:
    from torchvision.datasets import CIFAR10, MNIST

    root.mkdir(parents=True, exist_ok=True)
    if name == "mnist":
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
        return _read_mnist_official(root)
    for train in (True, False):
        CIFAR10(str(root), train=train, download=True)
    return _read_cifar_official(root)


# --------------------------------------------------------------------------- cache

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_cache(path: Path) -> tuple[Arrays, str, tuple[Tensor, Tensor]] | None:
    """The cached tensors, or None when absent, truncated or corrupt (then it is rebuilt)."""
    checksum = path.with_suffix(".sha256")
    if not (path.exists() and checksum.exists()):
        return None
    if checksum.read_text().strip() != _sha256(path):
        return None
    try:
        blob = torch.load(path, weights_only=True)
        arrays = (blob["x_train"], blob["y_train"], blob["x_test"], blob["y_test"])
        return arrays, str(blob["source"]), (blob["mean"], blob["std"])
    except Exception:
        return None


def _write_cache(path: Path, arrays: Arrays, source: str, stats: tuple[Tensor, Tensor]) -> None:
    """Write atomically (temp file + rename) so an interrupted run never leaves half a cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        x_train, y_train, x_test, y_test = arrays
        torch.save({"x_train": x_train, "y_train": y_train, "x_test": x_test,
                    "y_test": y_test, "source": source, "mean": stats[0], "std": stats[1]}, tmp)
        path.with_suffix(".sha256").write_text(_sha256(tmp) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data directory still works, only without the fast cache


def main(argv: list[str] | None = None) -> None:
    """``python -m dlcourse.data [--download] [ROOT]``: load (and cache) both data sets."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("root", nargs="?", default=None, help=f"data directory (default: ${DATA_ENV} or ./data)")
    parser.add_argument("--download", action="store_true", help="download from the official hosts if missing")
    args = parser.parse_args(argv)
    for load in (mnist, cifar10):
        print(load(args.root, download=args.download).note)


if __name__ == "__main__":
    main()
