"""The DCGAN: pytorch_GAN_zoo hub surface, learned digits, inference.py, training determinism."""

from __future__ import annotations

import pytest
import torch
from torch import nn

CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def gan(hub_load):
    return hub_load("DCGAN", pretrained=True, useGPU=False)


def test_returned_module(gan):
    assert isinstance(gan, nn.Module)
    assert isinstance(gan.netG, nn.Module)
    assert not gan.training and not gan.netG.training
    assert gan.getSize() == (32, 32)
    assert gan.device == torch.device("cpu")
    n_params = sum(p.numel() for p in gan.netG.parameters())
    assert n_params <= 320_000


def test_build_noise_data(gan):
    noise, labels = gan.buildNoiseData(5)
    assert labels is None
    assert noise.shape == (5, 64)
    assert noise.device == gan.device
    seeded = [gan.buildNoiseData(4, generator=torch.Generator().manual_seed(3))[0] for _ in range(2)]
    assert torch.equal(*seeded)


def test_test_output(gan):
    noise, _ = gan.buildNoiseData(16)
    images = gan.test(noise)
    assert images.shape == (16, 1, 32, 32)
    assert images.device == torch.device("cpu")
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert not images.requires_grad
    assert images.std() > 0.1  # not a constant image
    on_device = gan.test(noise, toCPU=False)
    assert on_device.device == gan.device
    assert torch.equal(on_device.cpu(), images)
    # forward() is the generator's output on the model's device.
    with torch.no_grad():
        assert torch.equal(gan(noise), images)
        assert torch.equal(gan.netG(noise), images)


def test_state_dict_round_trip(gan, hub_load):
    state = gan.state_dict()
    assert any(key.endswith("running_mean") for key in state)  # BatchNorm buffers travel too
    fresh = hub_load("DCGAN", pretrained=False)
    noise, _ = gan.buildNoiseData(8, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(fresh.test(noise), gan.test(noise))  # random init differs from pretrained
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.test(noise), gan.test(noise))


def test_pretrained_needs_default_architecture(hub_load):
    assert hub_load("DCGAN", pretrained=False, latent_dim=16).buildNoiseData(2)[0].shape == (2, 16)
    with pytest.raises(ValueError, match="default architecture"):
        hub_load("DCGAN", pretrained=True, latent_dim=16)


@pytest.mark.skipif(CUDA, reason="checks the CPU fallback of useGPU=True")
def test_use_gpu_without_cuda_stays_on_cpu(hub_load):
    model = hub_load("DCGAN", useGPU=True)
    assert model.device == torch.device("cpu")
    noise, _ = model.buildNoiseData(2)
    assert model.test(noise, toCPU=False).device == torch.device("cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_use_gpu_with_cuda(hub_load):
    model = hub_load("DCGAN", useGPU=True)
    assert model.device.type == "cuda"
    noise, _ = model.buildNoiseData(4)
    assert noise.device.type == "cuda"
    assert model.test(noise).device == torch.device("cpu")
    assert model.test(noise, toCPU=False).device.type == "cuda"


def test_generated_images_look_like_digits(gan):
    """A classifier of the real digits recognises the generated ones, of most classes."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    real = torch.from_numpy(digits.images).float().unsqueeze(1) / 8.0 - 1.0
    real = nn.functional.interpolate(real, size=(32, 32), mode="bilinear", align_corners=False)
    x = real.flatten(1).numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    clf = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    assert clf.score(x_test, y_test) > 0.9
    real_confidence = clf.predict_proba(x_test).max(1).mean()

    noise, _ = gan.buildNoiseData(256, generator=torch.Generator().manual_seed(0))
    fake = gan.test(noise).flatten(1).numpy()
    proba = clf.predict_proba(fake)
    ratio = proba.max(1).mean() / real_confidence
    classes = np.unique(proba.argmax(1))
    assert ratio >= 0.75, f"generated/real confidence ratio {ratio:.3f}"
    assert len(classes) >= 8, f"classes generated: {classes.tolist()}"


def test_weights_are_small_plain_state_dicts(repo_dir):
    for name in ("mlp_blobs.pth", "dcgan_digits.pth"):
        path = repo_dir / "refzoo" / "weights" / name
        assert path.stat().st_size < 5_000_000
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())


def test_inference_writes_png_grid(repo_dir, run_python, tmp_path):
    import numpy as np
    from PIL import Image  # Pillow ships with torchvision

    run_python(str(repo_dir / "inference.py"), "-n", "16", "--output", "grid.png", "--seed", "0", cwd=tmp_path)
    png = tmp_path / "grid.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.load()  # a full decode, not just the header
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    # make_grid: 8 per row, 2 px padding around 32x32 tiles -> 2 rows x 8 columns.
    assert pixels.shape == (2 * 34 + 2, 8 * 34 + 2)
    assert pixels.std() > 10  # not blank
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


@pytest.mark.slow
def test_short_training_run_is_deterministic(repo_dir, run_python, tmp_path, hub_load):
    args = [str(repo_dir / "train_dcgan.py"), "--epochs", "2", "--max-batches", "3"]
    for name in ("first.pth", "second.pth"):
        run_python(*args, "--output", str(tmp_path / name), cwd=tmp_path)
    first = torch.load(tmp_path / "first.pth", map_location="cpu", weights_only=True)
    second = torch.load(tmp_path / "second.pth", map_location="cpu", weights_only=True)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    # What the script writes is what the entry point loads.
    hub_load("DCGAN", pretrained=False).netG.load_state_dict(first, strict=True)
