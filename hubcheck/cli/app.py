"""Top-level typer app; each group of commands registers itself from its own module."""

from __future__ import annotations

import typer

from hubcheck import __version__
from hubcheck.cli import init_command, record_command, static_commands, validate_command
from hubcheck.cli.common import QUIET

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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only problems: no tables, summaries or notes "
                               "(README: Quiet output), e.g. `hubcheck -q lint`."),
) -> None:
    """Check PyTorch Hub repositories before their users do."""
    QUIET.set(quiet)


static_commands.register(app)
validate_command.register(app)
record_command.register(app)
init_command.register(app)


def main() -> None:
    app()
