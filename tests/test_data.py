from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from dlcourse import data
from dlcourse.data import DataError


def test_mnist_has_official_sizes(mnist: data.Dataset) -> None:
    assert mnist.train.images.shape == (60_000, 1, 28, 28)
    assert mnist.test.images.shape == (10_000, 1, 28, 28)
    assert mnist.train.images.dtype == torch.uint8 and mnist.train.labels.dtype == torch.int64
    assert mnist.classes == [str(d) for d in range(10)]
    # The famous first training label of MNIST is a 5, and every digit occurs.
    assert mnist.train.labels[0].item() == 5
    assert torch.bincount(mnist.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.exact
    assert torch.allclose(mnist.train.mean, torch.tensor([0.1307]), atol=1e-4)


def test_cifar10_has_official_sizes_and_label_order(cifar10: data.Dataset) -> None:
    assert cifar10.train.images.shape == (50_000, 3, 32, 32)
    assert cifar10.test.images.shape == (10_000, 3, 32, 32)
    assert cifar10.classes[0] == "airplane" and cifar10.classes[9] == "truck"
    assert torch.bincount(cifar10.train.labels).tolist() == [5000] * 10
    assert torch.bincount(cifar10.test.labels).tolist() == [1000] * 10
    assert "image-folder" in cifar10.note or cifar10.exact


def test_split_normalises_with_training_statistics(mnist: data.Dataset) -> None:
    x = mnist.train.normalize(mnist.train.images[:20_000])
    assert x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.02 and abs(x.std().item() - 1) < 0.02
    sub = mnist.test[:10]
    assert len(sub) == 10 and sub.mean is mnist.test.mean


def test_split_rejects_bad_tensors() -> None:
    with pytest.raises(ValueError, match="uint8"):
        data.Split(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long), torch.zeros(1), torch.ones(1))
    with pytest.raises(ValueError, match="labels"):
        data.Split(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long),
                   torch.zeros(1), torch.ones(1))


def test_pad_centres_digits() -> None:
    x = torch.ones(2, 1, 28, 28, dtype=torch.uint8)
    y = data.pad(x)
    assert y.shape == (2, 1, 32, 32)
    assert y[..., 2:30, 2:30].eq(1).all() and y.sum() == x.sum()
    with pytest.raises(ValueError, match="larger"):
        data.pad(torch.zeros(1, 1, 40, 40))


def test_data_dir_prefers_argument_then_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "env"))
    assert data.data_dir() == tmp_path / "env"
    assert data.data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(data.DATA_ENV)
    monkeypatch.chdir(tmp_path)
    assert data.data_dir() == Path("data")
    course = tmp_path / "course"
    (course / "dlcourse").mkdir(parents=True)
    (course / "_config.yml").write_text("title: x\n")
    (course / "book").mkdir()
    monkeypatch.chdir(course / "book")  # a chapter opened in Jupyter runs here
    assert data.data_dir() == course / "data"


