"""Inferred inputs that fit the model: its own attributes, then a short ladder, reporting which one ran."""

from __future__ import annotations

import json

import pytest
import torch

from hubcheck.worker.input_ladder import NoInputFits, candidates, fit_inputs
from tests.helpers import hubcheck, write_repo

HUBCONF = '''
"""Models whose inputs must be inferred from more than their first layer."""
import torch
import torchvision

dependencies = ["torch", "torchvision"]


class _PatchNet(torch.nn.Module):
    """A ViT-like stem: a patch grid of fixed size, so only img_size fits."""

    def __init__(self):
        super().__init__()
        self.img_size = 56
        self.patch_size = 14
        self.proj = torch.nn.Conv2d(3, 8, 14, stride=14)
        self.pos = torch.nn.Parameter(torch.zeros(1, 8, 4, 4))

    def forward(self, x):
        return (self.proj(x) + self.pos).mean((2, 3))


class _Fixed(torch.nn.Module):
    """Takes exactly 7x7 images: no ladder rung fits."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.head = torch.nn.Linear(50, 2)

    def forward(self, x):
        return self.head(self.conv(x).flatten(1))


def resnet():
    """torchvision's resnet18, untrained."""
    return torchvision.models.resnet18(weights=None, num_classes=4)


def patches():
    """A patch-grid model with img_size = 56."""
    return _PatchNet()


def fixed():
    """A model no inferred input fits."""
    return _Fixed()


class _Wrapper:
    """A GAN-zoo-style wrapper: the network is an attribute, nothing says what it takes."""

    def __init__(self):
        self.netG = torch.nn.Linear(4, 4)

    def __call__(self, z):
        return self.netG(z)


def wrapper():
    """A wrapper object, not an nn.Module."""
    return _Wrapper()
'''


def test_a_timm_pretrained_cfg_comes_first_and_channels_follow_it():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3))
    model.pretrained_cfg = {"input_size": (1, 40, 48)}
    found = candidates(model)
    assert found[0].specs[0]["shape"] == [2, 1, 40, 48] and found[0].source == "pretrained_cfg['input_size']"
    assert [c.specs[0]["shape"][2] for c in found[1:]] == [64, 224, 32]


def test_a_patch_size_rounds_every_rung_up_to_a_multiple():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 16, stride=16))
    model.patch_size = 16
    assert [c.specs[0]["shape"][2] for c in candidates(model)] == [224, 256, 64, 32]
    model.patch_size = 14
    assert [c.specs[0]["shape"][2] for c in candidates(model)] == [224, 266, 70, 42]


def test_the_first_candidate_that_runs_is_reported_with_what_was_tried_before():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 62 * 62, 2))
    specs, result, note = fit_inputs(model, lambda s: model(torch.zeros(s[0]["shape"])))
    assert specs[0]["shape"] == [2, 3, 64, 64] and result.shape == (2, 2)
    assert note.startswith("input inferred from the first layer Conv2d: float32 [2, 3, 64, 64]; tried first: "
                           "float32 [1, 3, 224, 224] (RuntimeError")
    with pytest.raises(NoInputFits, match="the input must be declared"):
        fit_inputs(model, lambda s: (_ for _ in ()).throw(ValueError("size mismatch")))


@pytest.mark.slow
def test_validate_runs_forward_on_inputs_that_fit(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": HUBCONF})
    run = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json")
    checks = {(c["entrypoint"], c["check"]): c for c in json.loads(run.stdout)["checks"]}
    assert checks[("resnet", "forward")]["status"] == "passed"
    assert "[1, 3, 224, 224]" in checks[("resnet", "forward")]["message"]
    assert checks[("patches", "forward")]["status"] == "passed"
    assert "model.img_size: float32 [2, 3, 56, 56]" in checks[("patches", "forward")]["message"]
    unfit = checks[("fixed", "forward")]
    assert unfit["status"] == "not-verified" and "the input must be declared" in unfit["message"]
    assert "--input SHAPE[:DTYPE] (sizes joined by x" in unfit["message"]
    # Every shape the ladder knew is listed as tried, and no other is proposed.
    assert unfit["message"].count("float32 [") == len(candidates(torch.nn.Conv2d(3, 2, 3)))
    wrapped = checks[("wrapper", "forward")]
    assert wrapped["status"] == "not-verified" and "_Wrapper, not an nn.Module" in wrapped["message"]
    assert "shape = [" not in wrapped["message"] and "--method NAME" in wrapped["message"]


def test_an_error_that_is_not_about_sizes_ends_the_ladder_as_the_models_own():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3))
    calls = []

    def needs_cuda(specs):
        calls.append(specs)
        raise RuntimeError("Found no NVIDIA driver on your system. Please check ... http://www.nvidia.com/Download/index.aspx")

    with pytest.raises(RuntimeError, match="NVIDIA driver"):
        fit_inputs(model, needs_cuda)
    assert len(calls) == 1
