"""The reference file format: safetensors holding outputs (and inputs), JSON metadata, never pickle.

Layout of ``hubcheck_refs/<entrypoint>/<case>.safetensors``:
- tensors ``output...``, one per tensor leaf, keyed by its path in the output structure;
- the inputs, in one of two ways. Format 2: no input tensors; the record's ``inputs`` specs and
  ``seed`` regenerate them and ``input_sha256`` (one digest per input) proves the regenerated
  tensors are the recorded ones, bit for bit, or the reference is not used. Format 1 (and
  format 2 when regenerating would not reproduce them): tensors ``input.0``, ``input.1``...;
- string metadata: ``hubcheck.format`` (the format version), ``hubcheck.record`` (JSON: structure,
  non-tensor leaves, entry point kwargs, method, seed, inputs, device, dtypes, versions, commit,
  tolerances).
A JSON sidecar ``<case>.json`` summarises each leaf (shape, dtype, statistics, sha256) for review.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import FileRefused, is_inside, read_regular_file

# torch is imported where it is used: hubcheck's own process computes reference paths
# with this module, and must not pay for importing torch to do so.
if TYPE_CHECKING:
    import torch

FORMAT_KEY = "hubcheck.format"
RECORD_KEY = "hubcheck.record"
FORMAT_VERSION = "2"
READABLE_VERSIONS = ("1", "2")
"""Format 1 stores every input in full; format 2 regenerates seeded ones and checks their digests."""
# Refuse absurd headers before handing the file to safetensors.
_MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_REFERENCE_BYTES = 4 * 1024**3
"""Largest reference file read; record's own limit (on outputs, 10 MB by default) keeps real ones far below it."""
_DISTRIBUTIONS = ("normal", "uniform", "randint", "zeros", "ones")
_RERECORD = "re-record it with `hubcheck record --update`"


class ReferenceUnusable(Exception):
    """A reference file that cannot be used; the message names the file and what to do."""


class InputsNotReproduced(ReferenceUnusable):
    """A format 2 reference whose seeded inputs this torch regenerates differently: never compared against them."""


class ReferencePathRefused(Exception):
    """No reference file may be read or written for this entry point; the message says why.

    ``is_fault`` is False for an entry point that simply cannot have a reference
    (its name is no identifier: the check is skipped), True for a references
    directory that leads outside the repo (the check fails, record refuses).
    """

    def __init__(self, message: str, *, is_fault: bool) -> None:
        super().__init__(message)
        self.is_fault = is_fault


@dataclass(frozen=True)
class Reference:
    """A reference read back from disk."""

    path: Path
    inputs: list[torch.Tensor]
    outputs: dict[str, Any]
    """Leaves by key, tensors and plain values together."""
    record: dict[str, Any]


def reference_file(repo_root: Path, references_dir: Path, entrypoint: str, case: str) -> Path:
    """The reference file of ``entrypoint``: ``references_dir/<entrypoint>/<case>.safetensors``.

    Entry point names come from repo code (``globals()["../../x"] = f`` is one),
    so only a valid Python identifier names a file; and with every symbolic
    link resolved, the references directory must lie inside the repo and the
    entry point's directory inside the references directory.

    Raises:
        ReferencePathRefused: the name is no identifier, or a link leads outside.
    """
    if not entrypoint.isidentifier():
        raise ReferencePathRefused(
            f"entry point {entrypoint!r} is not a Python identifier, so no reference file is named after it",
            is_fault=False,
        )
    if not is_inside(references_dir, repo_root):
        raise ReferencePathRefused(
            f"the references directory {references_dir} leads outside the repo (to {os.path.realpath(references_dir)}); "
            "references are kept inside the repo: make it a directory, not a link",
            is_fault=True,
        )
    directory = references_dir / entrypoint
    if not is_inside(directory, references_dir):
        raise ReferencePathRefused(
            f"{directory} leads outside the references directory (to {os.path.realpath(directory)}): "
            "make it a directory, not a link",
            is_fault=True,
        )
    return directory / f"{case}.safetensors"


