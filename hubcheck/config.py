"""The repo's hubcheck configuration: ``hubcheck.toml`` or ``[tool.hubcheck]`` in pyproject.toml.

Every key is checked: an unknown key, code or dtype is a :class:`ConfigError`
naming the file and the key, because a typo that silently switches a check
off is worse than no config at all.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from hubcheck.errors import ConfigError
from hubcheck.worker.files import FileRefused, read_regular_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "hubcheck.toml"
PYPROJECT_FILE = "pyproject.toml"

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
DISTRIBUTIONS = ("normal", "uniform", "randint", "zeros", "ones")
DEVICE_WORDS = ("auto", "cpu", "cuda", "mps")
MAX_TIMEOUT_S = 7 * 24 * 3600
"""Longest timeout accepted (a week): the clock calls behind a timeout overflow on absurd ones."""
MIN_MEMORY_BYTES = 4096
"""Smallest memory limit accepted, one page: below it the limit rounds to nothing."""
MAX_CONFIG_BYTES = 10 * 1024 * 1024
MAX_NESTING = 32
"""Deepest nesting of tables and arrays in hubcheck's configuration."""


@dataclass(frozen=True)
class Tolerance:
    """Comparison tolerances, as in ``torch.testing.assert_close``; None means "by dtype"."""

    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class InputSpec:
    """One example input tensor, made on the CPU from a seed so every device sees the same values."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    distribution: str = "normal"
    """``normal`` (mean 0, std 1), ``uniform`` (low..high), ``randint`` (low..high-1), ``zeros``, ``ones``."""
    low: float = 0.0
    high: float = 1.0
    seed: int | None = None
    """Seed for this input; None uses the entry point's seed plus the input's position."""

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "distribution": self.distribution,
                "low": self.low, "high": self.high, "seed": self.seed}


@dataclass(frozen=True)
class EntrypointConfig:
    """How to load and run one entry point (``[entrypoints.NAME]``)."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the entry point on every device."""
    device_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Extra keyword arguments per device type, e.g. ``{"cuda": {"useGPU": True}}``."""
    inputs: tuple[InputSpec, ...] | None = None
    """Positional example inputs of ``method``; None lets hubcheck infer them from the first layer."""
    method: str = "__call__"
    """The method run on the inputs (``__call__`` runs ``forward`` through hooks)."""
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``method``."""
    tolerance: Tolerance = Tolerance()
    """Default tolerance of this entry point's comparisons."""
    device_tolerance: dict[str, Tolerance] = field(default_factory=dict)
    """Tolerance per device type (``[entrypoints.NAME.tolerance.cuda]``)."""
    output_tolerance: dict[str, Tolerance] = field(default_factory=dict)
    """Tolerance per output key (``[entrypoints.NAME.output_tolerance."logits"]``)."""
    devices: tuple[str, ...] | None = None
    """Devices for this entry point, overriding ``[validate] devices``."""
    skip: str | None = None
    """When set, every check of this entry point is skipped with this reason."""
    timeout: float | None = None
    """Seconds for this entry point, overriding ``[validate] timeout``."""
    seed: int = 0


@dataclass(frozen=True)
class LintConfig:
    """``[lint]``: which rules run."""

    select: tuple[str, ...] = ()
    """Codes or code prefixes to run; empty means every rule."""
    ignore: tuple[str, ...] = ()
    """Codes or code prefixes never reported; API change codes (``API006``) too, in runs with ``--api-base``."""


@dataclass(frozen=True)
class ValidateConfig:
    """``[validate]``: how entry points are run."""

    devices: tuple[str, ...] = ("auto",)
    timeout: float = 300.0
    """Seconds per entry point (all its checks on all devices)."""
    allow_network: bool = False
    references: str = "hubcheck_refs"
    """Directory of reference outputs, relative to the repo root."""
    reference_size_limit: int = 10_000_000
    """Largest outputs ``record`` stores, in bytes (inputs made from a seed are not stored): 10 MB holds a
    segmentation model's two [1, 21, 224, 224] float32 outputs (torchvision's ``out`` and ``aux``, 4.2 MB each)."""
    max_memory: str | None = None
    """Memory limit of the worker, e.g. ``"4GiB"``; None means no limit."""
    checks: tuple[str, ...] | None = None
    """Model checks to run (:mod:`hubcheck.model_checks` ids, ``all``, ``default``, ``none``); None: the defaults."""


