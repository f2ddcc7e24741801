"""``hubcheck lint --api-base REF``: a pull request's lint run also reports its API changes from REF.

Every test builds a git repo with two tagged commits (``v1`` with entry points ``tiny`` and
``small``, ``v2`` without ``small``), lint-clean at both so that what fails a run is the API.
"""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from tests.helpers import file_digests, hubcheck, write_repo

ACTOR = git.Actor("Hub Check", "hubcheck@example.com")

V1 = '''
"""Tiny models for the tests."""

dependencies = ["torch"]


def tiny(width: int = 4):
    """A tiny linear model.

    Args:
        width: features in and out.
    """
    import torch

    return torch.nn.Linear(width, width)


def small(width: int = 8):
    """A small linear model.

    Args:
        width: features in and out.
    """
    import torch

    return torch.nn.Linear(width, width)
'''
V2 = V1.split("\n\ndef small", 1)[0] + "\n"


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A checkout at ``v2`` (``small`` removed since ``v1``), with both tags."""
    root = tmp_path / "repo"
    repo = git.Repo.init(root, initial_branch="main")
    for tag, source in (("v1", V1), ("v2", V2)):
        write_repo(root, {"hubconf.py": source})
        repo.git.add("-A")
        repo.index.commit(tag, author=ACTOR, committer=ACTOR)
        repo.create_tag(tag)
    return root


def test_a_removed_entry_point_is_an_error_and_fails_the_run(pr_repo):
    assert hubcheck("lint", str(pr_repo)).code == 0, "the repo itself is lint-clean"
    before = file_digests(pr_repo)
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1")
    assert run.code == 1, run.stdout + run.stderr
    assert "hubconf.py: API001 [error] entry point 'small' was removed" in run.stdout
    assert "against v1 commit" in run.stdout
    assert file_digests(pr_repo) == before


def test_an_addition_in_the_working_tree_is_info_and_exits_0(pr_repo):
    medium = V1.split("\n\ndef small", 1)[1].replace("small", "medium")
    (pr_repo / "hubconf.py").write_text(V1 + "\n\ndef medium" + medium)
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1")
    assert run.code == 0, run.stdout + run.stderr
    assert "API101 [info] entry point 'medium' is new" in run.stdout
    assert "API001" not in run.stdout


def test_a_bad_ref_is_one_line_and_exit_2(pr_repo):
    run = hubcheck("lint", str(pr_repo), "--api-base", "nope")
    assert run.code == 2 and "unknown ref 'nope'" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not run.stdout, run.stderr
    fixable = V2.replace("return torch.nn.Linear(width, width)", 'return torch.load("tiny.pt", map_location="cpu")')
    (pr_repo / "hubconf.py").write_text(fixable)
    assert hubcheck("lint", str(pr_repo), "--diff").code == 1, "HUB202 has a fix to write"
    run = hubcheck("lint", str(pr_repo), "--fix", "--api-base", "nope")
    assert run.code == 2 and (pr_repo / "hubconf.py").read_text() == fixable, "nothing written for a bad ref"


def test_json_carries_the_api_findings_and_the_base(pr_repo):
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1", "--format", "json")
    document = json.loads(run.stdout)
    removed = [f for f in document["findings"] if f["code"] == "API001"]
    assert [(f["severity"], f["entrypoint"], f["path"], f["line"]) for f in removed] == [
        ("error", "small", "hubconf.py", None)]
    assert document["command"] == "lint" and document["summary"]["error"] == 1
    tags = git.Repo(pr_repo).tags
    assert document["repo"]["base"]["ref"] == "v1"
    assert document["repo"]["base"]["commit"] == tags["v1"].commit.hexsha
    assert document["repo"]["commit"] == tags["v2"].commit.hexsha


def test_sarif_github_and_markdown_carry_them(pr_repo):
    sarif = json.loads(hubcheck("lint", str(pr_repo), "--api-base", "v1", "-f", "sarif").stdout)
    run = sarif["runs"][0]
    declared = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {"API001", "HUB101"} <= declared
    assert [result["ruleId"] for result in run["results"]] == ["API001"]
    github = hubcheck("lint", str(pr_repo), "--api-base", "v1", "-f", "github").stdout
    assert "::error file=" in github and "title=API001 entrypoint-removed::entry point 'small' was removed" in github
    markdown = hubcheck("lint", str(pr_repo), "--api-base", "v1", "-f", "markdown").stdout
    assert "| error | API001 entrypoint-removed |" in markdown


def test_api_codes_are_selected_ignored_and_baselined_like_rules(pr_repo, tmp_path):
    assert hubcheck("lint", str(pr_repo), "--api-base", "v1", "--ignore", "API0").code == 0
    assert hubcheck("lint", str(pr_repo), "--api-base", "v1", "--select", "HUB1").code == 1, "--api-base asks for them"
    run = hubcheck("lint", str(pr_repo), "--select", "API001")
    assert run.code == 2 and "--api-base" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1", "--ignore", "API999")
    assert run.code == 2 and "unknown API change code 'API999'" in run.stderr
    baseline = tmp_path / "baseline.json"
    assert hubcheck("lint", str(pr_repo), "--api-base", "v1", "--write-baseline", str(baseline)).code == 0
    assert hubcheck("lint", str(pr_repo), "--api-base", "v1", "--baseline", str(baseline)).code == 0
    (pr_repo / "hubconf.py").write_text(V2.replace("def tiny", "def tiny2"))
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1", "--baseline", str(baseline))
    assert run.code == 1 and "entry point 'tiny' was removed" in run.stdout and "'small'" not in run.stdout


def test_a_git_url_is_compared_at_its_own_ref(pr_repo, tmp_path):
    (pr_repo / "hubconf.py").write_text(V1)  # uncommitted: a clone of the URL does not see it
    env = {"HUBCHECK_CACHE": str(tmp_path / "cache")}
    run = hubcheck("lint", f"git+file://{pr_repo}@v2", "--api-base", "v1", "-f", "json", env=env)
    document = json.loads(run.stdout)
    assert run.code == 1, run.stderr
    assert [f["entrypoint"] for f in document["findings"] if f["code"].startswith("API")] == ["small"]
    assert document["repo"]["base"]["ref"] == "v1" and document["repo"]["ref"] == "v2"


def test_lint_ignore_in_the_config_takes_api_codes(pr_repo):
    (pr_repo / "hubcheck.toml").write_text('[lint]\nignore = ["API001"]\n')
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1")
    assert run.code == 0 and "API001" not in run.stdout, run.stdout + run.stderr
    assert hubcheck("lint", str(pr_repo)).code == 0, "inert without --api-base"
    (pr_repo / "hubcheck.toml").write_text('[lint]\nignore = ["API999"]\n')
    run = hubcheck("lint", str(pr_repo), "--api-base", "v1")
    assert run.code == 2 and "unknown API change code 'API999'" in run.stderr, run.stderr
    (pr_repo / "hubcheck.toml").write_text('[lint]\nselect = ["API0"]\n')
    run = hubcheck("lint", str(pr_repo))
    assert run.code == 2 and "lint.select" in run.stderr and "put it in lint.ignore" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
