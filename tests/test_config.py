"""Configuration: every key checked, every mistake named with file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubcheck.config import Config, load_config, parse_memory
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