@dataclass(frozen=True)
class Config:
    """The whole configuration of one repo, with where it came from."""

    lint: LintConfig = LintConfig()
    validate: ValidateConfig = ValidateConfig()
    entrypoints: dict[str, EntrypointConfig] = field(default_factory=dict)
    source: Path | None = None
    """The file it was read from, or None when the repo has none."""

    def entrypoint(self, name: str) -> EntrypointConfig:
        """The entry point's table, else the longest glob table matching it, else the defaults."""
        exact = self.entrypoints.get(name)
        if exact is not None:
            return exact
        globs = [key for key in self.entrypoints if is_glob(key) and fnmatch.fnmatchcase(name, key)]
        if not globs:
            return EntrypointConfig(name)
        return dataclasses.replace(self.entrypoints[max(globs, key=len)], name=name)


def is_glob(name: str) -> bool:
    """Whether an ``[entrypoints."..."]`` table name is a pattern (``"resnet*"``) rather than a name."""
    return any(character in name for character in "*?[")


def load_config(repo_root: Path) -> Config:
    """Read the repo's configuration; defaults when it has none.

    Raises:
        ConfigError: the file is not valid TOML or holds an unknown key or bad value.
    """
    toml_path = repo_root / CONFIG_FILE
    # lexists: a hubcheck.toml that is a directory, a FIFO or a dangling link is an error, not "no config".
    if os.path.lexists(toml_path):
        return parse_config(_read_toml(toml_path), toml_path, prefix="")
    pyproject = repo_root / PYPROJECT_FILE
    if os.path.lexists(pyproject):
        section = _read_toml(pyproject).get("tool", {}).get("hubcheck")
        if section is not None:
            return parse_config(section, pyproject, prefix="tool.hubcheck.")
    return Config()


