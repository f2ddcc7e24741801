"""Example inputs: made on the CPU from a seed, so every device and every run sees the same values."""

from __future__ import annotations

from typing import Any

import torch

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "int8": torch.int8,
    "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}

def make_inputs(specs: list[dict[str, Any]], seed: int) -> list[torch.Tensor]:
    """Tensors for the given specs; each has its own generator, so adding one input never changes the others."""
    tensors = []
    for position, spec in enumerate(specs):
        generator = torch.Generator().manual_seed(spec["seed"] if spec.get("seed") is not None else seed + position)
        shape = tuple(spec["shape"])
        dtype = DTYPES[spec["dtype"]]
        low, high = spec.get("low", 0.0), spec.get("high", 1.0)
        distribution = spec.get("distribution", "normal")
        if distribution == "normal":
            # Drawn in float32 and then cast, so float16 and bfloat16 inputs round the same values.
            tensor = torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype)
        elif distribution == "uniform":
            tensor = (low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float32)).to(dtype)
        elif distribution == "randint":
            tensor = torch.randint(int(low), int(high), shape, generator=generator, dtype=torch.int64).to(dtype)
        elif distribution == "zeros":
            tensor = torch.zeros(shape, dtype=dtype)
        else:
            tensor = torch.ones(shape, dtype=dtype)
        tensors.append(tensor)
    return tensors
