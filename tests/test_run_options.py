"""Configuring a run from the command line: --config layered over the repo's, --kwarg, --input, --method,
--no-pretrained, glob tables and --references, without writing into the checked repo."""

from __future__ import annotations

import pytest

from hubcheck.config import Config, EntrypointConfig, InputSpec, load_config
from hubcheck.config_overlay import apply_overrides, load_layered_config
from hubcheck.errors import UsageError
from hubcheck.run_options import RUN_OPTIONS, RunOverrides, build_overrides, parse_input, parse_kwarg
from hubcheck.static.model import Parameter
from tests.helpers import PROJECT, file_digests, hubcheck, write_repo

HUBCONF = '''
"""A tiny hub repo whose default build downloads weights."""
import torch

dependencies = ["torch"]


def small(pretrained=True, width=4):
    """A linear layer.

    Args:
        pretrained: download the weights.
        width: input features.
    """
    model = torch.nn.Linear(width, 2)
    if pretrained:
        model.load_state_dict(torch.hub.load_state_dict_from_url("http://example.com/small-0123abcd.pth", map_location="cpu",
                                                                     check_hash=True))
    return model


def net_a():
    """A conv net that needs 8x8 images."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(144, 2))


def net_b():
    """A conv net that takes any size."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
'''


@pytest.mark.parametrize(("text", "expected"), [
    ("pretrained=False", ("pretrained", False)),
    ("width=8", ("width", 8)),
    ("sizes=(1, 2)", ("sizes", (1, 2))),
    ("arch=resnet50", ("arch", "resnet50")),
    ("name='x'", ("name", "x")),
    ("empty=", ("empty", "")),
])
def test_kwarg_values_are_python_literals_else_strings(text, expected):
    assert parse_kwarg(text) == expected


@pytest.mark.parametrize("text", ["pretrained", "=1", "not a name=1"])
def test_a_kwarg_without_a_key_is_one_clear_error(text):
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_kwarg(text)


def test_inputs_are_shapes_with_an_optional_dtype():
    assert parse_input("1x3x224x224") == InputSpec((1, 3, 224, 224))
    tokens = parse_input("2x16:int64")
    assert (tokens.shape, tokens.dtype, tokens.distribution) == ((2, 16), "int64", "randint")
    for bad in ("1,3,224", "2x16:int65", "x3"):
        with pytest.raises(UsageError, match="--input"):
            parse_input(bad)


def test_overrides_apply_only_where_the_signature_takes_them():
    overrides = build_overrides(kwargs=["width=8", "depth=2"], inputs=["2x8"], method="embed", no_pretrained=True)
    named = (Parameter("pretrained", "positional_or_keyword", "True"), Parameter("width", "positional_or_keyword", "4"))
    entry = apply_overrides(EntrypointConfig("small", kwargs={"width": 4, "bias": True}), overrides, named)
    assert entry.kwargs == {"width": 8, "bias": True, "pretrained": False}
    assert entry.inputs == (InputSpec((2, 8)),) and entry.method == "embed"
    # **kwargs takes any key, but --no-pretrained sets only a parameter named pretrained.
    variadic = (Parameter("kwargs", "var_keyword", None),)
    assert apply_overrides(EntrypointConfig("x"), overrides, variadic).kwargs == {"width": 8, "depth": 2}
    # An explicit --kwarg pretrained=... wins over --no-pretrained.
    explicit = build_overrides(kwargs=["pretrained=True"], no_pretrained=True)
    assert apply_overrides(EntrypointConfig("x"), explicit, named).kwargs == {"pretrained": True}


