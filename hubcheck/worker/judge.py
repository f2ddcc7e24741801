"""The judge: verdicts of the checks that compare outputs, in a fork where no repo code ever ran.

The process that ran the entry point wrote each forward's inputs and outputs to
the job's data directory (:class:`~.protocol.Outputs` says which). The judge
is forked from the fork server after that process ended, so ``torch.equal``,
``torch.isclose``, safetensors and everything else it uses are the ones torch
was imported with, whatever repo code patched: it decides forward (finite
outputs, on the right device), determinism, the state-dict round trip, the
stored reference, device parity and what ``record`` stores.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import outputs
from .checks import entry_kwargs
from .compare import Difference, Tolerances, compare
from .protocol import JudgeJob, Recorded, ReferenceInfo, RunJob, Verdict
from .references import (
    Reference,
    ReferenceUnusable,
    encode_reference,
    output_bytes,
    read_reference,
    regenerates,
    sidecar,
    size_limit_for,
)

Emit = Callable[[Any], None]


class _Verdict(Exception):
    """A check's verdict, raised from where it is decided."""

    def __init__(self, status: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}


def _failed(message: str, details: dict[str, Any] | None = None) -> _Verdict:
    return _Verdict("failed", message, details)


class _Judge:
    def __init__(self, job: JudgeJob, emit: Emit) -> None:
        self.run: RunJob = job.run
        self.emit = emit
        self.durations = {(e.check, e.device): e.duration_s for e in job.ended}
        self.facts = {(o.device, o.role): o for o in job.outputs}
        self.tolerances = Tolerances.from_json(self.run.config.get("tolerance"))
        self.forward_passed: set[str] = set()

    def verdict(self, check: str, device: str, decide: Callable[[str], str]) -> None:
        """Decide one check the worker ended; a check it failed, skipped or never finished is not ours."""
        if (check, device) not in self.durations:
            return
        started = time.perf_counter()
        try:
            status, message, details = "passed", decide(device), {}
        except _Verdict as verdict:
            status, message, details = verdict.status, verdict.message, verdict.details
        duration = self.durations[(check, device)] + time.perf_counter() - started
        self.emit(Verdict(check, device, status, message, duration, details))
        if check == "forward" and status == "passed":
            self.forward_passed.add(device)

    def read(self, device: str, role: str) -> Reference:
        """One outputs file of the worker's; a verdict of failure when it is missing or unusable."""
        if (device, role) not in self.facts:
            raise _failed(f"the worker reported no {role} outputs on {device}")
        try:
            return read_reference(outputs.data_file(self.run.data_dir, device, role))
        except ReferenceUnusable as error:
            raise _failed(f"the worker's {role} outputs on {device} are unusable: {error}") from None

    def after_forward(self, device: str) -> None:
        if device not in self.forward_passed:
            raise _Verdict("skipped", "forward failed")

    # -- the checks -----------------------------------------------------------------------

    def forward(self, device: str) -> str:
        written = self.read(device, "forward")
        fact = self.facts[(device, "forward")]
        if fact.misplaced:
            raise _failed(f"outputs are not on {device}: {', '.join(fact.misplaced[:5])}")
        problems = outputs.non_finite(written.outputs)
        if problems:
            raise _failed("non-finite outputs: " + "; ".join(problems[:5]))
        return outputs.describe(written.outputs) + (f" ({fact.note})" if fact.note else "")

    def identical(self, device: str, role: str, failure: str) -> None:
        expected = self.read(device, "forward").outputs
        differences = compare(expected, self.read(device, role).outputs, Tolerances(), torch.device(device).type,
                              True, exact=True)
        if differences:
            raise _failed(f"{failure}: {differences[0].message}")

    def determinism(self, device: str) -> str:
        self.after_forward(device)
        self.identical(device, "repeat", "two forward calls on the same model, same inputs, differ "
                                         "(dropout or noise active in eval mode?)")
        self.identical(device, "reload", "two loads with the same seed give different outputs "
                                         "(unseeded randomness or nondeterministic kernels?)")
        return "bit-identical across two forward calls and two independent loads"

    def state_dict(self, device: str) -> str:
        self.after_forward(device)
        self.identical(device, "state-dict", "outputs differ after loading the state dict into a fresh instance "
                                             "(state kept outside parameters and buffers?)")
        return f"{self.facts[(device, 'state-dict')].note}; outputs bit-identical"

    def parity(self, device: str) -> str:
        self.after_forward(device)
        if "cpu" in self.forward_passed:
            cpu = self.read("cpu", "forward").outputs
        elif ("cpu", "baseline") in self.facts and "cpu" not in self.run.devices:
            cpu = self.read("cpu", "baseline").outputs
        else:
            raise _Verdict("skipped", "no CPU outputs to compare with (the CPU run failed)")
        differences = compare(cpu, self.read(device, "forward").outputs, self.tolerances, torch.device(device).type,
                              same_device=False)
        if differences:
            raise _failed(f"{device} outputs differ from the CPU's: " + "; ".join(d.message for d in differences[:3]),
                          {"differences": _details(differences)})
        return f"{device} outputs match the CPU's within tolerance"

    def reference(self, device: str) -> str:
        self.after_forward(device)
        info = self.run.reference
        if info is None:
            raise _Verdict("skipped", "no reference recorded")
        if not info.exists:
            raise _Verdict("failed" if info.missing_fails else "skipped", self.missing_message(info, device))
        path = Path(info.path)
        try:
            reference = read_reference(path)
        except ReferenceUnusable as error:
            raise _failed(str(error)) from None
        forward = self.read(device, "forward")
        if _same_tensors(reference.inputs, forward.inputs):
            obtained = forward
        elif (device, "reference") in self.facts:
            obtained = self.read(device, "reference")
            if not _same_tensors(reference.inputs, obtained.inputs):
                raise _failed("the worker ran the model on other inputs than the reference's; nothing compared")
        else:
            raise _failed("the worker computed no outputs on the reference's inputs, which differ from the forward's")
        if self.run.keep_obtained and self.run.entrypoint.isidentifier():
            self.keep(obtained, reference.inputs, device)
        recorded_device = str(reference.record.get("device", "cpu"))
        same = torch.device(recorded_device).type == torch.device(device).type
        differences = compare(reference.outputs, obtained.outputs, self.tolerances, torch.device(device).type,
                              same_device=same)
        if not differences:
            where = "the recording device" if same else f"{device} (recorded on {recorded_device})"
            return f"{len(obtained.outputs)} outputs match {path.name} within tolerance on {where}"
        environment = (f"recorded with torch {reference.record.get('torch')} on {recorded_device}; "
                       f"now torch {torch.__version__} on {device}")
        raise _failed(
            f"outputs differ from {info.display_path}: "
            + "; ".join(d.message for d in differences[:3])
            + (f"; and {len(differences) - 3} more outputs" if len(differences) > 3 else "")
            + f". {environment}. If the change is intended, accept it: "
            f"`{self.suggested(info.update_command, info, device, obtained)[0]}`",
            {"reference": str(path), "differences": _details(differences),
             "recorded_torch": reference.record.get("torch"), "recorded_device": recorded_device},
        )

    def missing_message(self, info: ReferenceInfo, device: str) -> str:
        """What to do without a reference: the record command, with the size limit its outputs need."""
        command, note = self.suggested(info.record_command, info, device, self.read(device, "forward"))
        return info.missing_message.replace(f"`{info.record_command}`", f"`{command}`") + note

    def suggested(self, command: str, info: ReferenceInfo, device: str, seen: Reference) -> tuple[str, str]:
        """``command`` (a `hubcheck record`) run on ``device`` and with a size limit that holds the outputs seen,
        and a note saying why the limit was raised (or "")."""
        if not command:
            return command, ""
        if device != "cpu":
            command += f" --device {device}"
        needed = output_bytes(seen.outputs)
        if not info.size_limit or needed <= info.size_limit:
            return command, ""
        return (f"{command} --size-limit {size_limit_for(needed)}",
                f" (its outputs are {needed:,} bytes, over the reference size limit of {info.size_limit:,})")

    def keep(self, obtained: Reference, inputs: list[torch.Tensor], device: str) -> None:
        assert self.run.keep_obtained is not None
        target = Path(self.run.keep_obtained) / self.run.entrypoint / f"{torch.device(device).type}.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {"entrypoint": self.run.entrypoint, "device": device, "torch": torch.__version__, "obtained": True}
        target.write_bytes(encode_reference(inputs, obtained.outputs, obtained.record.get("structure", {}), record))

    def record(self, device: str) -> str:
        spec = self.run.record
        assert spec is not None
        written = self.read(device, "record")
        fact = self.facts[(device, "record")]
        problems = outputs.non_finite(written.outputs)
        if problems:
            raise _failed("refusing to record non-finite outputs: " + "; ".join(problems[:3]))
        config = self.run.config
        specs = list(fact.input_specs) if fact.input_specs else config.get("inputs")
        record = {
            "entrypoint": self.run.entrypoint, "case": spec.case,
            "kwargs": entry_kwargs(config, torch.device(device)), "method": config.get("method") or "__call__",
            "method_kwargs": config.get("method_kwargs") or {}, "seed": self.run.seed,
            "inputs": specs, "device": device,
            "dtypes": sorted({str(t.dtype).replace("torch.", "") for t in outputs.tensors(written.outputs).values()}),
            "torch": torch.__version__, "python": platform.python_version(), "commit": self.run.commit,
            "tolerance": config.get("tolerance") or {},
        }
        # Made again here, where no repo code ran: inputs it reproduces are stored as their digests only.
        regenerable = regenerates(specs, self.run.seed, written.inputs)
        data = encode_reference(written.inputs, written.outputs, written.record.get("structure", {}), record,
                                regenerable=regenerable)
        (Path(self.run.data_dir) / "record.safetensors").write_bytes(data)
        existing, existing_note = self.against_existing(spec.existing, written, device)
        self.emit(Recorded(len(data), sidecar(written.inputs, written.outputs, record),
                           output_bytes(written.outputs), existing, existing_note))
        note = f" ({fact.note})" if fact.note else ""
        return f"recorded {len(written.outputs)} outputs ({len(data):,} bytes){note}"

    def against_existing(self, existing: str | None, written: Reference, device: str) -> tuple[str, str]:
        """How the new outputs compare with the reference they would replace, as :class:`Recorded` says it.

        ``close`` uses the tolerance the reference check would use on ``device``; other inputs
        than the stored ones always differ.
        """
        if not existing or not Path(existing).exists():
            return "none", ""
        try:
            reference = read_reference(Path(existing))
        except ReferenceUnusable as error:
            return "unusable", str(error)
        if not _same_tensors(reference.inputs, written.inputs):
            return "inputs-differ", ""
        if not compare(reference.outputs, written.outputs, Tolerances(), "cpu", True, exact=True):
            return "identical", ""
        recorded_type = torch.device(str(reference.record.get("device", "cpu"))).type
        device_type = torch.device(device).type
        differences = compare(reference.outputs, written.outputs, self.tolerances, device_type,
                              same_device=recorded_type == device_type)
        largest = f"max abs diff {_max_abs_diff(reference.outputs, written.outputs):.3g}"
        if not differences:
            return "close", largest
        return "differs", f"{largest}; {differences[0].message}"


