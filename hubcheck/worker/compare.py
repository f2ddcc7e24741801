"""Compare outputs with ``torch.testing.assert_close`` semantics and explain every difference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

# torch.testing's defaults: what "the same machine, the same device" can promise.
SAME_DEVICE = {
    torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5), torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7), torch.complex64: (1.3e-6, 1e-5), torch.complex128: (1e-7, 1e-7),
}
# Another device or platform: timm's stored-reference tests use rtol 1e-3 / atol 1e-4 for float32.
OTHER_DEVICE = {
    torch.float16: (1e-2, 1e-3), torch.bfloat16: (5e-2, 1e-2), torch.float32: (1e-3, 1e-4),
    torch.float64: (1e-5, 1e-8), torch.complex64: (1e-3, 1e-4), torch.complex128: (1e-5, 1e-8),
}


@dataclass(frozen=True)
class Tolerances:
    """Configured tolerances: entry point default, per device type, per output key (None = by dtype)."""

    rtol: float | None = None
    atol: float | None = None
    by_device: dict[str, tuple[float | None, float | None]] | None = None
    by_output: dict[str, tuple[float | None, float | None]] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Tolerances:
        data = data or {}
        return cls(
            data.get("rtol"), data.get("atol"),
            {k: (v.get("rtol"), v.get("atol")) for k, v in (data.get("device") or {}).items()},
            {k: (v.get("rtol"), v.get("atol")) for k, v in (data.get("output") or {}).items()},
        )

    def for_leaf(self, key: str, dtype: torch.dtype, device_type: str, same_device: bool) -> tuple[float, float]:
        default_rtol, default_atol = (SAME_DEVICE if same_device else OTHER_DEVICE).get(dtype, (0.0, 0.0))
        rtol, atol = default_rtol, default_atol
        for layer in (
            (self.rtol, self.atol),
            (self.by_device or {}).get(device_type, (None, None)),
            _output_tolerance(self.by_output or {}, key),
        ):
            rtol = layer[0] if layer[0] is not None else rtol
            atol = layer[1] if layer[1] is not None else atol
        return rtol, atol


def _output_tolerance(by_output: dict[str, tuple], key: str) -> tuple:
    # "logits" matches output.logits, output.0.logits...; the full key matches too.
    for name, tolerance in by_output.items():
        if key == name or key.endswith("." + name) or key == f"output.{name}":
            return tolerance
    return (None, None)


@dataclass(frozen=True)
class Difference:
    """Why one output leaf does not match."""

    key: str
    message: str
    details: dict[str, Any]


def compare(
    expected: dict[str, Any],
    actual: dict[str, Any],
    tolerances: Tolerances,
    device_type: str,
    same_device: bool,
    exact: bool = False,
) -> list[Difference]:
    """Every leaf that differs; ``exact`` demands bit-identical tensors (NaN equal to NaN)."""
    differences = []
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if extra:
            parts.append(f"new {', '.join(extra[:5])}")
        differences.append(Difference("(structure)", "output structure changed: " + "; ".join(parts),
                                      {"missing": missing, "extra": extra}))
    for key, want in expected.items():
        if key not in actual:
            continue
        got = actual[key]
        if isinstance(want, torch.Tensor) or isinstance(got, torch.Tensor):
            if not (isinstance(want, torch.Tensor) and isinstance(got, torch.Tensor)):
                differences.append(Difference(key, f"{key}: expected {_kind(want)}, got {_kind(got)}", {}))
                continue
            if exact:
                rtol, atol = 0.0, 0.0
            else:
                rtol, atol = tolerances.for_leaf(key, want.dtype, device_type, same_device)
            difference = compare_tensors(key, want, got, rtol, atol)
            if difference is not None:
                differences.append(difference)
        elif want != got and not (want != want and got != got):  # noqa: PLR0124 - NaN equals NaN here
            differences.append(Difference(key, f"{key}: expected {want!r}, got {got!r}", {}))
    return differences


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:60]


def compare_tensors(key: str, expected: torch.Tensor, actual: torch.Tensor, rtol: float, atol: float) -> Difference | None:
    """None when close (``|a - e| <= atol + rtol * |e|``, NaN equal to NaN); else the full story."""
    expected = expected.detach().cpu()
    actual = actual.detach().cpu()
    header = f"{key} ({_dtype(expected)} {list(expected.shape)})"
    if expected.shape != actual.shape:
        return Difference(key, f"{key}: shape changed from {list(expected.shape)} to {list(actual.shape)}",
                          {"expected_shape": list(expected.shape), "actual_shape": list(actual.shape)})
    if expected.dtype != actual.dtype:
        return Difference(key, f"{key}: dtype changed from {_dtype(expected)} to {_dtype(actual)}",
                          {"expected_dtype": _dtype(expected), "actual_dtype": _dtype(actual)})
    if expected.numel() == 0:
        return None
    if expected.is_floating_point() or expected.is_complex():
        # The fast path is the common one: a passing check costs one isclose.
        close = torch.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = actual == expected
    if bool(close.all()):
        return None
    total = expected.numel()
    mismatched = int(total - int(close.sum()))
    wide_expected = expected.to(torch.complex128 if expected.is_complex() else torch.float64)
    wide_actual = actual.to(wide_expected.dtype)
    absolute = (wide_actual - wide_expected).abs()
    absolute = torch.where(torch.isnan(absolute), torch.full_like(absolute, float("inf")), absolute)
    absolute = torch.where(close, torch.zeros_like(absolute), absolute)
    relative = absolute / wide_expected.abs()
    relative = torch.where(torch.isnan(relative), torch.zeros_like(relative), relative)
    worst_abs = int(torch.argmax(absolute.flatten()))
    worst_rel = int(torch.argmax(relative.flatten()))
    abs_index = _unravel(worst_abs, expected.shape)
    rel_index = _unravel(worst_rel, expected.shape)
    details = {
        "mismatched": mismatched,
        "total": total,
        "max_abs_diff": float(absolute.flatten()[worst_abs]),
        "max_abs_index": abs_index,
        "max_rel_diff": float(relative.flatten()[worst_rel]),
        "max_rel_index": rel_index,
        "rtol": rtol,
        "atol": atol,
        "expected_at_max_abs": _item(expected, worst_abs),
        "actual_at_max_abs": _item(actual, worst_abs),
    }
    message = (
        f"{header}: {mismatched} of {total} elements differ ({100.0 * mismatched / total:.2f}%); "
        f"greatest absolute difference {details['max_abs_diff']:.6g} at {abs_index} "
        f"(expected {details['expected_at_max_abs']}, got {details['actual_at_max_abs']}); "
        f"greatest relative difference {details['max_rel_diff']:.6g} at {rel_index}; "
        f"tolerance rtol={rtol:g}, atol={atol:g}"
    )
    return Difference(key, message, details)


def _unravel(flat: int, shape: torch.Size) -> list[int]:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return list(reversed(index))


def _item(tensor: torch.Tensor, flat: int) -> Any:
    value = tensor.flatten()[flat].item()
    return value if not isinstance(value, complex) else str(value)


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).replace("torch.", "")
