"""``lint --fix`` and ``--diff``: each fix turns its ``fixtures/fixes/CODE/before`` tree into ``after`` exactly,
the result lints clean for that rule, a second run changes nothing, and ``--diff`` writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hubcheck.fixes import FIXABLE_RULES
from hubcheck.lint import lint_repo
from tests.helpers import FIXTURES, hubcheck, write_repo

FIX_FIXTURES = FIXTURES / "fixes"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def _copy(code: str, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(FIX_FIXTURES / code / "before", repo, ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def test_every_fixable_rule_has_a_before_and_after_fixture():
    assert sorted(p.name for p in FIX_FIXTURES.iterdir()) == sorted(FIXABLE_RULES)


@pytest.mark.parametrize("code", FIXABLE_RULES)
def test_fix_turns_before_into_after_and_is_idempotent(code, tmp_path):
    repo = _copy(code, tmp_path)
    assert any(f.code == code for f in lint_repo(repo).findings)
    fixed = hubcheck("lint", str(repo), "--no-cache", "--select", code, "--fix")
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    assert _tree(repo) == _tree(FIX_FIXTURES / code / "after")
    assert lint_repo(repo, select=(code,)).findings == ()
    again = hubcheck("lint", str(repo), "--no-cache", "--select", code, "--fix")
    assert again.code == 0 and "fixed 0 finding(s) in 0 file(s)" in again.stderr
    assert _tree(repo) == _tree(FIX_FIXTURES / code / "after")


@pytest.mark.parametrize("code", FIXABLE_RULES)
def test_diff_prints_the_fix_and_writes_nothing(code, tmp_path):
    repo = _copy(code, tmp_path)
    untouched = _tree(repo)
    run = hubcheck("lint", str(repo), "--no-cache", "--select", code, "--diff")
    assert run.code == 1, run.stderr
    assert run.stdout.startswith("--- a/hubconf.py\n+++ b/hubconf.py\n@@ ")
    after = (FIX_FIXTURES / code / "after" / "hubconf.py").read_text().splitlines()
    added = [line[1:] for line in run.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added and all(line in after for line in added)
    assert _tree(repo) == untouched


def test_fix_and_diff_together_is_a_usage_error(tmp_path):
    repo = _copy("HUB201", tmp_path)
    run = hubcheck("lint", str(repo), "--fix", "--diff")
    assert run.code == 2 and "not both" in run.stderr


def test_fix_through_a_link_rewrites_the_file_it_names(tmp_path):
    repo = write_repo(tmp_path / "repo", {"src/hubconf.py": '''
        """A model."""
        dependencies = ["torch"]

        import torch


        def model(weights=None):
            """A model from the checkpoint file ``weights``."""
            return torch.load(weights, weights_only=True)
        '''})
    (repo / "hubconf.py").symlink_to("src/hubconf.py")
    run = hubcheck("lint", str(repo), "--no-cache", "--select", "HUB201", "--fix")
    assert run.code == 0, run.stderr
    assert (repo / "hubconf.py").is_symlink()
    assert 'torch.load(weights, weights_only=True, map_location="cpu")' in (repo / "src" / "hubconf.py").read_text()


def test_fix_leaves_a_file_outside_the_repo_alone(tmp_path):
    outside = write_repo(tmp_path / "elsewhere", {"hubconf.py": '''
        """A model."""
        dependencies = ["torch"]

        import torch


        def model(weights=None):
            """A model from the checkpoint file ``weights``."""
            return torch.load(weights, weights_only=True)
        '''})
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").symlink_to(outside / "hubconf.py")
    before = (outside / "hubconf.py").read_bytes()
    run = hubcheck("lint", str(repo), "--no-cache", "--select", "HUB201", "--fix")
    assert run.code == 1 and "fixed 0 finding(s) in 0 file(s)" in run.stderr
    assert (outside / "hubconf.py").read_bytes() == before


def test_no_map_location_fix_for_a_positional_none(tmp_path):
    # `torch.load(f, None)` passes map_location positionally: adding the keyword would pass it twice.
    _assert_left_alone(tmp_path, "HUB201", "torch.load(weights, None, weights_only=True)")


@pytest.mark.parametrize("call", [
    "torch.load(weights, 'cpu', pickle)",  # weights_only=True refuses an explicit pickle_module
    "torch.load(weights, map_location='cpu', pickle_module=pickle)",
])
def test_no_weights_only_fix_where_torch_would_refuse_it(call, tmp_path):
    _assert_left_alone(tmp_path, "HUB202", call)


def _assert_left_alone(tmp_path: Path, code: str, call: str) -> None:
    repo = write_repo(tmp_path / "repo", {"hubconf.py": f'''
        """A model."""
        dependencies = ["torch"]

        import pickle

        import torch


        def model(weights=None, options=()):
            """A model from the checkpoint file ``weights``, loaded with ``options``."""
            del pickle, options
            return {call}
        '''})
    assert any(f.code == code for f in lint_repo(repo).findings), call
    before = _tree(repo)
    run = hubcheck("lint", str(repo), "--no-cache", "--select", code, "--diff")
    assert run.code == 0 and run.stdout == "", run.stdout
    assert _tree(repo) == before
