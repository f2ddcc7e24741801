"""Flatten whatever an entry point's method returns into named leaves, and describe its structure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

ROOT = "output"


def _key(part: object) -> str:
    # Keys name safetensors tensors and are joined with '.', so dots inside are escaped.
    return str(part).replace("%", "%25").replace(".", "%2E")


def flatten(value: Any, prefix: str = ROOT) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(leaves, structure)``: leaves map ``output.0.logits``-style keys to tensors or plain values."""
    leaves: dict[str, Any] = {}
    structure = _flatten(value, prefix, leaves)
    return leaves, structure


def _flatten(value: Any, key: str, leaves: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, torch.Tensor):
        leaves[key] = value
        return {"type": "tensor"}
    if value is None or isinstance(value, (bool, int, float, str)):
        leaves[key] = value
        return {"type": "value"}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"type": "namedtuple", "name": type(value).__name__, "fields": list(value._fields),
                "items": [_flatten(getattr(value, f), f"{key}.{_key(f)}", leaves) for f in value._fields]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f.name for f in dataclasses.fields(value)]
        return {"type": "dataclass", "name": type(value).__name__, "fields": fields,
                "items": [_flatten(getattr(value, f), f"{key}.{_key(f)}", leaves) for f in fields]}
    if isinstance(value, dict):
        keys = list(value)
        return {"type": "dict", "name": type(value).__name__, "keys": [str(k) for k in keys],
                "items": [_flatten(value[k], f"{key}.{_key(k)}", leaves) for k in keys]}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__ if type(value) in (list, tuple) else "list",
                "items": [_flatten(item, f"{key}.{index}", leaves) for index, item in enumerate(value)]}
    leaves[key] = f"<{type(value).__module__}.{type(value).__qualname__}>"
    return {"type": "object", "name": type(value).__qualname__}


def data_file(data_dir: str, device: str, role: str) -> Path:
    """Where one forward's inputs and outputs are written for the judge; named by hubcheck's words only."""
    return Path(data_dir) / f"{device.replace(':', '_')}-{role}.safetensors"


def tensors(leaves: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in leaves.items() if isinstance(v, torch.Tensor)}


def to_cpu(leaves: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.detach().to("cpu") if isinstance(v, torch.Tensor) else v) for k, v in leaves.items()}


def non_finite(leaves: dict[str, Any]) -> list[str]:
    """Sentences naming each output with NaN or infinite values."""
    problems = []
    for key, value in tensors(leaves).items():
        if value.is_floating_point() or value.is_complex():
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                nans = int(torch.isnan(value).sum())
                infs = int(value.numel() - int(finite.sum()) - nans)
                problems.append(f"{key} has {nans} NaN and {infs} infinite values of {value.numel()}")
    return problems


def wrong_device(leaves: dict[str, Any], device: torch.device) -> list[str]:
    return [f"{key} is on {value.device}" for key, value in tensors(leaves).items() if value.device != device]


def describe(leaves: dict[str, Any]) -> str:
    """``output: float32 [8, 3]`` for short messages."""
    parts = []
    for key, value in list(leaves.items())[:4]:
        if isinstance(value, torch.Tensor):
            parts.append(f"{key}: {str(value.dtype).replace('torch.', '')} {list(value.shape)}")
        else:
            parts.append(f"{key}: {value!r}"[:60])
    if len(leaves) > 4:
        parts.append(f"... {len(leaves) - 4} more")
    return ", ".join(parts) if parts else "no outputs"