def read_config_table(path: Path) -> dict[str, Any]:
    """A configuration file's TOML, read with the checks of :func:`load_config` (size, UTF-8, syntax)."""
    return _read_toml(path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except FileRefused as refused:
        raise ConfigError(f"{refused} (hubcheck reads its configuration from this file)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {raw[error.start]:#04x} at offset {error.start}): "
                          "TOML files are UTF-8; save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None


def parse_config(data: dict[str, Any], path: Path, prefix: str = "") -> Config:
    """Validate a configuration table (the whole hubcheck.toml, or ``[tool.hubcheck]``)."""
    reader = _TableReader(path, prefix)
    reader.check_depth(data)
    reader.check_keys(data, "", ("lint", "validate", "entrypoints"))
    lint = _parse_lint(reader, data.get("lint", {}))
    validate = _parse_validate(reader, data.get("validate", {}))
    entrypoints_table = reader.table(data.get("entrypoints", {}), "entrypoints")
    entrypoints = {
        name: _parse_entrypoint(reader, name, reader.table(table, f"entrypoints.{_quote(name)}"))
        for name, table in entrypoints_table.items()
    }
    return Config(lint=lint, validate=validate, entrypoints=entrypoints, source=path)


def _parse_lint(reader: _TableReader, table: Any) -> LintConfig:
    table = reader.table(table, "lint")
    reader.check_keys(table, "lint", ("select", "ignore"))
    # API change codes only in ignore: a select of them would also choose which rules run, and lint
    # without --api-base, which reads the same table, would then run none.
    select = reader.codes(table.get("select", []), "lint.select", api_codes=False)
    ignore = reader.codes(table.get("ignore", []), "lint.ignore", api_codes=True)
    return LintConfig(select=select, ignore=ignore)


def _parse_validate(reader: _TableReader, table: Any) -> ValidateConfig:
    table = reader.table(table, "validate")
    reader.check_keys(table, "validate", (
        "devices", "timeout", "allow_network", "references", "reference_size_limit", "max_memory", "checks",
    ))
    defaults = ValidateConfig()
    devices = reader.devices(table.get("devices", list(defaults.devices)), "validate.devices")
    timeout = reader.timeout(table.get("timeout", defaults.timeout), "validate.timeout")
    allow_network = reader.boolean(table.get("allow_network", False), "validate.allow_network")
    references = reader.directory_in_repo(table.get("references", defaults.references), "validate.references")
    limit = reader.positive_number(
        table.get("reference_size_limit", defaults.reference_size_limit), "validate.reference_size_limit"
    )
    if int(limit) < 1:
        reader.fail("validate.reference_size_limit", "must be at least 1 (bytes)")
    max_memory = table.get("max_memory")
    if max_memory is not None:
        reader.memory(max_memory, "validate.max_memory")
    checks = reader.model_checks(table["checks"], "validate.checks") if "checks" in table else None
    return ValidateConfig(devices, float(timeout), allow_network, references, int(limit), max_memory, checks)


_ENTRYPOINT_KEYS = (
    "kwargs", "device_kwargs", "inputs", "method", "method_kwargs", "rtol", "atol", "tolerance",
    "output_tolerance", "devices", "skip", "timeout", "seed",
)


def _parse_entrypoint(reader: _TableReader, name: str, table: dict[str, Any]) -> EntrypointConfig:
    key = f"entrypoints.{_quote(name)}"
    reader.check_keys(table, key, _ENTRYPOINT_KEYS)
    kwargs = reader.table(table.get("kwargs", {}), f"{key}.kwargs")
    device_kwargs = {}
    for device, extra in reader.table(table.get("device_kwargs", {}), f"{key}.device_kwargs").items():
        reader.device(device, f"{key}.device_kwargs")
        device_kwargs[device] = reader.table(extra, f"{key}.device_kwargs.{device}")
    inputs = None
    if "inputs" in table:
        raw_inputs = table["inputs"]
        if not isinstance(raw_inputs, list):
            reader.fail(f"{key}.inputs", "must be a list of tables such as { shape = [1, 3, 224, 224] }")
        inputs = tuple(reader.input_spec(item, f"{key}.inputs[{index}]") for index, item in enumerate(raw_inputs))
    method = reader.string(table.get("method", "__call__"), f"{key}.method")
    method_kwargs = reader.table(table.get("method_kwargs", {}), f"{key}.method_kwargs")
    tolerance = reader.tolerance(table, key, table_holds_only_tolerances=False)
    device_tolerance = {}
    for device, value in reader.table(table.get("tolerance", {}), f"{key}.tolerance").items():
        reader.device(device, f"{key}.tolerance")
        device_tolerance[device] = reader.tolerance(reader.table(value, f"{key}.tolerance.{device}"),
                                                    f"{key}.tolerance.{device}")
    output_tolerance = {
        output: reader.tolerance(reader.table(value, f"{key}.output_tolerance.{_quote(output)}"),
                                 f"{key}.output_tolerance.{_quote(output)}")
        for output, value in reader.table(table.get("output_tolerance", {}), f"{key}.output_tolerance").items()
    }
    devices = reader.devices(table["devices"], f"{key}.devices") if "devices" in table else None
    skip = reader.string(table["skip"], f"{key}.skip") if "skip" in table else None
    timeout = reader.timeout(table["timeout"], f"{key}.timeout") if "timeout" in table else None
    seed = reader.integer(table.get("seed", 0), f"{key}.seed")
    return EntrypointConfig(
        name=name, kwargs=kwargs, device_kwargs=device_kwargs, inputs=inputs, method=method,
        method_kwargs=method_kwargs, tolerance=tolerance, device_tolerance=device_tolerance,
        output_tolerance=output_tolerance, devices=devices, skip=skip, timeout=timeout, seed=seed,
    )


def _quote(name: str) -> str:
    return name if name.replace("_", "a").replace("-", "a").isalnum() else f'"{name}"'


def device_word_problem(word: str) -> str | None:
    """None when ``word`` names devices (auto, cpu, cuda, cuda:N, mps); otherwise what is wrong with it."""
    base, separator, index = word.partition(":")
    if base in DEVICE_WORDS and not separator:
        return None
    if base == "cuda" and index.isdigit():
        return None
    return f"unknown device {word!r} (use auto, cpu, cuda, cuda:N or mps)"


def timeout_problem(seconds: float) -> str | None:
    """None when ``seconds`` is a usable timeout; otherwise what is wrong with it."""
    if not math.isfinite(seconds) or seconds <= 0:
        return f"{seconds:g} is not a positive number of seconds"
    if seconds > MAX_TIMEOUT_S:
        return f"{seconds:g} s is more than a week ({MAX_TIMEOUT_S} s), the most hubcheck waits"
    return None


def parse_memory(text: str) -> int:
    """Bytes in a size such as ``"4GiB"``, ``"512M"`` or ``"2000000000"``; at least one page.

    Raises:
        ValueError: the text is not a size, or is under :data:`MIN_MEMORY_BYTES`.
    """
    units = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
             "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
             "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
    cleaned = text.strip().lower().replace(" ", "")
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = cleaned[len(number):]
    if unit not in units or not number:
        raise ValueError(f"not a size: {text!r} (write e.g. 4GiB, 512MB)")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"not a size: {text!r} (write e.g. 4GiB, 512MB)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a finite positive size: {text!r}")
    if value < MIN_MEMORY_BYTES:
        raise ValueError(f"{text!r} is under one page ({MIN_MEMORY_BYTES} bytes), too little for any process")
    return int(value)


class _TableReader:
    """Typed access to config values that fails with file and key in the message."""

    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(f"{self.path}: [{self.prefix}{key}] {message}")

    def check_keys(self, table: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        for name in table:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
                where = f"[{self.prefix}{key}]" if key else (f"[{self.prefix.rstrip('.')}]" if self.prefix else "top level")
                raise ConfigError(f"{self.path}: {where} unknown key {name!r}{hint}")

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, "must be a non-empty string")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def integer(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be an integer")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, "must be a finite number")
        return value

    def positive_number(self, value: Any, key: str) -> float:
        number = self.number(value, key)
        if number <= 0:
            self.fail(key, "must be greater than 0")
        return number

    def timeout(self, value: Any, key: str) -> float:
        seconds = float(self.positive_number(value, key))
        if seconds > MAX_TIMEOUT_S:
            self.fail(key, f"{timeout_problem(seconds)}")
        return seconds

    def directory_in_repo(self, value: Any, key: str) -> str:
        """A relative path that stays inside the repo: no absolute path, no ``..``, no NUL."""
        text = self.string(value, key)
        parts = PurePosixPath(text.replace("\\", "/")).parts
        if "\0" in text:
            self.fail(key, "must not contain a NUL character")
        if PureWindowsPath(text).drive or text.startswith(("/", "\\")) or ".." in parts or not parts or parts == (".",):
            self.fail(key, f"{text!r} must be a directory inside the repo, relative to its root (e.g. \"hubcheck_refs\")")
        return text

    def check_depth(self, data: dict[str, Any]) -> None:
        """Fail on tables and arrays nested deeper than :data:`MAX_NESTING` (checked without recursion)."""
        pending: list[tuple[Any, str, int]] = [(data, "", 0)]
        while pending:
            value, key, depth = pending.pop()
            if depth > MAX_NESTING:
                parts = key.split(".")
                self.fail(".".join(parts[:3]) + (".…" if len(parts) > 3 else ""),
                          f"nested more than {MAX_NESTING} levels deep")
            if isinstance(value, dict):
                pending += [(item, f"{key}.{name}" if key else str(name), depth + 1) for name, item in value.items()]
            elif isinstance(value, list):
                pending += [(item, key, depth + 1) for item in value]

    def memory(self, value: Any, key: str) -> None:
        if not isinstance(value, str):
            self.fail(key, 'must be a size string such as "4GiB"')
        try:
            parse_memory(value)
        except ValueError as error:
            self.fail(key, str(error))

    def codes(self, value: Any, key: str, api_codes: bool) -> tuple[str, ...]:
        from hubcheck.rules import is_api_selector, validate_code_selector

        example = '["HUB1", "HUB203", "API006"]' if api_codes else '["HUB1", "HUB203"]'
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(key, f"must be a list of rule codes such as {example}")
        for code in value:
            if is_api_selector(code):
                # Imported only here: API changes bring the comparison's modules, which lint rarely needs.
                from hubcheck.api_lint import unknown_api_code

                if not api_codes:
                    self.fail(key, f"takes rule codes only ({code!r} is an API change code: put it in lint.ignore, "
                                   "or pass --select with --api-base)")
                problem = unknown_api_code(code)
            else:
                problem = validate_code_selector(code)
            if problem:
                self.fail(key, problem)
        return tuple(value)

    def model_checks(self, value: Any, key: str) -> tuple[str, ...]:
        from hubcheck.model_checks import check_names_problem

        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(key, 'must be a list of check names such as ["default", "backward"]')
        problem = check_names_problem(value)
        if problem:
            self.fail(key, problem)
        return tuple(value)

    def device(self, value: str, key: str) -> str:
        problem = device_word_problem(value)
        if problem:
            self.fail(key, problem)
        return value

    def devices(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            self.fail(key, 'must be a non-empty list such as ["auto"] or ["cpu", "cuda"]')
        return tuple(self.device(item, key) for item in value)

    def tolerance(self, table: dict[str, Any], key: str, table_holds_only_tolerances: bool = True) -> Tolerance:
        if table_holds_only_tolerances:
            self.check_keys(table, key, ("rtol", "atol"))
        rtol = self.number(table["rtol"], f"{key}.rtol") if "rtol" in table else None
        atol = self.number(table["atol"], f"{key}.atol") if "atol" in table else None
        for name, value in (("rtol", rtol), ("atol", atol)):
            if value is not None and value < 0:
                self.fail(f"{key}.{name}", "must not be negative")
        return Tolerance(rtol, atol)

    def input_spec(self, value: Any, key: str) -> InputSpec:
        table = self.table(value, key)
        self.check_keys(table, key, ("shape", "dtype", "distribution", "low", "high", "seed"))
        if "shape" not in table:
            self.fail(key, "needs a shape, e.g. { shape = [1, 3, 224, 224] }")
        shape = table["shape"]
        if (
            not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
            or any(d < 0 for d in shape)
        ):
            self.fail(f"{key}.shape", f"impossible shape {shape!r}: use a list of non-negative integers")
        if math.prod(shape) > 2**31:
            self.fail(f"{key}.shape", f"shape {shape!r} has more than 2**31 elements")
        dtype = table.get("dtype", "float32")
        if dtype not in DTYPES:
            close = difflib.get_close_matches(str(dtype), DTYPES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(DTYPES)})"
            self.fail(f"{key}.dtype", f"unknown dtype {dtype!r}{hint}")
        is_integer = dtype.startswith(("int", "uint")) or dtype == "bool"
        distribution = table.get("distribution", "randint" if is_integer else "normal")
        if distribution not in DISTRIBUTIONS:
            self.fail(f"{key}.distribution", f"unknown distribution {distribution!r} (known: {', '.join(DISTRIBUTIONS)})")
        if is_integer and distribution in ("normal", "uniform"):
            self.fail(f"{key}.distribution", f"{distribution} cannot make {dtype} values; use randint with low and high")
        default_high = 2.0 if dtype == "bool" else (10.0 if is_integer else 1.0)
        low = self.number(table.get("low", 0.0), f"{key}.low")
        high = self.number(table.get("high", default_high), f"{key}.high")
        if distribution in ("uniform", "randint") and high <= low:
            self.fail(key, f"high ({high}) must be greater than low ({low})")
        seed = self.integer(table["seed"], f"{key}.seed") if "seed" in table else None
        return InputSpec(tuple(shape), dtype, distribution, float(low), float(high), seed)
