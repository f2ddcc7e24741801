"""The options that shape a run, defined once for ``validate``, ``record`` and the pytest plugin.

:data:`RUN_OPTIONS` names each option, its help and its plugin twin
(``--kwarg`` is ``--hubcheck-kwarg``); the typer commands take their help from
it and ``pytest_addoption`` is generated from it, so the two cannot drift.
:func:`build_overrides` turns the raw values into a :class:`RunOverrides`, the
frozen record the validation session applies on top of the configuration.
"""

from __future__ import annotations

import ast
import fnmatch
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubcheck.config import DTYPES, InputSpec
from hubcheck.errors import UsageError


@dataclass(frozen=True)
class RunOption:
    """One option of a run: its CLI flag, its plugin twin and what it does."""

    name: str
    """The CLI flag without dashes (``kwarg``); the plugin's is ``hubcheck-`` + name."""
    help: str
    metavar: str | None = None
    repeatable: bool = False
    is_flag: bool = False

    @property
    def cli_flag(self) -> str:
        return f"--{self.name}"

    @property
    def plugin_flag(self) -> str:
        return f"--hubcheck-{self.name}"

    @property
    def plugin_dest(self) -> str:
        return "hubcheck_" + self.name.replace("-", "_")


RUN_OPTIONS: dict[str, RunOption] = {option.name: option for option in (
    RunOption("config", "Read this hubcheck.toml layered over the repo's own (its keys win); the repo is not "
                        "touched.", metavar="FILE"),
    RunOption("kwarg", "Pass KEY=VALUE (a Python literal, else a string) to every selected entry point whose "
                       "signature takes KEY or **kwargs; repeatable.", metavar="KEY=VALUE", repeatable=True),
    RunOption("input", "Example input SHAPE[:DTYPE], e.g. 1x3x224x224 or 2x16:int64, instead of inferred or "
                       "configured ones; repeatable, one per positional argument.", metavar="SHAPE[:DTYPE]",
              repeatable=True),
    RunOption("method", "Run this method of the model on the inputs instead of calling it.", metavar="NAME"),
    RunOption("no-pretrained", "Pass pretrained=False to every entry point whose signature has `pretrained`: "
                               "an offline structural run.", is_flag=True),
    RunOption("references", "Read and write reference outputs in DIR instead of the repo's references "
                            "directory.", metavar="DIR"),
    RunOption("torch-home", "TORCH_HOME for repo code (pre-fetched weights); default: a private empty one.",
              metavar="DIR"),
    RunOption("allow-network", "Let repo code reach the network (default: [validate] allow_network, off).",
              is_flag=True),
    RunOption("strict", "Fail the run when a check is not verified (forward with no input that fits); by default "
                        "such checks are counted and shown but do not fail it.", is_flag=True),
    RunOption("entrypoint", "Check only this entry point; repeatable.", metavar="NAME", repeatable=True),
    RunOption("select-entrypoints", "Check only entry points matching this glob, e.g. 'resnet*'; repeatable.",
              metavar="GLOB", repeatable=True),
    RunOption("exclude-entrypoints", "Skip entry points matching this glob; repeatable.", metavar="GLOB",
              repeatable=True),
    RunOption("check", "Run this model check after forward (backward, batch-invariance, torchscript, compile, "
                       "export, dtype, channels-last, co-load, threads), instead of [validate] checks; `all`, "
                       "`default` and `none` are words for sets; repeatable.", metavar="NAME", repeatable=True),
)}


@dataclass(frozen=True)
class RunOverrides:
    """What the command line sets on top of the configuration, for every selected entry point."""

    config_file: Path | None = None
    """A hubcheck.toml layered over the repo's (see :func:`hubcheck.config_overlay.load_layered_config`)."""
    kwargs: tuple[tuple[str, Any], ...] = ()
    """``--kwarg`` pairs, in order; applied where the signature takes the key (or is unknown)."""
    inputs: tuple[InputSpec, ...] | None = None
    method: str | None = None
    no_pretrained: bool = False
    references: Path | None = None
    """An absolute references directory outside (or inside) the repo; None keeps ``[validate] references``."""
    checks: tuple[str, ...] | None = None
    """``--check`` words (see :func:`hubcheck.model_checks.selected`); None keeps ``[validate] checks``."""

    @property
    def kwarg_keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.kwargs)

    def command_flags(self) -> list[str]:
        """These overrides as command-line words, for the commands hubcheck suggests."""
        words: list[str] = []
        if self.config_file is not None:
            words += ["--config", str(self.config_file)]
        for key, value in self.kwargs:
            words += ["--kwarg", f"{key}={value!r}" if not isinstance(value, str) else f"{key}={value}"]
        for spec in self.inputs or ():
            words += ["--input", "x".join(map(str, spec.shape)) + ("" if spec.dtype == "float32" else f":{spec.dtype}")]
        if self.method:
            words += ["--method", self.method]
        if self.no_pretrained:
            words.append("--no-pretrained")
        if self.references is not None:
            words += ["--references", str(self.references)]
        return words


