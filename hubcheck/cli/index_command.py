"""``hubcheck index``: check every repo of a hub index, or of a list of REPOs, and report on all of them."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hubcheck.cli.common import OutputOption, emit, handles_errors, quiet
from hubcheck.cli.run_flags import (
    ConfigFileOption,
    InputOption,
    KwargOption,
    MethodOption,
    NoPretrainedOption,
    overrides_from_flags,
)
from hubcheck.cli.validate_command import (
    AllowNetworkOption,
    DeviceOption,
    ExcludeOption,
    MaxMemoryOption,
    PythonOption,
    SelectOption,
    TimeoutOption,
    TorchHomeOption,
    check_timeout,
)
from hubcheck.errors import UsageError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from hubcheck.index.results import IndexReport, RepoRow


class IndexFormat(str, enum.Enum):
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"


def register(app: typer.Typer) -> None:
    app.command("index")(index_command)


@handles_errors
def index_command(
    source: Annotated[Path, typer.Argument(
        metavar="SOURCE", help="A hub index checkout (model pages with front matter, as pytorch/hub) or a file of "
        "REPOs, one a line (# comments).")],
    validate: Annotated[bool, typer.Option(
        "--validate", help="Also run validate on every repo (runs repo code, in isolated workers).")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Check this many repos at once, in worker processes.",
                                      min=1)] = 1,
    format: Annotated[IndexFormat, typer.Option("--format", "-f", help="Report format.")] = IndexFormat.JSON,
    output: OutputOption = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Fetch git sources again and check every repo afresh, ignoring cached results.")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Neither reuse nor keep results in the hubcheck cache.")] = False,
    device: DeviceOption = None,
    select_entrypoints: SelectOption = None,
    exclude_entrypoints: ExcludeOption = None,
    timeout: TimeoutOption = None,
    allow_network: AllowNetworkOption = None,
    torch_home: TorchHomeOption = None,
    max_memory: MaxMemoryOption = None,
    python: PythonOption = None,
    config: ConfigFileOption = None,
    kwarg: KwargOption = None,
    input: InputOption = None,
    method: MethodOption = None,
    no_pretrained: NoPretrainedOption = False,
) -> None:
    """Check every repo a hub index or a list of REPOs names: lint (and validate), plus each index page."""
    from hubcheck.index.cache import IndexCache
    from hubcheck.index.runner import IndexSettings, run_index
    from hubcheck.index.source import read_source

    run_options = {"--device": device, "--select-entrypoints": select_entrypoints,
                   "--exclude-entrypoints": exclude_entrypoints, "--timeout": timeout, "--allow-network": allow_network,
                   "--torch-home": torch_home, "--max-memory": max_memory, "--python": python, "--config": config,
                   "--kwarg": kwarg, "--input": input, "--method": method, "--no-pretrained": no_pretrained or None}
    given = [flag for flag, value in run_options.items() if value is not None]
    if given and not validate:
        raise UsageError(f"{given[0]} is a validate option: pass --validate too (without it, index only lints)")
    check_timeout(timeout)
    settings = IndexSettings(
        validate=_validate_options(device, select_entrypoints, exclude_entrypoints, timeout, allow_network, torch_home,
                                   max_memory, python, overrides_from_flags(config, kwarg, input, method,
                                                                            no_pretrained, None))
        if validate else None,
        refresh=refresh,
        cache_dir=None if no_cache else IndexCache.default().directory,
    )
    index_source = read_source(source)
    live = sys.stderr.isatty() and not quiet()
    with _Progress(live, len(index_source.entries)) as progress:
        report = run_index(index_source, settings, jobs=jobs, on_row=progress.row)
    if report.cache_problem:
        typer.echo(f"hubcheck: {report.cache_problem}; pass --no-cache or set HUBCHECK_CACHE", err=True)
    emit(_render(report, format), output)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


def _validate_options(device, select_entrypoints, exclude_entrypoints, timeout, allow_network, torch_home, max_memory,
                      python, overrides):
    from hubcheck.validate import ValidateOptions, require_torch

    require_torch(python)
    return ValidateOptions(
        devices=tuple(device) if device else None,
        select_patterns=tuple(select_entrypoints or ()),
        exclude_patterns=tuple(exclude_entrypoints or ()),
        timeout=timeout, allow_network=allow_network,
        torch_home=torch_home.resolve() if torch_home else None,
        max_memory=max_memory, python=python, overrides=overrides,
    )


def _render(report: IndexReport, format: IndexFormat) -> str:
    if format is IndexFormat.HTML:
        from hubcheck.index.html import format_html

        return format_html(report)
    if format is IndexFormat.MARKDOWN:
        from hubcheck.index.markdown import format_markdown

        return format_markdown(report)
    from hubcheck.index.json_format import format_json

    return format_json(report)


class _Progress:
    """A rich progress bar over repos on stderr, or nothing when stderr is not a terminal."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._enabled = enabled
        self._total = total
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            # markup=False: descriptions hold repo specs, which are the user's text.
            self._bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("repos", total=self._total)
        return self

    def row(self, row: RepoRow) -> None:
        if self._bar is None or self._task is None:
            return
        from rich.text import Text

        if row.status.value != "passed":
            reason = row.error or "; ".join(_problems(row))
            self._bar.console.print(Text(row.status.value.upper(), style="red"), Text(f"{row.spec}: {reason}"))
        self._bar.update(self._task, advance=1, description=f"{row.spec}: {row.status.value}")

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)


def _problems(row: RepoRow) -> list[str]:
    problems = []
    if row.report is not None:
        summary = row.report.finding_summary
        if summary.fails:
            problems.append(f"{summary.errors} lint error(s), {summary.warnings} warning(s)")
        if row.report.check_summary.failed:
            problems.append(f"{row.report.check_summary.failed} check(s) failed")
    problems += [f"{page.path} failed" for page in row.pages if page.failed]
    return problems
