"""The reference check against ``torch.testing.assert_close``, in one process, on the same tensors.

USAGE
    python benchmarks/reference_compare.py MEGABYTES ROUNDS DIRECTORY

Records a float32 output of MEGABYTES MB as a hubcheck reference in DIRECTORY
(with the real ``encode_reference``), then alternates, ROUNDS times after one
warm-up of each:

- hubcheck: ``read_reference`` of that file (read, validate, decode) plus ``compare``
  against the obtained outputs, the two calls the worker's reference check makes;
- baseline: ``torch.testing.assert_close(actual, expected)`` on tensors already in memory.

Prints one JSON object: the seconds of each round, per side.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

import torch

from hubcheck.worker.compare import Tolerances, compare
from hubcheck.worker.references import encode_reference, read_reference


def main() -> None:
    megabytes, rounds, directory = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    generator = torch.Generator().manual_seed(0)
    expected = torch.randn(int(megabytes * 1e6 / 4), generator=generator)
    # Obtained outputs differ from the recorded ones within tolerance, as after a harmless refactor.
    actual = expected * (1 + 1e-7)
    inputs = [torch.randn(2, 8, generator=generator)]
    path = directory / "default.safetensors"
    record = {"entrypoint": "bench", "device": "cpu", "torch": torch.__version__}
    path.write_bytes(encode_reference(inputs, {"output": expected}, {"type": "tensor"}, record))

    def reference_check() -> float:
        started = time.perf_counter()
        reference = read_reference(path)
        differences = compare(reference.outputs, {"output": actual}, Tolerances(), "cpu", same_device=True)
        elapsed = time.perf_counter() - started
        assert not differences, differences
        return elapsed

    def assert_close() -> float:
        started = time.perf_counter()
        torch.testing.assert_close(actual, expected)
        return time.perf_counter() - started

    results: dict[str, list[float]] = {"hubcheck": [], "baseline": []}
    for round_ in range(rounds + 1):
        gc.collect()
        hubcheck_s = reference_check()
        gc.collect()
        baseline_s = assert_close()
        if round_:  # the first round warms up allocator and page cache
            results["hubcheck"].append(hubcheck_s)
            results["baseline"].append(baseline_s)
    results["bytes"] = path.stat().st_size
    print(json.dumps(results))


if __name__ == "__main__":
    main()
