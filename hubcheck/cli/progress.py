"""Live progress on a terminal while validate runs, and the summary it prints at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from hubcheck.report.table import checks_table
from hubcheck.report.text import describe_repo, format_finding
from hubcheck.results import CheckResult, Report, Status

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID


class Progress:
    """A rich progress bar over entry points, or nothing when not on a terminal."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console or Console(stderr=True)
        self._progress: RichProgress | None = None
        self._task: TaskID | None = None
        self._current: str | None = None

    def __enter__(self) -> Progress:
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

    def start(self, names: list[str]) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("entry points", total=len(names))

    def entrypoint(self, name: str) -> None:
        """An entry point starts running: the previous one is done, and the label names the one that runs."""
        if self._progress is None or self._task is None:
            return
        if self._current is not None:
            self._progress.advance(self._task)
        self._current = name
        self._progress.update(self._task, description=f"{name}: running")

    def result(self, result: CheckResult) -> None:
        if self._progress is None:
            return
        if result.status is Status.FAILED:
            # The whole message, as the summary will print it: a traceback cut to its first line helps no one.
            self._progress.console.print(Text("FAILED", style="red"), Text(f"{result.id}: {result.message}"))

    def __exit__(self, *exc_info) -> None:
        if self._progress is not None:
            if self._task is not None and self._current is not None:
                self._progress.advance(self._task)
            self._progress.__exit__(*exc_info)


def print_summary(report: Report, path_prefix: str, console: Console, quiet: bool = False) -> None:
    """The table, every check that did not pass, the findings and one summary line; ``quiet`` leaves out the
    table and the isolation line."""
    if not quiet:
        console.print(checks_table(report))
    for status, ids, message in _problems(report):
        style = {Status.FAILED: "red", Status.NOT_VERIFIED: "magenta"}.get(status, "yellow")
        label = "NOT VERIFIED" if status is Status.NOT_VERIFIED else status.value.upper()
        console.print(Text(label, style=style), Text(f"{', '.join(ids)}: {message}"))
    for finding in report.findings:
        console.print(format_finding(finding, path_prefix), markup=False, highlight=False)
    env = report.environment
    where = f" with torch {env.torch} on {', '.join(env.devices)}" if env else ""
    console.print(
        f"{report.check_summary.counts}; "
        f"{len(report.findings)} lint findings. Checked {describe_repo(report.repo)}{where}.",
        markup=False, highlight=False,
    )
    if env is not None and env.isolation is not None and not quiet:
        console.print(f"Isolation: {env.isolation.summary}.", markup=False, highlight=False)


def _problems(report: Report) -> list[tuple[Status, list[str], str]]:
    """Checks that did not pass, in order; skips with the same reason share a line (six ``no CUDA device`` are one)."""
    problems: list[tuple[Status, list[str], str]] = []
    skips: dict[str, list[str]] = {}
    for check in report.checks:
        if check.status in (Status.FAILED, Status.NOT_VERIFIED):
            problems.append((check.status, [check.id], check.message))
        elif check.status is Status.SKIPPED:
            if check.message not in skips:
                skips[check.message] = []
                problems.append((check.status, skips[check.message], check.message))
            skips[check.message].append(check.id)
    return problems
