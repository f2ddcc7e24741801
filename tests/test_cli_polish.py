"""What a new user hit from a fresh clone (issue 14): help text, versions, quiet, wrapping, several repos."""

from __future__ import annotations

import subprocess

import pytest
from helpers import PROJECT, hubcheck, write_repo

REFERENCE = PROJECT / "reference_repo"

_CLEAN = '''
"""A tiny hub repo."""
dependencies = ["torch"]


def mlp(pretrained: bool = False):
    """A two-layer perceptron.

    Args:
        pretrained: unused; there are no weights.
    """
    import torch

    return torch.nn.Sequential(torch.nn.Linear(4, 3))
'''


@pytest.fixture
def clean(tmp_path):
    return write_repo(tmp_path / "clean", {"hubconf.py": _CLEAN})


@pytest.mark.parametrize("command", ["list", "help", "lint", "rules", "validate", "record", "init"])
def test_help_keeps_bracketed_text_and_whole_option_names_at_80_columns(command):
    run = hubcheck(command, "--help", env={"COLUMNS": "80"})
    assert run.code == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "…" not in text and max(len(line) for line in run.stdout.splitlines()) <= 80
    if command in ("list", "lint", "validate", "record"):
        assert "`git+URL[@REF]`" in text
    if command == "lint":
        assert "(replaces [lint] select)" in text and "(added to [lint] ignore)" in text
    if command == "validate":
        assert "--select-entrypoints" in text and "--exclude-entrypoints" in text


def test_rule_docs_render_the_fix_of_their_own_example():
    run = hubcheck("rules", "HUB203")
    assert run.code == 0
    fix = run.stdout.split("## Fix\n", 1)[1]
    assert "<anchored>" not in fix
    assert 'anchor it to a fixed location: `Path(__file__).resolve().parent / "' in fix


def test_version_short_flag_and_completion():
    assert hubcheck("-V").stdout == hubcheck("--version").stdout != ""
    run = hubcheck("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert run.code == 0 and "complete_bash" in run.stdout
    assert "--install-completion" in hubcheck("--help").stdout


def test_quiet_lint_prints_findings_only(tmp_path):
    repo = write_repo(tmp_path / "r", {"hubconf.py": "dependencies = []\n\ndef net():\n    return 1\n"})
    loud, quiet = hubcheck("lint", str(repo)), hubcheck("-q", "lint", str(repo))
    assert loud.code == quiet.code == 1
    assert "HUB101" in quiet.stdout and "Found" in loud.stdout and "Found" not in quiet.stdout
    assert hubcheck("-q", "lint", str(REFERENCE)).stdout == ""


def test_a_dirty_tree_is_named_dirty_in_text_output(clean):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(clean)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert ", dirty)" not in hubcheck("lint", str(clean)).stdout
    (clean / "hubconf.py").write_text(_CLEAN + "\n# edited\n")
    assert ", dirty)." in hubcheck("lint", str(clean)).stdout