def parse_kwarg(text: str, flag: str = "--kwarg") -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value): VALUE as a Python literal, else the plain string.

    Raises:
        UsageError: no ``=``, or KEY is not a Python identifier.
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key.isidentifier():
        raise UsageError(f"{flag} {text!r}: write KEY=VALUE with KEY a keyword argument name, e.g. {flag} pretrained=False")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = raw
    return key, value


_SHAPE = re.compile(r"^\d+(x\d+)*$")


def parse_input(text: str, flag: str = "--input") -> InputSpec:
    """``1x3x224x224`` or ``2x16:int64`` -> an InputSpec (normal floats, or randint 0..9 for integers).

    Raises:
        UsageError: the shape is not ``NxNx...`` or the dtype is unknown.
    """
    shape_text, _, dtype = text.strip().partition(":")
    dtype = dtype or "float32"
    if not _SHAPE.match(shape_text):
        raise UsageError(f"{flag} {text!r}: write the shape as sizes joined by x, e.g. {flag} 1x3x224x224 "
                         f"or {flag} 2x16:int64")
    if dtype not in DTYPES:
        raise UsageError(f"{flag} {text!r}: unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
    shape = tuple(int(size) for size in shape_text.split("x"))
    if math.prod(shape) > 2**31:
        raise UsageError(f"{flag} {text!r}: more than 2**31 elements")
    is_integer = dtype.startswith(("int", "uint")) or dtype == "bool"
    if is_integer:
        return InputSpec(shape, dtype, "randint", 0.0, 2.0 if dtype == "bool" else 10.0)
    return InputSpec(shape, dtype)


def build_overrides(
    *,
    config_file: Path | None = None,
    kwargs: list[str] | None = None,
    inputs: list[str] | None = None,
    method: str | None = None,
    no_pretrained: bool = False,
    references: Path | None = None,
    checks: list[str] | None = None,
    flag_prefix: str = "--",
) -> RunOverrides:
    """The overrides of one command line; ``flag_prefix`` names flags in errors (``--hubcheck-`` for the plugin).

    Raises:
        UsageError: a value cannot be parsed, or the config file does not exist.
    """
    if config_file is not None and not config_file.is_file():
        raise UsageError(f"{flag_prefix}config {config_file}: no such file (give the path of a hubcheck.toml)")
    if method is not None and not method.isidentifier():
        raise UsageError(f"{flag_prefix}method {method!r}: not a method name")
    if references is not None and references.exists() and not references.is_dir():
        raise UsageError(f"{flag_prefix}references {references}: not a directory")
    from hubcheck.model_checks import check_names_problem

    problem = check_names_problem(checks or ())
    if problem:
        raise UsageError(f"{flag_prefix}check: {problem}")
    return RunOverrides(
        config_file=config_file.resolve() if config_file is not None else None,
        kwargs=tuple(parse_kwarg(text, f"{flag_prefix}kwarg") for text in kwargs or ()),
        inputs=tuple(parse_input(text, f"{flag_prefix}input") for text in inputs) if inputs else None,
        method=method,
        no_pretrained=no_pretrained,
        references=references.resolve() if references is not None else None,
        checks=tuple(checks) if checks else None,
    )


def add_plugin_options(group: Any) -> None:
    """Add every run option's ``--hubcheck-…`` twin to the plugin's option group (a pytest ``OptionGroup``)."""
    for option in RUN_OPTIONS.values():
        if option.is_flag:
            group.addoption(option.plugin_flag, action="store_true", default=False, dest=option.plugin_dest,
                            help=option.help)
        elif option.repeatable:
            group.addoption(option.plugin_flag, action="append", default=[], dest=option.plugin_dest,
                            metavar=option.metavar, help=option.help)
        else:
            group.addoption(option.plugin_flag, default=None, dest=option.plugin_dest, metavar=option.metavar,
                            help=option.help)


def plugin_value(values: Any, name: str) -> Any:
    """The value of run option ``name`` in pytest's parsed options (``config.option``)."""
    return getattr(values, RUN_OPTIONS[name].plugin_dest)


def plugin_overrides(values: Any) -> RunOverrides:
    """The overrides of a pytest run's ``--hubcheck-…`` options (UsageError naming the plugin's flag)."""
    def path(name: str) -> Path | None:
        value = plugin_value(values, name)
        return Path(value) if value else None

    return build_overrides(
        config_file=path("config"), kwargs=plugin_value(values, "kwarg"), inputs=plugin_value(values, "input"),
        method=plugin_value(values, "method"), no_pretrained=plugin_value(values, "no-pretrained"),
        references=path("references"), checks=plugin_value(values, "check"), flag_prefix="--hubcheck-",
    )


def is_selected(name: str, entrypoints: tuple[str, ...], select: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """Whether ``--entrypoint`` / ``--select-entrypoints`` / ``--exclude-entrypoints`` keep ``name``."""
    return ((not entrypoints or name in entrypoints)
            and (not select or any(fnmatch.fnmatchcase(name, pattern) for pattern in select))
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude))