def test_config_file_is_layered_over_the_repos(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubcheck.toml": '''
        [validate]
        timeout = 50
        devices = ["cpu"]

        [entrypoints.small]
        kwargs = { width = 4, bias = true }
        method = "forward"
        seed = 3
    '''})
    overlay = write_repo(tmp_path, {"mine.toml": '''
        [validate]
        timeout = 20

        [entrypoints.small]
        kwargs = { width = 8 }
        inputs = [{ shape = [2, 8] }]

        [entrypoints."net_*"]
        inputs = [{ shape = [1, 3, 8, 8] }]

        [entrypoints."net_b*"]
        seed = 7
    '''}) / "mine.toml"
    config = load_layered_config(repo, overlay)
    assert config.source == overlay
    # [validate] merges key by key; the file's keys win.
    assert (config.validate.timeout, config.validate.devices) == (20, ("cpu",))
    small = config.entrypoint("small")
    # kwargs merge key by key; method and seed stay from the repo; inputs come from the file.
    assert small.kwargs == {"width": 8, "bias": True} and small.method == "forward" and small.seed == 3
    assert small.inputs == (InputSpec((2, 8)),)
    # The longest matching glob wins; an entry point no table matches gets the defaults.
    assert config.entrypoint("net_a").inputs == (InputSpec((1, 3, 8, 8)),)
    assert config.entrypoint("net_b2").seed == 7 and config.entrypoint("net_b2").inputs is None
    assert config.entrypoint("net_b2").name == "net_b2"
    assert config.entrypoint("other") == EntrypointConfig("other")
    assert load_config(repo).validate.timeout == 50


def test_a_glob_table_in_the_repos_own_config_loses_to_an_exact_one(tmp_path):
    (tmp_path / "hubcheck.toml").write_text('[entrypoints."*"]\nseed = 1\n[entrypoints.a]\nseed = 2\n')
    config: Config = load_config(tmp_path)
    assert (config.entrypoint("a").seed, config.entrypoint("b").seed) == (2, 1)


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        build_overrides(config_file=tmp_path / "absent.toml")


def test_suggested_commands_carry_the_overrides(tmp_path):
    overrides = build_overrides(kwargs=["width=8", "arch=r50"], inputs=["2x16:int64"], no_pretrained=True,
                                references=tmp_path)
    assert overrides.command_flags() == ["--kwarg", "width=8", "--kwarg", "arch=r50", "--input", "2x16:int64",
                                         "--no-pretrained", "--references", str(tmp_path.resolve())]
    assert RunOverrides().command_flags() == []


@pytest.mark.slow
def test_an_offline_run_configured_only_from_the_command_line_writes_nothing_into_the_repo(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": HUBCONF})
    before = file_digests(repo)
    config = write_repo(tmp_path, {"extra.toml": '[entrypoints."net_*"]\ninputs = [{ shape = [1, 3, 8, 8] }]\n'})
    refs = tmp_path / "refs"

    blocked = hubcheck("validate", str(repo), "--device", "cpu", "-e", "small")
    assert blocked.code == 1 and "--no-pretrained" in blocked.stdout

    flags = ["--no-pretrained", "--config", str(config / "extra.toml"), "--references", str(refs)]
    recorded = hubcheck("record", str(repo), *flags)
    assert recorded.code == 0, recorded.stderr + recorded.stdout
    assert sorted(p.parent.name for p in refs.glob("*/default.safetensors")) == ["net_a", "net_b", "small"]

    validated = hubcheck("validate", str(repo), "--device", "cpu", "--format", "json", *flags)
    assert validated.code == 0, validated.stdout
    assert '"status": "failed"' not in validated.stdout and '"status": "skipped"' not in validated.stdout
    assert file_digests(repo) == before

    typo = hubcheck("validate", str(repo), "--device", "cpu", "-e", "small", "--kwarg", "widht=3")
    assert typo.code == 2 and "no selected entry point takes 'widht'" in typo.stderr


def test_every_run_option_and_its_plugin_twin_is_documented():
    readme = (PROJECT / "README.md").read_text()
    for option in RUN_OPTIONS.values():
        assert f"`{option.cli_flag}" in readme, option.cli_flag
        assert f"`{option.plugin_flag}" in readme, option.plugin_flag


@pytest.mark.slow
def test_the_plugin_takes_the_same_run_options(pytester: pytest.Pytester, tmp_path):
    repo = write_repo(pytester.path / "repo", {"hubconf.py": HUBCONF})
    before = file_digests(repo)
    write_repo(tmp_path, {"extra.toml": '[entrypoints."net_*"]\ninputs = [{ shape = [1, 3, 8, 8] }]\n'})
    refs = tmp_path / "refs"
    result = pytester.runpytest_subprocess(
        "--hubcheck-repo", "repo", "--hubcheck-device", "cpu", "--hubcheck-no-pretrained",
        "--hubcheck-config", str(tmp_path / "extra.toml"), "--hubcheck-references", str(refs),
        "--hubcheck-exclude-entrypoints", "net_b", "--hubcheck-update", "-p", "no:cacheprovider", "-v",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*net_a::forward[[]cpu[]] PASSED*", "*net_a::reference[[]cpu[]] PASSED*",
                                 "*small::load[[]cpu[]] PASSED*"])
    assert "net_b" not in result.stdout.str()
    assert sorted(p.parent.name for p in refs.glob("*/default.safetensors")) == ["net_a", "small"]
    assert file_digests(repo) == before
    typo = pytester.runpytest_subprocess("--hubcheck-repo", "repo", "--hubcheck-input", "3,4")
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    typo.stderr.fnmatch_lines(["*--hubcheck-input '3,4': write the shape as sizes joined by x*"])
