"""``hubcheck validate``: run every entry point in an isolated worker and check what users would hit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hubcheck.cli.common import (
    OutputOption,
    RefreshOption,
    ReposArgument,
    console,
    emit,
    handles_errors,
    one_document_per_run,
    path_prefix,
    per_repo,
    quiet,
    resolve_repo,
)
from hubcheck.cli.run_flags import (
    CheckOption,
    ConfigFileOption,
    InputOption,
    KwargOption,
    MethodOption,
    NoPretrainedOption,
    ReferencesOption,
    overrides_from_flags,
)
from hubcheck.errors import ExitCode
from hubcheck.report import ValidateFormat
from hubcheck.run_options import RUN_OPTIONS

DeviceOption = Annotated[
    list[str] | None,
    typer.Option("--device", "-d", help="cpu, cuda, cuda:N, mps or auto (cpu plus every accelerator); repeatable."),
]
EntrypointOption = Annotated[
    list[str] | None, typer.Option("--entrypoint", "-e", help="Check only this entry point; repeatable.")
]
SelectOption = Annotated[
    list[str] | None,
    typer.Option("--select-entrypoints", help="Check only entry points matching this glob, e.g. 'resnet*'; repeatable."),
]
ExcludeOption = Annotated[
    list[str] | None, typer.Option("--exclude-entrypoints", help="Skip entry points matching this glob; repeatable.")
]
TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", help="Seconds per entry point (default: [validate] timeout, 300).", min=0.001)
]
PythonOption = Annotated[
    str | None, typer.Option("--python", help="Run the worker under this interpreter (e.g. a venv with another torch).")
]
TorchHomeOption = Annotated[
    Path | None,
    typer.Option("--torch-home", help="TORCH_HOME for repo code (pre-fetched weights); default: a private empty one."),
]
StrictOption = Annotated[bool, typer.Option(RUN_OPTIONS["strict"].cli_flag, help=RUN_OPTIONS["strict"].help)]
AllowNetworkOption = Annotated[bool | None, typer.Option(
    "--allow-network/--block-network", help="Let repo code reach the network (default: [validate] allow_network, off).",
    show_default=False)]
MaxMemoryOption = Annotated[
    str | None, typer.Option("--max-memory", help="Kill the worker above this resident memory, e.g. 4GiB.")
]


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)


@handles_errors
def validate_command(
    repos: ReposArgument = None,
    device: DeviceOption = None,
    entrypoint: EntrypointOption = None,
    select_entrypoints: SelectOption = None,
    exclude_entrypoints: ExcludeOption = None,
    require_device: Annotated[bool, typer.Option(
        "--require-device", help="Fail, rather than skip, checks on requested devices that are not present.")] = False,
    require_references: Annotated[bool, typer.Option(
        "--require-references", help="Fail the reference check when the repo has no recorded references.")] = False,
    timeout: TimeoutOption = None,
    allow_network: AllowNetworkOption = None,
    allow_tf32: Annotated[bool, typer.Option("--allow-tf32", help="Leave TF32 on for CUDA float32 math.")] = False,
    torch_home: TorchHomeOption = None,
    max_memory: MaxMemoryOption = None,
    python: PythonOption = None,
    config: ConfigFileOption = None,
    kwarg: KwargOption = None,
    input: InputOption = None,
    method: MethodOption = None,
    no_pretrained: NoPretrainedOption = False,
    references: ReferencesOption = None,
    check: CheckOption = None,
    strict: StrictOption = False,
    keep_obtained: Annotated[Path | None, typer.Option(
        "--keep-obtained", help="Write the obtained outputs to DIR, in the reference format, for inspection.",
        file_okay=False)] = None,
    format: Annotated[ValidateFormat, typer.Option("--format", "-f", help="Report format.")] = ValidateFormat.TABLE,
    output: OutputOption = None,
    refresh: RefreshOption = False,
) -> None:
    """Load every entry point on the CPU and every GPU in an isolated worker, and check it."""
    from hubcheck.resolve import require_hubconf
    from hubcheck.validate import ValidateOptions, validate_repo

    specs = repos or ["."]
    one_document_per_run(specs, format.value, output)
    for value in device or ():
        _check_device_word(value)
    check_timeout(timeout)
    overrides = overrides_from_flags(config, kwarg, input, method, no_pretrained, references, check)
    written: list[str] = []

    def validate_one(repo: str) -> ExitCode:
        resolved = resolve_repo(repo, refresh)
        require_hubconf(resolved)
        options = ValidateOptions(
            devices=tuple(device) if device else None,
            entrypoints=tuple(entrypoint or ()),
            select_patterns=tuple(select_entrypoints or ()),
            exclude_patterns=tuple(exclude_entrypoints or ()),
            require_device=require_device,
            require_references=require_references,
            timeout=timeout,
            allow_network=allow_network,
            allow_tf32=allow_tf32,
            torch_home=torch_home.resolve() if torch_home else None,
            max_memory=max_memory,
            python=python,
            keep_obtained=keep_obtained.resolve() if keep_obtained else None,
            spec_for_commands=repo,
            overrides=overrides,
            strict=strict,
        )
        from hubcheck.cli.progress import Progress

        live = format is ValidateFormat.TABLE and output is None and sys.stderr.isatty() and not quiet()
        with Progress(enabled=live) as progress:
            report = validate_repo(resolved, options, on_result=progress.result, on_start=progress.start,
                                   on_entrypoint=progress.entrypoint)
        prefix = path_prefix(resolved.path)
        if format is ValidateFormat.TABLE:
            text = _table_text(report, prefix, to_terminal=output is None)
        else:
            from hubcheck.report.rendering import render_report

            text = render_report(report, format.value, prefix)
        if output is None:
            emit(text, None)
        else:
            written.append(text)
        return report.exit_code

    worst = per_repo(specs, validate_one)
    if output is not None:
        emit("".join(written), output)
    if worst:
        raise typer.Exit(int(worst))


def _table_text(report, prefix: str, to_terminal: bool) -> str:
    """The table report as text: for the terminal (its width, colours) or, with ``-o FILE``, plain and unwrapped."""
    import io

    from hubcheck.cli.common import UNWRAPPED_WIDTH
    from hubcheck.cli.progress import print_summary

    if to_terminal:
        out = console()
        with out.capture() as captured:
            print_summary(report, prefix, out, quiet=quiet())
        return captured.get()
    from rich.console import Console

    buffer = io.StringIO()
    print_summary(report, prefix, Console(file=buffer, width=UNWRAPPED_WIDTH, soft_wrap=True, color_system=None),
                  quiet=quiet())
    return buffer.getvalue()


def check_timeout(seconds: float | None) -> None:
    """Fail with one line for a ``--timeout`` that is infinite, NaN or beyond the clock's range."""
    from hubcheck.config import timeout_problem
    from hubcheck.errors import UsageError

    problem = timeout_problem(seconds) if seconds is not None else None
    if problem:
        raise UsageError(f"--timeout: {problem}")


def _check_device_word(value: str) -> None:
    from hubcheck.config import device_word_problem
    from hubcheck.errors import UsageError

    problem = device_word_problem(value)
    if problem:
        raise UsageError(f"--device: {problem}")
