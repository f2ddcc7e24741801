"""Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import html
import re

from hubcheck.report.text import describe_repo, finding_location, format_summary
from hubcheck.results import Report, Status

_ICON = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️", Status.NOT_VERIFIED: "❔"}


def _cell(text: str) -> str:
    """Text for a table cell: messages hold repo text, which must not open HTML (a ``</details>``) or end the row."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", "<br>")


def _code(text: str) -> str:
    """``text`` as an inline code span in a table cell, whatever backticks it holds (entry point names are the repo's)."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    inline = text.replace("|", "\\|").replace("\n", " ")
    return f"{fence}{padding}{inline}{padding}{fence}"


def format_markdown(report: Report, path_prefix: str = "") -> str:
    if report.findings_only:
        return _format_findings_markdown(report, path_prefix)
    lines = [
        f"## hubcheck {report.command}: {'failed' if report.failed else 'passed'}",
        "",
        f"Repo: `{describe_repo(report.repo)}`",
    ]
    if report.environment is not None:
        env = report.environment
        lines.append(f"Environment: Python {env.python}, torch {env.torch or 'n/a'}, devices {', '.join(env.devices)}")
        if env.isolation is not None:
            lines.append(f"Isolation: {env.isolation.summary}")
    strict = " (--strict: not verified fails)" if report.strict and report.check_summary.not_verified else ""
    lines += ["", f"**{report.check_summary.counts}**{strict}", ""]
    problems = [c for c in report.checks if c.status is not Status.PASSED]
    if problems:
        lines += ["| | check | message |", "|---|---|---|"]
        lines += [f"| {_ICON[c.status]} | {_code(c.id)} | {_cell(c.message)} |" for c in problems]
        lines.append("")
    if report.findings:
        lines += ["### Lint findings", "", "| code | where | message |", "|---|---|---|"]
        lines += [f"| {f.code} | {_code(finding_location(f, path_prefix))} | {_cell(f.message)} |" for f in report.findings]
        lines.append("")
    if report.checks:
        lines += ["<details><summary>All checks</summary>", "", "| | check | time | message |", "|---|---|---|---|"]
        lines += [f"| {_ICON[c.status]} | {_code(c.id)} | {c.duration_s:.2f} s | {_cell(c.message)} |" for c in report.checks]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def _format_findings_markdown(report: Report, path_prefix: str) -> str:
    """A report of findings alone (``lint``, ``diff``): the headline, the repo, the summary and one table."""
    lines = [
        f"## hubcheck {report.command}: {'failed' if report.failed else 'passed'}",
        "",
        f"Repo: `{describe_repo(report.repo)}`",
        "",
        f"**{format_summary(report.finding_summary)}**",
        "",
    ]
    if report.findings:
        lines += ["| severity | code | where | message |", "|---|---|---|---|"]
        lines += [f"| {f.severity.value} | {f.code} {f.name} | {_code(finding_location(f, path_prefix))} | {_cell(f.message)} |"
                  for f in report.findings]
        lines.append("")
    return "\n".join(lines)
