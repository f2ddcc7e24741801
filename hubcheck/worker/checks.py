"""The checks of one entry point, run inside the worker: load, forward, determinism, parity, state dict, reference.

Every check reports through ``emit`` as soon as it finishes, so the parent can
show progress and keep what was learned if a later check crashes the process.
Checks that depend on an earlier one (forward needs a model) are skipped with
the reason when it failed, never repeated.
"""

from __future__ import annotations

import ctypes
import gc
import inspect
import io
import os
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from . import hubimport, netguard, outputs
from .compare import Tolerances, compare
from .inputs import config_hint, infer_inputs, make_inputs
from .references import ReferenceUnusable, encode_reference, read_reference, sidecar

Emit = Callable[[dict[str, Any]], None]

class CheckFailed(Exception):
    """A check's failure with the message users should read."""


class CheckSkipped(Exception):
    """A check that cannot run, with the reason."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed % 2**32)


def describe_exception(error: BaseException, repo_dir: str) -> str:
    """``Type: message (at repo/file.py:12)``, naming the deepest frame inside the repo."""
    blocked = netguard.attempts()
    if isinstance(error, netguard.NetworkBlocked) or _caused_by_block(error):
        where = blocked[-1] if blocked else str(error)
        return (f"network access blocked: {where}; pre-fetch the weights into a torch home "
                "(--torch-home) or allow it with --allow-network")
    if isinstance(error, SystemExit):
        return f"repo code called sys.exit({error.code!r})"
    text = f"{type(error).__name__}: {error}".strip()
    if len(text) > 800:
        text = text[:800] + "..."
    location = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(repo_dir + os.sep):
            location = f"{os.path.relpath(frame.filename, repo_dir)}:{frame.lineno}"
    return f"{text} (at {location})" if location else text


def _caused_by_block(error: BaseException) -> bool:
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, netguard.NetworkBlocked) or isinstance(getattr(current, "reason", None), netguard.NetworkBlocked):
            return True
        current = current.__cause__ or current.__context__
    return False


def release_memory(device: torch.device | None = None) -> None:
    """Give freed memory back, so the next entry point starts from the same footprint."""
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class Job:
    """One entry point's work, as sent by the parent."""

    repo: str
    entrypoint: str
    config: dict[str, Any]
    devices: list[str]
    checks: list[str]
    reference: dict[str, Any] | None = None
    keep_obtained: str | None = None
    record: dict[str, Any] | None = None
    allow_tf32: bool = False
    commit: str | None = None

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))


@dataclass
class _Run:
    """What one device's checks share: the loaded model, its inputs and outputs."""

    device: torch.device
    model: Any = None
    inputs: list[torch.Tensor] | None = None
    input_specs: list[dict[str, Any]] | None = None
    outputs: dict[str, Any] | None = None
    structure: dict[str, Any] | None = None
    problems: dict[str, str] = field(default_factory=dict)
    """Check name -> why checks depending on it cannot run."""


