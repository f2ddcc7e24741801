"""Top-level typer app; each group of commands registers itself from its own module."""

from __future__ import annotations

import sys

import typer

from hubcheck import __version__, process_end
from hubcheck.cli import (
    diff_command,
    index_command,
    init_command,
    record_command,
    static_commands,
    validate_command,
    weights_command,
)
from hubcheck.cli.common import QUIET
from hubcheck.errors import ExitCode

app = typer.Typer(
    name="hubcheck",
    help="Check PyTorch Hub repositories before their users do.\n\n"
    "Exit codes: 0 nothing failed; 1 a check failed or lint found a problem; "
    "2 bad usage, config or repo; 3 internal error.",
    no_args_is_help=True,
    add_completion=True,
    # Plain click help: rich markup would eat "[lint]" and "[@REF]", and its boxes cut option names at 80 columns.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hubcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only problems: no tables, summaries or notes, e.g. "
                               "`hubcheck -q lint`."),
) -> None:
    """Check PyTorch Hub repositories before their users do."""
    QUIET.set(quiet)


static_commands.register(app)
diff_command.register(app)
weights_command.register(app)
validate_command.register(app)
record_command.register(app)
init_command.register(app)
index_command.register(app)


def main() -> None:
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)
    except TyperException as error:
        if not hasattr(error, "format_message"):
            raise
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `hubcheck`: the help is the message
            typer.echo(error.format_message(), err=True)
            sys.exit(int(ExitCode.USAGE))
        # click prints three lines ("Usage: ...", "Try ...", "Error: Invalid value for '--format' / '-f':
        # Value error, ..."): one line says the same, as every other hubcheck error does.
        message = error.format_message().replace("Value error, ", "")
        context = getattr(error, "ctx", None)
        where = f" (`{context.command_path} -h` for help)" if context is not None else ""
        typer.echo(f"hubcheck: error: {message}{where}", err=True)
        sys.exit(getattr(error, "exit_code", int(ExitCode.USAGE)))
    sys.exit(code if isinstance(code, int) else 0)


def console_main() -> None:
    """The ``hubcheck`` console script and ``python -m hubcheck``: :func:`main` in a process that ends with it,
    so that a large static model is left to the operating system instead of being freed node by node."""
    process_end.process_ends_after_command()
    try:
        main()
    except SystemExit as exit:
        code = 0 if exit.code is None else exit.code
        if not isinstance(code, int) or not process_end.worth_skipping_teardown():
            raise
        process_end.exit_without_teardown(code)
