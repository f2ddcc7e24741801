"""The checks of one entry point, in the forked process that runs repo code.

This process reports facts, never verdicts: what ``torch.hub.help`` returns,
what the entry point loaded, and the outputs of every forward, written as
safetensors files for the judge (:mod:`.judge`, a fork in which no repo code
ran) to compare. It can fail or skip a check (repo code raised, the model is
not an nn.Module, no example input); only hubcheck and the judge pass one.
Every fact is sent as soon as it is known, so hubcheck keeps what was learned
if a later check crashes the process. Checks that depend on an earlier one
(forward needs a model) are skipped with the reason when it failed, never
repeated.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import inspect
import io
import os
import random
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from . import hubimport, netguard, outputs
from .entry_kinds import Subject, subject_of
from .input_ladder import NoInputFits, fit_inputs
from .inputs import make_inputs
from .protocol import Began, Docstring, Ended, Failed, Loaded, Outputs, RunJob, Skipped
from .references import ReferenceUnusable, encode_reference, read_reference

Emit = Callable[[Any], None]


class CheckFailed(Exception):
    """A check's failure with the message users should read."""


class CheckSkipped(Exception):
    """A check that cannot run, with the reason."""


class CheckNotVerified(CheckSkipped):
    """Forward cannot run for want of an input only the user can declare: reported as not verified."""


DECLARE_INPUT = ("pass --input SHAPE[:DTYPE] (sizes joined by x, one flag per positional argument; "
                 "--hubcheck-input under pytest), or set inputs in [entrypoints.{name}] of a --config file")
"""How to declare an input, said wherever forward is not verified."""

def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed % 2**32)


def describe_exception(
    error: BaseException, repo_dir: str, signature: Callable[[], inspect.Signature | None] | None = None
) -> str:
    """``Type: message (at repo/file.py:12)``, naming the deepest frame inside the repo.

    ``signature`` gives the entry point's; a blocked download is offered ``--no-pretrained`` only where it can
    reach the entry point (a ``pretrained`` parameter), and ``--kwarg pretrained=False`` where ``**kwargs`` may.
    """
    blocked = netguard.attempts()
    if isinstance(error, netguard.NetworkBlocked) or _caused_by_block(error):
        where = blocked[-1] if blocked else str(error)
        parameters = _parameters(signature)
        if parameters is not None and "pretrained" not in parameters:
            fetch = "pre-fetch the weights into a torch home (--torch-home), or allow it with --allow-network"
            if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
                return (f"network access blocked: {where}; the entry point names no `pretrained` parameter: pass "
                        f"--kwarg pretrained=False if its **kwargs take one, else {fetch}")
            return f"network access blocked: {where}; the entry point has no `pretrained` parameter: {fetch}"
        return (f"network access blocked: {where}; for an offline run without weights pass --no-pretrained "
                "(or --kwarg pretrained=False), pre-fetch the weights into a torch home (--torch-home), "
                "or allow it with --allow-network")
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


def _parameters(signature: Callable[[], inspect.Signature | None] | None) -> Mapping[str, inspect.Parameter] | None:
    try:
        found = signature() if signature is not None else None
    except Exception:  # noqa: BLE001 - hubconf itself may be what failed; then the general hint stands
        return None
    return found.parameters if found is not None else None


def _caused_by_block(error: BaseException) -> bool:
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, netguard.NetworkBlocked) or isinstance(getattr(current, "reason", None), netguard.NetworkBlocked):
            return True
        current = current.__cause__ or current.__context__
    return False