class EntrypointChecks:
    def __init__(self, job: Job, emit: Emit) -> None:
        self.job = job
        self.emit = emit
        self.cpu_outputs: dict[str, Any] | None = None

    # -- reporting ---------------------------------------------------------------------

    def _run_check(self, check: str, device: str | None, body: Callable[[], str]) -> bool:
        """Run one check body; report passed/failed/skipped; return True when it passed."""
        if check not in self.job.checks:
            return True
        self.emit({"event": "begin", "check": check, "device": device})
        netguard.clear_attempts()
        started = time.perf_counter()
        details: dict[str, Any] = {}
        try:
            message = body()
            status = "passed"
        except CheckSkipped as skipped:
            status, message = "skipped", str(skipped)
        except CheckFailed as failed:
            status, message = "failed", str(failed)
            details = getattr(failed, "details", {}) or {}
        except (Exception, SystemExit) as error:  # repo code may raise anything
            status, message = "failed", describe_exception(error, self.job.repo)
        self.emit({"event": "result", "check": check, "device": device, "status": status, "message": message,
                   "duration_s": time.perf_counter() - started, "details": details})
        return status == "passed"

    def _skip(self, check: str, device: str | None, reason: str) -> None:
        def skipped() -> str:
            raise CheckSkipped(reason)

        self._run_check(check, device, skipped)

    # -- the sequence ---------------------------------------------------------------------

    def run(self) -> None:
        if self.job.record is not None:
            self.record()
            return
        self._run_check("docstring", None, self.check_docstring)
        devices = list(self.job.devices)
        needs_cpu_baseline = "device-parity" in self.job.checks and any(d != "cpu" for d in devices)
        if needs_cpu_baseline and "cpu" not in devices:
            self._cpu_baseline()
        for device in devices:
            self.run_device(torch.device(device))

    def check_docstring(self) -> str:
        import functools

        module = hubimport.import_hubconf(self.job.repo)
        hubimport.check_dependencies(module)
        entry = getattr(module, self.job.entrypoint)
        doc = entry.__doc__
        if isinstance(entry, functools.partial) and doc == functools.partial.__doc__:
            raise CheckFailed("torch.hub.help returns functools.partial's generic docstring; set the partial's __doc__")
        if not isinstance(doc, str) or not doc.strip():
            raise CheckFailed("torch.hub.help returns None: the entry point has no docstring")
        first = doc.strip().splitlines()[0]
        return f"docstring: {first[:100]}"

    def run_device(self, device: torch.device) -> None:
        run = _Run(device)
        label = str(device)
        try:
            if "load" not in self.job.checks:
                return
            self._run_check("load", label, lambda: self.check_load(run))
            self._dependent("forward", run, "load", lambda: self.check_forward(run))
            self._dependent("determinism", run, "forward", lambda: self.check_determinism(run))
            self._dependent("state-dict-roundtrip", run, "forward", lambda: self.check_state_dict(run))
            self._dependent("reference", run, "forward", lambda: self.check_reference(run))
            if device.type != "cpu":
                self._dependent("device-parity", run, "forward", lambda: self.check_parity(run))
        finally:
            run.model = None
            release_memory(device)

    def _dependent(self, check: str, run: _Run, prerequisite: str, body: Callable[[], str]) -> None:
        if prerequisite in run.problems:
            # Whatever depends on this check is skipped for the same reason.
            run.problems[check] = run.problems[prerequisite]
            self._skip(check, str(run.device), run.problems[prerequisite])
            return
        if check not in self.job.checks:
            run.problems[check] = f"{check} was not run"
            return
        self._run_check(check, str(run.device), body)

    # -- loading ---------------------------------------------------------------------

    def _kwargs(self, device: torch.device, **overrides: Any) -> dict[str, Any]:
        config = self.job.config
        kwargs = dict(config.get("kwargs") or {})
        kwargs.update((config.get("device_kwargs") or {}).get(device.type, {}))
        kwargs.update((config.get("device_kwargs") or {}).get(str(device), {}))
        kwargs.update(overrides)
        return kwargs

    def _load(self, device: torch.device, seed: int, **overrides: Any) -> Any:
        seed_everything(seed)
        model = hubimport.load(self.job.repo, self.job.entrypoint, self._kwargs(device, **overrides))
        if isinstance(model, torch.nn.Module):
            model = model.to(device)
        if hasattr(model, "eval") and callable(model.eval):
            model.eval()
        return model

    def check_load(self, run: _Run) -> str:
        run.problems["load"] = "load failed"
        model = self._load(run.device, self.job.seed)
        if model is None:
            raise CheckFailed("the entry point returned None; it must return the model")
        run.model = model
        misplaced = _misplaced_tensors(model, run.device)
        if misplaced:
            raise CheckFailed(f"not everything is on {run.device} after loading: {', '.join(misplaced[:5])}"
                              + (f" and {len(misplaced) - 5} more" if len(misplaced) > 5 else ""))
        del run.problems["load"]
        if isinstance(model, torch.nn.Module):
            count = sum(p.numel() for p in model.parameters())
            size = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
            return (f"{type(model).__name__}: {count:,} parameters ({size / 1e6:.2f} MB), "
                    f"all parameters and buffers on {run.device}")
        holders = _tensor_holders(model)
        kind = type(model).__name__
        if isinstance(model, (tuple, list, dict)):
            return f"returned a {kind} of {len(model)} items, not a model object"
        if holders:
            return f"returned {kind} (not an nn.Module); its {', '.join(holders[:3])} are on {run.device}"
        return f"returned {kind} (not an nn.Module); device placement not checked"

    # -- forward ---------------------------------------------------------------------

    def _method(self, model: Any) -> Callable[..., Any]:
        name = self.job.config.get("method") or "__call__"
        if name == "__call__":
            if not callable(model):
                raise CheckFailed(f"the entry point returned a {type(model).__name__}, which cannot be called; "
                                  "set `method` in hubcheck.toml to the method that runs it")
            return model
        method = getattr(model, name, None)
        if not callable(method):
            raise CheckFailed(f"{type(model).__name__} has no method {name!r} (configured `method`)")
        return method

    def _forward(self, model: Any, inputs: list[torch.Tensor], device: torch.device) -> tuple[dict[str, Any], dict[str, Any]]:
        method = self._method(model)
        moved = [t.to(device) for t in inputs]
        with torch.inference_mode():
            result = method(*moved, **(self.job.config.get("method_kwargs") or {}))
        return outputs.flatten(result)

    def _inputs(self, run: _Run) -> tuple[list[torch.Tensor], str]:
        specs = self.job.config.get("inputs")
        if specs is not None:
            return make_inputs(specs, self.job.seed), ""
        if not isinstance(run.model, torch.nn.Module):
            raise CheckSkipped(f"no example input declared; {config_hint(self.job.entrypoint)}")
        inferred = infer_inputs(run.model)
        if inferred is None:
            raise CheckSkipped(f"no example input declared and none can be inferred from the first layer; "
                               f"{config_hint(self.job.entrypoint)}")
        run.input_specs = inferred[0]
        return make_inputs(inferred[0], self.job.seed), inferred[1]

    def check_forward(self, run: _Run) -> str:
        run.problems["forward"] = "forward failed"
        try:
            inputs, inferred_note = self._inputs(run)
        except CheckSkipped as skipped:
            run.problems["forward"] = "no example input"
            raise skipped
        try:
            leaves, structure = self._forward(run.model, inputs, run.device)
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - repo code
            if inferred_note:
                run.problems["forward"] = "no example input"
                raise CheckSkipped(f"{inferred_note}, but it did not fit ({describe_exception(error, self.job.repo)}); "
                                   f"{config_hint(self.job.entrypoint, run.input_specs)}") from None
            raise
        problems = outputs.non_finite(leaves)
        expected_device = run.device
        misplaced = outputs.wrong_device(leaves, expected_device)
        if misplaced:
            raise CheckFailed(f"outputs are not on {run.device}: {', '.join(misplaced[:5])}")
        if problems:
            raise CheckFailed("non-finite outputs: " + "; ".join(problems[:5]))
        run.inputs = inputs
        run.outputs = outputs.to_cpu(leaves)
        run.structure = structure
        if run.device.type == "cpu":
            self.cpu_outputs = run.outputs
        del run.problems["forward"]
        note = f" ({inferred_note})" if inferred_note else ""
        return f"{outputs.describe(run.outputs)}{note}"

    # -- determinism and round trip ------------------------------------------------------

    def _require_identical(self, run: _Run, leaves: dict[str, Any], failure: str) -> None:
        """Fail with ``failure`` and the first difference unless ``leaves`` equal the run's outputs bit for bit."""
        differences = compare(run.outputs, outputs.to_cpu(leaves), Tolerances(), run.device.type, True, exact=True)
        if differences:
            raise CheckFailed(f"{failure}: {differences[0].message}")

    def check_determinism(self, run: _Run) -> str:
        again, _ = self._forward(run.model, run.inputs, run.device)
        self._require_identical(run, again, "two forward calls on the same model, same inputs, differ "
                                            "(dropout or noise active in eval mode?)")
        del again
        second = self._load(run.device, self.job.seed)
        try:
            leaves, _ = self._forward(second, run.inputs, run.device)
        finally:
            del second
        self._require_identical(run, leaves, "two loads with the same seed give different outputs "
                                             "(unseeded randomness or nondeterministic kernels?)")
        return "bit-identical across two forward calls and two independent loads"

    @cached_property
    def _takes_pretrained(self) -> bool:
        """Whether the entry point has a ``pretrained`` parameter (read once, not once per device)."""
        module = hubimport.import_hubconf(self.job.repo)
        try:
            return "pretrained" in inspect.signature(getattr(module, self.job.entrypoint)).parameters
        except (TypeError, ValueError):
            return False

    def check_state_dict(self, run: _Run) -> str:
        if not isinstance(run.model, torch.nn.Module):
            raise CheckSkipped(f"{type(run.model).__name__} is not an nn.Module")
        buffer = io.BytesIO()
        torch.save(run.model.state_dict(), buffer)
        buffer.seek(0)
        # A fresh, randomly initialised instance: if the state dict misses anything, outputs differ.
        overrides = {"pretrained": False} if self._takes_pretrained else {}
        fresh = self._load(run.device, self.job.seed + 1, **overrides)
        try:
            state = torch.load(buffer, map_location=run.device, weights_only=True)
            try:
                fresh.load_state_dict(state, strict=True)
            except RuntimeError as error:
                raise CheckFailed(f"the state dict does not load strictly into a fresh instance: {str(error)[:500]}") from None
            leaves, _ = self._forward(fresh, run.inputs, run.device)
        finally:
            del fresh
        self._require_identical(run, leaves, "outputs differ after loading the state dict into a fresh instance "
                                             "(state kept outside parameters and buffers?)")
        count = len(run.model.state_dict())
        note = " (built with pretrained=False)" if overrides else ""
        return f"{count} tensors saved and loaded into a fresh instance{note}; outputs bit-identical"

    # -- comparisons against stored outputs --------------------------------------------------

    def _tolerances(self) -> Tolerances:
        return Tolerances.from_json(self.job.config.get("tolerance"))

    def check_parity(self, run: _Run) -> str:
        if self.cpu_outputs is None:
            raise CheckSkipped("no CPU outputs to compare with (the CPU run failed)")
        differences = compare(self.cpu_outputs, run.outputs, self._tolerances(), run.device.type, same_device=False)
        if differences:
            failed = CheckFailed(f"{run.device} outputs differ from the CPU's: " + "; ".join(d.message for d in differences[:3]))
            failed.details = {"differences": [d.details | {"key": d.key} for d in differences[:10]]}
            raise failed
        return f"{run.device} outputs match the CPU's within tolerance"

    def check_reference(self, run: _Run) -> str:
        info = self.job.reference or {}
        path = Path(info.get("path", ""))
        if not info.get("exists"):
            message = info.get("missing_message") or "no reference recorded"
            if info.get("missing_fails"):
                raise CheckFailed(message)
            raise CheckSkipped(message)
        try:
            reference = read_reference(path)
        except ReferenceUnusable as error:
            raise CheckFailed(str(error)) from None
        if len(reference.inputs) == len(run.inputs) and all(
            a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b) for a, b in zip(reference.inputs, run.inputs)
        ):
            obtained = run.outputs
            structure = run.structure
        else:
            leaves, structure = self._forward(run.model, reference.inputs, run.device)
            obtained = outputs.to_cpu(leaves)
        if self.job.keep_obtained:
            self._keep(obtained, structure, reference.inputs, run.device)
        recorded_device = str(reference.record.get("device", "cpu"))
        same = torch.device(recorded_device).type == run.device.type
        differences = compare(reference.outputs, obtained, self._tolerances(), run.device.type, same_device=same)
        if not differences:
            where = "the recording device" if same else f"{run.device} (recorded on {recorded_device})"
            return f"{len(obtained)} outputs match {path.name} within tolerance on {where}"
        environment = (f"recorded with torch {reference.record.get('torch')} on {recorded_device}; "
                       f"now torch {torch.__version__} on {run.device}")
        failed = CheckFailed(
            f"outputs differ from {info.get('display_path', path)}: "
            + "; ".join(d.message for d in differences[:3])
            + (f"; and {len(differences) - 3} more outputs" if len(differences) > 3 else "")
            + f". {environment}. If the change is intended, accept it: {info.get('update_command')}"
        )
        failed.details = {"reference": str(path), "differences": [d.details | {"key": d.key} for d in differences[:10]],
                          "recorded_torch": reference.record.get("torch"), "recorded_device": recorded_device}
        raise failed

    def _keep(self, obtained: dict[str, Any], structure: dict[str, Any], inputs: list[torch.Tensor], device: torch.device) -> None:
        target = Path(self.job.keep_obtained) / self.job.entrypoint / f"{device.type}.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {"entrypoint": self.job.entrypoint, "device": str(device), "torch": torch.__version__, "obtained": True}
        target.write_bytes(encode_reference(inputs, obtained, structure, record))

    def _cpu_baseline(self) -> None:
        """CPU outputs for device-parity when the CPU is not among the requested devices."""
        run = _Run(torch.device("cpu"))
        try:
            run.model = self._load(run.device, self.job.seed)
            inputs, _ = self._inputs(run)
            leaves, _ = self._forward(run.model, inputs, run.device)
            self.cpu_outputs = outputs.to_cpu(leaves)
        except Exception:  # noqa: BLE001 - reported by device-parity as "no CPU outputs"
            self.cpu_outputs = None
        finally:
            run.model = None
            release_memory()

    # -- recording -----------------------------------------------------------------------

    def record(self) -> None:
        """Run on the recording device and write the reference to the temporary path the parent chose."""
        spec = self.job.record
        device = torch.device(spec["device"])
        run = _Run(device)

        def body() -> str:
            run.model = self._load(device, self.job.seed)
            if run.model is None:
                raise CheckFailed("the entry point returned None; it must return the model")
            inputs, note = self._inputs(run)
            leaves, structure = self._forward(run.model, inputs, device)
            leaves = outputs.to_cpu(leaves)
            problems = outputs.non_finite(leaves)
            if problems:
                raise CheckFailed("refusing to record non-finite outputs: " + "; ".join(problems[:3]))
            import platform

            record = {
                "entrypoint": self.job.entrypoint, "case": spec.get("case", "default"),
                "kwargs": self._kwargs(device), "method": self.job.config.get("method") or "__call__",
                "method_kwargs": self.job.config.get("method_kwargs") or {}, "seed": self.job.seed,
                "inputs": run.input_specs or self.job.config.get("inputs"), "device": str(device),
                "dtypes": sorted({str(t.dtype).replace("torch.", "") for t in outputs.tensors(leaves).values()}),
                "torch": torch.__version__, "python": platform.python_version(), "commit": self.job.commit,
                "tolerance": self.job.config.get("tolerance") or {},
            }
            data = encode_reference(inputs, leaves, structure, record)
            Path(spec["temporary_path"]).write_bytes(data)
            summary = sidecar(inputs, leaves, record)
            self.emit({"event": "recorded", "size": len(data), "sidecar": summary,
                       "same_as_existing": _same_as_existing(spec.get("existing"), inputs, leaves)})
            return f"recorded {len(leaves)} outputs ({len(data):,} bytes){' (' + note + ')' if note else ''}"

        try:
            self._run_check("record", str(device), body)
        finally:
            run.model = None
            release_memory(device)


