"""``hubcheck index --format markdown``: one table for a pull-request comment, then what failed, repo by repo."""

from __future__ import annotations

from hubcheck.index.cells import cell, columns
from hubcheck.index.results import IndexReport, RowStatus
from hubcheck.report.markdown import _cell, _code
from hubcheck.report.text import describe_repo, finding_location
from hubcheck.results import Status

_ICON = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️", None: "—"}
_ROW_ICON = {RowStatus.PASSED: "✅", RowStatus.FAILED: "❌", RowStatus.ERROR: "⚠️"}


def format_markdown(report: IndexReport) -> str:
    names = columns(report)
    lines = [
        (f"## hubcheck index ({report.command}): {report.count(RowStatus.PASSED)} passed, "
        f"{report.count(RowStatus.FAILED)} failed, {report.count(RowStatus.ERROR)} not checked"),
        "",
        (f"Source: `{report.source}` ({report.source_kind}), {len(report.rows)} repos in {report.wall_s:.1f} s "
        f"with {report.jobs} job(s); {sum(row.cached for row in report.rows)} reused from the cache."),
        "",
        "| | repo | " + " | ".join(names) + " | time |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for row in report.rows:
        cells = [cell(row, name) for name in names]
        shown = " | ".join(f"{_ICON[c.status]} {_cell(c.text)}" if c.status is not None else "—" for c in cells)
        time = "cached" if row.cached else f"{row.timing.total_s:.2f} s"
        lines.append(f"| {_ROW_ICON[row.status]} | {_code(row.spec)} | {shown} | {time} |")
    lines.append("")
    for row in report.rows:
        if row.status is RowStatus.PASSED:
            continue
        lines += [f"<details><summary>{_ROW_ICON[row.status]} {_cell(row.spec)}</summary>", ""]
        if row.error is not None:
            lines += [f"Not checked: {_cell(row.error)}", ""]
        else:
            assert row.report is not None
            lines += [f"Repo: `{describe_repo(row.report.repo)}`", ""]
            failing = [f for f in row.report.findings if f.severity.fails]
            if failing:
                lines += ["| code | where | message |", "|---|---|---|"]
                lines += [f"| {f.code} | {_code(finding_location(f, ''))} | {_cell(f.message)} |" for f in failing]
                lines.append("")
            failed = [c for c in row.report.checks if c.status is Status.FAILED]
            lines += [f"- ❌ {_code(c.id)}: {_cell(c.message)}" for c in failed]
        for page in row.pages:
            lines += [f"- ❌ {_code(page.path + ':' + str(c.line or 1))} {c.check}: {_cell(c.message)}"
                      for c in page.checks if c.status is Status.FAILED]
        lines += ["", "</details>", ""]
    for page in report.orphan_pages:
        lines += [f"- ❌ {_code(page.path)}: {_cell(c.message)}" for c in page.checks if c.status is Status.FAILED]
    return "\n".join(lines).rstrip("\n") + "\n"
