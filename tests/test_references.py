"""Reference outputs: record, compare, refuse to overwrite, survive interruption, never unpickle."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hubcheck.worker.compare import Tolerances, compare, compare_tensors
from hubcheck.worker.references import ReferenceUnusable, encode_reference, read_reference
from tests.helpers import hubcheck, write_repo

pytestmark = pytest.mark.slow

MLP_HUBCONF = '''
"""A tiny linear model whose weights live in a file next to hubconf."""
dependencies = ["torch"]

import os as _os
import torch

_WEIGHTS = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "weights.pt")


def linear(pretrained=True):
    """A 4 -> 3 linear layer.

    Args:
        pretrained: load weights.pt.
    """
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    if pretrained:
        model.load_state_dict(torch.load(_WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()
'''
MLP_CONFIG = '''
[entrypoints.linear]
inputs = [ { shape = [8, 4] } ]
'''


@pytest.fixture
def linear_repo(tmp_path: Path) -> Path:
    repo = write_repo(tmp_path / "repo", {"hubconf.py": MLP_HUBCONF, "hubcheck.toml": MLP_CONFIG})
    torch.manual_seed(1)
    torch.save(torch.nn.Linear(4, 3).state_dict(), repo / "weights.pt")
    return repo


def _change_one_weight(repo: Path) -> None:
    state = torch.load(repo / "weights.pt", weights_only=True)
    state["weight"][1, 2] += 0.5
    torch.save(state, repo / "weights.pt")


def _check(report: dict, check_id: str) -> dict:
    for check in report["checks"]:
        label = f"{check['entrypoint']}::{check['check']}" + (f"[{check['device']}]" if check["device"] else "")
        if label == check_id:
            return check
    raise AssertionError(f"{check_id} not in report")


def _validate_json(repo: Path, *args: str) -> tuple[int, dict]:
    run = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json", *args)
    assert run.code in (0, 1), run.stderr
    return run.code, json.loads(run.stdout)


def test_record_then_validate_passes(linear_repo):
    run = hubcheck("record", str(linear_repo))
    assert run.code == 0, run.stderr
    assert "created hubcheck_refs/linear/default.safetensors" in run.stdout
    reference = linear_repo / "hubcheck_refs" / "linear" / "default.safetensors"
    sidecar = json.loads(reference.with_suffix(".json").read_text())
    assert sidecar["leaves"]["output"]["shape"] == [8, 3]
    assert sidecar["leaves"]["output"]["dtype"] == "float32"
    assert len(sidecar["leaves"]["output"]["sha256"]) == 64
    code, report = _validate_json(linear_repo)
    assert code == 0
    assert _check(report, "linear::reference[cpu]")["status"] == "passed"


def test_changed_weight_fails_with_a_full_explanation_then_update_accepts_it(linear_repo):
    assert hubcheck("record", str(linear_repo)).code == 0
    reference = linear_repo / "hubcheck_refs" / "linear" / "default.safetensors"
    recorded = reference.read_bytes()
    _change_one_weight(linear_repo)

    code, report = _validate_json(linear_repo)
    assert code == 1
    message = _check(report, "linear::reference[cpu]")["message"]
    for fragment in (
        "hubcheck_refs/linear/default.safetensors",    # which reference
        "output (float32 [8, 3])",                     # output key, dtype and shape
        "8 of 24 elements differ (33.33%)",            # one input feature's weight: one output column
        "greatest absolute difference",
        "greatest relative difference",
        "tolerance rtol=1.3e-06, atol=1e-05",          # float32, recording device
        f"recorded with torch {torch.__version__} on cpu; now torch {torch.__version__} on cpu",
        f"hubcheck record {linear_repo} --entrypoint linear --update",
    ):
        assert fragment in message, (fragment, message)

    refused = hubcheck("record", str(linear_repo))
    assert refused.code == 1
    assert "exists and the outputs differ beyond tolerance (max abs diff" in refused.stderr
    assert "; left untouched: rerun with --update" in refused.stderr
    assert reference.read_bytes() == recorded

    updated = hubcheck("record", str(linear_repo), "--update")
    assert updated.code == 0, updated.stderr
    assert "updated hubcheck_refs/linear/default.safetensors" in updated.stdout
    assert reference.read_bytes() != recorded
    assert _validate_json(linear_repo)[0] == 0


def test_new_only_keeps_existing_references(linear_repo):
    assert hubcheck("record", str(linear_repo)).code == 0
    reference = linear_repo / "hubcheck_refs" / "linear" / "default.safetensors"
    before = reference.read_bytes()
    _change_one_weight(linear_repo)
    run = hubcheck("record", str(linear_repo), "--new-only")
    assert run.code == 0
    assert "kept hubcheck_refs/linear/default.safetensors" in run.stdout
    assert reference.read_bytes() == before


def test_size_limit_counts_outputs_and_refuses_with_the_option_to_raise_it(linear_repo):
    run = hubcheck("record", str(linear_repo), "--size-limit", "50")
    assert run.code == 1
    # 8x3 float32 outputs; the 8x4 input is made from a seed, so not counted.
    assert "its outputs are 96 bytes, over the reference size limit of 50" in run.stderr
    assert f"`hubcheck record {linear_repo} --entrypoint linear --size-limit 1000000`" in run.stderr
    assert "reference_size_limit" in run.stderr
    assert not (linear_repo / "hubcheck_refs").exists()
    assert hubcheck("record", str(linear_repo), "--size-limit", "96").code == 0


def test_a_killed_record_leaves_the_previous_reference_intact(linear_repo, tmp_path):
    assert hubcheck("record", str(linear_repo)).code == 0
    reference = linear_repo / "hubcheck_refs" / "linear" / "default.safetensors"
    before = reference.read_bytes()
    started = tmp_path / "started"
    # The entry point now announces itself and hangs, so the kill lands mid-record.
    hubconf = linear_repo / "hubconf.py"
    hubconf.write_text(hubconf.read_text().replace(
        "    torch.manual_seed(0)\n",
        f"    open({str(started)!r}, 'w').close()\n    import time as _time\n    _time.sleep(60)\n    torch.manual_seed(0)\n",
    ))
    process = subprocess.Popen([sys.executable, "-m", "hubcheck", "record", str(linear_repo), "--update"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the record never reached the entry point"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert reference.read_bytes() == before
    assert read_reference(reference).outputs["output"].shape == (8, 3)


def test_stale_temporaries_are_removed_and_the_target_kept(linear_repo):
    assert hubcheck("record", str(linear_repo)).code == 0
    directory = linear_repo / "hubcheck_refs" / "linear"
    stale = directory / ".default.safetensors.abc123.tmp"
    stale.write_bytes(b"half a reference")
    before = (directory / "default.safetensors").read_bytes()
    assert hubcheck("record", str(linear_repo)).code == 0
    assert not stale.exists()
    assert (directory / "default.safetensors").read_bytes() == before


NESTED_HUBCONF = '''
"""An entry point whose output is a tuple of a dict of tensors, ints and strings, and a list."""
dependencies = ["torch"]

import torch


class _Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def forward(self, x):
        y = self.layer(x)
        return {"logits": y, "count": 3, "label": "digits", "half": y.half(), "brain": y.bfloat16()}, [y.sum(1), 7]


def nested():
    """Nested outputs."""
    torch.manual_seed(0)
    return _Nested().eval()
'''


def test_nested_and_low_precision_outputs_round_trip(tmp_path):
    repo = write_repo(tmp_path / "repo", {
        "hubconf.py": NESTED_HUBCONF,
        "hubcheck.toml": "[entrypoints.nested]\ninputs = [ { shape = [3, 4] } ]\n",
    })
    assert hubcheck("record", str(repo)).code == 0
    reference = read_reference(repo / "hubcheck_refs" / "nested" / "default.safetensors")
    assert set(reference.outputs) == {
        "output.0.logits", "output.0.count", "output.0.label", "output.0.half", "output.0.brain",
        "output.1.0", "output.1.1",
    }
    assert reference.outputs["output.0.count"] == 3 and reference.outputs["output.0.label"] == "digits"
    assert reference.outputs["output.0.half"].dtype == torch.float16
    assert reference.outputs["output.0.brain"].dtype == torch.bfloat16
    structure = reference.record["structure"]
    assert structure["type"] == "tuple" and structure["items"][0]["keys"] == ["logits", "count", "label", "half", "brain"]
    code, report = _validate_json(repo)
    assert code == 0, report
    assert _check(report, "nested::reference[cpu]")["status"] == "passed"


def test_low_precision_tolerances_follow_the_dtype():
    expected = torch.tensor([1.0, 2.0, 3.0])
    nudged = expected * (1 + 4e-4)
    # The same relative change is within float16's tolerance and far outside float32's.
    assert compare_tensors("x", expected.half(), nudged.half(), *_defaults(torch.float16)) is None
    assert compare_tensors("x", expected, nudged, *_defaults(torch.float32)) is not None
    assert compare_tensors("x", expected.bfloat16(), (expected * 1.01).bfloat16(), *_defaults(torch.bfloat16)) is None


def _defaults(dtype):
    return Tolerances().for_leaf("x", dtype, "cpu", same_device=True)


def test_tolerances_layer_entrypoint_device_and_output_settings():
    tolerances = Tolerances(rtol=1e-2, atol=1e-3, by_device={"cuda": (None, 5e-3)}, by_output={"logits": (0.5, None)})
    assert tolerances.for_leaf("output.0", torch.float32, "cpu", True) == (1e-2, 1e-3)
    assert tolerances.for_leaf("output.0", torch.float32, "cuda", False) == (1e-2, 5e-3)
    assert tolerances.for_leaf("output.logits", torch.float32, "cuda", False) == (0.5, 5e-3)
    assert Tolerances().for_leaf("output", torch.float32, "cuda", False) == (1e-3, 1e-4)


def test_structure_changes_are_named():
    expected = {"output.0": torch.zeros(2, 3), "output.1": torch.zeros(2)}
    actual = {"output.0": torch.zeros(2, 4), "output.2": torch.zeros(2)}
    messages = [d.message for d in compare(expected, actual, Tolerances(), "cpu", True)]
    assert any("missing output.1" in m and "new output.2" in m for m in messages)
    assert any("shape changed from [2, 3] to [2, 4]" in m for m in messages)
    dtype = compare({"output": torch.zeros(2)}, {"output": torch.zeros(2, dtype=torch.float64)}, Tolerances(), "cpu", True)
    assert "dtype changed from float32 to float64" in dtype[0].message


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["pickle", "torch-save", "truncated", "garbage", "foreign-version"])
def test_unusable_references_are_refused_without_running_anything(tmp_path, kind):
    marker = tmp_path / "executed"
    path = tmp_path / "default.safetensors"
    valid = encode_reference([torch.zeros(1)], {"output": torch.ones(2)}, {"type": "tensor"}, {"device": "cpu"})
    if kind == "pickle":
        path.write_bytes(pickle.dumps(_Payload(str(marker))))
    elif kind == "torch-save":
        torch.save({"output": _Payload(str(marker))}, path)
    elif kind == "truncated":
        path.write_bytes(valid[: len(valid) // 2])
    elif kind == "garbage":
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    else:
        path.write_bytes(valid.replace(b'"hubcheck.format":"2"', b'"hubcheck.format":"9"'))
    with pytest.raises(ReferenceUnusable) as error:
        read_reference(path)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_a_pickle_in_disguise_fails_the_reference_check_in_validate(linear_repo, tmp_path):
    assert hubcheck("record", str(linear_repo)).code == 0
    marker = tmp_path / "executed"
    reference = linear_repo / "hubcheck_refs" / "linear" / "default.safetensors"
    reference.write_bytes(pickle.dumps(_Payload(str(marker))))
    code, report = _validate_json(linear_repo)
    assert code == 1
    check = _check(report, "linear::reference[cpu]")
    assert check["status"] == "failed" and "is a Python pickle" in check["message"]
    assert not marker.exists()


def test_missing_reference_fails_once_the_repo_has_references(linear_repo):
    assert hubcheck("record", str(linear_repo)).code == 0
    hubconf = linear_repo / "hubconf.py"
    hubconf.write_text(hubconf.read_text() + (
        '\n\ndef linear_copy(pretrained=True):\n    """Another.\n\n    Args:\n        pretrained: as linear.\n    """\n'
        '    return linear(pretrained)\n'))
    (linear_repo / "hubcheck.toml").write_text(MLP_CONFIG + "\n[entrypoints.linear_copy]\ninputs = [ { shape = [8, 4] } ]\n")
    code, report = _validate_json(linear_repo)
    assert code == 1
    missing = _check(report, "linear_copy::reference[cpu]")
    assert missing["status"] == "failed"
    assert f"hubcheck record {linear_repo} --entrypoint linear_copy" in missing["message"]


def test_without_any_reference_the_check_is_skipped_unless_required(linear_repo):
    code, report = _validate_json(linear_repo)
    assert code == 0
    skipped = _check(report, "linear::reference[cpu]")
    assert skipped["status"] == "skipped" and "hubcheck record" in skipped["message"]
    code, report = _validate_json(linear_repo, "--require-references")
    assert code == 1 and _check(report, "linear::reference[cpu]")["status"] == "failed"


def test_removed_entrypoint_reference_is_reported_on_full_runs_only(linear_repo):
    assert hubcheck("record", str(linear_repo)).code == 0
    orphan = linear_repo / "hubcheck_refs" / "gone"
    orphan.mkdir()
    (orphan / "default.safetensors").write_bytes(
        (linear_repo / "hubcheck_refs" / "linear" / "default.safetensors").read_bytes())
    code, report = _validate_json(linear_repo)
    assert code == 1
    orphans = [c for c in report["checks"] if c["check"] == "references"]
    assert orphans and "'gone'" in orphans[0]["message"]
    code, report = _validate_json(linear_repo, "--entrypoint", "linear")
    # A partial run cannot tell an orphan from an entry point it did not select: the check reports nothing wrong.
    assert code == 0 and all(c["status"] != "failed" for c in report["checks"] if c["check"] == "references")


def test_keep_obtained_writes_outputs_in_the_reference_format(linear_repo, tmp_path):
    assert hubcheck("record", str(linear_repo)).code == 0
    _change_one_weight(linear_repo)
    kept = tmp_path / "obtained"
    code, _ = _validate_json(linear_repo, "--keep-obtained", str(kept))
    assert code == 1
    obtained = read_reference(kept / "linear" / "cpu.safetensors")
    original = read_reference(linear_repo / "hubcheck_refs" / "linear" / "default.safetensors")
    assert torch.equal(obtained.inputs[0], original.inputs[0])
    assert not torch.equal(obtained.outputs["output"], original.outputs["output"])
