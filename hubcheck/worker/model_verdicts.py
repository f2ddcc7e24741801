"""The judge's side of the model checks: compare what :mod:`.model_checks` wrote, in a fork where no repo code ran.

Each function decides one check on one device from the files the worker wrote
and returns the passing message, or raises the judge's verdict. Comparisons
use the cross-device tolerances (another kernel computes the same thing:
torch.testing's defaults for another device, rtol 1e-3 / atol 1e-4 for
float32) unless hubcheck.toml configures the entry point's own; co-load's own
outputs must match at the forward's tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from . import outputs
from .compare import Difference, Tolerances, compare, compare_tensors
from .judge import _failed, _Verdict

if TYPE_CHECKING:
    from .judge import _Judge

PROBE_SCALE = 3.0
"""What the co-load probe multiplies by (see :data:`.model_checks.PROBE_FILES`), restated here: the judge
imports nothing the repo's process ran."""
DTYPE_RTOL = 0.05
DTYPE_ATOL_FRACTION = 0.05
"""Low precision: rtol 0.05, and atol 5% of the largest float32 output of that leaf."""
_SHOWN = 3


def _repeatable(judge: _Judge, device: str, check: str) -> None:
    """Skip ``check`` when two forwards of one model already differ: no comparison could blame its own cause."""
    judge.after_forward(device)
    if (device, "repeat") not in judge.facts:
        return
    first, again = judge.read(device, "forward").outputs, judge.read(device, "repeat").outputs
    if compare(first, again, Tolerances(), torch.device(device).type, True, exact=True):
        raise _Verdict("skipped", f"not compared: two forward calls on one model already differ (see determinism), "
                                  f"so {check} cannot tell its own differences apart")


def _differences(judge: _Judge, device: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[Difference]:
    return compare(expected, actual, judge.tolerances, torch.device(device).type, same_device=False)


def _summary(differences: list[Difference]) -> str:
    shown = "; ".join(d.message for d in differences[:_SHOWN])
    return shown + (f"; and {len(differences) - _SHOWN} more" if len(differences) > _SHOWN else "")


def _details(differences: list[Difference]) -> dict[str, Any]:
    return {"differences": [d.details | {"key": d.key} for d in differences[:10]]}


def _matches(judge: _Judge, device: str, role: str, failure: str) -> list[Difference]:
    """The differences of ``role``'s outputs from forward's; a failed verdict naming them when there are any."""
    differences = _differences(judge, device, judge.read(device, "forward").outputs, judge.read(device, role).outputs)
    if differences:
        raise _failed(f"{failure}: {_summary(differences)}", _details(differences))
    return differences


def _note(judge: _Judge, device: str, role: str) -> str:
    return judge.facts[(device, role)].note


def _name(key: str) -> str:
    """The parameter name of a ``output.<escaped name>`` leaf."""
    return key.removeprefix(outputs.ROOT + ".").replace("%2E", ".").replace("%25", "%")


def backward(judge: _Judge, device: str) -> str:
    judge.after_forward(device)
    grads = judge.read(device, "backward-grads").outputs
    missing = [_name(k) for k, v in grads.items() if v is None]
    non_finite = [_name(k) for k, v in grads.items() if isinstance(v, torch.Tensor) and not bool(torch.isfinite(v))]
    if missing:
        raise _failed(f"{len(missing)} of {len(grads)} parameters that require grad got no gradient (unused "
                      f"branches, detached heads?): {', '.join(missing[:10])}"
                      + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""), {"no_gradient": missing})
    if non_finite:
        raise _failed(f"non-finite gradients in {len(non_finite)} parameters: {', '.join(non_finite[:10])}",
                      {"non_finite": non_finite})
    before = judge.read(device, "backward-before").outputs
    after = judge.read(device, "backward-after").outputs
    if not compare(before, after, Tolerances(), torch.device(device).type, True, exact=True):
        raise _failed("one SGD step (lr 0.01) on every gradient left the train() outputs bit-identical")
    return (f"{len(grads)} parameters got finite gradients and one SGD step changed the outputs "
            f"({_note(judge, device, 'backward-grads')})")


def batch_invariance(judge: _Judge, device: str) -> str:
    _repeatable(judge, device, "batch-invariance")
    full = judge.read(device, "batch") if (device, "batch") in judge.facts else judge.read(device, "forward")
    alone = judge.read(device, "batch-rows")
    size = full.inputs[0].shape[0]
    batched = {k: v for k, v in outputs.tensors(full.outputs).items() if v.dim() >= 1 and v.shape[0] == size}
    if not batched:
        raise _Verdict("skipped", f"no output has the batch's first dimension ({size}), so rows cannot be matched")
    rows = int(alone.record.get("structure", {}).get("rows", 0))
    found: list[tuple[int, Difference]] = []
    for row in range(rows):
        for key, value in batched.items():
            single = alone.outputs.get(f"row{row}/{key}")
            if not isinstance(single, torch.Tensor):
                found.append((row, Difference(key, f"{key}: no tensor when the row runs alone", {})))
                continue
            rtol, atol = judge.tolerances.for_leaf(key, value.dtype, torch.device(device).type, False)
            difference = compare_tensors(key, value[row:row + 1], single, rtol, atol)
            if difference is not None:
                found.append((row, difference))
    if found:
        shown = "; ".join(f"row {row}: {d.message}" for row, d in found[:_SHOWN])
        rows_differing = sorted({row for row, _ in found})
        raise _failed(f"rows {', '.join(map(str, rows_differing))} of a batch of {size} give other outputs alone than "
                      f"in the batch (samples mixed across the batch: batch statistics, batch-norm left in train mode?): {shown}",
                      {"rows": rows_differing, "differences": [d.details | {"key": d.key, "row": r}
                                                               for r, d in found[:10]]})
    return f"{rows} of {size} rows alone match the batch within tolerance ({len(batched)} batched outputs)"


