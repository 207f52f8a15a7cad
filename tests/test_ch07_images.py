"""Chapter 7's helpers: the Fréchet distance matches its closed forms, the image encoder's features give its
logits, inputs are normalised as the model expects, and the Fashion-MNIST reader validates its files."""

import gzip

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from bigmodel_helpers import assets, images


def test_frechet_distance_of_a_set_with_itself_is_zero_and_a_shift_adds_its_squared_length():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    assert images.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0])
    assert images.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_from_stats_matches_the_diagonal_closed_form_and_scipy_sqrtm():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = images.frechet_from_stats(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9)
    rng = np.random.default_rng(1)
    m_a, m_b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c_a, c_b = m_a @ m_a.T + 0.1 * np.eye(5), m_b @ m_b.T + 0.1 * np.eye(5)
    scipy_value = np.trace(c_a + c_b - 2 * np.real(sqrtm(c_a @ c_b)))
    assert images.frechet_from_stats(np.zeros(5), c_a, np.zeros(5), c_b) == pytest.approx(scipy_value, rel=1e-6)
    assert images.frechet_from_stats(np.zeros(5), c_a, np.zeros(5), c_b) == pytest.approx(
        images.frechet_from_stats(np.zeros(5), c_b, np.zeros(5), c_a), rel=1e-9)


def test_gaussian_stats_refuses_a_single_vector():
    with pytest.raises(ValueError, match="N >= 2"):
        images.gaussian_stats(np.zeros((1, 4)))


def test_to_model_input_resizes_grey_images_to_three_normalised_channels():
    flat = torch.zeros(2, 784)
    flat[1] = 1.0
    x = images.to_model_input(flat, 64)
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full_like(x[0], -1.0)) and torch.allclose(x[1], torch.ones_like(x[1]))
    with pytest.raises(ValueError, match="not square"):
        images.to_model_input(torch.zeros(2, 780), 64)


