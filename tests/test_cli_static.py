"""The static commands from the outside: list, help, lint, rules; exit codes, formats, no repo code run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hubcheck.rules import ALL_RULES
from tests.helpers import PROJECT, hubcheck, write_repo

REFERENCE = str(PROJECT / "reference_repo")

LEAKY = '''
"""A repo with a leaked import, a missing docstring and a cwd-relative weights path."""
dependencies = ["torch"]

import torch
from torch.hub import load_state_dict_from_url


def net(pretrained=True):
    return torch.load("weights.pth", map_location="cpu", weights_only=True) if pretrained else None
'''

MARKER_HUBCONF = '''
"""Writes a marker file when imported: static commands must never import it."""
import os
open(os.environ["HUBCHECK_TEST_MARKER"], "w").write("imported")
dependencies = ["torch"]


def model():
    """A model."""
    return None
'''


@pytest.fixture
def leaky(tmp_path):
    return write_repo(tmp_path / "leaky", {"hubconf.py": LEAKY})


def test_list_json_names_the_entrypoints_with_repo_and_flags(leaky):
    run = hubcheck("list", str(leaky), "--format", "json")
    assert run.code == 0, run.stderr
    listing = json.loads(run.stdout)
    assert listing["repo"]["path"] == str(leaky)
    assert listing["complete"] is True
    by_name = {e["name"]: e for e in listing["entrypoints"]}
    assert set(by_name) == {"load_state_dict_from_url", "net"}
    assert by_name["load_state_dict_from_url"]["leaked"] is True
    assert by_name["net"] == {"name": "net", "kind": "function", "signature": "(pretrained=True)", "doc": None,
                              "line": 8, "leaked": False, "dynamic": False}


def test_list_table_on_the_reference_repo():
    run = hubcheck("list", REFERENCE)
    assert run.code == 0
    assert "custom_model" in run.stdout and "DCGAN" in run.stdout


def test_help_prints_the_docstring_and_suggests_close_names():
    run = hubcheck("help", REFERENCE, "custom_model")
    assert run.code == 0
    assert run.stdout.startswith("The PyTorch Hub tutorial's MLP")
    unknown = hubcheck("help", REFERENCE, "custom_modle")
    assert unknown.code == 2
    assert "did you mean 'custom_model'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_help_without_docstring_exits_1(leaky):
    run = hubcheck("help", str(leaky), "net")
    assert run.code == 1
    assert "torch.hub.help returns None" in run.stderr


def test_lint_text_output_and_exit_codes(leaky):
    run = hubcheck("lint", str(leaky))
    assert run.code == 1
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"{leaky}/hubconf.py:5:") and "HUB103" in line for line in lines)
    assert any("HUB101" in line for line in lines) and any("HUB203" in line for line in lines)
    assert any(line.strip().startswith("fix:") for line in lines)
    assert "Found 3 problems" in lines[-1] and str(leaky) in lines[-1]
    assert hubcheck("lint", str(leaky), "--exit-zero").code == 0
    assert hubcheck("lint", str(leaky), "--select", "HUB3").code == 0
    assert hubcheck("lint", str(leaky), "--ignore", "HUB1,HUB203").code == 0


def test_lint_paths_are_relative_to_the_working_directory(leaky):
    run = hubcheck("lint", ".", cwd=leaky)
    assert any(line.startswith("hubconf.py:") for line in run.stdout.splitlines())


def test_lint_json(leaky):
    run = hubcheck("lint", str(leaky), "--format", "json")
    report = json.loads(run.stdout)
    assert report["summary"] == {"total": 3, "error": 1, "warning": 2, "info": 0}
    finding = next(f for f in report["findings"] if f["code"] == "HUB203")
    assert set(finding) == {"code", "name", "severity", "message", "path", "line", "column", "entrypoint", "fix",
                           "fingerprint"}
    assert finding["path"] == "hubconf.py" and finding["entrypoint"] == "net" and finding["severity"] == "error"


def test_lint_sarif_has_the_shape_github_code_scanning_requires(leaky, tmp_path):
    output = tmp_path / "out" / "lint.sarif"
    run = hubcheck("lint", str(leaky), "--format", "sarif", "--output", str(output))
    assert run.code == 1 and run.stdout == ""
    sarif = json.loads(output.read_text())
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = sarif["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "hubcheck" and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == [rule.code for rule in ALL_RULES]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run_["results"]) == 3
    for result in run_["results"]:
        assert result["ruleId"] in rule_ids and driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("hubconf.py")
        assert isinstance(physical["region"]["startLine"], int) and physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]


def test_lint_github_annotations(leaky):
    run = hubcheck("lint", str(leaky), "--format", "github")
    annotations = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 3
    assert any(line.startswith(f"::error file={leaky}/hubconf.py,line=9,col=") and "HUB203" in line
               for line in annotations)
    assert any(line.startswith("::warning ") for line in annotations)


def test_lint_of_a_directory_without_hubconf_reports_hub001(tmp_path):
    run = hubcheck("lint", str(tmp_path))
    assert run.code == 1 and "HUB001" in run.stdout


@pytest.mark.parametrize("args", [
    ["list", "/no/such/dir"],
    ["lint", "./missing"],
    ["list", "a/b/c"],
    ["lint", ".", "--select", "HUB999"],
    ["rules", "HUB999"],
    ["lint", ".", "--format", "xml"],
])
def test_usage_and_resolution_errors_exit_2_with_one_line(args, tmp_path):
    run = hubcheck(*args, cwd=tmp_path)
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    if args[0] != "lint" or "--format" not in args:
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_list_of_a_dir_without_hubconf_exits_2(tmp_path):
    run = hubcheck("list", str(tmp_path))
    assert run.code == 2 and "no hubconf.py" in run.stderr


def test_list_of_a_broken_hubconf_exits_1_with_the_position(tmp_path):
    write_repo(tmp_path, {"hubconf.py": "def broken(:\n    pass\n"})
    run = hubcheck("list", str(tmp_path))
    assert run.code == 1 and "hubconf.py:1:" in run.stderr and "does not parse" in run.stderr


def test_rules_list_and_explain():
    listing = hubcheck("rules")
    assert listing.code == 0
    for rule in ALL_RULES:
        assert rule.code in listing.stdout
    explained = hubcheck("rules", "hub203")
    assert explained.code == 0
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## References"):
        assert section in explained.stdout
    as_json = json.loads(hubcheck("rules", "HUB203", "--format", "json").stdout)
    assert as_json["code"] == "HUB203" and as_json["severity"] == "error"


def test_static_commands_never_run_repo_code(tmp_path):
    repo = write_repo(tmp_path / "marker", {"hubconf.py": MARKER_HUBCONF})
    marker = tmp_path / "marker.txt"
    env = {"HUBCHECK_TEST_MARKER": str(marker)}
    for args in (["list", str(repo)], ["lint", str(repo)], ["help", str(repo), "model"], ["list", str(repo), "--format", "json"]):
        run = hubcheck(*args, env=env)
        assert run.code in (0, 1), run.stderr
        assert not marker.exists(), args
    assert hubcheck("list", str(repo), "--dynamic", env=env).code == 0
    assert marker.read_text() == "imported"


def test_static_commands_do_not_import_torch(leaky):
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from hubcheck.cli.app import app\n"
        f"for args in (['--help'], ['list', {str(leaky)!r}], ['lint', {str(leaky)!r}], ['rules', 'HUB203'],"
        f" ['help', {str(leaky)!r}, 'net']):\n"
        "    CliRunner().invoke(app, args)\n"
        "print(sorted(m for m in ('torch', 'safetensors', 'numpy', 'git') if m in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_version_and_python_m():
    run = hubcheck("--version")
    assert run.code == 0 and run.stdout.startswith("hubcheck ")


@pytest.mark.parametrize("repo", [PROJECT / "reference_repo", PROJECT], ids=["reference_repo", "project_root"])
def test_the_reference_repo_and_the_project_lint_clean(repo):
    run = hubcheck("lint", str(repo), "--format", "json")
    assert run.code == 0, run.stdout
    assert json.loads(run.stdout)["findings"] == []


def test_a_virtualenv_inside_the_repo_is_not_repo_code(tmp_path):
    """Users keep .venv in their repo: what it installs is third-party, however deep its imports go."""
    repo = write_repo(tmp_path / "repo", {
        "hubconf.py": '''
            """Imports a package that lives in the repo's own virtualenv."""
            dependencies = ["torch"]

            import deepchain


            def model():
                """A model."""
                return deepchain.build()
        ''',
    })
    site = repo / ".venv" / "lib" / "python3.11" / "site-packages"
    # A chain of imports far deeper than Python's recursion limit, as a real site-packages can hold.
    (site / "deepchain").mkdir(parents=True)
    (site / "deepchain" / "__init__.py").write_text("from deepchain.m0 import build\n")
    for level in range(1200):
        (site / "deepchain" / f"m{level}.py").write_text(
            f"from deepchain.m{level + 1} import build\n" if level < 1199 else "def build():\n    return None\n")
    run = hubcheck("lint", str(repo), "--format", "json", env={"PYTHONPATH": str(site)})
    assert run.code == 1, run.stderr
    codes = [f["code"] for f in json.loads(run.stdout)["findings"]]
    assert codes == ["HUB007"]  # deepchain is third-party and undeclared, not a repo module


def test_list_dynamic_lists_despite_missing_dependencies_and_fails_on_a_broken_import(tmp_path):
    """torch.hub.list imports hubconf but never checks `dependencies`; only a failed import stops it."""
    listed = write_repo(tmp_path / "listed", {"hubconf.py": '''
        """Declares a dependency that is not installed."""
        dependencies = ["hubcheck_not_installed_pkg"]


        def model():
            """A model."""
    '''})
    run = hubcheck("list", str(listed), "--dynamic", "--format", "json")
    assert run.code == 0, run.stderr
    assert [e["name"] for e in json.loads(run.stdout)["entrypoints"]] == ["model"]
    broken = write_repo(tmp_path / "broken", {"hubconf.py": "import hubcheck_not_installed_pkg\n"})
    failed = hubcheck("list", str(broken), "--dynamic")
    assert failed.code == 1
    assert failed.stderr.strip() == ("hubcheck: error: importing hubconf.py failed: ModuleNotFoundError: "
                                     "No module named 'hubcheck_not_installed_pkg' (at hubconf.py:1)")
