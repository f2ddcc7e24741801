"""References that fit: seeded inputs stored as their digests, outputs within tolerance kept, every suggested
command run exactly as printed."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load, save

from hubcheck.worker.inputs import make_inputs
from hubcheck.worker.references import InputsNotReproduced, read_reference
from tests.helpers import PROJECT, file_digests, hubcheck, write_repo

pytestmark = pytest.mark.slow

CONV_HUBCONF = '''
"""A small conv net on 3x64x64 images."""
dependencies = ["torch"]

import torch


def tiny_conv():
    """Conv, pool, linear: 10 logits."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(4, 10)).eval()
'''
CONV_CONFIG = '''
[validate]
devices = ["cpu"]

[entrypoints.tiny_conv]
inputs = [ { shape = [1, 3, 64, 64] } ]
'''


def _metadata(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length])["__metadata__"], load(raw)


def _rewrite(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    path.write_bytes(save(tensors, metadata=metadata))


def _reference_check(repo: Path, *args: str) -> dict:
    run = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json", *args)
    assert run.code in (0, 1), run.stderr
    return next(c for c in json.loads(run.stdout)["checks"] if c["check"] == "reference")


def _as_printed(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command hubcheck printed, through a shell, with this interpreter's `hubcheck` first on PATH."""
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=environment, stdin=subprocess.DEVNULL)


def _quoted_command(message: str, after: str) -> str:
    found = re.search(re.escape(after) + r"\s*`(hubcheck [^`]+)`", message)
    assert found, (after, message)
    return found.group(1)


def test_seeded_inputs_are_stored_as_digests_regenerated_and_verified(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": CONV_HUBCONF, "hubcheck.toml": CONV_CONFIG})
    run = hubcheck("record", str(repo))
    assert run.code == 0, run.stderr
    reference = repo / "hubcheck_refs" / "tiny_conv" / "default.safetensors"
    metadata, tensors = _metadata(reference)
    record = json.loads(metadata["hubcheck.record"])
    # The 49,152-byte input is not in the file: its spec, seed and digest are.
    assert metadata["hubcheck.format"] == "2" and list(tensors) == ["output"]
    assert reference.stat().st_size < 2_000 and len(record["input_sha256"]) == 1
    (regenerated,) = read_reference(reference).inputs
    assert torch.equal(regenerated, make_inputs([{"shape": [1, 3, 64, 64], "dtype": "float32"}], 0)[0])
    assert _reference_check(repo)["status"] == "passed"

    # Another torch whose generator makes other values from the seed reads as a digest that does not match.
    record["input_sha256"] = ["0" * 64]
    record["torch"] = "1.0.0"
    _rewrite(reference, tensors, {**metadata, "hubcheck.record": json.dumps(record)})
    with pytest.raises(InputsNotReproduced, match=re.escape("regenerates other values from it than torch 1.0.0 recorded")):
        read_reference(reference)
    check = _reference_check(repo)
    assert check["status"] == "failed", check
    assert "outputs are not compared on the wrong inputs: validate with torch 1.0.0" in check["message"]
    assert "hubcheck record --update" in check["message"] and "\n" not in check["message"]


def test_record_keeps_outputs_within_tolerance_and_refuses_beyond_with_a_command_that_works(tmp_path):
    """reference_repo's DCGAN, its stored outputs moved by the last bits another CPU changes, then by 0.1."""
    repo = tmp_path / "reference repo"
    shutil.copytree(PROJECT / "reference_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    reference = repo / "hubcheck_refs" / "DCGAN" / "default.safetensors"
    metadata, tensors = _metadata(reference)
    assert metadata["hubcheck.format"] == "1" and "input.0" in tensors  # shipped in the old format, still read
    output = tensors["output"]
    _rewrite(reference, {**tensors, "output": output + 2e-7 * output.sign()}, metadata)
    before = reference.read_bytes()

    assert _reference_check(repo, "--entrypoint", "DCGAN")["status"] == "passed"
    kept = hubcheck("record", str(repo), "--entrypoint", "DCGAN")
    assert kept.code == 0, kept.stderr
    assert re.search(r"unchanged hubcheck_refs/DCGAN/default.safetensors \(within tolerance: max abs diff "
                     r"[0-9.e-]+\)", kept.stdout), kept.stdout
    assert reference.read_bytes() == before

    _rewrite(reference, {**tensors, "output": output + 0.1}, metadata)
    refused = hubcheck("record", str(repo), "--entrypoint", "DCGAN", "--size-limit", "5000000")
    assert refused.code == 1
    assert "exists and the outputs differ beyond tolerance (max abs diff 0.1;" in refused.stderr, refused.stderr
    update = _quoted_command(refused.stderr, "rerun with --update to replace it (")
    assert update == f"hubcheck record '{repo}' --entrypoint DCGAN --size-limit 5000000 --update"
    accepted = _as_printed(update, tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert "updated hubcheck_refs/DCGAN/default.safetensors" in accepted.stdout
    assert _metadata(reference)[0]["hubcheck.format"] == "2"
    assert sorted(p.name for p in reference.parent.iterdir()) == ["default.json", "default.safetensors"]


FLAGGED_HUBCONF = '''
"""Two linear layers that need flags to run offline."""
dependencies = ["torch"]

