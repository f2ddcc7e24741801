"""Pick the formatter for a format name; every format renders the same Report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hubcheck.results import Report

if TYPE_CHECKING:
    from hubcheck.report.sarif import Documented


def render_report(report: Report, format_name: str, path_prefix: str = "", summary: bool = True,
                  catalogue: Sequence[Documented] | None = None) -> str:
    """The report in ``format_name``; ``summary`` off leaves out the text format's closing summary line;
    ``catalogue`` declares the codes of findings that are not lint's (SARIF describes each)."""
    if format_name == "json":
        from hubcheck.report.json_format import format_json

        return format_json(report)
    if format_name == "sarif":
        from hubcheck.report.sarif import format_sarif

        return format_sarif(report, path_prefix) if catalogue is None else format_sarif(report, path_prefix, catalogue)
    if format_name == "github":
        from hubcheck.report.github import format_github

        return format_github(report, path_prefix)
    if format_name == "junit":
        from hubcheck.report.junit import format_junit

        return format_junit(report, path_prefix)
    if format_name == "markdown":
        from hubcheck.report.markdown import format_markdown

        return format_markdown(report, path_prefix)
    from hubcheck.report.text import format_lint_text

    return format_lint_text(report, path_prefix, summary)
