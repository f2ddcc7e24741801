"""Configuration: every key checked, every mistake named with file and key."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from hubcheck.config import (
    MAX_CONFIG_BYTES,
    MAX_TIMEOUT_S,
    Config,
    load_config,
    parse_memory,
    timeout_problem,
)
from hubcheck.errors import ConfigError


def _load(tmp_path: Path, text: str, file: str = "hubcheck.toml") -> Config:
    (tmp_path / file).write_text(text)
    return load_config(tmp_path)


def test_no_config_gives_defaults(tmp_path):
    config = load_config(tmp_path)
    assert config.source is None
    assert config.validate.devices == ("auto",) and config.validate.timeout == 300
    assert config.entrypoint("anything").method == "__call__"


def test_full_config_is_read(tmp_path):
    config = _load(tmp_path, """
[lint]
select = ["HUB1", "HUB203"]
ignore = ["HUB102"]

[validate]
devices = ["cpu", "cuda:1"]
timeout = 30
allow_network = true
max_memory = "2GiB"

[entrypoints.DCGAN]
kwargs = { pretrained = true }
device_kwargs = { cuda = { useGPU = true } }
method = "test"
inputs = [ { shape = [4, 64] }, { shape = [4], dtype = "int64", low = 0, high = 10 } ]
rtol = 1e-4
atol = 1e-5
devices = ["cpu"]
skip = "needs 40 GB"

[entrypoints.DCGAN.tolerance.cuda]
atol = 1e-3

