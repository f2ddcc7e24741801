"""The reference file format: safetensors holding inputs and outputs, JSON metadata, never pickle.

Layout of ``hubcheck_refs/<entrypoint>/<case>.safetensors``:
- tensors ``input.0``, ``input.1``... (the exact inputs, so comparisons never depend on RNGs);
- tensors ``output...``, one per tensor leaf, keyed by its path in the output structure;
- string metadata: ``hubcheck.format`` (the format version), ``hubcheck.record`` (JSON: structure,
  non-tensor leaves, entry point kwargs, method, seed, device, dtypes, versions, commit, tolerances).
A JSON sidecar ``<case>.json`` summarises each leaf (shape, dtype, statistics, sha256) for review.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FORMAT_KEY = "hubcheck.format"
RECORD_KEY = "hubcheck.record"
FORMAT_VERSION = "1"
# Refuse absurd headers before handing the file to safetensors.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


class ReferenceUnusable(Exception):
    """A reference file that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Reference:
    """A reference read back from disk."""

    path: Path
    inputs: list[torch.Tensor]
    outputs: dict[str, Any]
    """Leaves by key, tensors and plain values together."""
    record: dict[str, Any]


def encode_reference(
    inputs: list[torch.Tensor],
    leaves: dict[str, Any],
    structure: dict[str, Any],
    record: dict[str, Any],
) -> bytes:
    """The bytes of a reference file (``record`` gets the structure and non-tensor leaves added)."""
    from safetensors.torch import save

    tensors = {f"input.{i}": t.detach().cpu().contiguous().clone() for i, t in enumerate(inputs)}
    values = {}
    for key, value in leaves.items():
        if isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu().contiguous().clone()
        else:
            values[key] = value
    full_record = {**record, "structure": structure, "values": values, "keys": list(leaves)}
    metadata = {FORMAT_KEY: FORMAT_VERSION, RECORD_KEY: json.dumps(full_record, sort_keys=True)}
    return save(tensors, metadata=metadata)


def read_reference(path: Path) -> Reference:
    """Read and validate a reference file; nothing in it is ever executed.

    Raises:
        ReferenceUnusable: the file is missing, corrupt, truncated, a pickle, or of another format version.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReferenceUnusable(f"cannot read reference {path}: {error.strerror or error}") from None
    _check_envelope(path, raw)
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(raw)
    except (SafetensorError, ValueError, RuntimeError, OSError) as error:
        raise ReferenceUnusable(f"reference {path} is corrupt ({error}); re-record it with `hubcheck record --update`") from None
    metadata = _metadata(raw)
    version = metadata.get(FORMAT_KEY)
    if version is None:
        raise ReferenceUnusable(f"{path} is a safetensors file but not a hubcheck reference (no {FORMAT_KEY} metadata)")
    if version != FORMAT_VERSION:
        raise ReferenceUnusable(
            f"reference {path} has format version {version}; this hubcheck reads version {FORMAT_VERSION}: "
            "re-record it with `hubcheck record --update`"
        )
    try:
        record = json.loads(metadata.get(RECORD_KEY, ""))
    except json.JSONDecodeError:
        raise ReferenceUnusable(f"reference {path} has unreadable metadata; re-record it with `hubcheck record --update`") from None
    inputs = []
    while f"input.{len(inputs)}" in tensors:
        inputs.append(tensors[f"input.{len(inputs)}"])
    outputs: dict[str, Any] = {}
    values = record.get("values", {})
    for key in record.get("keys", []):
        if key in tensors:
            outputs[key] = tensors[key]
        elif key in values:
            outputs[key] = values[key]
        else:
            raise ReferenceUnusable(f"reference {path} lacks output {key}; re-record it with `hubcheck record --update`")
    return Reference(path, inputs, outputs, record)


def _check_envelope(path: Path, raw: bytes) -> None:
    """Recognise the usual impostors before parsing, to say what the file really is."""
    if raw[:2] == b"PK":
        raise ReferenceUnusable(f"{path} is a zip file (torch.save?), not a safetensors reference; hubcheck never loads pickles")
    if raw[:1] == b"\x80" or raw[:2] in (b"(l", b"(d", b"}q", b"]q"):
        raise ReferenceUnusable(f"{path} is a Python pickle, not a safetensors reference; hubcheck never loads pickles")
    if len(raw) < 8:
        raise ReferenceUnusable(f"reference {path} is truncated ({len(raw)} bytes); re-record it with `hubcheck record --update`")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if header_length > _MAX_HEADER_BYTES or 8 + header_length > len(raw):
        raise ReferenceUnusable(
            f"reference {path} is truncated or not a safetensors file (header of {header_length} bytes in a "
            f"{len(raw)}-byte file); re-record it with `hubcheck record --update`"
        )


def _metadata(raw: bytes) -> dict[str, str]:
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_length])
    return header.get("__metadata__", {}) or {}


def sidecar(inputs: list[torch.Tensor], leaves: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A small, reviewable JSON summary: a pull request that changes outputs shows a readable diff."""
    entries = {}
    named_inputs = {f"input.{i}": t for i, t in enumerate(inputs)}
    for key, value in {**named_inputs, **leaves}.items():
        entries[key] = _summary(value)
    keep = ("entrypoint", "case", "kwargs", "method", "method_kwargs", "seed", "device", "torch", "python", "commit")
    return {
        "format": FORMAT_VERSION,
        **{k: record.get(k) for k in keep},
        "leaves": entries,
    }


def _summary(value: Any) -> dict[str, Any]:
    if not isinstance(value, torch.Tensor):
        return {"value": value}
    tensor = value.detach().cpu().contiguous()
    summary: dict[str, Any] = {
        "shape": list(tensor.shape),
        "dtype": str(tensor.dtype).replace("torch.", ""),
        "sha256": hashlib.sha256(_raw_bytes(tensor)).hexdigest(),
    }
    if tensor.numel() and (tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)):
        wide = tensor.to(torch.float64)
        finite = wide[torch.isfinite(wide)]
        if finite.numel():
            summary.update(
                min=_round(finite.min()), max=_round(finite.max()), mean=_round(finite.mean()),
                std=_round(finite.std()) if finite.numel() > 1 else 0.0,
            )
    return summary


def _round(value: torch.Tensor) -> float:
    return float(f"{float(value):.6g}")


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.reshape(-1)
    if flat.dtype == torch.bfloat16:
        flat = flat.view(torch.int16)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.numpy().tobytes()