def _like_eager(judge: _Judge, device: str, role: str, what: str) -> str:
    """``role``'s note, after checking its outputs match forward's; ``what`` names the converted model."""
    _repeatable(judge, device, role)
    note = _note(judge, device, role)
    _matches(judge, device, role, f"{what} ({note.split(';')[0]}) gives other outputs than eager")
    return note


def torchscript(judge: _Judge, device: str) -> str:
    return f"{_like_eager(judge, device, 'torchscript', 'the TorchScript model')}; outputs match eager within tolerance"


def compile_verdict(judge: _Judge, device: str) -> str:
    note = _like_eager(judge, device, "compile", "torch.compile")
    return f"torch.compile ({note}) matches eager within tolerance"


def export(judge: _Judge, device: str) -> str:
    note = _like_eager(judge, device, "export", "the exported program")
    return f"torch.export.export succeeded ({note}); the exported program matches eager within tolerance"


def dtype(judge: _Judge, device: str) -> str:
    _repeatable(judge, device, "dtype")
    reference = outputs.tensors(judge.read(device, "forward").outputs)
    low = judge.read(device, "dtype").outputs
    note = _note(judge, device, "dtype")
    found: list[Difference] = []
    skipped = 0
    for key, want in reference.items():
        got = low.get(key)
        if not want.is_floating_point():
            skipped += 1  # indices and labels may flip where low precision ties two values
            continue
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            found.append(Difference(key, f"{key}: no float output in low precision", {}))
            continue
        atol = DTYPE_ATOL_FRACTION * float(want.abs().max()) if want.numel() else 0.0
        difference = compare_tensors(key, want, got.to(want.dtype), DTYPE_RTOL, atol)
        if difference is not None:
            found.append(difference)
    if found:
        raise _failed(f"{note.split(';')[0]} outputs drift from float32 beyond rtol {DTYPE_RTOL:g} and "
                      f"{DTYPE_ATOL_FRACTION:.0%} of the largest output: {_summary(found)} ({note})", _details(found))
    unchecked = f"; {skipped} integer outputs not compared" if skipped else ""
    return f"{note}; within rtol {DTYPE_RTOL:g} and {DTYPE_ATOL_FRACTION:.0%} of the largest output of float32{unchecked}"


def channels_last(judge: _Judge, device: str) -> str:
    _like_eager(judge, device, "channels-last", "the channels_last model and input")
    return "channels_last model and input match the default layout within tolerance"


def threads(judge: _Judge, device: str) -> str:
    _repeatable(judge, device, "threads")
    several = "threads-n" if (device, "threads-n") in judge.facts else "forward"
    one = judge.read(device, "threads-1").outputs
    note = _note(judge, device, "threads-1")
    differences = _differences(judge, device, judge.read(device, several).outputs, one)
    if differences:
        raise _failed(f"outputs with {note} differ: {_summary(differences)}", _details(differences))
    exact = not compare(judge.read(device, several).outputs, one, Tolerances(), "cpu", True, exact=True)
    return f"outputs with {note} agree " + ("bit for bit" if exact else "within tolerance (not bit-identical)")


def co_load(judge: _Judge, device: str) -> str:
    _repeatable(judge, device, "co-load")
    differences = compare(judge.read(device, "forward").outputs, judge.read(device, "co-load").outputs,
                          judge.tolerances, torch.device(device).type, same_device=True)
    if differences:
        raise _failed("loaded after another hub repo with modules named utils and models, the entry point gives "
                      f"other outputs (it picked up that repo's modules?): {_summary(differences)}",
                      _details(differences))
    other = judge.read(device, "co-load-other")
    (sample,) = other.inputs
    got = outputs.tensors(other.outputs).get(outputs.ROOT)
    if got is None or not torch.equal(got, sample * PROBE_SCALE + 1):
        raise _failed("the other hub repo (modules utils and models) computes wrong outputs once this repo is "
                      "loaded: this repo's modules replaced its own (HUB303)")
    return "loads and runs after another hub repo with modules named utils and models, and that repo still works"


VERDICTS: dict[str, Callable[[_Judge, str], str]] = {
    "backward": backward, "batch-invariance": batch_invariance, "torchscript": torchscript,
    "compile": compile_verdict, "export": export, "dtype": dtype, "channels-last": channels_last,
    "threads": threads, "co-load": co_load,
}
"""Model check id -> how the judge decides it on one device."""
