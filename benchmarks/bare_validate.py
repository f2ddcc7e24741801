"""The validate baseline: what a user's own CI script would do instead of ``hubcheck validate``.

USAGE
    python benchmarks/bare_validate.py REPO SPEC_JSON

SPEC_JSON lists the entry points with their hubcheck.toml settings (kwargs,
method, method_kwargs, inputs, seed, rtol/atol); ``run.py`` builds it from the
repo's hubcheck.toml so both sides check exactly the same things.

For each entry point, on the CPU, this does the calls hubcheck's worker makes
(``hubcheck/worker/checks.py``), in one plain process with no CLI, no lint, no
worker and no protocol:

1. enumerate the entry points the torch.hub way (import hubconf, ``torch.hub.list``'s rule,
   the dependency check);
2. docstring: import hubconf again and read the entry point's ``__doc__``;
3. load: seed, ``torch.hub.load(REPO, name, source="local", **kwargs)``, ``.to("cpu").eval()``;
4. forward: inputs from a seeded generator, the method under ``inference_mode``, outputs finite;
5. determinism: a second forward on the same model, then a second seeded ``torch.hub.load``
   and its forward, both compared bit for bit;
6. state-dict round trip: ``torch.save`` of the state dict into memory, a fresh
   ``torch.hub.load(..., pretrained=False)``, ``torch.load(weights_only=True)``,
   ``load_state_dict(strict=True)``, its forward, compared bit for bit;
7. reference: read ``hubcheck_refs/<name>/default.safetensors``, check its inputs equal
   the ones used, and ``torch.isclose`` every output at the configured tolerance.

Any mismatch raises, so a baseline that silently skipped work cannot pass.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys

import torch
import torch.hub
from safetensors.torch import load_file

# torch.testing's float32 defaults, which hubcheck uses when hubcheck.toml sets none.
DEFAULT_RTOL, DEFAULT_ATOL = 1.3e-6, 1e-5


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)


def make_inputs(specs: list[dict], seed: int) -> list[torch.Tensor]:
    return [torch.randn(spec["shape"], generator=torch.Generator().manual_seed(seed + position))
            for position, spec in enumerate(specs)]


def load(repo: str, name: str, seed: int, kwargs: dict) -> torch.nn.Module:
    seed_everything(seed)
    return torch.hub.load(repo, name, source="local", **kwargs).to("cpu").eval()


def forward(model, spec: dict, inputs: list[torch.Tensor]) -> torch.Tensor:
    method = model if spec["method"] == "__call__" else getattr(model, spec["method"])
    with torch.inference_mode():
        return method(*inputs, **spec["method_kwargs"])


def import_hubconf(repo: str):
    with torch.hub._add_to_sys_path(repo):
        return torch.hub._import_module("hubconf.py", os.path.join(repo, "hubconf.py"))


def check(repo: str, name: str, spec: dict) -> None:
    seed = spec["seed"]
    module = import_hubconf(repo)
    torch.hub._check_dependencies(module)
    assert getattr(module, name).__doc__, f"{name} has no docstring"

    model = load(repo, name, seed, spec["kwargs"])
    inputs = make_inputs(spec["inputs"], seed)
    out = forward(model, spec, inputs)
    assert torch.isfinite(out).all(), f"{name}: non-finite outputs"

    assert torch.equal(out, forward(model, spec, inputs)), f"{name}: two forward calls differ"
    second = load(repo, name, seed, spec["kwargs"])
    assert torch.equal(out, forward(second, spec, inputs)), f"{name}: two loads differ"
    del second

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = load(repo, name, seed + 1, {**spec["kwargs"], "pretrained": False})
    fresh.load_state_dict(torch.load(buffer, map_location="cpu", weights_only=True), strict=True)
    assert torch.equal(out, forward(fresh, spec, inputs)), f"{name}: state dict round trip differs"
    del fresh

    reference = load_file(os.path.join(repo, "hubcheck_refs", name, "default.safetensors"))
    assert torch.equal(reference["input.0"], inputs[0]), f"{name}: the reference was recorded on other inputs"
    rtol = DEFAULT_RTOL if spec["rtol"] is None else spec["rtol"]
    atol = DEFAULT_ATOL if spec["atol"] is None else spec["atol"]
    assert torch.isclose(out, reference["output"], rtol=rtol, atol=atol, equal_nan=True).all(), \
        f"{name}: outputs differ from the reference"


def main() -> None:
    repo, specs = sys.argv[1], json.loads(sys.argv[2])
    module = import_hubconf(repo)
    torch.hub._check_dependencies(module)
    names = [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]
    assert sorted(names) == sorted(specs), f"entry points {names} != configured {sorted(specs)}"
    for name in names:
        check(repo, name, specs[name])


if __name__ == "__main__":
    main()
