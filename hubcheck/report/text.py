"""Plain text, one finding per line: ``path:line:col: CODE message``, as flake8 and ruff print."""

from __future__ import annotations

from hubcheck.findings import Finding, FindingSummary
from hubcheck.results import Report


def finding_location(finding: Finding, path_prefix: str = "") -> str:
    location = f"{path_prefix}{finding.path}"
    if finding.line is not None:
        location += f":{finding.line}"
        if finding.column is not None:
            location += f":{finding.column}"
    return location


def format_finding(finding: Finding, path_prefix: str = "") -> str:
    """Two lines: where and what, then the fix."""
    head = f"{finding_location(finding, path_prefix)}: {finding.code} [{finding.severity.value}] {finding.message}"
    return f"{head}\n    fix: {finding.fix}" if finding.fix else head


def format_summary(summary: FindingSummary) -> str:
    if not summary.total:
        return "No problems found."
    parts = []
    for count, word in ((summary.errors, "error"), (summary.warnings, "warning"), (summary.infos, "info")):
        if count:
            parts.append(f"{count} {word}{'s' if count != 1 and word != 'info' else ''}")
    noun = "problem" if summary.total == 1 else "problems"
    return f"Found {summary.total} {noun} ({', '.join(parts)})."


def describe_repo(repo: dict) -> str:
    """``reference_repo (/abs/path)`` or ``owner/name@main (commit 3f2a9c1..., dirty)``.

    A dirty working tree is said, as JSON's ``dirty: true`` does: the commit alone
    would claim the files checked are the committed ones.
    """
    spec = repo.get("spec") or repo.get("path")
    parts = [str(repo.get("path"))]
    if repo.get("commit"):
        ref = f"{repo['ref']} " if repo.get("ref") else ""
        parts.append(f"{ref}commit {repo['commit']}")
    if repo.get("dirty"):
        parts.append("dirty")
    base = repo.get("base")
    if base:  # `hubcheck diff`: the ref the repo was compared with
        parts.append(f"against {base['ref']} commit {base['commit']}")
    return f"{spec} ({', '.join(parts)})"


def format_lint_text(report: Report, path_prefix: str = "", summary: bool = True) -> str:
    """The findings, then (unless ``summary`` is off, as with ``hubcheck -q``) one summary line."""
    lines = [format_finding(f, path_prefix) for f in report.findings]
    if summary:
        lines.append(f"{format_summary(report.finding_summary)} Checked {describe_repo(report.repo)}.")
    return "".join(line + "\n" for line in lines)
