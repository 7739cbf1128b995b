from __future__ import annotations

import pytest
import torch

from dlcourse import data, training
from dlcourse.models import LeNet, LeNet5


def _padded_digits(mnist: data.Dataset, n: int, split: str = "train") -> data.Split:
    s = getattr(mnist, split)[:n]
    return data.Split(data.pad(s.images), s.labels, s.mean, s.std)


def test_random_crop_cuts_a_shifted_window_of_the_padded_image() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = training.random_crop(x, 2, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    assert out.shape == x.shape
    for i in range(2):
        windows = [padded[i, :, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_random_crop_offsets_cover_every_shift() -> None:
    x = torch.zeros(2000, 1, 3, 3)
    x[:, :, 1, 1] = 1  # a single bright pixel; where it lands tells the offset
    out = training.random_crop(x, 1, torch.Generator().manual_seed(1))
    positions = out.flatten(1).argmax(1)
    assert set(positions.tolist()) == set(range(9))


def test_random_flip_mirrors_about_half_the_images() -> None:
    x = torch.randn(1000, 3, 8, 8)
    out = training.random_flip(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert (same | mirrored).all()
    assert 400 < mirrored.sum().item() < 600


def test_augment_is_deterministic_for_a_seed() -> None:
    x = torch.randn(64, 3, 32, 32)
    a = training.Augment()(x, torch.Generator().manual_seed(3))
    b = training.Augment()(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(training.NO_AUGMENT(x), x)


def _train(split: data.Split, seed: int, **kw) -> tuple[training.History, torch.nn.Module]:
    training.set_seed(seed)
    model = LeNet(in_channels=1)
    history = training.fit(model, split, split[:256], epochs=2, batch_size=64, seed=seed,
                           progress=False, **kw)
    return history, model


def test_fit_is_deterministic_for_a_seed(mnist: data.Dataset) -> None:
    split = _padded_digits(mnist, 1024)
    h1, m1 = _train(split, seed=7, augment=training.DIGITS_AUGMENT)
    h2, m2 = _train(split, seed=7, augment=training.DIGITS_AUGMENT)
    h3, _ = _train(split, seed=8, augment=training.DIGITS_AUGMENT)
    assert h1.column("train_loss") == h2.column("train_loss")
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert h1.column("train_loss") != h3.column("train_loss")


def test_fit_learns_digits_and_evaluate_agrees_with_predict(mnist: data.Dataset) -> None:
    train = _padded_digits(mnist, 4000)
    test = _padded_digits(mnist, 1000, "test")
    training.set_seed(0)
    model = LeNet(in_channels=1)
    history = training.fit(model, train, test, epochs=2, batch_size=64, lr=0.05, progress=False)
    assert len(history) == 2 and history.final.test_acc > 0.85
    assert history.column("train_loss")[1] < history.column("train_loss")[0]
    loss, acc = training.evaluate(model, test)
    labels, scores = training.predict(model, test)
    assert acc == pytest.approx(history.final.test_acc)
    assert acc == pytest.approx((labels == test.labels).float().mean().item())
    assert scores.shape == (1000, 10) and loss > 0


def test_fit_trains_lenet5_with_its_rbf_loss(mnist: data.Dataset) -> None:
    train = _padded_digits(mnist, 2000)
    training.set_seed(0)
    model = LeNet5()
    assert training.default_loss(model) is not torch.nn.functional.cross_entropy
    history = training.fit(model, train, train[:500], epochs=2, batch_size=32, lr=0.01,
                           optimizer="adam", schedule="cosine", progress=False)
    # penalties: lower is better, so the predicted class is the smallest output
    out = model(train.normalize(train.images[:8]))
    assert torch.equal(training.scores(model, out).argmax(1), out.argmin(1))
    assert history.final.test_acc > 0.6


def test_fit_rejects_bad_settings(mnist: data.Dataset) -> None:
    split = _padded_digits(mnist, 64)
    model = LeNet(in_channels=1)
    with pytest.raises(ValueError, match="positive"):
        training.fit(model, split, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        training.fit(model, split, epochs=1, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="schedule"):
        training.fit(model, split, epochs=1, schedule="linear", progress=False)
    with pytest.raises(ValueError, match="pad"):
        training.fit(model, mnist.train[:64], epochs=1, progress=False)


def test_weight_decay_skips_biases() -> None:
    opt = training.make_optimizer(LeNet(), "sgd", 0.1, 0.9, 5e-4)
    decayed, free = opt.param_groups
    assert all(p.dim() > 1 for p in decayed["params"]) and free["weight_decay"] == 0
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == 62_006


def test_default_device_is_cuda_only_when_present() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert training.default_device().type == expected


def test_augment_crops_and_flips_uint8_images_with_black_padding() -> None:
    x = torch.randint(1, 256, (500, 3, 8, 8), dtype=torch.uint8)  # no zero pixels
    out = training.Augment(crop_padding=2, flip=True)(x, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    mirrored = 0
    for i in range(len(x)):
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        flipped = any(torch.equal(out[i], w.flip(2)) for w in windows)
        assert plain or flipped
        mirrored += flipped and not plain
    assert 200 < mirrored < 300  # about half mirrored
    assert (out == 0).any()  # the padding is black (0), not the mean colour


def test_augment_rejects_negative_padding() -> None:
    with pytest.raises(ValueError, match="crop_padding"):
        training.Augment(crop_padding=-1)


def test_flip_only_augment_mirrors_whole_images() -> None:
    x = torch.randn(200, 3, 8, 8)
    out = training.Augment(crop_padding=0, flip=True)(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert (same | mirrored).all() and 60 < mirrored.sum().item() < 140


def test_fit_channels_last_matches_default_layout_and_restores_it(mnist: data.Dataset) -> None:
    split = _padded_digits(mnist, 1024)
    h1, m1 = _train(split, seed=3, channels_last=False, bf16=False)
    h2, m2 = _train(split, seed=3, channels_last=True, bf16=False)
    assert h2.column("train_loss") == pytest.approx(h1.column("train_loss"), abs=1e-3)
    assert all(p.is_contiguous() for p in m2.parameters())  # back in the usual layout


def test_fit_bf16_is_deterministic_and_learns(mnist: data.Dataset) -> None:
    train = _padded_digits(mnist, 4000)
    test = _padded_digits(mnist, 1000, "test")
    runs = []
    for _ in range(2):
        training.set_seed(0)
        model = LeNet(in_channels=1)
        runs.append(training.fit(model, train, test, epochs=2, batch_size=64, bf16=True, progress=False))
        assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32
    assert runs[0].column("train_loss") == runs[1].column("train_loss")
    assert runs[0].final.test_acc > 0.85


def test_fit_reports_epoch_sums_exactly_as_a_per_step_loop_would(mnist: data.Dataset) -> None:
    # training accuracy is the fraction of (augmented) training images classified right
    split = _padded_digits(mnist, 640)
    h, _ = _train(split, seed=1)
    for e in h.epochs:
        assert 0 <= e.train_acc <= 1 and (e.train_acc * len(split)) == pytest.approx(round(e.train_acc * len(split)))
        assert e.train_loss > 0 and e.seconds > 0


@pytest.mark.parametrize("total_steps", range(1, 10))
def test_onecycle_schedule_works_for_short_runs(total_steps: int) -> None:
    """A tiny run (a few batches) must train, not die in torch's one-cycle arithmetic."""
    model = torch.nn.Linear(2, 1)
    opt = training.make_optimizer(model, "sgd", 0.1, 0.9, 0.0)
    schedule = training.make_schedule(opt, "onecycle", 0.1, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert all(0 < r <= 0.1 + 1e-12 for r in rates)
    if total_steps >= 4:  # a real cycle: it warms up to the peak and anneals below the start
        assert max(rates) == pytest.approx(0.1, rel=0.05) and rates[0] < 0.1 and rates[-1] < rates[0]


def test_onecycle_keeps_a_quarter_warm_up_for_long_runs() -> None:
    opt = training.make_optimizer(torch.nn.Linear(2, 1), "sgd", 0.1, 0.9, 0.0)
    schedule = training.make_schedule(opt, "onecycle", 0.1, 400)
    rates = []
    for _ in range(400):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert max(range(400), key=rates.__getitem__) == 99  # the peak after the first quarter


def _tiny_split(n: int) -> data.Split:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 2, (n,), generator=g)
    return data.Split(images, labels, torch.tensor([0.5]), torch.tensor([0.25]))


def test_history_records_the_lr_each_epochs_last_step_used() -> None:
    """6 one-step epochs of one-cycle: the record is the lr of step k, never the value
    the scheduler moves to after the cycle's last step."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    history = training.fit(model, _tiny_split(8), epochs=6, batch_size=8, lr=0.05, progress=False)
    opt = training.make_optimizer(torch.nn.Linear(2, 1), "sgd", 0.05, 0.9, 5e-4)
    schedule = training.make_schedule(opt, "onecycle", 0.05, 6)
    used = []
    for _ in range(6):
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    after_cycle = opt.param_groups[0]["lr"]
    assert history.column("lr") == pytest.approx(used, rel=1e-12)
    assert history.column("lr")[-1] == min(used) and history.column("lr")[-1] != pytest.approx(after_cycle)


def test_fit_rejects_an_empty_test_split_before_training() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="test is an empty split"):
        training.fit(model, _tiny_split(8), _tiny_split(8)[:0], epochs=1, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing trained


@pytest.mark.parametrize("run", [training.evaluate, training.predict])
def test_evaluate_and_predict_reject_an_empty_split(run) -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    with pytest.raises(ValueError, match="split is an empty split"):
        run(model, _tiny_split(4)[:0])


def test_fast_settings_are_on_only_for_convolutions_on_native_bf16() -> None:
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    assert training.fast_settings(mlp, "cpu") == {"bf16": False, "channels_last": False}
    native = training.native_bf16("cpu")
    assert training.fast_settings(LeNet(), "cpu") == {"bf16": native, "channels_last": native}
    assert training.native_bf16("meta") is False


def test_fit_defaults_to_the_fast_settings(mnist: data.Dataset) -> None:
    """Left at None, bf16 and channels_last are what fast_settings says: the same numbers
    as asking for them explicitly, and different from float32 where bf16 is on."""
    split = _padded_digits(mnist, 512)
    auto, _ = _train(split, seed=1)
    fast = training.fast_settings(LeNet(in_channels=1), "cpu")
    explicit, _ = _train(split, seed=1, **fast)
    assert auto.column("train_loss") == explicit.column("train_loss")
    if fast["bf16"]:
        fp32, _ = _train(split, seed=1, bf16=False, channels_last=False)
        assert auto.column("train_loss") != fp32.column("train_loss")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("channels", [1, 3])
def test_crop_copies_the_same_windows_as_slicing(dtype: torch.dtype, channels: int) -> None:
    g = torch.Generator().manual_seed(0)
    pixels = (torch.rand(7, 10, 9, channels, generator=g) * 255).to(dtype)  # N×H×W×C
    index = torch.randint(0, 7, (20,), generator=g)
    top = torch.randint(0, 10 - 4 + 1, (20,), generator=g)
    left = torch.randint(0, 9 - 6 + 1, (20,), generator=g)
    out = training.crop(pixels, index, top, left, 4, 6)
    expected = torch.stack([pixels[i, t:t + 4, l:l + 6] for i, t, l in zip(index, top, left)])
    assert out.dtype == dtype and torch.equal(out, expected)


def test_augmented_images_batch_is_a_shifted_window_or_its_mirror_in_channels_last() -> None:
    x = torch.randint(1, 256, (50, 3, 8, 8), dtype=torch.uint8)
    images = training.AugmentedImages(x, training.Augment(crop_padding=2, flip=True))
    index = torch.randperm(50, generator=torch.Generator().manual_seed(0))[:30]
    out = images.batch(index, torch.Generator().manual_seed(1))
    assert out.shape == (30, 3, 8, 8) and out.is_contiguous(memory_format=torch.channels_last)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for k, i in enumerate(index.tolist()):  # batch image k comes from stored image index[k]
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[k], w) or torch.equal(out[k], w.flip(2)) for w in windows), \
            f"batch image {k} is neither a window of image {i} nor a mirrored one"


def test_shuffled_batches_visit_every_image_once_with_its_label() -> None:
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    labels = torch.arange(10) * 3
    split = data.Split(x, labels, torch.zeros(1), torch.ones(1))
    images = training.AugmentedImages(x)
    batches = list(training.shuffled_batches(images, labels, split.normalize, 4,
                                             torch.Generator().manual_seed(0), torch.bfloat16))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    xs = torch.cat([b for b, _ in batches])
    ys = torch.cat([y for _, y in batches])
    assert xs.dtype == torch.bfloat16
    assert sorted(ys.tolist()) == labels.tolist()
    # each image is its index in every pixel (×1/255 by normalize): it must travel with its label
    assert torch.equal((xs[:, 0, 0, 0].float() * 255).round().long() * 3, ys)


def test_without_augmentation_the_batches_follow_a_plain_randperm_loop_epoch_after_epoch() -> None:
    """The learning chapter's hand-written loop and fit must shuffle alike in every epoch:
    without augmentation, making a batch draws no random numbers."""
    x = torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1)
    labels = torch.arange(12)
    split = data.Split(x, labels, torch.zeros(1), torch.ones(1))
    images, g = training.AugmentedImages(x, training.NO_AUGMENT), torch.Generator().manual_seed(5)
    plain = torch.Generator().manual_seed(5)
    for epoch in range(3):
        ys = torch.cat([y for _, y in training.shuffled_batches(images, labels, split.normalize, 5, g)])
        assert torch.equal(ys, torch.randperm(12, generator=plain)), f"epoch {epoch + 1} is shuffled differently"


@pytest.mark.parametrize("padding, flip", [(2, True), (4, True), (3, False), (0, True)])
def test_augment_equals_the_straightforward_loop_for_the_same_random_numbers(padding: int, flip: bool) -> None:
    """Augment (and so fit) draws, per batch, every image's window row, then column, then
    whether to mirror it; the fast path must cut exactly the window a loop over images cuts."""
    x = torch.randint(0, 256, (40, 3, 7, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = training.Augment(crop_padding=padding, flip=flip)(x, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    n, p = len(x), padding
    dy = torch.randint(0, 2 * p + 1, (n,), generator=g) if p else torch.zeros(n, dtype=torch.long)
    dx = torch.randint(0, 2 * p + 1, (n,), generator=g) if p else torch.zeros(n, dtype=torch.long)
    mirrored = torch.rand(n, generator=g) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    for i in range(n):
        window = padded[i, :, dy[i]:dy[i] + 7, dx[i]:dx[i] + 9]
        expected = window.flip(2) if mirrored[i] else window
        assert torch.equal(out[i], expected), f"image {i}: window ({dy[i]}, {dx[i]}), mirrored {bool(mirrored[i])}"