def encode_reference(
    inputs: list[torch.Tensor],
    leaves: dict[str, Any],
    structure: dict[str, Any],
    record: dict[str, Any],
    *,
    regenerable: bool = False,
) -> bytes:
    """The bytes of a reference file (``record`` gets the structure and non-tensor leaves added).

    ``regenerable`` says that ``record["inputs"]`` and ``record["seed"]`` regenerate ``inputs``
    exactly (the caller made sure): then only their digests are stored, not the tensors.
    """
    import torch
    from safetensors.torch import save

    if regenerable:
        tensors = {}
        record = {**record, "input_sha256": input_digests(inputs)}
    else:
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


def input_digests(inputs: list[torch.Tensor]) -> list[str]:
    """One sha256 per input over its dtype, shape and raw bytes: what regenerated inputs must match."""
    return [_tensor_digest(tensor.detach().cpu().contiguous()) for tensor in inputs]


def regenerates(specs: Any, seed: Any, inputs: list[torch.Tensor]) -> bool:
    """Whether ``specs`` and ``seed`` regenerate exactly ``inputs`` here (so a reference need not store them)."""
    if not isinstance(specs, list) or len(specs) != len(inputs) or not isinstance(seed, int):
        return False
    # Shapes first: specs the worker sent are never made bigger than the inputs it ran on.
    if not all(isinstance(spec, dict) and spec.get("shape") == list(tensor.shape) for spec, tensor in zip(
            specs, inputs, strict=True)):
        return False
    from .inputs import make_inputs

    try:
        regenerated = make_inputs(specs, seed)
    except (KeyError, TypeError, ValueError, RuntimeError):
        return False
    return input_digests(regenerated) == input_digests(inputs)


def output_bytes(leaves: dict[str, Any]) -> int:
    """The size of the output tensors: what ``record``'s size limit counts."""
    import torch

    return sum(v.numel() * v.element_size() for v in leaves.values() if isinstance(v, torch.Tensor))


def size_limit_for(size: int) -> int:
    """A size limit that holds ``size`` bytes of outputs, for a suggested ``--size-limit``: the next whole MB."""
    return -(-size // 1_000_000) * 1_000_000


def read_reference(path: Path, max_bytes: int = MAX_REFERENCE_BYTES) -> Reference:
    """Read and validate a reference file; nothing in it is ever executed.

    Only a regular file (not a link, FIFO, device or directory) of at most
    ``max_bytes`` is read. Every field the checks use is validated here, so
    a file of the wrong shape is refused with a message naming it.

    Raises:
        ReferenceUnusable: the file is missing, not a regular file, too large, corrupt, truncated, a pickle,
            of another format version, or its metadata is not what hubcheck writes.
    """
    try:
        raw = read_regular_file(path, max_bytes, follow_symlinks=False)
    except FileRefused as refused:
        raise ReferenceUnusable(f"unusable reference: {refused}") from None
    _check_envelope(path, raw)
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(raw)
    except (SafetensorError, ValueError, RuntimeError, OSError) as error:
        raise ReferenceUnusable(f"reference {path} is corrupt ({error}); {_RERECORD}") from None
    metadata = _metadata(path, raw)
    version = metadata.get(FORMAT_KEY)
    if version is None:
        raise ReferenceUnusable(f"{path} is a safetensors file but not a hubcheck reference (no {FORMAT_KEY} metadata)")
    if version not in READABLE_VERSIONS:
        raise ReferenceUnusable(
            f"reference {path} has format version {version[:20]}; this hubcheck reads versions "
            f"{', '.join(READABLE_VERSIONS)}: {_RERECORD}"
        )
    record = parse_record(path, metadata.get(RECORD_KEY))
    inputs: list[torch.Tensor] = []
    while f"input.{len(inputs)}" in tensors:
        inputs.append(tensors[f"input.{len(inputs)}"])
    if "input_sha256" in record:
        if inputs:
            raise ReferenceUnusable(f"reference {path} holds both input tensors and input digests; {_RERECORD}")
        inputs = _regenerated_inputs(path, record)
    outputs: dict[str, Any] = {}
    values = record["values"]
    for key in record["keys"]:
        if key in tensors:
            outputs[key] = tensors[key]
        elif key in values:
            outputs[key] = values[key]
        else:
            raise ReferenceUnusable(f"reference {path} lacks output {key}; {_RERECORD}")
    return Reference(path, inputs, outputs, record)


def _regenerated_inputs(path: Path, record: dict[str, Any]) -> list[torch.Tensor]:
    """The inputs of a format 2 reference, made again from their specs and seed and checked against the digests.

    Raises:
        InputsNotReproduced: this torch makes other tensors from the same seed (another version's generator).
    """
    import torch

    from .inputs import make_inputs

    inputs = make_inputs(record["inputs"], record["seed"])
    mismatched = [i for i, (want, got) in enumerate(zip(record["input_sha256"], input_digests(inputs), strict=True))
                  if want != got]
    if mismatched:
        raise InputsNotReproduced(
            f"reference {path} stores input {mismatched[0]} as a seed (seed {record['seed']}), and this torch "
            f"{torch.__version__} regenerates other values from it than torch {record.get('torch', '?')} recorded "
            "(its sha256 differs), so outputs are not compared on the wrong inputs: validate with torch "
            f"{record.get('torch', '?')}, or accept this torch's inputs and outputs: {_RERECORD}"
        )
    return inputs


def same_reference(first: Reference, second: Reference) -> bool:
    """Whether two references hold the same record, inputs and outputs, bit for bit.

    Their files may still differ: safetensors does not write metadata in a fixed order.
    """
    import torch

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
            return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                    and a.shape == b.shape and torch.equal(a, b))
        return a == b

    return (
        first.record == second.record
        and len(first.inputs) == len(second.inputs)
        and all(same(a, b) for a, b in zip(first.inputs, second.inputs, strict=True))
        and first.outputs.keys() == second.outputs.keys()
        and all(same(value, second.outputs[key]) for key, value in first.outputs.items())
    )


