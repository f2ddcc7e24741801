"""The model checks' work, in the forked process that runs repo code (see :mod:`hubcheck.model_checks`).

Each body runs after forward passed on one device, on the forward's fitted
inputs, and writes what it computed for the judge (:mod:`.model_verdicts`),
which decides. A body fails only where repo code refused outright (TorchScript
could neither script nor trace, export raised, a load crashed) and skips, with
the reason, where the check does not apply. :mod:`.checks` imports this module
when it runs the checks, so its helpers are used here directly. Bodies work on copies (or fresh
loads) of the model, so that the checks after them see it as forward did.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._pytree import tree_flatten

from . import hubimport, outputs
from .checks import CheckFailed, CheckSkipped, describe_exception

if TYPE_CHECKING:
    from .checks import EntrypointChecks, _Run

BATCH_ROWS = 4
"""Rows of a batch checked alone: enough to see samples mixing, cheap on a large batch."""
COMPILE_LIMIT_S = 180
"""How long torch.compile may take before the check fails (the entry point's timeout bounds it too)."""
SGD_LR = 0.01
PROBE_ENTRY = "probe"
PROBE_SCALE = 3.0
"""The co-load probe computes ``x * PROBE_SCALE + 1``; the judge checks exactly that."""
PROBE_FILES = {
    "hubconf.py": '''
        """Another hub repo, written by hubcheck's co-load check: modules named utils and models at its top."""
        dependencies = ["torch"]

        from models import build_probe
        from utils import PROBE_SCALE


        def probe():
            """A module computing x * PROBE_SCALE + 1."""
            return build_probe(PROBE_SCALE)
        ''',
    "utils.py": f"PROBE_SCALE = {PROBE_SCALE!r}\n",
    "models/__init__.py": '''
        import torch


        class Probe(torch.nn.Module):
            def __init__(self, scale):
                super().__init__()
                self.scale = scale

            def forward(self, x):
                return x * self.scale + 1


        def build_probe(scale):
            return Probe(scale)
        ''',
}
PROBE_MODULES = ("utils", "models")


def _module(run: _Run) -> torch.nn.Module:
    if not isinstance(run.model, torch.nn.Module):
        raise CheckSkipped(f"{type(run.model).__name__} is not an nn.Module")
    return run.model


def _forward_method_only(checks: EntrypointChecks, what: str) -> None:
    method = checks.job.config.get("method") or "__call__"
    if method != "__call__":
        raise CheckSkipped(f"{what} converts the module's forward; this entry point runs its method {method!r}")


def _copy(checks: EntrypointChecks, run: _Run) -> Any:
    """A copy of the loaded model; a fresh load with the same seed when it cannot be deep-copied."""
    try:
        return copy.deepcopy(run.model)
    except Exception:  # noqa: BLE001 - repo objects may refuse copying in any way; a reload is equivalent
        return checks._load(run.device, checks.job.seed).model


def _inputs(run: _Run) -> list[torch.Tensor]:
    assert run.inputs is not None  # forward passed
    return [t.to(run.device) for t in run.inputs]


def refusal(error: BaseException, repo: str) -> str:
    """The first line of what torch refused, and where in the repo's code (``at models/net.py:12``)."""
    text = str(error).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    location = None
    for path, line in re.findall(r'File "([^"]+)", line (\d+)', text):
        if path.startswith(repo + os.sep):
            location = f"{os.path.relpath(path, repo)}:{line}"
            break
    if location is None:
        where = re.search(r"\(at ([^)]+)\)$", describe_exception(error, repo))
        location = where.group(1) if where else None
    first = first[:300] + ("..." if len(first) > 300 else "")
    return f"{type(error).__name__}: {first}" + (f" (at {location})" if location else "")


# -- backward ---------------------------------------------------------------------------


def backward(checks: EntrypointChecks, run: _Run) -> None:
    model = _module(run)
    if not any(p.requires_grad for p in model.parameters()):
        raise CheckSkipped("no parameter requires grad (a frozen model has nothing to train)")
    trainee = _copy(checks, run)
    trainee.train()
    method = checks._method(trainee)
    inputs = _inputs(run)
    kwargs = checks.job.config.get("method_kwargs") or {}

    def train_forward() -> tuple[dict[str, Any], dict[str, Any]]:
        # The same seed before both forwards: dropout draws the same masks, so only the step changes outputs.
        torch.manual_seed(checks.job.seed)
        return outputs.flatten(method(*inputs, **kwargs))

    with torch.enable_grad():
        leaves, structure = train_forward()
        differentiable = [v for v in outputs.tensors(leaves).values() if v.is_floating_point() and v.requires_grad]
        if not differentiable:
            method_name = checks.job.config.get("method") or "__call__"
            if method_name != "__call__":
                raise CheckSkipped(f"the configured method {method_name!r} returns no output that carries a gradient "
                               "(an inference method); backward needs one that trains")
            raise CheckFailed("no output carries a gradient in train() mode (computed under no_grad, or detached?)")
        # Squares: a plain sum of softmax outputs is constant and back-propagates zeros.
        loss = torch.stack([v.float().pow(2).mean() for v in differentiable]).sum()
        loss.backward()
    named = [(name, p) for name, p in trainee.named_parameters() if p.requires_grad]
    grads = {name: (None if p.grad is None else p.grad.detach().double().abs().amax()) for name, p in named}
    grad_leaves, grad_structure = outputs.flatten(grads)
    checks._write(run.device, "backward-grads", [], grad_leaves, grad_structure,
                  note=f"loss = sum of mean squares of {len(differentiable)} outputs")
    checks._write(run.device, "backward-before", run.inputs or [], outputs.to_cpu(leaves), structure)
    torch.optim.SGD([p for _, p in named], lr=SGD_LR).step()
    with torch.no_grad():
        after, structure = train_forward()
    checks._write(run.device, "backward-after", run.inputs or [], after, structure)


# -- batch invariance ------------------------------------------------------------------------


def _second_row(tensor: torch.Tensor, seed: int) -> torch.Tensor:
    """Another sample like ``tensor`` (a batch of one), from a seeded generator."""
    generator = torch.Generator().manual_seed(seed + 7919)
    cpu = tensor.detach().cpu()
    if cpu.is_floating_point():
        other = cpu.float() + torch.randn(cpu.shape, generator=generator)
    else:
        low, high = int(cpu.min()), int(cpu.max()) + 1
        other = torch.randint(low, max(high, low + 1), cpu.shape, generator=generator)
    return other.to(cpu.dtype).to(tensor.device)


def batch_invariance(checks: EntrypointChecks, run: _Run) -> None:
    inputs = _inputs(run)
    if not inputs:
        raise CheckSkipped("the forward takes no inputs")
    if any(t.dim() == 0 for t in inputs):
        raise CheckSkipped("an input is a scalar, so there is no batch dimension")
    sizes = sorted({t.shape[0] for t in inputs})
    if len(sizes) > 1:
        raise CheckSkipped(f"the inputs' first dimensions differ ({', '.join(map(str, sizes))}), so they share no batch "
                       "dimension")
    batch = inputs
    if sizes[0] == 1:
        batch = [torch.cat([t, _second_row(t, checks.job.seed)]) for t in inputs]
        leaves, structure = checks._forward(run.model, batch, run.device)
        checks._write(run.device, "batch", [t.cpu() for t in batch], leaves, structure)
    rows = min(batch[0].shape[0], BATCH_ROWS)
    alone: dict[str, Any] = {}
    for row in range(rows):
        leaves, _ = checks._forward(run.model, [t[row:row + 1] for t in batch], run.device)
        alone.update((f"row{row}/{key}", value) for key, value in leaves.items())
    checks._write(run.device, "batch-rows", [t.cpu() for t in batch], alone, {"rows": rows},
                  note=f"{rows} of {batch[0].shape[0]} rows run alone")


# -- conversions --------------------------------------------------------------------------


def torchscript(checks: EntrypointChecks, run: _Run) -> None:
    model = _module(run)
    _forward_method_only(checks, "TorchScript")
    inputs = _inputs(run)
    with _quiet_warnings():
        try:
            converted = torch.jit.script(model)
            how = "scripted with torch.jit.script"
        except Exception as script_error:  # noqa: BLE001 - the compiler raises many kinds; the trace is the fallback
            refused = refusal(script_error, checks.job.repo)
            try:
                with torch.no_grad():
                    converted = torch.jit.trace(model, tuple(inputs), check_trace=False, strict=False)
            except Exception as trace_error:  # noqa: BLE001
                raise CheckFailed(f"torch.jit.script refused: {refused}; torch.jit.trace failed too: "
                              f"{refusal(trace_error, checks.job.repo)}") from None
            how = f"traced with torch.jit.trace, because torch.jit.script refused: {refused}"
        buffer = io.BytesIO()
        try:
            torch.jit.save(converted, buffer)
            buffer.seek(0)
            loaded = torch.jit.load(buffer, map_location=run.device)
        except Exception as error:  # noqa: BLE001
            raise CheckFailed(f"the {how.split(' with ')[0]} model does not survive torch.jit.save and load: "
                          f"{refusal(error, checks.job.repo)}") from None
    leaves, structure = checks._forward(loaded, inputs, run.device)
    checks._write(run.device, "torchscript", run.inputs or [], leaves, structure,
                  note=f"{how}; saved and loaded")


class _CompileTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise _CompileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def compile_backend() -> str:
    """inductor where it can build its C++ kernels (a C compiler on PATH), else aot_eager, which needs none."""
    return "inductor" if (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")) else "aot_eager"


def compile_check(checks: EntrypointChecks, run: _Run) -> None:
    if not hasattr(torch, "compile"):
        raise CheckSkipped(f"torch {torch.__version__} has no torch.compile")
    backend = compile_backend()
    compiled = torch.compile(checks._method(run.model), backend=backend)
    try:
        with _time_limit(COMPILE_LIMIT_S), _quiet_warnings():
            leaves, structure = _call(checks, compiled, _inputs(run))
    except _CompileTimeout:
        raise CheckFailed(f"torch.compile (backend {backend}) took more than {COMPILE_LIMIT_S} s") from None
    except Exception as error:  # noqa: BLE001 - dynamo and the backends raise many kinds
        raise CheckFailed(f"torch.compile (backend {backend}) failed: {refusal(error, checks.job.repo)}") from None
    finally:
        with contextlib.suppress(Exception):
            torch._dynamo.reset()
    checks._write(run.device, "compile", run.inputs or [], leaves, structure, note=f"backend {backend}")


def _call(checks: EntrypointChecks, function: Callable[..., Any], inputs: list[torch.Tensor]) -> tuple[dict, dict]:
    with torch.inference_mode():
        result = function(*inputs, **(checks.job.config.get("method_kwargs") or {}))
    return outputs.flatten(result)


def export(checks: EntrypointChecks, run: _Run) -> None:
    model = _module(run)
    _forward_method_only(checks, "torch.export")
    exporter = getattr(getattr(torch, "export", None), "export", None)
    if exporter is None:
        raise CheckSkipped(f"torch {torch.__version__} has no torch.export")
    inputs = _inputs(run)
    kwargs = checks.job.config.get("method_kwargs") or {}
    dim = getattr(torch.export, "Dim", None)
    note = "batch dimension static: " + (
        "this torch has no torch.export.Dim" if dim is None
        else "no batch of two or more shared by every input, or method_kwargs set (export specialises 0 and 1)")
    program = None
    # torch.export specialises sizes 0 and 1, so only a batch of two or more can stay dynamic.
    batched = dim is not None and not kwargs and inputs and all(t.dim() >= 1 for t in inputs) and \
        len({t.shape[0] for t in inputs}) == 1 and inputs[0].shape[0] >= 2
    with _quiet_warnings():
        if batched:
            assert dim is not None
            batch = dim("batch")
            try:
                program = exporter(model, tuple(inputs), dynamic_shapes=tuple({0: batch} for _ in inputs))
                note = "batch dimension dynamic"
            except Exception as error:  # noqa: BLE001 - a static export is the fallback
                note = f"batch dimension static: the dynamic export refused ({refusal(error, checks.job.repo)})"
        if program is None:
            try:
                program = exporter(model, tuple(inputs), kwargs or None)
            except Exception as error:  # noqa: BLE001
                raise CheckFailed(f"torch.export refused: {refusal(error, checks.job.repo)}") from None
        leaves, structure = _call(checks, program.module(), inputs)
    checks._write(run.device, "export", run.inputs or [], leaves, structure, note=note)


# -- precision, layout, threads ---------------------------------------------------------------


def low_precision(device: torch.device) -> torch.dtype:
    """bfloat16 on the CPU (float16 kernels there are few and slow), float16 on accelerators."""
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def dtype(checks: EntrypointChecks, run: _Run) -> None:
    _module(run)
    low = low_precision(run.device)
    model = _copy(checks, run).to(low)
    inputs = [t.to(low) if t.is_floating_point() else t for t in _inputs(run)]
    upcast: list[str] = []
    hooks = [module.register_forward_hook(_upcast_recorder(f"{name} ({type(module).__name__})", low, upcast))
             for name, module in model.named_modules() if next(module.children(), None) is None]
    try:
        leaves, structure = checks._forward(model, inputs, run.device)
    finally:
        for hook in hooks:
            hook.remove()
    low_name = str(low).replace("torch.", "")
    layers = list(dict.fromkeys(upcast))
    note = (f"{low_name}; layers that computed in float32: {', '.join(layers[:8])}"
            + (f" and {len(layers) - 8} more" if len(layers) > 8 else "")) if layers else \
        f"{low_name}; every layer computed in it"
    checks._write(run.device, "dtype", [t.cpu() for t in inputs], leaves, structure, note=note)


def _upcast_recorder(name: str, low: torch.dtype, found: list[str]) -> Callable[..., None]:
    """A forward hook noting ``name`` when the layer got low-precision floats and gave float32: a fallback.

    Layer hooks, not a dispatch mode: the first TorchDispatchMode costs seconds of imports, and a layer's name
    points into the repo's model where an aten op does not."""
    def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        if any(isinstance(t, torch.Tensor) and t.dtype == low for t in tree_flatten(args)[0]) and any(
                isinstance(t, torch.Tensor) and t.dtype == torch.float32 for t in tree_flatten(output)[0]):
            found.append(name)
    return hook


def channels_last(checks: EntrypointChecks, run: _Run) -> None:
    _module(run)
    inputs = _inputs(run)
    if not any(t.dim() == 4 and t.is_floating_point() for t in inputs):
        raise CheckSkipped("no 4-D float input (channels_last is a layout of images)")
    model = _copy(checks, run).to(memory_format=torch.channels_last)
    laid_out = [t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in inputs]
    leaves, structure = checks._forward(model, laid_out, run.device)
    checks._write(run.device, "channels-last", run.inputs or [], leaves, structure,
                  note=f"{sum(t.dim() == 4 for t in laid_out)} 4-D inputs and the model in channels_last")


def threads(checks: EntrypointChecks, run: _Run) -> None:
    if run.device.type != "cpu":
        raise CheckSkipped(f"thread count is a CPU setting; {run.device} kernels do not use it")
    before = torch.get_num_threads()
    inputs = _inputs(run)
    try:
        torch.set_num_threads(1)
        leaves, structure = checks._forward(run.model, inputs, run.device)
        checks._write(run.device, "threads-1", run.inputs or [], leaves, structure,
                      note=f"1 thread against {max(before, 2)}")
        if before < 2:
            # The forward ran on one thread: the comparison needs a run on several.
            torch.set_num_threads(2)
            leaves, structure = checks._forward(run.model, inputs, run.device)
            checks._write(run.device, "threads-n", run.inputs or [], leaves, structure)
    finally:
        torch.set_num_threads(before)


# -- co-loading ---------------------------------------------------------------------------------


def _repo_modules(repo: str) -> list[str]:
    """Modules in sys.modules that the repo's own files define."""
    root = os.path.realpath(repo) + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        # __path__ is whatever a module says it is (torch.classes answers every attribute): only strings count.
        paths = getattr(module, "__path__", None)
        places = [location, *(paths if isinstance(paths, list) else [])]
        if any(isinstance(p, str) and os.path.realpath(p).startswith(root) for p in places):
            found.append(name)
    return found


def co_load(checks: EntrypointChecks, run: _Run) -> None:
    repo = checks.job.repo
    probe_dir = Path(checks.job.cwd) / f"co-load-probe-{str(run.device).replace(':', '_')}"
    for relative, text in PROBE_FILES.items():
        path = probe_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    clashing = sorted({name.split(".")[0] for name in _repo_modules(repo)} & set(PROBE_MODULES))
    # This repo was loaded first (by load): now another repo with the same top-level module names.
    try:
        probe = hubimport.load(str(probe_dir), PROBE_ENTRY, {})
    except Exception as error:  # noqa: BLE001 - what the other repo's import hits is the finding
        held = f"this repo leaves {', '.join(clashing)} in sys.modules, " if clashing else ""
        refused = refusal(error, str(probe_dir)).replace(" (at ", " (at the other repo's ", 1)
        raise CheckFailed(f"another hub repo loaded after this one fails: {held}where its `import utils` / `import "
                      f"models` find this repo's modules (HUB303): {refused}") from None
    # Now the other order: a process that had loaded the other repo first has none of this repo's modules.
    for name in _repo_modules(repo):
        del sys.modules[name]
    try:
        second = checks._load(run.device, checks.job.seed).model
    except Exception as error:  # noqa: BLE001
        raise CheckFailed("this repo fails to load after another hub repo with modules named utils and models "
                      f"(HUB303: it imports them by top-level name): {refusal(error, repo)}") from None
    leaves, structure = checks._forward(second, _inputs(run), run.device)
    del second
    checks._write(run.device, "co-load", run.inputs or [], leaves, structure)
    sample = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    with torch.inference_mode():
        probe_out = probe(sample)
    checks._write(run.device, "co-load-other", [sample], *outputs.flatten(probe_out))


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    # TorchScript and export warn about deprecation and tracing on every call: noise in the repo's output tail.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


BODIES: dict[str, Callable[[EntrypointChecks, _Run], None]] = {
    "backward": backward, "batch-invariance": batch_invariance, "torchscript": torchscript,
    "compile": compile_check, "export": export, "dtype": dtype, "channels-last": channels_last,
    "threads": threads, "co-load": co_load,
}
"""Model check id -> its body, in the order they run (co-load last: it leaves the other repo's modules loaded)."""
