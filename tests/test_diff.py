"""``hubcheck diff``: API changes between two tagged commits of git repos the tests build.

Each fixture ``fixtures/diff/NAME`` holds the hubconf.py of ``v1`` and of ``v2`` and an
``expected.json`` listing every change as ``"line:CODE:entrypoint"`` (line 0 for what is
gone from v2); the comparison is exact.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import git
import pytest

from hubcheck.api_diff import CHANGE_KINDS, compare, diff_repo
from hubcheck.resolve import parse_spec
from hubcheck.static.reader import read_hubconf
from tests.helpers import FIXTURES, file_digests, hubcheck, write_repo

ACTOR = git.Actor("Hub Check", "hubcheck@example.com")
DIFF_FIXTURES = FIXTURES / "diff"


def _tagged_repo(root: Path, versions: list[tuple[str, Path]]) -> git.Repo:
    """A git repo at ``root`` with one commit per (tag, directory whose files it holds)."""
    repo = git.Repo.init(root, initial_branch="main")
    for tag, source in versions:
        for path in root.iterdir():
            if path.name != ".git":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        shutil.copytree(source, root, dirs_exist_ok=True)
        repo.git.add("-A")
        repo.index.commit(tag, author=ACTOR, committer=ACTOR)
        repo.create_tag(tag)
    return repo


@pytest.fixture
def breaking(tmp_path: Path) -> Path:
    fixture = DIFF_FIXTURES / "breaking"
    _tagged_repo(tmp_path / "repo", [("v1", fixture / "v1"), ("v2", fixture / "v2")])
    return tmp_path / "repo"


def _listed(findings) -> list[str]:
    return sorted(f"{f.line or 0}:{f.code}:{f.entrypoint or ''}" for f in findings)


@pytest.mark.parametrize("name", ["breaking", "compatible"])
def test_fixture_changes_are_exactly_the_expected_ones(name, tmp_path):
    fixture = DIFF_FIXTURES / name
    _tagged_repo(tmp_path / "repo", [("v1", fixture / "v1"), ("v2", fixture / "v2")])
    compared = diff_repo(parse_spec(str(tmp_path / "repo")), "v1", "v2")
    assert _listed(compared.findings) == sorted(json.loads((fixture / "expected.json").read_text())["findings"])
    assert compared.base.ref == "v1" and compared.head.ref == "v2"


def test_breaking_changes_exit_1_and_say_what_broke(breaking):
    run = hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2")
    assert run.code == 1, run.stderr
    assert "API007 [error] resnet18() default of 'pretrained' flipped from True to False" in run.stdout
    assert "entry point 'old_name' was removed (renamed to 'new_name'?)" in run.stdout
    assert "with_transform() now returns a tuple of 2 instead of an object" in run.stdout
    assert "against v1 commit" in run.stdout
    assert hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2", "--exit-zero").code == 0


def test_compatible_changes_exit_0(tmp_path):
    fixture = DIFF_FIXTURES / "compatible"
    _tagged_repo(tmp_path / "repo", [("v1", fixture / "v1"), ("v2", fixture / "v2")])
    run = hubcheck("diff", str(tmp_path / "repo"), "--base", "v1", "--head", "v2")
    assert run.code == 0, run.stdout + run.stderr
    assert "API101 [info] entry point 'make_pair' is new" in run.stdout


def test_every_format_carries_the_changes(breaking):
    sarif = json.loads(hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2", "-f", "sarif").stdout)
    run = sarif["runs"][0]
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == {kind.code for kind in CHANGE_KINDS}
    assert {result["ruleId"] for result in run["results"]} >= {"API001", "API007", "API008"}
    report = json.loads(hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2", "-f", "json").stdout)
    assert report["command"] == "diff" and report["summary"]["error"] == 9
    assert report["repo"]["base"]["ref"] == "v1" and report["repo"]["head"]["ref"] == "v2"
    github = hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2", "-f", "github").stdout
    assert "::error file=hubconf.py,line=17,col=1,title=API007 pretrained-default-flipped::" in github
    markdown = hubcheck("diff", str(breaking), "--base", "v1", "--head", "v2", "-f", "markdown").stdout
    assert markdown.startswith("## hubcheck diff: failed")
    assert "| error | API001 entrypoint-removed | `hubconf.py` | entry point 'gone' was removed |" in markdown


def test_the_working_tree_is_the_default_head_and_the_checkout_is_untouched(breaking):
    (breaking / "hubconf.py").write_text((breaking / "hubconf.py").read_text() + "\n\ndef extra():\n    return 1\n")
    repo = git.Repo(breaking)
    before, head, status = file_digests(breaking), repo.head.commit.hexsha, repo.git.status("--porcelain")
    run = hubcheck("diff", str(breaking), "--base", "v2", "-f", "json")
    report = json.loads(run.stdout)
    assert [f["code"] for f in report["findings"]] == ["API101"]
    assert report["repo"]["head"] == {"ref": "working tree", "commit": head, "dirty": True}
    assert file_digests(breaking) == before
    assert repo.head.commit.hexsha == head and repo.git.status("--porcelain") == status


def test_a_git_url_compares_two_refs_of_the_clone(breaking, tmp_path):
    env = {"HUBCHECK_CACHE": str(tmp_path / "cache")}
    run = hubcheck("diff", f"git+file://{breaking}@v2", "--base", "v1", "-f", "json", env=env)
    assert run.code == 1, run.stderr
    assert _listed_json(run.stdout) == sorted(json.loads((DIFF_FIXTURES / "breaking" / "expected.json").read_text())
                                              ["findings"])


def _listed_json(stdout: str) -> list[str]:
    return sorted(f"{f['line'] or 0}:{f['code']}:{f['entrypoint'] or ''}" for f in json.loads(stdout)["findings"])


def test_a_hub_repo_in_a_subdirectory_of_the_work_tree(tmp_path):
    fixture = DIFF_FIXTURES / "compatible"
    for tag in ("v1", "v2"):
        shutil.copytree(fixture / tag, tmp_path / tag / "hub")
        (tmp_path / tag / "README.md").write_text("outside the hub repo\n")
    _tagged_repo(tmp_path / "repo", [("v1", tmp_path / "v1"), ("v2", tmp_path / "v2")])
    run = hubcheck("diff", str(tmp_path / "repo" / "hub"), "--base", "v1", "--head", "v2", "-f", "json")
    assert _listed_json(run.stdout) == ["10:API102:model", "20:API101:make_pair"], run.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--base", "nope"), "unknown ref 'nope'"),
    (("--base", "--upload-pack=x"), "invalid ref"),
    (("--base", "v1", "--head", "v9"), "unknown ref 'v9'"),
])
def test_bad_refs_are_one_line_and_exit_2(breaking, args, message):
    run = hubcheck("diff", str(breaking), *args)
    assert run.code == 2 and message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_directory_outside_git_and_a_ref_without_hubconf_exit_2(tmp_path):
    write_repo(tmp_path / "plain", {"hubconf.py": "def m():\n    return 1\n"})
    run = hubcheck("diff", str(tmp_path / "plain"), "--base", "v1")
    assert run.code == 2 and "is not in a git work tree" in run.stderr
    empty = tmp_path / "empty"
    write_repo(empty / "v1", {"README.md": "no hub yet\n"})
    _tagged_repo(tmp_path / "repo", [("v1", empty / "v1"), ("v2", DIFF_FIXTURES / "compatible" / "v2")])
    run = hubcheck("diff", str(tmp_path / "repo"), "--base", "v1", "--head", "v2")
    assert run.code == 2 and "hubconf.py at v1" in run.stderr, run.stderr


def test_no_repo_code_runs(tmp_path):
    marker = tmp_path / "imported"
    source = f"open({str(marker)!r}, 'w').close()\n\ndef m(x=1):\n    return 1\n"
    write_repo(tmp_path / "v1", {"hubconf.py": source, "helpers.py": source})
    write_repo(tmp_path / "v2", {"hubconf.py": "import helpers\n" + source.replace("x=1", "x=2")})
    _tagged_repo(tmp_path / "repo", [("v1", tmp_path / "v1"), ("v2", tmp_path / "v2")])
    run = hubcheck("diff", str(tmp_path / "repo"), "--base", "v1", "--head", "v2")
    assert "API006" in run.stdout and not marker.exists()


def _model(tmp_path: Path, name: str, source: str):
    return read_hubconf(write_repo(tmp_path / name, {"hubconf.py": textwrap.dedent(source)}))


def test_dynamic_lists_and_unreadable_signatures_are_said(tmp_path):
    base = _model(tmp_path, "a", "from torchvision.models import resnet18 as resnet18\n")
    head = _model(tmp_path, "b", """
        from torchvision.models import resnet18 as resnet18
        globals().update({})
    """)
    codes = sorted((change.kind.code, change.args.get("side")) for change in compare(base, head))
    assert codes == [("API103", "both refs"), ("API104", "head")]


def test_return_kinds_compared_only_where_the_code_says(tmp_path):
    base = _model(tmp_path, "a", """
        class Net: ...
        def as_class(): return Net()
        def unknown(): return build()
        def to_none(): return Net()
    """)
    head = _model(tmp_path, "b", """
        class Net: ...
        def as_class(): return {"model": Net()}
        def unknown(): return build(), 1
        def to_none(): pass
    """)
    changed = {change.entrypoint: (change.args["old"], change.args["new"])
               for change in compare(base, head) if change.kind.code == "API008"}
    assert changed == {"as_class": ("an object", "a dict"), "to_none": ("an object", "None")}


@pytest.mark.parametrize("bare_in_config", [True, False])
def test_a_bare_repository_is_compared_at_two_refs(breaking, tmp_path, bare_in_config):
    mirror = git.Repo.clone_from(str(breaking), str(tmp_path / "mirror" / "repo"), bare=True)
    # Mirrors copied as directories often say core.bare=false; git must still be pointed at them, not their parent.
    mirror.git.config("core.bare", str(bare_in_config).lower())
    run = hubcheck("diff", str(tmp_path / "mirror" / "repo"), "--base", "v1", "--head", "v2", "-f", "json")
    assert _listed_json(run.stdout) == sorted(json.loads((DIFF_FIXTURES / "breaking" / "expected.json").read_text())
                                              ["findings"]), run.stderr
