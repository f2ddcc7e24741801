"""Configuration from outside the repo: ``--config FILE`` layered over the repo's, and command-line overrides.

Layering (``--config``): the file is read with the same checks as the repo's
own. ``[lint]`` and ``[validate]`` are merged key by key, the file's value
replacing the repo's. ``[entrypoints.NAME]`` tables are merged per name: within
one table ``kwargs``, ``method_kwargs`` and ``device_kwargs`` are merged key by
key, every other key (``inputs``, ``method``, ``devices``, tolerances...)
replaces the repo's. A table name may be a glob (``"resnet*"``): an exact name
wins over any glob, a longer glob over a shorter one.

Overrides (``--kwarg``, ``--input``, ``--method``, ``--no-pretrained``) apply on
top of whatever table an entry point gets, through :class:`OverriddenConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hubcheck.config import (
    Config,
    EntrypointConfig,
    load_config,
    parse_config,
    read_config_table,
)
from hubcheck.run_options import RunOverrides
from hubcheck.static.model import Parameter

_MERGED_ENTRY_KEYS = ("kwargs", "method_kwargs", "device_kwargs")

Signatures = Callable[[str], "tuple[Parameter, ...] | None"]
"""An entry point's static parameters, or None when they cannot be read."""


def load_layered_config(repo_root: Path, config_file: Path | None) -> Config:
    """The repo's configuration with ``config_file`` (when given) layered over it.

    Raises:
        ConfigError: either file is invalid.
    """
    base = load_config(repo_root)
    if config_file is None:
        return base
    overlay = read_config_table(config_file)
    parse_config(overlay, config_file)  # the file's own errors name the file
    merged = _merge(_raw_of(base), overlay)
    return replace(parse_config(merged, config_file), source=config_file)


def _raw_of(config: Config) -> dict[str, Any]:
    if config.source is None:
        return {}
    table = read_config_table(config.source)
    return table.get("tool", {}).get("hubcheck", {}) if config.source.name == "pyproject.toml" else table


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "lint": {**base.get("lint", {}), **overlay.get("lint", {})},
        "validate": {**base.get("validate", {}), **overlay.get("validate", {})},
    }
    entrypoints = dict(base.get("entrypoints", {}))
    for name, table in overlay.get("entrypoints", {}).items():
        combined = {**entrypoints.get(name, {}), **table}
        for key in _MERGED_ENTRY_KEYS:
            if key in table and key in entrypoints.get(name, {}):
                combined[key] = {**entrypoints[name][key], **table[key]}
        entrypoints[name] = combined
    merged["entrypoints"] = entrypoints
    return merged


def accepts(parameters: tuple[Parameter, ...] | None, key: str) -> bool:
    """Whether a signature takes ``key`` by keyword; an unknown signature is taken to."""
    if parameters is None:
        return True
    return any((p.name == key and p.kind in ("positional_or_keyword", "keyword_only")) or p.kind == "var_keyword"
               for p in parameters)


def names_pretrained(parameters: tuple[Parameter, ...] | None) -> bool:
    return parameters is not None and any(p.name == "pretrained" and not p.is_variadic for p in parameters)


def apply_overrides(entry: EntrypointConfig, overrides: RunOverrides,
                    parameters: tuple[Parameter, ...] | None) -> EntrypointConfig:
    """``entry`` with the command line's kwargs, inputs and method on top."""
    kwargs = dict(entry.kwargs)
    if overrides.no_pretrained and names_pretrained(parameters) and "pretrained" not in overrides.kwarg_keys:
        kwargs["pretrained"] = False
    kwargs.update((key, value) for key, value in overrides.kwargs if accepts(parameters, key))
    return replace(
        entry, kwargs=kwargs,
        inputs=overrides.inputs if overrides.inputs is not None else entry.inputs,
        method=overrides.method or entry.method,
    )


@dataclass(frozen=True)
class OverriddenConfig(Config):
    """A configuration whose entry points get the command line's overrides."""

    overrides: RunOverrides = field(default_factory=RunOverrides)
    signatures: Signatures = field(default=lambda name: None, compare=False, repr=False)

    def entrypoint(self, name: str) -> EntrypointConfig:
        return apply_overrides(super().entrypoint(name), self.overrides, self.signatures(name))


def with_overrides(config: Config, overrides: RunOverrides, signatures: Signatures) -> Config:
    """``config`` with ``overrides`` applied to every entry point; ``config`` itself when there are none."""
    if not (overrides.kwargs or overrides.inputs is not None or overrides.method or overrides.no_pretrained):
        return config
    return OverriddenConfig(lint=config.lint, validate=config.validate, entrypoints=config.entrypoints,
                            source=config.source, overrides=overrides, signatures=signatures)


def unaccepted_kwargs(overrides: RunOverrides, names: list[str], signatures: Signatures) -> list[str]:
    """``--kwarg`` keys that no selected entry point takes (a typo would otherwise pass silently)."""
    if not names:
        return []
    return [key for key in overrides.kwarg_keys if not any(accepts(signatures(name), key) for name in names)]
