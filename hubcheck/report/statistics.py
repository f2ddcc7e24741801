"""``hubcheck lint --statistics``: how many findings each rule has, most frequent first, as ruff prints."""

from __future__ import annotations

import json
from collections import Counter

from hubcheck.findings import Finding
from hubcheck.report.text import format_summary
from hubcheck.results import Report


def _counts(findings: tuple[Finding, ...]) -> list[tuple[Finding, int]]:
    """One finding per rule (for its name and severity) and the rule's count, most frequent first."""
    counts = Counter(f.code for f in findings)
    first: dict[str, Finding] = {}
    for finding in findings:
        first.setdefault(finding.code, finding)
    return sorted(((first[code], count) for code, count in counts.items()), key=lambda item: (-item[1], item[0].code))


def format_statistics(report: Report) -> str:
    rows = _counts(report.findings)
    width = max((len(str(count)) for _, count in rows), default=1)
    lines = [f"{count:>{width}}  {finding.code}  [{finding.severity.value}] {finding.name}" for finding, count in rows]
    lines.append(format_summary(report.finding_summary))
    return "\n".join(lines) + "\n"


def format_statistics_json(report: Report) -> str:
    rows = [{"code": finding.code, "name": finding.name, "severity": finding.severity.value, "count": count}
            for finding, count in _counts(report.findings)]
    return json.dumps(rows, indent=2) + "\n"