import torch


def tiny(width=2, pretrained=True):
    """A 4-to-width linear layer.

    Args:
        width: outputs.
        pretrained: download weights (impossible offline).
    """
    if pretrained:
        raise RuntimeError("no weights offline")
    torch.manual_seed(SEED)
    return torch.nn.Linear(4, width)


def other(pretrained=True):
    """A 4-to-2 linear layer.

    Args:
        pretrained: download weights (impossible offline).
    """
    if pretrained:
        raise RuntimeError("no weights offline")
    torch.manual_seed(1)
    return torch.nn.Linear(4, 2)
'''


def test_every_suggested_command_runs_as_printed(tmp_path):
    repo = write_repo(tmp_path / "their repo", {"hubconf.py": FLAGGED_HUBCONF.replace("SEED", "0")})
    config = tmp_path / "my config.toml"
    # Outputs of 8x8 float32 are 256 bytes: over this limit, so the suggestions must raise it.
    config.write_text('[validate]\ndevices = ["cpu"]\nreference_size_limit = 64\n')
    references, torch_home = tmp_path / "my refs", tmp_path / "torch home"
    torch_home.mkdir()
    flags = ("--config", str(config), "--kwarg", "width=8", "--input", "8x4", "--no-pretrained",
             "--references", str(references), "--torch-home", str(torch_home), "--timeout", "120")
    untouched = file_digests(repo)

    check = _reference_check(repo, "--select-entrypoints", "t*", *flags)
    assert check["status"] == "skipped", check
    start = _quoted_command(check["message"], "no references recorded: start with")
    assert "--select-entrypoints 't*'" in start and "--size-limit 1000000" in start and f"'{repo}'" in start
    assert "(its outputs are 256 bytes, over the reference size limit of 64)" in check["message"]
    started = _as_printed(start, tmp_path)
    assert started.returncode == 0, started.stderr
    assert "created" in started.stdout and sorted(p.name for p in references.iterdir()) == ["tiny"]

    (repo / "hubconf.py").write_text(FLAGGED_HUBCONF.replace("SEED", "5"))
    untouched["hubconf.py"] = (repo / "hubconf.py").read_bytes()
    run = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json", *flags)
    assert run.code == 1, run.stderr
    checks = {c["entrypoint"]: c for c in json.loads(run.stdout)["checks"] if c["check"] == "reference"}
    assert checks["tiny"]["status"] == "failed" and checks["other"]["status"] == "failed"
    for message, after in ((checks["tiny"]["message"], "If the change is intended, accept it:"),
                           (checks["other"]["message"], "record it with")):
        command = _quoted_command(message, after)
        ran = _as_printed(command, tmp_path)
        assert ran.returncode == 0, (command, ran.stdout, ran.stderr)
        assert re.search(r"(updated|created) .*(tiny|other)/default.safetensors", ran.stdout), ran.stdout
    assert sorted(p.name for p in references.iterdir()) == ["other", "tiny"]
    assert file_digests(repo) == untouched  # nothing was written into their repo


def test_inputs_the_judge_cannot_regenerate_are_stored_in_full(tmp_path):
    """Repo code replaced torch.randn before the inputs were made: the judge, where no repo code ran, makes
    other values from the spec, so the reference keeps the inputs the outputs were computed on."""
    hubconf = CONV_HUBCONF.replace('    torch.manual_seed(0)\n',
                                   '    torch.manual_seed(0)\n    torch.randn = lambda *shape, **_: torch.full(shape[0], 0.5)\n')
    repo = write_repo(tmp_path / "repo", {"hubconf.py": hubconf, "hubcheck.toml": CONV_CONFIG})
    run = hubcheck("record", str(repo))
    assert run.code == 0, run.stderr
    reference = repo / "hubcheck_refs" / "tiny_conv" / "default.safetensors"
    metadata, tensors = _metadata(reference)
    assert "input_sha256" not in json.loads(metadata["hubcheck.record"])
    assert torch.equal(tensors["input.0"], torch.full((1, 3, 64, 64), 0.5))
    assert _reference_check(repo)["status"] == "passed"
