"""Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from hubcheck.report.text import describe_repo, finding_location
from hubcheck.results import Report, Status

_ICON = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def format_markdown(report: Report, path_prefix: str = "") -> str:
    summary = report.check_summary
    lines = [
        f"## hubcheck {report.command}: {'failed' if report.exit_code else 'passed'}",
        "",
        f"Repo: `{describe_repo(report.repo)}`",
    ]
    if report.environment is not None:
        env = report.environment
        lines.append(f"Environment: Python {env.python}, torch {env.torch or 'n/a'}, devices {', '.join(env.devices)}")
        if env.isolation is not None:
            lines.append(f"Isolation: {env.isolation.summary}")
    lines += ["", f"**{summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped**", ""]
    problems = [c for c in report.checks if c.status is not Status.PASSED]
    if problems:
        lines += ["| | check | message |", "|---|---|---|"]
        lines += [f"| {_ICON[c.status]} | `{c.id}` | {_cell(c.message)} |" for c in problems]
        lines.append("")
    if report.findings:
        lines += ["### Lint findings", "", "| code | where | message |", "|---|---|---|"]
        lines += [f"| {f.code} | `{finding_location(f, path_prefix)}` | {_cell(f.message)} |" for f in report.findings]
        lines.append("")
    if report.checks:
        lines += ["<details><summary>All checks</summary>", "", "| | check | time | message |", "|---|---|---|---|"]
        lines += [f"| {_ICON[c.status]} | `{c.id}` | {c.duration_s:.2f} s | {_cell(c.message)} |" for c in report.checks]
        lines += ["", "</details>", ""]
    return "\n".join(lines)