def test_image_features_give_the_classifiers_logits_and_do_not_depend_on_the_batch_size():
    try:
        model, _, _, _ = assets.load_image_classifier("cpu")
    except assets.AssetError as err:
        pytest.skip(f"image classifier not installed: {err}")
    x = torch.randn(5, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    features = images.image_features(model, x, batch_size=2)
    assert features.shape == (5, model.num_features)
    with torch.no_grad():
        assert torch.allclose(model.get_classifier()(features), model(x), atol=1e-4)
    assert torch.allclose(features, images.image_features(model, x, batch_size=5), atol=1e-5)
    trunk, stage, pool, head = images.split_last_stage(model)
    with torch.no_grad():
        assert torch.allclose(pool(stage(trunk(x))), features, atol=1e-5)
        assert torch.allclose(head(pool(stage(trunk(x)))), model(x), atol=1e-4)


def test_split_last_stage_of_a_torchvision_resnet_gives_its_logits():
    import torchvision
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    trunk, stage, pool, head = images.split_last_stage(model)
    with torch.no_grad():
        assert torch.allclose(head(pool(stage(trunk(x)))), model(x), atol=1e-5)
        assert torch.allclose(images.image_features(model, x), pool(stage(trunk(x))), atol=1e-5)


def _write_idx(path, magic: int, shape: tuple, values: bytes):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    with gzip.open(path, "wb") as f:
        f.write(header + values)


def _fake_fashion(folder, n_train=30, n_test=10, image_magic=2051):
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", image_magic, (n, 28, 28), bytes([7]) * (n * 784))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 2049, (n,), bytes(i % 10 for i in range(n)))


def test_load_fashion_mnist_reads_idx_files_and_carves_a_seeded_validation_split(tmp_path):
    _fake_fashion(tmp_path)
    data = assets.load_fashion_mnist(val_size=6, seed=3, folder=tmp_path)
    assert [len(data[s][0]) for s in ("train", "val", "test")] == [24, 6, 10]
    assert data["train"][0].shape == (24, 784) and data["train"][0].dtype == np.float32
    assert np.allclose(data["test"][0], 7 / 255)
    again = assets.load_fashion_mnist(val_size=6, seed=3, folder=tmp_path)
    assert np.array_equal(data["val"][1], again["val"][1])
    labels = np.sort(np.r_[data["train"][1], data["val"][1]])
    assert np.array_equal(labels, np.sort(np.arange(30) % 10))   # nothing lost, nothing copied


def test_load_fashion_mnist_refuses_a_wrong_magic_number_and_a_missing_file(tmp_path):
    _fake_fashion(tmp_path, image_magic=2049)
    with pytest.raises(assets.AssetError, match="magic number"):
        assets.load_fashion_mnist(val_size=6, folder=tmp_path)
    _fake_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(assets.AssetError, match="missing"):
        assets.load_fashion_mnist(val_size=6, folder=tmp_path)


def test_load_fashion_mnist_refuses_a_truncated_file(tmp_path):
    _fake_fashion(tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", 2051, (30, 28, 28), bytes(100))
    with pytest.raises(assets.AssetError, match="header says"):
        assets.load_fashion_mnist(val_size=6, folder=tmp_path)


def _tiny_data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    return torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


class _LibraryEMA:
    """The same average kept by torch.optim.swa_utils.AveragedModel with the same decay rule."""

    def __init__(self, ema):
        self.ema, self.model = ema, None

    def on_fit_start(self, trainer):
        from torch.optim.swa_utils import AveragedModel
        self.model = AveragedModel(trainer.model, avg_fn=lambda a, w, n: torch.lerp(a, w, 1 - self.ema.decay_at(n)))
        self.model.update_parameters(trainer.model)     # the first call copies the weights

    def on_step_end(self, trainer):
        self.model.update_parameters(trainer.model)


def _fit(callbacks, steps=7):
    from bigmodel_helpers.train import TrainConfig, Trainer
    model = _tiny_model()
    cfg = TrainConfig(max_steps=steps, batch_size=8, lr=5e-2, progress=False, log_every=steps, seed=0)
    Trainer(model, cfg, _tiny_data(), loss_fn=torch.nn.functional.cross_entropy, callbacks=callbacks).fit()
    return model


def test_ema_callback_matches_torch_averaged_model_and_copies_buffers():
    ema = images.EMA(decay=0.9)
    library = _LibraryEMA(ema)
    model = _fit([ema, library])
    assert ema.updates == 7
    for mine, theirs, final in zip(ema.model.parameters(), library.model.module.parameters(), model.parameters()):
        assert torch.allclose(mine, theirs, atol=1e-6)
        assert not mine.requires_grad
    assert any(not torch.allclose(m, f) for m, f in zip(ema.model.parameters(), model.parameters()))  # it averages
    for mine, final in zip(ema.model.buffers(), model.buffers()):
        assert torch.equal(mine, final)


def test_ema_decay_rule_and_its_limits():
    ema = images.EMA(decay=0.999)
    assert ema.decay_at(1) == pytest.approx(2 / 11) and ema.decay_at(10_000) == pytest.approx(0.999)
    assert images.EMA(decay=0.5, warmup=False).decay_at(1) == 0.5
    zero = images.EMA(decay=0.0, warmup=False)
    model = _fit([zero], steps=3)
    assert all(torch.equal(a, w) for a, w in zip(zero.model.parameters(), model.parameters()))
    with pytest.raises(ValueError, match="decay"):
        images.EMA(decay=1.0)


def test_ema_update_by_hand():
    ema = images.EMA(decay=0.5, warmup=False)
    layer = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        ema.update(layer)                 # the first call copies
        layer.weight.fill_(3.0)
        ema.update(layer)
    assert torch.allclose(ema.model.weight, torch.full((1, 2), 2.0)) and ema.updates == 1


def test_new_head_and_reinitialise_keep_the_architecture_and_drop_the_weights():
    import torchvision
    model = torchvision.models.resnet18(weights=None)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images.new_head(model, 7)
    assert model.fc.out_features == 7
    with torch.no_grad():
        model.bn1.running_mean.fill_(3.0)
    assert images.reinitialise(model) > 20
    after = model.state_dict()
    assert set(after) == set(before)
    assert torch.equal(after["bn1.running_mean"], torch.zeros(64))
    assert not torch.equal(after["layer1.0.conv1.weight"], before["layer1.0.conv1.weight"])
    x = torch.randn(2, 3, 32, 32)
    assert model.eval()(x).shape == (2, 7)


def test_reinitialise_refuses_a_layer_it_cannot_reset():
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="reset_parameters"):
        images.reinitialise(torch.nn.Sequential(torch.nn.Linear(3, 3), Scale()))
    with pytest.raises(TypeError, match="new_head"):
        images.new_head(torch.nn.Linear(3, 3), 2)
