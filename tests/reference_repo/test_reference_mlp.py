"""The tutorial MLP: training script, committed weights, hub_usage.py."""

from __future__ import annotations

import re

import pytest
import torch

EPOCH_RE = re.compile(
    r"^epoch: (?P<epoch>\d+) (?P<split>train|test) loss: (?P<loss>\d+\.\d{3}) "
    r"(?P=split) accuracy: (?P<acc>[01]\.\d{3})$"
)


def parse_epochs(stdout: str) -> list[dict]:
    return [m.groupdict() for line in stdout.splitlines() if (m := EPOCH_RE.match(line))]


@pytest.mark.slow
def test_train_is_deterministic_and_reaches_tutorial_accuracy(repo_dir, run_python, tmp_path):
    outputs = []
    for name in ("first.pth", "second.pth"):
        proc = run_python(str(repo_dir / "train.py"), "--output", str(tmp_path / name), cwd=tmp_path)
        outputs.append(proc.stdout)

    first = torch.load(tmp_path / "first.pth", map_location="cpu", weights_only=True)
    second = torch.load(tmp_path / "second.pth", map_location="cpu", weights_only=True)
    assert list(first) == [
        "hidden_layer_1.weight",
        "hidden_layer_1.bias",
        "output_layer.weight",
        "output_layer.bias",
    ]
    for key in first:
        assert torch.equal(first[key], second[key]), key
    epochs = parse_epochs(outputs[0])
    assert epochs == parse_epochs(outputs[1])
    # Two lines per epoch, in the tutorial's format and order.
    assert [(int(e["epoch"]), e["split"]) for e in epochs] == [
        (n, split) for n in range(1, 11) for split in ("train", "test")
    ]
    assert float(epochs[-1]["acc"]) >= 0.98  # epoch 10 test accuracy
    assert float(epochs[-2]["acc"]) >= 0.97  # epoch 10 train accuracy
    # The default output is the committed file, which was not touched.
    assert str(tmp_path / "first.pth") in outputs[0]


def test_committed_weights_reach_098_test_accuracy(hub_load, blobs_split):
    x_train, x_test, y_train, y_test = blobs_split
    model = hub_load("custom_model", pretrained=True)
    assert not model.training
    assert [name for name, _ in model.named_children()] == ["hidden_layer_1", "activation_1", "output_layer"]
    with torch.no_grad():
        test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
        train_acc = (model(x_train).argmax(1) == y_train).float().mean().item()
    assert test_acc >= 0.98
    assert train_acc >= 0.97


def test_custom_model_options(hub_load):
    pretrained = hub_load("custom_model")
    random = hub_load("custom_model", pretrained=False)
    assert not random.training
    assert not torch.equal(pretrained.hidden_layer_1.weight, random.hidden_layer_1.weight)
    wide = hub_load("custom_model", pretrained=False, hiddenDim=16, nbClasses=5)
    assert wide(torch.randn(2, 4)).shape == (2, 5)
    with pytest.raises(ValueError, match="default architecture"):
        hub_load("custom_model", pretrained=True, hiddenDim=16)


def test_hub_usage_runs_from_another_directory(repo_dir, run_python, tmp_path):
    proc = run_python(str(repo_dir / "hub_usage.py"), "--batch-size", "64", cwd=tmp_path)
    match = re.search(r"^test loss: (\d+\.\d{3}) test accuracy: ([01]\.\d{3})$", proc.stdout, re.MULTILINE)
    assert match, proc.stdout
    assert float(match.group(1)) < 0.5
    assert float(match.group(2)) >= 0.95
    assert list(tmp_path.iterdir()) == []  # wrote nothing into the working directory