def _same_as_existing(existing: str | None, inputs: list[torch.Tensor], leaves: dict[str, Any]) -> bool:
    """Whether a readable reference at ``existing`` already holds exactly these inputs and outputs."""
    if not existing or not os.path.exists(existing):
        return False
    try:
        reference = read_reference(Path(existing))
    except ReferenceUnusable:
        return False
    if len(reference.inputs) != len(inputs) or not all(torch.equal(a, b) for a, b in zip(reference.inputs, inputs)):
        return False
    return not compare(reference.outputs, leaves, Tolerances(), "cpu", True, exact=True)


def _misplaced_tensors(model: Any, device: torch.device) -> list[str]:
    if isinstance(model, torch.nn.Module):
        named = list(model.named_parameters()) + list(model.named_buffers())
        return [f"{name} on {t.device}" for name, t in named if t.device != device]
    misplaced = []
    for name, value in _attributes(model):
        if isinstance(value, torch.nn.Module):
            misplaced += [f"{name}.{n} on {t.device}" for n, t in
                          list(value.named_parameters()) + list(value.named_buffers()) if t.device != device]
        elif isinstance(value, torch.Tensor) and value.device != device:
            misplaced.append(f"{name} on {value.device}")
    return misplaced


def _tensor_holders(model: Any) -> list[str]:
    return [name for name, value in _attributes(model) if isinstance(value, (torch.nn.Module, torch.Tensor))]


def _attributes(model: Any) -> list[tuple[str, Any]]:
    try:
        return sorted(vars(model).items())
    except TypeError:
        return []
