"""Names lint calls leaked (HUB103) are listed, but not loaded as entry points unless named."""

from __future__ import annotations

import json

import pytest

from tests.helpers import hubcheck, write_repo

HUBCONF = '''
"""A repo that leaks an imported helper."""
from torch.nn import Linear

dependencies = ["torch"]


def model():
    """A linear model."""
    return Linear(4, 2)
'''


@pytest.mark.slow
def test_a_leaked_helper_is_reported_not_loaded_unless_named(tmp_path, pytester: pytest.Pytester):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": HUBCONF})
    run = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json")
    checks = {(c["entrypoint"], c["check"]): c for c in json.loads(run.stdout)["checks"]}
    assert checks[("Linear", "load")]["status"] == "skipped"
    assert "lint's HUB103" in checks[("Linear", "load")]["message"]
    assert "--entrypoint Linear" in checks[("Linear", "load")]["message"]
    assert not [key for key in checks if key[0] == "Linear" and key[1] != "load"]
    assert checks[("model", "forward")]["status"] == "passed"

    named = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json", "-e", "Linear")
    loads = [c for c in json.loads(named.stdout)["checks"] if c["entrypoint"] == "Linear" and c["check"] == "load"]
    assert [c["status"] for c in loads] == ["failed"]  # Linear() without arguments: it really ran

    collected = pytester.runpytest_subprocess("--hubcheck-repo", str(repo), "--collect-only", "-q")
    listed = collected.stdout.str()
    assert "::model::load[" in listed and "::Linear::load\n" in listed and "::Linear::forward" not in listed
    ran = pytester.runpytest_subprocess("--hubcheck-repo", str(repo), "--hubcheck-device", "cpu", "-rs",
                                        "--hubcheck-check", "none", "-p", "no:cacheprovider")
    assert ran.ret == pytest.ExitCode.TESTS_FAILED, ran.stdout.str()  # lint[HUB103] is a warning: it fails
    assert "_ lint[HUB103] (" in ran.stdout.str()
    ran.stdout.fnmatch_lines(["*= 1 failed, * passed, 2 skipped in *"])
    ran.stdout.fnmatch_lines([("SKIPPED *not loaded: 'Linear' is an imported helper that torch.hub lists by "
                               "accident (lint's HUB103)*--hubcheck-entrypoint Linear under pytest*")])