@pytest.fixture()
def mnist_copy(tmp_path: Path) -> Path:
    """A fresh data directory holding only the raw MNIST files."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (data.data_dir() / "MNIST" / "raw").glob("*-ubyte"):
        shutil.copy(f, raw)
    return tmp_path


def test_cache_is_written_then_used(mnist_copy: Path, mnist: data.Dataset) -> None:
    first = data.mnist(mnist_copy, download=False)
    cache = mnist_copy / "cache" / f"mnist-v{data.CACHE_VERSION}.pt"
    assert cache.exists()
    shutil.rmtree(mnist_copy / "MNIST")  # from now on only the cache can answer
    second = data.mnist(mnist_copy, download=False)
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(second.test.labels, mnist.test.labels)


def test_truncated_cache_is_detected_and_rebuilt(mnist_copy: Path) -> None:
    data.mnist(mnist_copy, download=False)
    cache = mnist_copy / "cache" / f"mnist-v{data.CACHE_VERSION}.pt"
    size = cache.stat().st_size
    with open(cache, "r+b") as f:
        f.truncate(size // 2)
    rebuilt = data.mnist(mnist_copy, download=False)
    assert len(rebuilt.train) == 60_000
    assert cache.stat().st_size == size


def test_flipped_byte_in_cache_is_detected(mnist_copy: Path) -> None:
    data.mnist(mnist_copy, download=False)
    cache = mnist_copy / "cache" / f"mnist-v{data.CACHE_VERSION}.pt"
    blob = bytearray(cache.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # a pixel byte: torch.load would not notice
    cache.write_bytes(bytes(blob))
    assert data._read_cache(cache) is None
    assert len(data.mnist(mnist_copy, download=False).test) == 10_000


def test_truncated_raw_files_get_a_clear_error(mnist_copy: Path) -> None:
    raw = mnist_copy / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes()[:1000])
    with pytest.raises(DataError, match="unreadable.*make data"):
        data.mnist(mnist_copy, download=False)


def test_missing_data_without_download_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        data.cifar10(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "make data" in message and data.DATA_ENV in message


def test_missing_data_when_offline_says_the_download_failed(tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match="Downloading failed.*name resolution"):
        data.mnist(tmp_path, download=True)


def _image_folder(root: Path, classes: list[str], size: int = 32, per_class: int = 2) -> Path:
    from torchvision.io import write_png

    for split in ("train", "test"):
        for c, name in enumerate(classes):
            folder = root / "cifar10" / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                image = torch.full((3, size, size), 20 * c + i, dtype=torch.uint8)
                write_png(image, str(folder / f"{i:04d}.png"))
    return root


def test_image_folder_loads_in_official_label_order(tmp_path: Path) -> None:
    ds = data.cifar10(_image_folder(tmp_path, data.CIFAR10_CLASSES), download=False)
    assert ds.source == "image-folder" and not ds.exact
    assert ds.train.labels.tolist() == [c for c in range(10) for _ in range(2)]
    assert ds.train.images[ds.train.labels == 3][:, 0, 0, 0].tolist() == [60, 61]


def test_image_folder_with_wrong_classes_names_them(tmp_path: Path) -> None:
    classes = [c for c in data.CIFAR10_CLASSES if c != "cat"] + ["kitten"]
    with pytest.raises(DataError, match=r"missing: \['cat'\], unexpected: \['kitten'\]"):
        data.cifar10(_image_folder(tmp_path, classes), download=False)


def test_image_folder_with_wrong_size_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"airplane.0000\.png' is \(28, 28\) pixels"):
        data.cifar10(_image_folder(tmp_path, data.CIFAR10_CLASSES, size=28), download=False)


def test_image_folder_with_corrupt_file_names_it(tmp_path: Path) -> None:
    root = _image_folder(tmp_path, data.CIFAR10_CLASSES)
    bad = root / "cifar10" / "train" / "dog" / "0001.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="Cannot decode.*dog.0001.png"):
        data.cifar10(root, download=False)


def test_corrupt_official_cifar_batches_get_a_clear_error(tmp_path: Path) -> None:
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    (batches / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(DataError, match="unreadable"):
        data.cifar10(tmp_path, download=False)


def test_command_line_prints_a_note(capsys, mnist_copy: Path, monkeypatch) -> None:
    monkeypatch.setattr(data, "cifar10", lambda root, download: data.mnist(root, download))
    data.main([str(mnist_copy)])
    assert "MNIST: official pixels (60,000 train / 10,000 test)" in capsys.readouterr().out


def test_channel_stats_match_the_direct_formula() -> None:
    images = torch.randint(0, 256, (5000, 3, 8, 8), dtype=torch.uint8)
    mean, std = data.channel_stats(images)
    flat = images.transpose(0, 1).reshape(3, -1).double() / 255
    assert torch.allclose(mean, flat.mean(1).float(), atol=1e-6)
    assert torch.allclose(std, flat.std(1).float(), atol=1e-6)


def test_normalize_centres_a_constant_channel_instead_of_dividing_by_zero() -> None:
    images = torch.stack([torch.full((2, 2, 2), 7, dtype=torch.uint8), torch.tensor([[[0, 255], [0, 255]]] * 2, dtype=torch.uint8)], dim=1)
    mean, std = data.channel_stats(images)
    assert std[0] == 0 and std[1] > 0  # channel 0 is constant
    x = data.Split(images, torch.zeros(2, dtype=torch.long), mean, std).normalize(images)
    assert torch.isfinite(x).all()
    # centred (up to the rounding of one multiply-add), not divided by 0
    torch.testing.assert_close(x[:, 0], torch.zeros_like(x[:, 0]), rtol=0, atol=1e-6)
    torch.testing.assert_close(x[:, 1], (images[:, 1].float() / 255 - mean[1]) / std[1])


@pytest.mark.parametrize("channels_last", [False, True])
def test_normalize_keeps_the_layout_and_rounds_once_into_the_dtype(channels_last: bool) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 5, 6), dtype=torch.uint8, generator=g)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    mean, std = torch.tensor([0.49, 0.48, 0.45]), torch.tensor([0.25, 0.24, 0.26])
    split = data.Split(images, torch.zeros(4, dtype=torch.long), mean, std)
    expected = (images.double() / 255 - mean.double().view(1, 3, 1, 1)) / std.double().view(1, 3, 1, 1)
    x = split.normalize(images)
    assert x.dtype == torch.float32 and x.stride() == images.stride()
    torch.testing.assert_close(x.double(), expected, rtol=0, atol=1e-6)
    x16 = split.normalize(images, torch.bfloat16)
    assert x16.dtype == torch.bfloat16 and x16.stride() == images.stride()
    # exactly what autocast makes of the float32 batch: computed in float32, rounded once
    assert torch.equal(x16, x.to(torch.bfloat16))
    with pytest.raises(ValueError, match="floating-point"):
        split.normalize(images, torch.int32)
