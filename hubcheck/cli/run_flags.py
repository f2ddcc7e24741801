"""The typer side of :data:`hubcheck.run_options.RUN_OPTIONS`: the options ``validate`` and ``record`` share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubcheck.run_options import RUN_OPTIONS, RunOverrides, build_overrides


def _option(name: str, **extra: object) -> typer.models.OptionInfo:
    option = RUN_OPTIONS[name]
    return typer.Option(option.cli_flag, help=option.help, metavar=option.metavar, **extra)  # type: ignore[arg-type]


ConfigFileOption = Annotated[Path | None, _option("config", dir_okay=False)]
KwargOption = Annotated[list[str] | None, _option("kwarg")]
InputOption = Annotated[list[str] | None, _option("input")]
MethodOption = Annotated[str | None, _option("method")]
NoPretrainedOption = Annotated[bool, typer.Option(RUN_OPTIONS["no-pretrained"].cli_flag,
                                                  help=RUN_OPTIONS["no-pretrained"].help)]
ReferencesOption = Annotated[Path | None, _option("references", file_okay=False)]
CheckOption = Annotated[list[str] | None, _option("check")]


def overrides_from_flags(config: Path | None, kwarg: list[str] | None, input: list[str] | None,
                         method: str | None, no_pretrained: bool, references: Path | None,
                         checks: list[str] | None = None) -> RunOverrides:
    """The command line's overrides (UsageError on a value that cannot be parsed)."""
    return build_overrides(config_file=config, kwargs=kwarg, inputs=input, method=method,
                           no_pretrained=no_pretrained, references=references, checks=checks)
