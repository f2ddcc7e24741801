"""Devices: absent accelerators skip cleanly here; with a GPU, the cuda-marked tests run the real thing."""

from __future__ import annotations

import json

import pytest
import torch

from tests.helpers import PROJECT, hubcheck

REFERENCE = str(PROJECT / "reference_repo")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _checks(stdout: str) -> dict[str, dict]:
    report = json.loads(stdout)
    return {f"{c['entrypoint']}::{c['check']}" + (f"[{c['device']}]" if c["device"] else ""): c
            for c in report["checks"]}


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU behaviour")
def test_absent_cuda_is_skipped_with_the_reason_or_fails_when_required():
    run = hubcheck("validate", REFERENCE, "--device", "cpu", "--device", "cuda", "--format", "json")
    assert run.code == 0, run.stderr
    checks = _checks(run.stdout)
    for check in ("load", "forward", "determinism", "state-dict-roundtrip", "reference", "device-parity"):
        assert checks[f"custom_model::{check}[cuda]"]["status"] == "skipped"
        assert checks[f"custom_model::{check}[cuda]"]["message"] == "no CUDA device"
    assert checks["custom_model::forward[cpu]"]["status"] == "passed"
    required = hubcheck("validate", REFERENCE, "--device", "cuda", "--require-device", "--format", "json")
    assert required.code == 1
    assert _checks(required.stdout)["DCGAN::load[cuda]"]["message"] == "no CUDA device (--require-device)"


@pytest.mark.cuda
@needs_cuda
def test_reference_repo_validates_on_cuda():
    run = hubcheck("validate", REFERENCE, "--device", "cuda", "--require-device", "--format", "json")
    assert run.code == 0, run.stdout + run.stderr
    checks = _checks(run.stdout)
    device = next(c["device"] for c in checks.values() if c["device"] and c["device"].startswith("cuda"))
    for entrypoint in ("custom_model", "DCGAN"):
        for check in ("load", "forward", "determinism", "state-dict-roundtrip", "reference", "device-parity"):
            assert checks[f"{entrypoint}::{check}[{device}]"]["status"] == "passed", (entrypoint, check)


@pytest.mark.cuda
@needs_cuda
def test_dcgan_device_kwargs_put_it_on_the_gpu():
    run = hubcheck("validate", REFERENCE, "--device", "cuda", "--entrypoint", "DCGAN", "--format", "json")
    load = next(c for c in json.loads(run.stdout)["checks"] if c["check"] == "load")
    assert load["status"] == "passed" and "on cuda" in load["message"]


@pytest.mark.cuda
@needs_cuda
def test_cuda_parity_catches_a_gpu_only_difference(tmp_path):
    from tests.helpers import write_repo

    repo = write_repo(tmp_path / "repo", {
        "hubconf.py": '''
            """An entry point whose output on CUDA is shifted: device-parity must fail."""
            dependencies = ["torch"]
            import torch


            class _Shifted(torch.nn.Module):
                def forward(self, x):
                    return x + (1.0 if x.is_cuda else 0.0)


            def shifted():
                """Adds one on the GPU only."""
                return _Shifted()
        ''',
        "hubcheck.toml": "[entrypoints.shifted]\ninputs = [ { shape = [4] } ]\n",
    })
    run = hubcheck("validate", str(repo), "--device", "cpu", "--device", "cuda", "--format", "json")
    assert run.code == 1
    parity = next(c for c in json.loads(run.stdout)["checks"] if c["check"] == "device-parity")
    assert parity["status"] == "failed" and "outputs differ from the CPU's" in parity["message"]
