"""``hubcheck record``: write the reference outputs that ``validate`` compares against."""

from __future__ import annotations

from typing import Annotated

import typer

from hubcheck.cli.common import (
    RefreshOption,
    RepoArgument,
    handles_errors,
    resolve_repo,
)
from hubcheck.cli.run_flags import (
    ConfigFileOption,
    InputOption,
    KwargOption,
    MethodOption,
    NoPretrainedOption,
    ReferencesOption,
    overrides_from_flags,
)
from hubcheck.cli.validate_command import (
    AllowNetworkOption,
    EntrypointOption,
    ExcludeOption,
    MaxMemoryOption,
    PythonOption,
    SelectOption,
    TimeoutOption,
    TorchHomeOption,
    check_timeout,
)


def register(app: typer.Typer) -> None:
    app.command("record")(record_command)


@handles_errors
def record_command(
    repo: RepoArgument = ".",
    entrypoint: EntrypointOption = None,
    select_entrypoints: SelectOption = None,
    exclude_entrypoints: ExcludeOption = None,
    update: Annotated[bool, typer.Option("--update", help="Replace existing references whose outputs changed.")] = False,
    new_only: Annotated[bool, typer.Option("--new-only", help="Record only entry points that have no reference yet.")] = False,
    device: Annotated[str, typer.Option("--device", "-d", help="Device to record on (cpu, cuda, cuda:N, mps).")] = "cpu",
    size_limit: Annotated[int | None, typer.Option(
        "--size-limit", help="Largest outputs a reference may hold, in bytes; seeded inputs are not counted "
        "(default: [validate] reference_size_limit, 10 MB).", min=1)] = None,
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
    references: ReferencesOption = None,
    refresh: RefreshOption = False,
) -> None:
    """Run entry points on their example inputs and save their outputs as references (safetensors)."""
    from hubcheck.errors import UsageError
    from hubcheck.record import record_references
    from hubcheck.resolve import require_hubconf
    from hubcheck.validate import ValidateOptions

    if update and new_only:
        raise UsageError("--update and --new-only contradict each other: choose one")
    check_timeout(timeout)
    resolved = resolve_repo(repo, refresh)
    require_hubconf(resolved)
    options = ValidateOptions(
        entrypoints=tuple(entrypoint or ()), select_patterns=tuple(select_entrypoints or ()),
        exclude_patterns=tuple(exclude_entrypoints or ()), timeout=timeout, allow_network=allow_network,
        torch_home=torch_home.resolve() if torch_home else None, max_memory=max_memory, python=python,
        lint=False, spec_for_commands=repo,
        overrides=overrides_from_flags(config, kwarg, input, method, no_pretrained, references),
    )
    outcomes = record_references(
        resolved, options, device=device, update=update, new_only=new_only, size_limit=size_limit,
        on_outcome=lambda outcome: typer.echo(outcome.message, err=outcome.status.fails),
    )
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
    typer.echo(", ".join(f"{count} {status}" for status, count in counts.items()) or "nothing to record")
    if any(outcome.status.fails for outcome in outcomes):
        raise typer.Exit(1)
