"""--python: the worker runs under another interpreter, which needs torch but not hubcheck."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT, hubcheck

BLOCKER = '''
"""Makes `import hubcheck` fail in this interpreter, as in a venv where only torch is installed."""
import sys


class _NoHubcheck:
    def find_spec(self, name, path=None, target=None):
        if name == "hubcheck" or name.startswith("hubcheck."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None


sys.meta_path.insert(0, _NoHubcheck())
'''


@pytest.fixture
def python_without_hubcheck(tmp_path: Path) -> Path:
    """An interpreter with torch whose imports of hubcheck fail."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    wrapper = tmp_path / "python-without-hubcheck"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


@pytest.mark.slow
def test_validate_runs_the_worker_under_an_interpreter_without_hubcheck(python_without_hubcheck, tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import hubcheck\n")
    blocked = os.system(f"{python_without_hubcheck} {probe} 2>/dev/null")
    assert blocked != 0, "the wrapper must really hide hubcheck"
    run = hubcheck("validate", str(PROJECT / "reference_repo"), "--device", "cpu", "--format", "json",
                   "--python", str(python_without_hubcheck))
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["summary"]["failed"] == 0 and report["summary"]["passed"] >= 13


def test_an_interpreter_without_torch_is_one_line(tmp_path):
    wrapper = tmp_path / "python-without-torch"
    # -S drops site-packages: the standard library only, as a bare system Python has.
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    run = hubcheck("validate", str(PROJECT / "reference_repo"), "--python", str(wrapper))
    assert run.code == 2
    assert "cannot import torch" in run.stderr and "pip install" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_missing_interpreter_is_a_usage_error():
    run = hubcheck("validate", str(PROJECT / "reference_repo"), "--python", "/no/such/python")
    assert run.code == 2
    assert "--python /no/such/python: no such interpreter" in run.stderr
