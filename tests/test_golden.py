"""Golden files: every formatter on one fixed report, and lint's findings on every rule fixture, byte for byte.

A change to what users read (a message, a column, a fix, a format's layout) shows
up here as a diff against the files under tests/golden/. When the change is
meant, regenerate them and review the diff::

    HUBCHECK_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hubcheck.findings import Finding, Severity
from hubcheck.report import LintFormat, ValidateFormat
from hubcheck.results import CheckResult, Environment, Report, Status
from hubcheck.worker.namespaces import Isolation

GOLDEN = Path(__file__).resolve().parent / "golden"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
UPDATE = os.environ.get("HUBCHECK_UPDATE_GOLDEN") == "1"
FORMATS = {"text": "txt", "json": "json", "sarif": "sarif", "github": "txt", "junit": "xml", "markdown": "md"}

_REPO = {"spec": "owner/zoo:v1", "kind": "github", "path": "/cache/hubcheck/zoo/3f2a9c1", "url":
         "https://github.com/owner/zoo.git", "ref": "v1", "commit": "3f2a9c1d4e5f60718293a4b5c6d7e8f901234567",
         "dirty": False}
_FINDINGS = (
    Finding("HUB203", "cwd-relative-path", Severity.ERROR,
            "`torch.load` gets the relative path 'weights/zoo.pth', which resolves against the user's working "
            "directory, not the repo", "hubconf.py", 14, 17, entrypoint="zoo_small",
            fix='anchor it to a fixed location: `Path(__file__).resolve().parent / "weights/zoo.pth"`',
            fingerprint="HUB203:zoo_small:weights/zoo.pth"),
    Finding("HUB102", "undocumented-parameter", Severity.WARNING,
            "entry point 'zoo_small' does not describe its parameter 'width' in the docstring", "hubconf.py", 9, 1,
            entrypoint="zoo_small", fix="describe width in the docstring (e.g. under `Args:`)",
            fingerprint="HUB102:zoo_small:width"),
    Finding("HUB301", "import-time-download", Severity.INFO, "a note with <markup> & | pipes", "zoo/models.py",
            None, None, fingerprint="HUB301:zoo/models.py"),
)
_CHECKS = (
    CheckResult(None, "import", None, Status.PASSED, "hubconf imported in 0.41 s", 0.41),
    CheckResult(None, "config", None, Status.PASSED, "no config problems"),
    CheckResult("zoo_small", "load", "cpu", Status.PASSED, "built a Sequential (1,203 parameters)", 1.25, line=8),
    CheckResult("zoo_small", "forward", "cpu", Status.FAILED,
                "forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (8x4 and 3x3)\n"
                "  at zoo/models.py:31 in forward", 0.5, line=8),
    CheckResult("zoo_small", "forward", "cuda", Status.SKIPPED, "no CUDA device", line=8),
    CheckResult("zoo_gan", "forward", "cpu", Status.NOT_VERIFIED,
                "the entry point returns a _Wrapper, not an nn.Module, and nothing says what it takes; the input must "
                "be declared: pass --input SHAPE[:DTYPE]", line=21),
    CheckResult("zoo_small", "device-parity", "cuda", Status.SKIPPED, "no CUDA device", line=8),
)
_ENVIRONMENT = Environment("3.11.7", "2.14.1", ("cpu",), "/usr/bin/python3",
                           Isolation("namespace", "repo-overlay", ""))


def _report(command: str) -> Report:
    if command == "lint":
        return Report("lint", _REPO, _FINDINGS, hubcheck_version="0.0.0")
    return Report("validate", _REPO, _FINDINGS, _CHECKS, _ENVIRONMENT, hubcheck_version="0.0.0")


def _compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with HUBCHECK_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then HUBCHECK_UPDATE_GOLDEN=1"


@pytest.fixture(autouse=True)
def _fixed_version(monkeypatch):
    monkeypatch.setattr("hubcheck.report.sarif.__version__", "0.0.0")


@pytest.mark.parametrize(("command", "format_name"), [
    *(("lint", f.value) for f in LintFormat), *(("validate", f.value) for f in ValidateFormat if f.value != "table"),
])
def test_every_format_renders_the_fixed_report_as_its_golden_file(command, format_name):
    from hubcheck.report.rendering import render_report

    text = render_report(_report(command), format_name, "zoo/")
    _compare(f"{command}.{format_name}.{FORMATS[format_name]}", text)


def test_the_table_format_renders_the_fixed_report_as_its_golden_file():
    from hubcheck.cli.validate_command import _table_text

    _compare("validate.table.txt", _table_text(_report("validate"), "zoo/", to_terminal=False))


def test_one_policy_for_what_fails():
    """Warnings fail lint and validate alike, and every format says so: info findings and skips do not."""
    from hubcheck.report.rendering import render_report

    warning_only = Report("validate", _REPO, _FINDINGS[1:], _CHECKS[:3], _ENVIRONMENT)
    assert warning_only.failed and warning_only.exit_code == 1
    assert render_report(warning_only, "markdown").startswith("## hubcheck validate: failed")
    assert 'failures="1"' in render_report(warning_only, "junit")
    info_only = Report("validate", _REPO, _FINDINGS[2:], _CHECKS[:3] + _CHECKS[4:], _ENVIRONMENT)
    assert not info_only.failed and info_only.exit_code == 0
    assert render_report(info_only, "markdown").startswith("## hubcheck validate: passed")
    assert 'failures="0"' in render_report(info_only, "junit")
    assert Report("lint", _REPO, _FINDINGS[1:2]).exit_code == Report("validate", _REPO, _FINDINGS[1:2]).exit_code == 1


def test_rule_fixture_findings_pin_message_column_and_fix():
    """Every finding lint reports on every rule's violations fixture: where (line and column), what, and the fix."""
    from hubcheck.lint import lint_repo
    from hubcheck.report.text import format_finding

    lines = []
    for violations in sorted(FIXTURES.glob("*/violations")):
        lines.append(f"# {violations.parent.name}")
        findings = lint_repo(violations, cache=None, ignore=("HUB006",)).findings
        lines += [format_finding(f) for f in findings]
    _compare("rule_fixtures.txt", "\n".join(lines) + "\n")
