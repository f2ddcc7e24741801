"""The pytest plugin as pytest users expect it (issue 14): ids that paste back, one line per update, plain messages."""

from __future__ import annotations

import json
import re

import pytest
from helpers import hubcheck
from test_plugin import prepare, run_pytest

REPO_ITEMS = ("import", "dependencies", "entrypoints", "config", "references")


def test_verbose_node_ids_paste_back(tmp_path):
    directory = prepare(tmp_path / "run", "reference_repo")
    verbose = run_pytest(directory, "--hubcheck", "reference_repo", "-v", "-m", "hubcheck_lint")
    ids = re.findall(r"^(\S+) PASSED", verbose.stdout, re.MULTILINE)
    assert ids == ["reference_repo/hubconf.py::lint"], verbose.stdout
    again = run_pytest(directory, "--hubcheck", ids[0])
    assert again.code == pytest.ExitCode.OK, again.stdout
    assert list(again.items) == ids


def test_a_directory_without_hubconf_is_named(tmp_path):
    directory = prepare(tmp_path / "run")
    (directory / "some" / "dir").mkdir(parents=True)
    run = run_pytest(directory, "--hubcheck", "some/dir")
    assert run.code == pytest.ExitCode.USAGE_ERROR
    assert "no hub repo to check: some/dir holds no hubconf.py" in run.stdout


@pytest.mark.slow
def test_update_prints_each_recorded_reference_once(tmp_path):
    directory = prepare(tmp_path / "run", "reference_repo")
    for path in (directory / "reference_repo" / "hubcheck_refs" / "DCGAN").iterdir():
        path.unlink()
    run = run_pytest(directory, "--hubcheck", "reference_repo", "-m", "hubcheck_reference", "-k", "DCGAN and cpu",
                     "--hubcheck-update")
    assert run.code == pytest.ExitCode.OK, run.stdout
    assert run.stdout.count("created hubcheck_refs/DCGAN/default.safetensors") == 1, run.stdout


@pytest.mark.slow
def test_cli_and_plugin_count_repo_level_checks_alike(tmp_path):
    directory = prepare(tmp_path / "run", "reference_repo")
    marks = " or ".join(f"hubcheck_{check}" for check in REPO_ITEMS)
    plugin = run_pytest(directory, "--hubcheck", "reference_repo", "-m", marks)
    cli = hubcheck("validate", "reference_repo", "-e", "custom_model", "-d", "cpu", "-f", "json", cwd=directory)
    repo_checks = {c["check"]: c["status"] for c in json.loads(cli.stdout)["checks"] if c["entrypoint"] is None}
    items = {node.rsplit("::", 1)[1]: item["outcome"] for node, item in plugin.items.items()}
    assert repo_checks == items == dict.fromkeys(REPO_ITEMS, "passed")
