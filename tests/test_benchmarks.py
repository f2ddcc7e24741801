"""CI's smoke run of the benchmarks: ``benchmarks/run.py --quick`` completes and reports every case.

Speed targets are not asserted here: absolute and even relative times on a
shared CI machine are noise. benchmarks/README.md holds the figures that matter.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.helpers import PROJECT

CASES = (
    "startup", "static list", "static lint", "large lint cold", "large lint warm", "validate", "memory", "scale-out",
    "reference compare", "collection", "throughput", "model checks",
)


@pytest.mark.slow
def test_quick_run_reports_every_case_with_figures(tmp_path):
    output = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "run.py"), "--quick", "--json", str(output)],
        capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    data = json.loads(output.read_text())
    assert data["mode"] == "quick"
    assert {"cpu", "cores", "python", "torch", "date"} <= set(data["machine"])
    cases = {case["case"].split(",")[0]: case for case in data["cases"]}
    assert sorted(cases) == sorted(CASES)
    for name, case in cases.items():
        assert case["status"] in ("PASS", "MISS"), (name, case["status"], case["notes"])
        for key in ("hubcheck", "baseline", "ratio", "target"):
            assert isinstance(case[key], float) and math.isfinite(case[key]) and case[key] > 0, (name, key, case)
        assert case["samples"]["hubcheck"] and case["samples"]["baseline"], name
        assert f"{name}" in completed.stdout