def parse_record(path: Path, text: str | None) -> dict[str, Any]:
    """The ``hubcheck.record`` metadata, checked to have the fields and types the checks rely on.

    Raises:
        ReferenceUnusable: naming ``path`` and the first thing that is wrong.
    """
    def unusable(problem: str) -> ReferenceUnusable:
        return ReferenceUnusable(f"reference {path} has unusable {RECORD_KEY} metadata: {problem}; {_RERECORD}")

    if text is None:
        raise unusable("it is missing")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise unusable(f"not JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise unusable("nested too deeply") from None
    if not isinstance(record, dict):
        raise unusable(f"a JSON {_json_type(record)}, not an object")
    keys = record.get("keys")
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise unusable("'keys' must be a list of output names" if "keys" in record else "'keys' is missing")
    values = record.setdefault("values", {})
    if not isinstance(values, dict):
        raise unusable(f"'values' must be an object, not a JSON {_json_type(values)}")
    for key, value in values.items():
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise unusable(f"value {key!r} must be a number, string, boolean or null, not a JSON {_json_type(value)}")
    if "input_sha256" in record:
        _check_regeneration(record, unusable)
    for field in ("device", "torch"):
        if field in record and not isinstance(record[field], str):
            raise unusable(f"{field!r} must be a string, not a JSON {_json_type(record[field])}")
    if "device" in record:
        import torch

        try:
            torch.device(record["device"])
        except (RuntimeError, ValueError) as error:
            raise unusable(f"'device' {record['device'][:40]!r} names no device ({str(error).splitlines()[0][:80]})") from None
    return record


def _check_regeneration(record: dict[str, Any], unusable: Any) -> None:
    """The fields that regenerate a format 2 reference's inputs: specs make_inputs takes, at most 4 GiB of tensors."""
    from .inputs import DTYPES

    digests, specs, seed = record["input_sha256"], record.get("inputs"), record.get("seed")
    if not isinstance(digests, list) or not all(isinstance(d, str) and len(d) == 64 for d in digests):
        raise unusable("'input_sha256' must be a list of sha256 digests")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise unusable("'seed' must be an integer when inputs are regenerated from it")
    if not isinstance(specs, list) or len(specs) != len(digests):
        raise unusable("'inputs' must list one spec per digest of 'input_sha256'")
    total = 0
    for position, spec in enumerate(specs):
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                  for n in shape):
            raise unusable(f"input {position} has no shape of non-negative integers")
        if spec.get("dtype") not in DTYPES or spec.get("distribution", "normal") not in _DISTRIBUTIONS:
            raise unusable(f"input {position} has an unknown dtype or distribution")
        bounds = [spec.get("low", 0.0), spec.get("high", 1.0)]
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds):
            raise unusable(f"input {position}'s low and high must be finite numbers")
        if spec.get("seed") is not None and (not isinstance(spec["seed"], int) or isinstance(spec["seed"], bool)):
            raise unusable(f"input {position}'s seed must be an integer or null")
        total += math.prod(shape) * DTYPES[spec["dtype"]].itemsize
    if total > MAX_REFERENCE_BYTES:
        raise unusable(f"its inputs would be {total:,} bytes, over {MAX_REFERENCE_BYTES:,}")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _check_envelope(path: Path, raw: bytes) -> None:
    """Recognise the usual impostors before parsing, to say what the file really is."""
    if raw[:2] == b"PK":
        raise ReferenceUnusable(f"{path} is a zip file (torch.save?), not a safetensors reference; hubcheck never loads pickles")
    if raw[:1] == b"\x80" or raw[:2] in (b"(l", b"(d", b"}q", b"]q"):
        raise ReferenceUnusable(f"{path} is a Python pickle, not a safetensors reference; hubcheck never loads pickles")
    if len(raw) < 8:
        raise ReferenceUnusable(f"reference {path} is truncated ({len(raw)} bytes); {_RERECORD}")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if header_length > _MAX_HEADER_BYTES or 8 + header_length > len(raw):
        raise ReferenceUnusable(
            f"reference {path} is truncated or not a safetensors file (header of {header_length} bytes in a "
            f"{len(raw)}-byte file); {_RERECORD}"
        )


