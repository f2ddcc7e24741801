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


def test_several_repos_get_a_report_each_and_the_worst_exit_code(tmp_path, clean):
    broken = write_repo(tmp_path / "broken", {"hubconf.py": "dependencies = []\n\ndef net():\n    return 1\n"})
    run = hubcheck("lint", str(clean), str(broken / "hubconf.py"))
    assert run.code == 1, run.stderr
    assert run.stdout.count("Checked ") == 2 and "HUB101" in run.stdout
    missing = hubcheck("lint", str(clean), str(tmp_path / "nowhere"))
    assert missing.code == 2 and missing.stdout.count("Checked ") == 1
    assert missing.stderr.count("\n") == 1 and "nowhere" in missing.stderr
    listed = hubcheck("list", str(clean), str(REFERENCE))
    assert listed.code == 0 and listed.stdout.count("Read ") == 2 and "custom_model" in listed.stdout
    assert hubcheck("-q", "list", str(clean)).stdout == "mlp\n"
    refused = hubcheck("lint", "--format", "json", str(clean), str(broken))
    assert refused.code == 2 and "one REPO per run" in refused.stderr and refused.stdout == ""


def test_list_names_the_repo_and_commit_it_read(clean):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(clean)]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run([*git, *step], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    run = hubcheck("list", str(clean))
    assert f"Read {clean} ({clean}, commit {commit})." in run.stdout


@pytest.mark.parametrize("command", ["lint", "list", "validate", "rules"])
def test_a_bad_choice_is_one_line_that_lists_the_choices(command):
    run = hubcheck(command, "--format", "nonsense")
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert "Value error" not in run.stderr and "'nonsense' is not one of 'text'" in run.stderr.replace("'table'", "'text'")
    assert run.stderr.startswith("hubcheck: error: ")


def test_output_off_a_terminal_is_not_wrapped(tmp_path):
    deep = write_repo(tmp_path / ("a-directory-with-a-long-name-" * 3) / "repo", {"hubconf.py": _CLEAN})
    run = hubcheck("list", str(deep))
    read = [line for line in run.stdout.splitlines() if line.startswith("Read ")]
    assert read == [f"Read {deep} ({deep})."]
    assert len(read[0]) > 80


@pytest.fixture(scope="module")
def reference_copy(tmp_path_factory):
    import shutil

    target = tmp_path_factory.mktemp("validate") / "reference_repo"
    shutil.copytree(REFERENCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.slow
def test_validate_table_report_on_a_pipe(reference_copy):
    run = hubcheck("validate", str(reference_copy), "-e", "custom_model", "-d", "cpu", "-d", "cuda")
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    # Eight checks skipped for want of a GPU (six, and the two default model checks): one line, not eight.
    skipped = [line for line in lines if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and skipped[0].endswith(": no CUDA device")
    assert "custom_model::forward[cuda]" in skipped[0] and "custom_model::device-parity[cuda]" in skipped[0]
    # Not wrapped at 80 columns: the summary is one line.
    summary = [line for line in lines if line.startswith("13 passed, 0 failed, 8 skipped;")]
    assert len(summary) == 1 and f"Checked {reference_copy}" in summary[0] and "with torch" in summary[0]
    # One result per repo-level check, as the plugin's five repo items.
    assert all(any(f"│ (repo)       │ {check} " in line for line in lines)
               for check in ("import", "dependencies", "entrypoints", "config", "references"))


@pytest.mark.slow
def test_validate_output_file_in_the_table_format_for_several_repos(reference_copy, tmp_path):
    report = tmp_path / "report.txt"
    run = hubcheck("validate", str(reference_copy), str(reference_copy / "hubconf.py"), "-e", "custom_model",
                   "-d", "cpu", "-o", str(report))
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    text = report.read_text()
    assert text.count("13 passed, 0 failed, 0 skipped;") == 2 and "custom_model" in text and "\x1b[" not in text


@pytest.mark.slow
def test_quiet_validate_and_a_misspelt_entrypoint_table(reference_copy, clean):
    (clean / "hubcheck.toml").write_text("[entrypoints.mlpp]\nkwargs = { pretrained = false }\n")
    run = hubcheck("-q", "validate", str(reference_copy), str(clean), "--select-entrypoints", "[cm][ul]*",
                   "-d", "cpu")
    assert run.code == 1, run.stderr
    assert "┃" not in run.stdout and "Isolation:" not in run.stdout
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == [(f"FAILED config: {clean / 'hubcheck.toml'}: [entrypoints.mlpp] configures an entry point "
                      "hubconf.py does not have (did you mean 'mlp'?)")], run.stdout
    assert run.stdout.count(" passed, ") == 2


def test_live_progress_counts_entrypoints_names_the_running_one_and_prints_failures_whole():
    import io

    from rich.console import Console

    from hubcheck.cli.progress import Progress
    from hubcheck.results import CheckResult, Status

    stream = io.StringIO()
    terminal = Console(file=stream, force_terminal=True, width=200, color_system=None)
    with Progress(enabled=True, console=terminal) as progress:
        progress.start(["alpha", "beta"])
        task = progress._progress.tasks[0]
        progress.entrypoint("alpha")
        assert (task.completed, task.total, task.description) == (0, 2, "alpha: running")
        progress.result(CheckResult("alpha", "forward", "cpu", Status.FAILED,
                                    "forward raised RuntimeError\nline two\nline three\nline four"))
        progress.entrypoint("beta")
        assert (task.completed, task.description) == (1, "beta: running")
    assert task.completed == 2
    printed = stream.getvalue()
    assert "alpha::forward[cpu]: forward raised RuntimeError\nline two\nline three\nline four" in printed
