"""``weights``: the weight files the entry points reach, listed statically and optionally verified."""

from __future__ import annotations

import enum
import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from hubcheck.cli.common import OutputOption, RefreshOption, RepoArgument, emit, handles_errors, resolve_repo
from hubcheck.errors import ExitCode, MissingDependencyError, UsageError


class WeightsFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("weights")(weights_command)


@handles_errors
def weights_command(
    repo: RepoArgument = ".",
    allow_network: Annotated[bool, typer.Option(
        "--allow-network", help="Fetch every URL and check it answers with weights of the declared size and hash."
    )] = False,
    torch_home: Annotated[Path | None, typer.Option(
        "--torch-home", metavar="DIR", help="Check the copies torch.hub cached under DIR/hub/checkpoints (offline)."
    )] = None,
    load: Annotated[bool, typer.Option(
        "--load", help="Load each checked file with torch.load(weights_only=True) in a separate process."
    )] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per download or load.")] = 60.0,
    format: Annotated[WeightsFormat, typer.Option("--format", "-f", help="Output format.")] = WeightsFormat.TEXT,
    output: OutputOption = None,
    refresh: RefreshOption = False,
) -> None:
    """List the weight URLs and files the entry points reach, read statically; verify them on request."""
    from hubcheck.report.weights_text import format_weights_json, format_weights_text
    from hubcheck.resolve import require_hubconf
    from hubcheck.static.reader import read_hubconf
    from hubcheck.weights import list_weights
    from hubcheck.weights_verify import FAILED, verify_weight

    if not 0 < timeout <= 86_400:
        raise UsageError(f"--timeout must be more than 0 and at most a day (got {timeout:g})")
    if torch_home is not None and not torch_home.is_dir():
        raise UsageError(f"--torch-home {torch_home} is not a directory")
    # The loader runs in this interpreter's Python: without torch every load would "fail", reading as a bad file.
    if load and importlib.util.find_spec("torch") is None:
        raise MissingDependencyError("--load loads checkpoints with torch, which is not installed: pip install 'hubcheck[run]'")
    resolved = resolve_repo(repo, refresh)
    require_hubconf(resolved)
    refs = list_weights(resolved.path, read_hubconf(resolved.path))
    verifying = allow_network or torch_home is not None or load
    checked = [(ref, verify_weight(ref, resolved.path, allow_network=allow_network, torch_home=torch_home,
                                   load=load, timeout=timeout) if verifying else None) for ref in refs]
    if format is WeightsFormat.JSON:
        emit(format_weights_json(resolved.to_json(), checked), output)
    else:
        emit(format_weights_text(resolved.describe(), checked), output)
    if any(verification is not None and verification.status == FAILED for _, verification in checked):
        raise typer.Exit(int(ExitCode.PROBLEMS))