[entrypoints.DCGAN.output_tolerance."boxes"]
rtol = 0.1
""")
    assert config.lint.select == ("HUB1", "HUB203") and config.lint.ignore == ("HUB102",)
    assert config.validate.devices == ("cpu", "cuda:1") and config.validate.allow_network
    dcgan = config.entrypoint("DCGAN")
    assert dcgan.device_kwargs == {"cuda": {"useGPU": True}}
    assert dcgan.inputs[1].dtype == "int64" and dcgan.inputs[1].distribution == "randint"
    assert dcgan.tolerance.rtol == 1e-4 and dcgan.device_tolerance["cuda"].atol == 1e-3
    assert dcgan.output_tolerance["boxes"].rtol == 0.1
    assert dcgan.skip == "needs 40 GB"


def test_pyproject_section_is_read(tmp_path):
    config = _load(tmp_path, '[tool.hubcheck.lint]\nignore = ["HUB003"]\n', "pyproject.toml")
    assert config.lint.ignore == ("HUB003",)
    assert config.source == tmp_path / "pyproject.toml"


@pytest.mark.parametrize(("text", "fragment"), [
    ("[lint]\nselct = []\n", "[lint] unknown key 'selct' (did you mean 'select'?)"),
    ("[valdate]\n", "unknown key 'valdate' (did you mean 'validate'?)"),
    ('[lint]\nselect = ["HUB999"]\n', "[lint.select] unknown rule code 'HUB999'"),
    ('[validate]\ndevices = ["gpu"]\n', "unknown device 'gpu'"),
    ("[validate]\ntimeout = -1\n", "[validate.timeout] must be greater than 0"),
    ('[validate]\nmax_memory = "lots"\n', "not a size"),
    ("[entrypoints.m]\ninputs = [ { shape = [2, -3] } ]\n", "impossible shape [2, -3]"),
    ('[entrypoints.m]\ninputs = [ { shape = [2], dtype = "float23" } ]\n', "unknown dtype 'float23' (did you mean 'float32'?)"),
    ('[entrypoints.m]\ninputs = [ { shape = [2], dtype = "int64", distribution = "normal" } ]\n', "use randint"),
    ("[entrypoints.m]\nkwarg = {}\n", "[entrypoints.m] unknown key 'kwarg' (did you mean 'kwargs'?)"),
    ("[entrypoints.m]\ninputs = { shape = [1] }\n", "must be a list of tables"),
    ("[entrypoints.m.tolerance.cuda]\nrtoll = 1\n", "unknown key 'rtoll'"),
    ("this is = not toml = at all\n", "invalid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert fragment in message, message
    assert str(tmp_path / "hubcheck.toml") in message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "expected"), [("4GiB", 4 * 2**30), ("512MB", 512 * 10**6), ("1.5g", 1.5e9), ("20000", 20000)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == int(expected)


@pytest.mark.parametrize(("text", "fragment"), [
    ("[validate]\ntimeout = 1e308\n", "[validate.timeout] 1e+308 s is more than a week"),
    ("[validate]\ntimeout = nan\n", "[validate.timeout] must be a finite number"),
    ("[validate]\ntimeout = inf\n", "[validate.timeout] must be a finite number"),
    ("[validate]\ntimeout = 0\n", "[validate.timeout] must be greater than 0"),
    ("[entrypoints.m]\ntimeout = 604801\n", "[entrypoints.m.timeout] 604801 s is more than a week"),
    ('[validate]\nmax_memory = "1"\n', "[validate.max_memory] '1' is under one page (4096 bytes)"),
    ('[validate]\nmax_memory = "0.5"\n', "[validate.max_memory] '0.5' is under one page"),
    ('[validate]\nmax_memory = "1e400"\n', "[validate.max_memory] not a finite positive size"),
    ('[validate]\nmax_memory = "1.2.3"\n', "[validate.max_memory] not a size"),
    ('[validate]\nreferences = "/proc/self"\n', "[validate.references] '/proc/self' must be a directory inside the repo"),
    ('[validate]\nreferences = "refs/../../x"\n', "must be a directory inside the repo"),
    ('[validate]\nreferences = "C:\\\\refs"\n', "must be a directory inside the repo"),
    ('[validate]\nreferences = "a\\u0000b"\n', "[validate.references] must not contain a NUL character"),
    ("[validate]\nreference_size_limit = 0.5\n", "[validate.reference_size_limit] must be at least 1"),
    ("[lint]\nselect = " + "[" * 3000 + "]" * 3000 + "\n", "invalid TOML: arrays or tables nested too deeply"),
    ("[entrypoints.m]\nkwargs = " + "{ a = " * 40 + "1" + " }" * 40 + "\n", "[entrypoints.m.kwargs.…] nested more than 32"),
])
def test_unusable_values_are_config_errors(tmp_path, text, fragment):
    """Values that once overflowed, recursed, escaped the repo or silently disabled a limit: one line, file and key."""
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert fragment in message, message
    assert str(tmp_path / "hubcheck.toml") in message and "\n" not in message


def test_references_may_be_any_directory_inside_the_repo(tmp_path):
    assert _load(tmp_path, '[validate]\nreferences = "tests/refs"\n').validate.references == "tests/refs"


def test_invalid_utf8_names_the_byte(tmp_path):
    (tmp_path / "hubcheck.toml").write_bytes(b"[validate]\ntimeout = 20  # caf\xe9\n")
    with pytest.raises(ConfigError, match=r"hubcheck.toml: not UTF-8 text \(byte 0xe9 at offset 30\)"):
        load_config(tmp_path)


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev_zero", "too_large"])
def test_a_config_file_that_is_not_a_small_regular_file_is_refused_without_reading_it(tmp_path, kind):
    path = tmp_path / "hubcheck.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:
        with path.open("wb") as handle:
            handle.truncate(MAX_CONFIG_BYTES + 1)
    fragment = {"directory": "is a directory", "fifo": "is a named pipe (FIFO)", "dev_zero": "is a character device",
                "too_large": f"over the limit of {MAX_CONFIG_BYTES:,}"}[kind]
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(tmp_path)


@pytest.mark.parametrize("text", ["1", "4095", "0.5", "4KB"])
def test_memory_under_one_page_is_refused(text):
    # 4KB is 4000 bytes: under a page too.
    with pytest.raises(ValueError, match="under one page"):
        parse_memory(text)


def test_timeout_problem():
    assert timeout_problem(300) is None and timeout_problem(MAX_TIMEOUT_S) is None
    for seconds in (0, -1, math.inf, math.nan, 1e308):
        assert timeout_problem(seconds), seconds
