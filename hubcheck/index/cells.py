"""The table every index format shows: one row per repo, one cell per check, decided once for all formats."""

from __future__ import annotations

from dataclasses import dataclass

from hubcheck.index.pages import PAGE_CHECKS
from hubcheck.index.results import IndexReport, RepoRow
from hubcheck.results import Status

RESOLVE = "resolve"
LINT = "lint"
VALIDATE = "validate"


@dataclass(frozen=True)
class Cell:
    """One check of one repo as the tables show it."""

    status: Status | None
    """None: not run for this repo (a later stage after an error, page checks of a list entry)."""
    text: str
    sort: float
    """Sort weight: failures first when sorted descending."""


def columns(report: IndexReport) -> tuple[str, ...]:
    names = [RESOLVE, LINT]
    if report.command == "validate":
        names.append(VALIDATE)
    if any(row.pages for row in report.rows):
        names += PAGE_CHECKS
    return tuple(names)


def cell(row: RepoRow, column: str) -> Cell:
    if column == RESOLVE:
        return Cell(Status.FAILED, "failed", 2) if row.report is None else Cell(Status.PASSED, "ok", 0)
    if column in PAGE_CHECKS:
        return _page_cell(row, column)
    if row.report is None:
        return Cell(None, "—", -1)
    if column == LINT:
        summary = row.report.finding_summary
        status = Status.FAILED if summary.fails else Status.PASSED
        text = f"{summary.errors} E · {summary.warnings} W · {summary.infos} I" if summary.total else "clean"
        return Cell(status, text, summary.errors * 1000 + summary.warnings * 10 + summary.infos * 0.01)
    if column == VALIDATE:
        checks = row.report.check_summary
        status = Status.FAILED if checks.failed else Status.PASSED if checks.passed else Status.SKIPPED
        return Cell(status, f"{checks.passed} ✓ · {checks.failed} ✗ · {checks.skipped} skipped",
                    checks.failed * 1000 + checks.skipped * 0.01)
    raise ValueError(f"no column {column!r}")


def _page_cell(row: RepoRow, column: str) -> Cell:
    """A page check over the repo's pages; front matter is judged even for a repo that could not be checked."""
    results = [check for page in row.pages for check in page.checks if check.check == column]
    if not results:
        return Cell(None, "—", -1)
    failed = sum(r.status is Status.FAILED for r in results)
    passed = sum(r.status is Status.PASSED for r in results)
    if failed:
        return Cell(Status.FAILED, f"{failed} of {len(results)} page(s) failed", 1000 * failed)
    if passed:
        return Cell(Status.PASSED, "ok", 0)
    return Cell(Status.SKIPPED, "skipped", 0.5)
