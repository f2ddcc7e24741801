"""The Python API: lazily loaded names, the same results as the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hubcheck
from tests.helpers import PROJECT


def test_importing_hubcheck_loads_nothing_heavy():
    script = "import sys, hubcheck; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'typer', 'rich', 'git')))"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_every_advertised_name_resolves():
    import hubcheck.resolve  # a submodule import must not shadow an API name

    for name in hubcheck.__all__:
        assert not isinstance(getattr(hubcheck, name), type(hubcheck)), name
    with pytest.raises(AttributeError):
        hubcheck.no_such_thing  # noqa: B018


@pytest.mark.slow
def test_api_round_trip_on_the_reference_repo():
    repo = hubcheck.resolve_repo(str(PROJECT / "reference_repo"))
    assert hubcheck.lint_repo(repo.path).findings == ()
    report = hubcheck.validate_repo(repo, hubcheck.ValidateOptions(devices=("cpu",)))
    assert report.exit_code == hubcheck.ExitCode.OK
    assert {c.status for c in report.checks} == {hubcheck.Status.PASSED}
    assert report.to_json()["summary"]["failed"] == 0
