"""Every command on git sources: git+file URLs at branches, tags and commits, and the GitHub shorthand."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from tests.helpers import hubcheck

ACTOR = git.Actor("Hub Check", "hubcheck@example.com")

V1 = '''
"""Version 1: one entry point."""
dependencies = ["torch"]

import torch


def tiny(pretrained=True):
    """A tiny linear model.

    Args:
        pretrained: ignored; the layer is seeded.
    """
    torch.manual_seed(0)
    return torch.nn.Linear(4, 2).eval()
'''
V2 = V1.replace("Version 1: one entry point.", "Version 2: two entry points.") + '''

def tinier(pretrained=True):
    """An even tinier model.

    Args:
        pretrained: ignored.
    """
    return tiny(pretrained)
'''
CONFIG_V1 = '[entrypoints.tiny]\ninputs = [ { shape = [2, 4] } ]\n'
CONFIG_V2 = CONFIG_V1 + '[entrypoints.tinier]\ninputs = [ { shape = [2, 4] } ]\n'


def _commit(repo: git.Repo, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (Path(repo.working_tree_dir) / name).write_text(text)
        repo.index.add([name])
    return repo.index.commit(message, author=ACTOR, committer=ACTOR).hexsha


@pytest.fixture
def published(tmp_path: Path) -> dict[str, str]:
    """A hub repo with v1 tagged and v2 on main, published as a bare mirror at <tmp>/mirror/acme/tiny.git."""
    work = git.Repo.init(tmp_path / "work", initial_branch="main")
    first = _commit(work, {"hubconf.py": V1, "hubcheck.toml": CONFIG_V1}, "v1")
    work.create_tag("v1")
    second = _commit(work, {"hubconf.py": V2, "hubcheck.toml": CONFIG_V2}, "v2")
    mirror = tmp_path / "mirror" / "acme" / "tiny.git"
    git.Repo.clone_from(str(tmp_path / "work"), str(mirror), bare=True)
    return {"url": f"git+file://{mirror}", "v1": first, "v2": second, "base": f"file://{tmp_path / 'mirror'}",
            "cache": str(tmp_path / "cache")}


def _env(published: dict[str, str]) -> dict[str, str]:
    return {"HUBCHECK_CACHE": published["cache"], "HUBCHECK_GITHUB_URL": published["base"]}


@pytest.mark.parametrize(("ref", "names"), [("@v1", ["tiny"]), ("@main", ["tinier", "tiny"]), ("", ["tinier", "tiny"])])
def test_list_at_branches_tags_and_the_default_branch(published, ref, names):
    run = hubcheck("list", published["url"] + ref, "--format", "json", env=_env(published))
    assert run.code == 0, run.stderr
    listing = json.loads(run.stdout)
    assert [e["name"] for e in listing["entrypoints"]] == names
    expected_commit = published["v1"] if ref == "@v1" else published["v2"]
    assert listing["repo"]["commit"] == expected_commit


def test_list_at_a_commit_and_an_abbreviated_one(published):
    for ref in (published["v1"], published["v1"][:8]):
        run = hubcheck("list", f"{published['url']}@{ref}", "--format", "json", env=_env(published))
        assert run.code == 0, run.stderr
        assert [e["name"] for e in json.loads(run.stdout)["entrypoints"]] == ["tiny"]


def test_help_and_lint_on_the_github_shorthand(published):
    env = _env(published)
    help_run = hubcheck("help", "acme/tiny:v1", "tiny", env=env)
    assert help_run.code == 0 and help_run.stdout.startswith("A tiny linear model.")
    lint = hubcheck("lint", "acme/tiny", "--format", "json", env=env)
    assert lint.code == 0, lint.stdout
    report = json.loads(lint.stdout)
    assert report["repo"]["kind"] == "github" and report["repo"]["commit"] == published["v2"]
    text = hubcheck("lint", "acme/tiny:v1", env=env)
    assert published["v1"] in text.stdout and "No problems found." in text.stdout


@pytest.mark.slow
def test_validate_and_record_on_a_tag_report_the_commit(published):
    env = _env(published)
    run = hubcheck("validate", f"{published['url']}@v1", "--device", "cpu", "--format", "json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["repo"]["commit"] == published["v1"] and report["repo"]["ref"] == "v1"
    assert {c["check"] for c in report["checks"] if c["status"] == "passed"} >= {"load", "forward", "determinism"}


def test_an_unknown_ref_exits_2_listing_the_refs(published):
    run = hubcheck("list", f"{published['url']}@v9", env=_env(published))
    assert run.code == 2
    assert "v9" in run.stderr and "v1" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_refresh_sees_a_new_commit(published, tmp_path):
    env = _env(published)
    listed = json.loads(hubcheck("list", "acme/tiny:main", "--format", "json", env=env).stdout)
    assert [e["name"] for e in listed["entrypoints"]] == ["tinier", "tiny"]
    work = git.Repo(tmp_path / "work")
    _commit(work, {"hubconf.py": V2 + '\n\ndef third():\n    """A third."""\n    return None\n'}, "v3")
    work.git.push(str(tmp_path / "mirror" / "acme" / "tiny.git"), "main")
    stale = json.loads(hubcheck("list", "acme/tiny:main", "--format", "json", env=env).stdout)
    assert "third" not in [e["name"] for e in stale["entrypoints"]]
    fresh = json.loads(hubcheck("list", "acme/tiny:main", "--refresh", "--format", "json", env=env).stdout)
    assert "third" in [e["name"] for e in fresh["entrypoints"]]
