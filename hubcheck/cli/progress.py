"""Live progress on a terminal while validate runs, and the summary it prints at the end."""

from __future__ import annotations

from typing import Self

from rich.console import Console
from rich.text import Text

from hubcheck.report.table import checks_table
from hubcheck.report.text import describe_repo, format_finding
from hubcheck.results import CheckResult, Report, Status


class Progress:
    """A rich progress bar over entry points, or nothing when not on a terminal."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console or Console(stderr=True)
        self._progress = None
        self._task = None
        self._current = None

    def __enter__(self) -> Self:
        if self.enabled:
            # markup=False: descriptions hold entry point names, which are the repo's ("c[d]", "[/bogus]").
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=self._console, transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc_info)

    def start(self, names: list[str]) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("entry points", total=len(names))

    def result(self, result: CheckResult) -> None:
        if self._progress is None or self._task is None:
            return
        if result.entrypoint != self._current and result.entrypoint is not None:
            if self._current is not None:
                self._progress.advance(self._task)
            self._current = result.entrypoint
        self._progress.update(self._task, description=f"{result.entrypoint or 'repo'} {result.check}"
                              + (f"[{result.device}]" if result.device else ""))
        if result.status is Status.FAILED:
            self._progress.console.print(Text("FAILED", style="red"), Text(f"{result.id}: {result.message.splitlines()[0][:200]}"))


def print_summary(report: Report, path_prefix: str) -> None:
    console = Console()
    console.print(checks_table(report))
    problems = [c for c in report.checks if c.status is not Status.PASSED]
    for check in problems:
        style = "red" if check.status is Status.FAILED else "yellow"
        console.print(Text(check.status.value.upper(), style=style), Text(f"{check.id}: {check.message}"))
    for finding in report.findings:
        console.print(format_finding(finding, path_prefix), markup=False, highlight=False)
    summary = report.check_summary
    env = report.environment
    where = f" with torch {env.torch} on {', '.join(env.devices)}" if env else ""
    console.print(
        f"{summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped; "
        f"{len(report.findings)} lint findings. Checked {describe_repo(report.repo)}{where}.",
        markup=False, highlight=False,
    )
    if env is not None and env.isolation is not None:
        console.print(f"Isolation: {env.isolation.summary}.", markup=False, highlight=False)
