"""The result of ``hubcheck index``: one row per repo, shared by every output format and the cache."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from hubcheck import __version__
from hubcheck.errors import ExitCode
from hubcheck.index.pages import PageResult
from hubcheck.results import Report


class RowStatus(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    """A check or a page check failed, or lint left a warning or an error."""
    ERROR = "error"
    """The repo could not be checked: it did not resolve, its configuration is invalid, or hubcheck failed."""


@dataclass(frozen=True)
class Timing:
    """Seconds spent on the repo, by stage, in the run that produced the row."""

    resolve_s: float = 0.0
    check_s: float = 0.0
    """lint, or lint and validate."""
    pages_s: float = 0.0
    total_s: float = 0.0

    def to_json(self) -> dict[str, float]:
        return {"resolve_s": round(self.resolve_s, 4), "check_s": round(self.check_s, 4),
                "pages_s": round(self.pages_s, 4), "total_s": round(self.total_s, 4)}


@dataclass(frozen=True)
class RepoRow:
    """Everything checked about one repo of the index."""

    spec: str
    origins: tuple[str, ...]
    """Where SOURCE names the repo (list lines or page paths)."""
    command: str
    """``lint`` or ``validate``."""
    report: Report | None
    """The lint or validate report; None when the repo could not be checked."""
    error: str | None = None
    """Why the repo could not be checked (one line), or None."""
    internal: bool = False
    """The error is a bug in hubcheck (exit 3) rather than the repo's or the user's."""
    pages: tuple[PageResult, ...] = ()
    timing: Timing = Timing()
    cached: bool = False
    """The row was read back from the index cache (unchanged commit and hubcheck version)."""
    cache_problem: str | None = field(default=None, compare=False)
    """Why the row could not be kept for the next run (not part of the row's JSON)."""

    @property
    def status(self) -> RowStatus:
        if self.report is None:
            return RowStatus.ERROR
        if self.report.failed or any(page.failed for page in self.pages):
            return RowStatus.FAILED
        return RowStatus.PASSED

    @property
    def exit_code(self) -> ExitCode:
        if self.internal:
            return ExitCode.INTERNAL
        return {RowStatus.PASSED: ExitCode.OK, RowStatus.FAILED: ExitCode.PROBLEMS,
                RowStatus.ERROR: ExitCode.USAGE}[self.status]

    @property
    def repo(self) -> dict[str, Any]:
        """The resolved repo as reports write it; only the spec when it did not resolve."""
        return self.report.repo if self.report is not None else {"spec": self.spec}

    def to_json(self) -> dict[str, Any]:
        """The lint or validate report's JSON (checks with their hubconf line), plus the index's own keys."""
        if self.report is not None:
            data = self.report.to_json()
            lines = [check.line for check in self.report.checks]
            for check, line in zip(data.get("checks", []), lines, strict=True):
                if line is not None:
                    check["line"] = line
        else:
            data = {"hubcheck_version": __version__, "command": self.command, "repo": self.repo}
        data.update({
            "status": self.status.value,
            "error": self.error,
            "internal_error": self.internal,
            "origins": list(self.origins),
            "pages": [page_json(page) for page in self.pages],
            "timing": self.timing.to_json(),
            "cached": self.cached,
        })
        return data


def page_json(page: PageResult) -> dict[str, Any]:
    """A page's checks as JSON, each with the page line it is about."""
    return {"path": page.path, "checks": [{**check.to_json(), "line": check.line} for check in page.checks]}


@dataclass(frozen=True)
class IndexReport:
    """A whole ``hubcheck index`` run."""

    source: str
    source_kind: str
    """``index`` or ``list``."""
    command: str
    rows: tuple[RepoRow, ...]
    orphan_pages: tuple[PageResult, ...] = ()
    """Pages naming no repo: their front-matter failure, with nothing else to check."""
    wall_s: float = 0.0
    jobs: int = 1
    hubcheck_version: str = __version__

    @property
    def cache_problem(self) -> str | None:
        """Why rows could not be kept for the next run (the first reason), or None."""
        return next((row.cache_problem for row in self.rows if row.cache_problem), None)

    def count(self, status: RowStatus) -> int:
        return sum(row.status is status for row in self.rows)

    @property
    def exit_code(self) -> ExitCode:
        codes = [row.exit_code for row in self.rows]
        if any(page.failed for page in self.orphan_pages):
            codes.append(ExitCode.PROBLEMS)
        if ExitCode.INTERNAL in codes:
            return ExitCode.INTERNAL
        return max(codes, default=ExitCode.OK)

    def summary_json(self) -> dict[str, Any]:
        return {"repos": len(self.rows), **{status.value: self.count(status) for status in RowStatus},
                "cached": sum(row.cached for row in self.rows), "wall_s": round(self.wall_s, 3), "jobs": self.jobs}
