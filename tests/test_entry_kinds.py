"""Entry points that are not plain nn.Modules, forward reported as not verified, and the plugin on par with the CLI.

``fixtures/non_module_entrypoints`` holds a pytorch_GAN_zoo-style wrapper, a (model, function) tuple, a loss
module and a module whose input nothing states; its ``expected.json`` is what ``hubcheck validate`` reports.
"""

from __future__ import annotations

import json
import sys

import pytest

from hubcheck.worker.entry_kinds import is_gan_wrapper, is_loss, subject_of
from tests.helpers import FIXTURES, PROJECT, hubcheck, write_repo

sys.path.insert(0, str(PROJECT / "benchmarks" / "realworld"))
import validate_parity  # the parity script lives with the corpus it runs on

KINDS = FIXTURES / "non_module_entrypoints"
EXPECTED = json.loads((KINDS / "expected.json").read_text())
ONLY_CORE = ("--check", "none")
"""load, forward, determinism, state dict and reference: what each kind defines (the model checks have their tests)."""


def _check_id(check: dict) -> str:
    head = f"{check['entrypoint']}::{check['check']}"
    return f"{head}[{check['device']}]" if check["device"] else head


def test_each_kind_is_read_as_documented():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(4, 2)
    element = subject_of((model, print))
    assert element.model is model and element.kind == "element" and "element [0] (Linear)" in element.note
    assert subject_of([print, model]).note.startswith("returned a list of 2 items; element [1] (Linear)")
    assert subject_of((print, len)).kind == "object" and subject_of(model).note == ""
    assert is_loss(torch.nn.MSELoss()) and not is_loss(model) and not is_gan_wrapper(model)


@pytest.mark.slow
def test_validate_checks_every_kind_and_counts_what_was_not_verified():
    run = hubcheck("validate", str(KINDS), "--device", "cpu", "--format", "json", *ONLY_CORE)
    assert run.code == EXPECTED["exit_code"], run.stdout[-3000:] + run.stderr
    report = json.loads(run.stdout)
    checks = {_check_id(check): check for check in report["checks"]}
    for cid, (status, fragment) in EXPECTED["checks"].items():
        assert checks[cid]["status"] == status, f"{cid}: {checks[cid]}"
        assert fragment in checks[cid]["message"], f"{cid}: {checks[cid]['message']}"
    assert report["summary"]["not_verified"] == 1 and report["summary"]["strict"] is False

    table = hubcheck("validate", str(KINDS), "--device", "cpu", "-e", "activation", *ONLY_CORE)
    assert table.code == 0, table.stdout
    assert "NOT VERIFIED activation::forward[cpu]: " in table.stdout
    assert ", 1 not verified; 0 lint findings" in table.stdout

    strict = hubcheck("validate", str(KINDS), "--device", "cpu", "--format", "github", "--strict", "-e", "activation",
                      *ONLY_CORE)
    assert strict.code == EXPECTED["strict_exit_code"], strict.stdout
    assert "::error file=" in strict.stdout and "title=hubcheck activation%3A%3Aforward[cpu] not verified::" in strict.stdout


@pytest.mark.slow
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_the_plugin_gives_the_cli_verdicts(strict):
    flags = (*ONLY_CORE, *(("--strict",) if strict else ()))
    comparison = validate_parity.compare(validate_parity.Repo("non_module_entrypoints", KINDS, flags), timeout=300)
    assert comparison.differences == []
    assert len(comparison.cli) > 25
    assert comparison.cli[("activation", "forward", "cpu")] == "not-verified"
    expected_exit = EXPECTED["strict_exit_code"] if strict else EXPECTED["exit_code"]
    assert (comparison.cli_exit, comparison.plugin_exit) == (expected_exit, expected_exit)


@pytest.mark.slow
def test_pytest_counts_not_verified_and_leads_to_hubcheck_repo(pytester: pytest.Pytester):
    repo = write_repo(pytester.path / "repo", {
        "hubconf.py": (KINDS / "hubconf.py").read_text(),
        "test_cli_script.py": "import argparse\nargparse.ArgumentParser().parse_args(['--bogus'])\n",
    })
    mixed = pytester.runpytest_subprocess("--hubcheck", "repo", "--hubcheck-device", "cpu",
                                          "--hubcheck-entrypoint", "activation", "-p", "no:cacheprovider")
    output = mixed.stdout.str()
    assert "INTERNALERROR" not in output
    assert "test_cli_script.py called sys.exit(2) when pytest imported it" in output
    mixed.stdout.fnmatch_lines([("*1 of repo's own test files failed to collect (repo/test_cli_script.py)*"
                                 "To run only the hub checks, run: pytest --hubcheck-repo repo")])

    (repo / "test_cli_script.py").unlink()  # pytest collects the current directory, which holds the repo
    only = pytester.runpytest_subprocess("--hubcheck-repo", str(repo), "--hubcheck-device", "cpu",
                                         "--hubcheck-entrypoint", "activation", "--hubcheck-check", "none",
                                         "-p", "no:cacheprovider", "-rs")
    assert only.ret == pytest.ExitCode.OK, only.stdout.str()
    only.stdout.fnmatch_lines(["*= hubcheck: not verified (fails with --hubcheck-strict) =*",
                               ("NOT VERIFIED *::activation::forward[[]cpu[]]: not verified: no example input declared*"
                               "--input SHAPE[[]:DTYPE[]]*"),
                               "* passed, * skipped, 1 not verified in *"])


def test_not_verified_fails_a_report_only_under_strict():
    from hubcheck.report.rendering import render_report
    from hubcheck.results import CheckResult, Report, Status

    checks = (CheckResult("net", "forward", "cpu", Status.NOT_VERIFIED, "the input must be declared"),)
    lenient, strict = Report("validate", {"path": "/r"}, checks=checks), Report("validate", {"path": "/r"},
                                                                                   checks=checks, strict=True)
    assert not lenient.failed and lenient.exit_code == 0 and strict.failed and strict.exit_code == 1
    assert '<skipped message="not verified: the input must be declared"' in render_report(lenient, "junit")
    assert '<failure message="not verified: the input must be declared"' in render_report(strict, "junit")
    assert json.loads(render_report(strict, "json"))["summary"]["not_verified"] == 1
    assert "0 passed, 0 failed, 0 skipped, 1 not verified" in render_report(lenient, "markdown")


def test_a_blocked_download_is_offered_only_the_flags_that_reach_the_entry_point():
    import inspect

    from hubcheck.worker.checks import describe_exception
    from hubcheck.worker.netguard import NetworkBlocked

    def named(pretrained=True): ...
    def via_kwargs(progress=True, **kwargs): ...
    def fixed(progress=True): ...

    def hint(entry) -> str:
        return describe_exception(NetworkBlocked("download.pytorch.org"), "/repo", lambda: inspect.signature(entry))

    assert "pass --no-pretrained" in hint(named)
    assert "pass --kwarg pretrained=False if its **kwargs take one" in hint(via_kwargs)
    assert "--no-pretrained" not in hint(via_kwargs) and "--no-pretrained" not in hint(fixed)
    assert "has no `pretrained` parameter: pre-fetch the weights into a torch home (--torch-home)" in hint(fixed)