def judge(job: JudgeJob, emit: Emit) -> None:
    """Send the verdict of every comparing check the worker ended, device by device."""
    judging = _Judge(job, emit)
    run = job.run
    if run.record is not None:
        judging.verdict("record", run.record.device, judging.record)
        return
    for device in run.devices:
        judging.verdict("forward", device, judging.forward)
        judging.verdict("determinism", device, judging.determinism)
        judging.verdict("state-dict-roundtrip", device, judging.state_dict)
        judging.verdict("reference", device, judging.reference)
        judging.verdict("device-parity", device, judging.parity)
        from .model_verdicts import VERDICTS  # imported here: it builds on this module's verdicts

        for check, decide in VERDICTS.items():
            judging.verdict(check, device, functools.partial(decide, judging))


def _same_tensors(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(
        a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, second, strict=True))


def _details(differences: list[Difference]) -> list[dict[str, Any]]:
    return [d.details | {"key": d.key} for d in differences[:10]]


def _max_abs_diff(expected: dict[str, Any], actual: dict[str, Any]) -> float:
    """The largest absolute difference over the floating-point outputs both hold (shapes alike)."""
    largest = 0.0
    for key, want in expected.items():
        got = actual.get(key)
        if (isinstance(want, torch.Tensor) and isinstance(got, torch.Tensor) and want.shape == got.shape
                and want.numel() and (want.is_floating_point() or want.is_complex())):
            wide = torch.complex128 if want.is_complex() else torch.float64
            difference = (got.to(wide) - want.to(wide)).abs()
            largest = max(largest, float(torch.nan_to_num(difference, nan=0.0, posinf=float("inf")).max()))
    return largest
