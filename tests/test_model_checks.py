"""The model checks (issue 15): selection, and each check passing and failing real models in real workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from helpers import FIXTURES, PROJECT, hubcheck, write_repo

from hubcheck.config import load_config
from hubcheck.errors import ConfigError, UsageError
from hubcheck.model_checks import DEFAULT_IDS, IDS, MODEL_CHECKS, check_names_problem, selected
from hubcheck.run_options import build_overrides

CHECK_FIXTURES = FIXTURES / "checks"


def _fixture_repos() -> list[Path]:
    return sorted(path.parent for path in CHECK_FIXTURES.rglob("expected.toml"))


def _validate(repo: Path, *checks: str):
    torch = pytest.importorskip("torch")
    del torch
    from hubcheck.resolve import resolve
    from hubcheck.validate import ValidateOptions, validate_repo

    options = ValidateOptions(lint=False, overrides=build_overrides(checks=list(checks)) if checks else
                              build_overrides())
    return validate_repo(resolve(str(repo)), options)


# -- selection -----------------------------------------------------------------------------


def test_every_check_is_declared_once_with_a_marker_and_a_documented_cost():
    assert len(IDS) == len(set(IDS)) == 9
    readme = (PROJECT / "README.md").read_text()
    for check in MODEL_CHECKS:
        assert check.marker == "hubcheck_" + check.id.replace("-", "_")
        assert check.description and check.cost
        assert f"| `{check.id}` |" in readme, f"README's model check table lacks {check.id}"


def test_selection_words():
    assert selected(None, None) == DEFAULT_IDS
    assert selected(None, ("backward",)) == ("backward",)
    assert selected(("threads",), ("backward",)) == ("threads",), "--check replaces [validate] checks"
    assert selected(("all",), None) == IDS
    assert selected(("none",), ("backward",)) == ()
    assert selected(("compile", "default"), None) == tuple(c for c in IDS if c in {*DEFAULT_IDS, "compile"})
    assert check_names_problem(["torchscirpt"]) == (
        "unknown check 'torchscirpt' (did you mean 'torchscript'?); known: " + ", ".join(IDS) + ", or all, default, none")


def test_config_and_flags_refuse_unknown_checks_with_one_line(tmp_path):
    write_repo(tmp_path, {"hubconf.py": "dependencies = []\n", "hubcheck.toml": '[validate]\nchecks = ["backwards"]\n'})
    with pytest.raises(ConfigError, match=r"validate\.checks.*unknown check 'backwards' \(did you mean 'backward'\?\)"):
        load_config(tmp_path)
    write_repo(tmp_path, {"hubcheck.toml": '[validate]\nchecks = ["backward", "all"]\n'})
    assert load_config(tmp_path).validate.checks == ("backward", "all")
    with pytest.raises(UsageError, match=r"^--hubcheck-check: unknown check 'jit'"):
        build_overrides(checks=["jit"], flag_prefix="--hubcheck-")
    run = hubcheck("validate", str(tmp_path), "--check", "expor")
    assert run.code == 2 and "Traceback" not in run.stderr
    assert "--check: unknown check 'expor' (did you mean 'export'?)" in run.stderr


# -- each check on its fixture: one entry point passes it, one fails it for the stated reason ----------


@pytest.mark.slow
@pytest.mark.parametrize("repo", _fixture_repos(), ids=lambda repo: repo.relative_to(CHECK_FIXTURES).as_posix())
def test_each_check_passes_and_fails_its_fixture_for_the_stated_reason(repo: Path):
    check = repo.relative_to(CHECK_FIXTURES).parts[0]
    expected = tomllib.loads((repo / "expected.toml").read_text())
    report = _validate(repo)
    results = {r.entrypoint: r for r in report.checks if r.check == check}
    assert set(results) == set(expected), [(r.entrypoint, r.check, r.status, r.message) for r in report.checks]
    for entrypoint, outcome in expected.items():
        result = results[entrypoint]
        assert (result.status.value, result.device) == (outcome["status"], "cpu"), result.message
        fragments = outcome["message"] if isinstance(outcome["message"], list) else [outcome["message"]]
        assert all(fragment in result.message for fragment in fragments), result.message
    # Only the chosen check was added: the fixture's other checks are validate's own.
    assert {r.check for r in report.checks} & set(IDS) == {check}


def test_every_check_has_a_passing_and_a_failing_fixture():
    outcomes: dict[str, set[str]] = {}
    for repo in _fixture_repos():
        check = repo.relative_to(CHECK_FIXTURES).parts[0]
        for outcome in tomllib.loads((repo / "expected.toml").read_text()).values():
            outcomes.setdefault(check, set()).add(outcome["status"])
    assert outcomes == {check: {"passed", "failed"} for check in IDS}


@pytest.mark.slow
def test_reference_repo_passes_every_check_that_applies():
    report = _validate(PROJECT / "reference_repo", "all")
    model_results = [r for r in report.checks if r.check in IDS]
    assert len(model_results) == 2 * len(IDS)
    failed = [(r.entrypoint, r.check, r.message) for r in model_results if r.status.value == "failed"]
    assert not failed
    skipped = {(r.entrypoint, r.check): r.message for r in model_results if r.status.value == "skipped"}
    # What does not apply, and why: MLP inputs are 2-D; DCGAN runs its `test` method, an inference API.
    assert set(skipped) == {("custom_model", "channels-last"), ("DCGAN", "channels-last"), ("DCGAN", "backward"),
                            ("DCGAN", "torchscript"), ("DCGAN", "export")}
    assert "no 4-D float input" in skipped[("custom_model", "channels-last")]
    assert "runs its method 'test'" in skipped[("DCGAN", "export")]


def test_the_judge_decides_whatever_the_repo_patches(tmp_path):
    """A model that mixes rows and replaces torch's comparisons in its own process still fails."""
    repo = write_repo(tmp_path / "repo", {
        "hubconf.py": '''
            """Mixes rows across the batch, and makes every comparison in its process say "equal"."""
            dependencies = ["torch"]
            import torch

            torch.isclose = lambda a, b, **kwargs: torch.ones_like(a, dtype=torch.bool)
            torch.equal = lambda a, b: True
            torch.allclose = lambda *args, **kwargs: True


            class _Mixer(torch.nn.Module):
                def forward(self, x):
                    return x - x.mean(dim=0, keepdim=True)


            def mixer():
                """Subtracts the batch mean."""
                return _Mixer()
            ''',
        "hubcheck.toml": '[validate]\ndevices = ["cpu"]\nchecks = ["batch-invariance"]\n\n'
                         '[entrypoints.mixer]\ninputs = [{ shape = [3, 2] }]\n',
    })
    (result,) = [r for r in _validate(repo).checks if r.check == "batch-invariance"]
    assert result.status.value == "failed"
    assert "of a batch of 3 give other outputs alone than in the batch" in result.message


@pytest.mark.slow
def test_the_plugin_collects_one_item_per_check_with_its_marker(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess(
        "--hubcheck-repo", str(CHECK_FIXTURES / "backward"), "--hubcheck-check", "backward", "-m", "hubcheck_backward",
        "-p", "no:cacheprovider", "-v",
    )
    result.stdout.fnmatch_lines(["*fails::backward[[]cpu[]] FAILED*", "*passes::backward[[]cpu[]] PASSED*",
                                 "*unused_head.weight, unused_head.bias*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "threads[" not in result.stdout.str(), "--hubcheck-check replaces the default set"