def _metadata(path: Path, raw: bytes) -> dict[str, str]:
    """The header's ``__metadata__`` (safetensors has already parsed the header, so it is JSON)."""
    (header_length,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8 : 8 + header_length])
    except (ValueError, RecursionError):
        raise ReferenceUnusable(f"reference {path} has an unreadable header; {_RERECORD}") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ReferenceUnusable(f"reference {path} has __metadata__ that is not a table of strings; {_RERECORD}")
    return metadata


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
    import torch

    if not isinstance(value, torch.Tensor):
        return {"value": value}
    tensor = value.detach().cpu().contiguous()
    summary: dict[str, Any] = {
        "shape": list(tensor.shape),
        "dtype": str(tensor.dtype).replace("torch.", ""),
        "sha256": hashlib.sha256(_raw_bytes(tensor)).hexdigest(),
    }
    integer = tensor.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
    if tensor.numel() and (tensor.is_floating_point() or integer):
        wide = tensor.to(torch.float64)
        finite = wide[torch.isfinite(wide)]
        if finite.numel():
            summary.update(
                min=_round(finite.min()), max=_round(finite.max()), mean=_round(finite.mean()),
                std=_round(finite.std()) if finite.numel() > 1 else 0.0,
            )
    return summary


def _tensor_digest(tensor: torch.Tensor) -> str:
    digest = hashlib.sha256(f"{str(tensor.dtype).replace('torch.', '')}{list(tensor.shape)}".encode())
    digest.update(_raw_bytes(tensor))
    return digest.hexdigest()


def _round(value: torch.Tensor) -> float:
    return float(f"{float(value):.6g}")


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    import torch

    flat = tensor.reshape(-1)
    if flat.dtype == torch.bfloat16:
        flat = flat.view(torch.int16)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.numpy().tobytes()
