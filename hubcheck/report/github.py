"""GitHub Actions workflow commands: findings and failed checks become annotations on the diff."""

from __future__ import annotations

from hubcheck.findings import Severity
from hubcheck.report.text import format_summary
from hubcheck.results import Report, Status

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, path: str, line: int | None, column: int | None, title: str, message: str) -> str:
    properties = [f"file={_escape_property(path)}"]
    if line is not None:
        properties.append(f"line={line}")
        if column is not None:
            properties.append(f"col={column}")
    properties.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(properties)}::{_escape_data(message)}"


def format_github(report: Report, path_prefix: str = "") -> str:
    lines = []
    for finding in report.findings:
        message = f"{finding.message}. Fix: {finding.fix}" if finding.fix else finding.message
        lines.append(_command(_LEVEL[finding.severity], f"{path_prefix}{finding.path}", finding.line,
                              finding.column, f"{finding.code} {finding.name}", message))
    for check in report.checks:
        if report.fails(check) or check.status is Status.NOT_VERIFIED:
            # Not verified is an error under --strict and a warning otherwise: visible either way.
            level = "error" if report.fails(check) else "warning"
            title = f"hubcheck {check.id}" + (" not verified" if check.status is Status.NOT_VERIFIED else "")
            lines.append(_command(level, f"{path_prefix}hubconf.py", check.line, None, title, check.message))
    if report.findings_only:
        lines.append(format_summary(report.finding_summary))
    else:
        lines.append(f"{report.check_summary.counts}.")
    return "\n".join(lines) + "\n"
