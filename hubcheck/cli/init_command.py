"""``hubcheck init``: start a new hub repo that passes lint and validate from the first commit."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from hubcheck.cli.common import handles_errors


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)


@handles_errors
def init_command(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to create the repo (new or empty).")],
    name: Annotated[str | None, typer.Option(
        "--name", help="Project name; the package is named after it (default: DIR's name).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Also write into a non-empty DIR; existing files are never overwritten.")] = False,
) -> None:
    """Create a hub repo from the reference template: hubconf, model package, training script, config, CI."""
    from hubcheck.scaffold import scaffold

    result = scaffold(directory, name=name, force=force)
    for path in result.written:
        typer.echo(f"created {path}")
    for path in result.kept:
        typer.echo(f"kept existing {path} (not overwritten)", err=True)
    where = shlex.quote(str(directory))
    typer.echo(
        f"\nA hub repo with the entry point 'mlp' is ready in {result.directory}. Next:\n"
        f"  hubcheck lint {where}        # static checks\n"
        f"  hubcheck validate {where}    # load and run it in an isolated worker\n"
        f"  hubcheck record {where}      # save reference outputs to compare against later\n"
        f"Retrain with `python train.py` (needs scikit-learn) from inside {where}."
    )