def entry_kwargs(config: dict[str, Any], device: torch.device, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments an entry point is called with on ``device``: configured, per device, overridden."""
    kwargs = dict(config.get("kwargs") or {})
    kwargs.update((config.get("device_kwargs") or {}).get(device.type, {}))
    kwargs.update((config.get("device_kwargs") or {}).get(str(device), {}))
    kwargs.update(overrides)
    return kwargs


def release_memory(device: torch.device | None = None) -> None:
    """Give freed memory back, so the next entry point starts from the same footprint."""
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class _Run:
    """What one device's checks share: the loaded model, its inputs and outputs."""

    device: torch.device
    model: Any = None
    subject: Subject | None = None
    """How the entry point's return value became ``model`` (a tuple's element, a GAN wrapper)."""
    inputs: list[torch.Tensor] | None = None
    input_specs: list[dict[str, Any]] | None = None
    problems: dict[str, str] = field(default_factory=dict)
    """Check name -> why checks depending on it cannot run."""


class EntrypointChecks:
    def __init__(self, job: RunJob, emit: Emit) -> None:
        self.job = job
        self.emit = emit

    # -- reporting ---------------------------------------------------------------------

    def _run_check(self, check: str, device: str | None, body: Callable[[], None]) -> bool:
        """Run one check body; report it ended, failed or skipped; return True when it ended."""
        if check not in self.job.checks:
            return True
        self.emit(Began(check, device))
        netguard.clear_attempts()
        started = time.perf_counter()
        try:
            body()
        except CheckSkipped as skipped:
            self.emit(Skipped(check, device, str(skipped), time.perf_counter() - started,
                              not_verified=isinstance(skipped, CheckNotVerified) and check == "forward"))
            return False
        except CheckFailed as failed:
            self.emit(Failed(check, device, str(failed), time.perf_counter() - started))
            return False
        except (Exception, SystemExit) as error:  # noqa: BLE001 - repo code may raise anything
            message = describe_exception(error, self.job.repo, lambda: self._signature)
            self.emit(Failed(check, device, message, time.perf_counter() - started))
            return False
        self.emit(Ended(check, device, time.perf_counter() - started))
        return True

    def _skip(self, check: str, device: str | None, reason: str) -> None:
        if check in self.job.checks:
            self.emit(Skipped(check, device, reason))

    def _write(self, device: torch.device, role: str, inputs: list[torch.Tensor], leaves: dict[str, Any],
               structure: dict[str, Any], **facts: Any) -> None:
        """Write one forward's inputs and outputs for the judge and say so."""
        path = outputs.data_file(self.job.data_dir, str(device), role)
        path.write_bytes(encode_reference(inputs, outputs.to_cpu(leaves), structure, {}))
        self.emit(Outputs(str(device), role, **facts))

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

    def check_docstring(self) -> None:
        module = hubimport.import_hubconf(self.job.repo)
        hubimport.check_dependencies(module)
        entry = getattr(module, self.job.entrypoint)
        doc = entry.__doc__
        generic = isinstance(entry, functools.partial) and doc == functools.partial.__doc__
        self.emit(Docstring(doc if isinstance(doc, str) else None, generic))

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
                # The judge compares this device's forward outputs with the CPU's.
                self._dependent("device-parity", run, "forward", lambda: None)
            from .model_checks import BODIES  # imported here: it builds on this module's helpers

            for check, body in BODIES.items():
                self._dependent(check, run, "forward", functools.partial(body, self, run))
        finally:
            run.model = None
            release_memory(device)

    def _dependent(self, check: str, run: _Run, prerequisite: str, body: Callable[[], None]) -> None:
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

    def _load(self, device: torch.device, seed: int, **overrides: Any) -> Subject:
        """The entry point's return value as the checks see it (:func:`subject_of`), on ``device``, in eval mode."""
        seed_everything(seed)
        returned = hubimport.load(self.job.repo, self.job.entrypoint, entry_kwargs(self.job.config, device, **overrides))
        subject = subject_of(returned)
        model = subject.model
        if isinstance(model, torch.nn.Module):
            model.to(device)  # in place: the subject's state_module is this module or inside it
        if hasattr(model, "eval") and callable(model.eval):
            model.eval()
        return subject

    def check_load(self, run: _Run) -> None:
        run.problems["load"] = "load failed"
        subject = self._load(run.device, self.job.seed)
        model = subject.model
        if model is None:
            raise CheckFailed("the entry point returned None; it must return the model")
        run.model, run.subject = model, subject
        misplaced = _misplaced_tensors(model, run.device)
        if misplaced:
            raise CheckFailed(f"not everything is on {run.device} after loading: {', '.join(misplaced[:5])}"
                              + (f" and {len(misplaced) - 5} more" if len(misplaced) > 5 else ""))
        del run.problems["load"]
        summary = _model_summary(model, run.device)
        self.emit(Loaded(str(run.device), f"{subject.note}: {summary}" if subject.note else summary))

    # -- forward ---------------------------------------------------------------------

    def _method(self, model: Any) -> Callable[..., Any]:
        name = self.job.config.get("method") or "__call__"
        if name == "__call__" and not callable(model):
            name = subject_of(model).default_method or name
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

    def _fitted_forward(
        self, run: _Run, device: torch.device
    ) -> tuple[list[torch.Tensor], dict[str, Any], dict[str, Any], str]:
        """Inputs, outputs, structure and a note: on the declared inputs, else the first inferred ones that run."""
        specs = self.job.config.get("inputs")
        if specs is not None:
            inputs = make_inputs(specs, self.job.seed)
            return inputs, *self._forward(run.model, inputs, device), ""

        def attempt(candidate: list[dict[str, Any]]) -> tuple[list[torch.Tensor], dict[str, Any], dict[str, Any]]:
            tensors = make_inputs(candidate, self.job.seed)
            return tensors, *self._forward(run.model, tensors, device)

        try:
            fitted, (inputs, leaves, structure), note = fit_inputs(run.model, attempt, passthrough=(CheckFailed,))
        except NoInputFits as nothing:
            # No shape is proposed: every one the ladder knew was tried (and is listed), or none applies.
            method = "" if isinstance(run.model, torch.nn.Module) else "; add --method NAME for the method that runs it"
            raise CheckNotVerified(f"{nothing}: {DECLARE_INPUT.format(name=self.job.entrypoint)}{method}") from None
        run.input_specs = fitted
        return inputs, leaves, structure, note

    def check_forward(self, run: _Run) -> None:
        run.problems["forward"] = "forward failed"
        try:
            inputs, leaves, structure, inferred_note = self._fitted_forward(run, run.device)
        except CheckNotVerified:
            run.problems["forward"] = "forward not verified: no example input fits"
            raise
        misplaced = outputs.wrong_device(leaves, run.device)
        self._write(run.device, "forward", inputs, leaves, structure, misplaced=tuple(misplaced), note=inferred_note,
                    input_specs=tuple(run.input_specs) if run.input_specs else None)
        run.inputs = inputs
        # The judge fails forward for these; what depends on it is not worth running.
        if not misplaced and not outputs.non_finite(leaves):
            del run.problems["forward"]

    # -- determinism and round trip ------------------------------------------------------

    def check_determinism(self, run: _Run) -> None:
        assert run.inputs is not None
        again, structure = self._forward(run.model, run.inputs, run.device)
        self._write(run.device, "repeat", run.inputs, again, structure)
        del again
        second = self._load(run.device, self.job.seed).model
        try:
            leaves, structure = self._forward(second, run.inputs, run.device)
        finally:
            del second
        self._write(run.device, "reload", run.inputs, leaves, structure)

    @cached_property
    def _signature(self) -> inspect.Signature | None:
        """The entry point's signature, or None when it has none (read once, not once per device)."""
        module = hubimport.import_hubconf(self.job.repo)
        try:
            return inspect.signature(getattr(module, self.job.entrypoint))
        except (TypeError, ValueError):
            return None

    @property
    def _takes_pretrained(self) -> bool:
        """Whether the entry point has a ``pretrained`` parameter."""
        return self._signature is not None and "pretrained" in self._signature.parameters

    def check_state_dict(self, run: _Run) -> None:
        """The state dict of the subject's module (a GAN wrapper's generator), into a fresh instance's."""
        assert run.inputs is not None and run.subject is not None
        module = run.subject.state_module
        if module is None:
            raise CheckSkipped(f"{type(run.model).__name__} is not an nn.Module and holds no generator")
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        buffer.seek(0)
        # A fresh, randomly initialised instance: if the state dict misses anything, outputs differ.
        overrides = {"pretrained": False} if self._takes_pretrained else {}
        fresh = self._load(run.device, self.job.seed + 1, **overrides)
        try:
            state = torch.load(buffer, map_location=run.device, weights_only=True)
            if fresh.state_module is None:
                raise CheckFailed("a fresh instance holds no module to load the state dict into")
            try:
                fresh.state_module.load_state_dict(state, strict=True)
            except RuntimeError as error:
                raise CheckFailed(f"the state dict does not load strictly into a fresh instance: {str(error)[:500]}") from None
            leaves, structure = self._forward(fresh.model, run.inputs, run.device)
        finally:
            del fresh
        note = " (built with pretrained=False)" if overrides else ""
        whose = "" if module is run.model else f" of the generator ({type(module).__name__})"
        self._write(run.device, "state-dict", run.inputs, leaves, structure,
                    note=f"{len(state)} tensors{whose} saved and loaded into a fresh instance{note}")

    # -- outputs on stored inputs ---------------------------------------------------------

    def check_reference(self, run: _Run) -> None:
        """Outputs on the reference's inputs, when they are not the forward's; the judge compares."""
        assert run.inputs is not None
        info = self.job.reference
        if info is None or not info.exists:
            return  # the judge says what to do, with the size limit these outputs need
        try:
            reference = read_reference(Path(info.path))
        except ReferenceUnusable:
            return  # the judge reads it too, and says why it cannot be used
        pairs = zip(reference.inputs, run.inputs, strict=True)
        if len(reference.inputs) == len(run.inputs) and all(
            a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b) for a, b in pairs
        ):
            return
        leaves, structure = self._forward(run.model, reference.inputs, run.device)
        self._write(run.device, "reference", reference.inputs, leaves, structure)

    def _cpu_baseline(self) -> None:
        """CPU outputs for device-parity when the CPU is not among the requested devices."""
        run = _Run(torch.device("cpu"))
        try:
            run.subject = self._load(run.device, self.job.seed)
            run.model = run.subject.model
            inputs, leaves, structure, _ = self._fitted_forward(run, run.device)
            self._write(run.device, "baseline", inputs, leaves, structure)
        except Exception:  # noqa: BLE001, S110 - the judge reports "no CPU outputs" for device-parity
            pass
        finally:
            run.model = None
            release_memory()

    # -- recording -----------------------------------------------------------------------

    def record(self) -> None:
        """Run on the recording device and write the outputs; the judge makes the reference of them."""
        assert self.job.record is not None
        device = torch.device(self.job.record.device)
        run = _Run(device)

        def body() -> None:
            run.subject = self._load(device, self.job.seed)
            run.model = run.subject.model
            if run.model is None:
                raise CheckFailed("the entry point returned None; it must return the model")
            inputs, leaves, structure, note = self._fitted_forward(run, device)
            self._write(device, "record", inputs, leaves, structure, note=note,
                        input_specs=tuple(run.input_specs) if run.input_specs else None)

        try:
            self._run_check("record", str(device), body)
        finally:
            run.model = None
            release_memory(device)


def _model_summary(model: Any, device: torch.device) -> str:
    if isinstance(model, torch.nn.Module):
        count = sum(p.numel() for p in model.parameters())
        size = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
        return (f"{type(model).__name__}: {count:,} parameters ({size / 1e6:.2f} MB), "
                f"all parameters and buffers on {device}")
    holders = _tensor_holders(model)
    kind = type(model).__name__
    if isinstance(model, (tuple, list, dict)):
        return f"returned a {kind} of {len(model)} items, not a model object"
    if holders:
        return f"returned {kind} (not an nn.Module); its {', '.join(holders[:3])} are on {device}"
    return f"returned {kind} (not an nn.Module); device placement not checked"


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
