"""The hostile-repo corpus: hubcheck survives what it runs, and loses nothing.

Every fixture under ``fixtures/corpus/`` holds an ``expected.json`` (the schema
is in ``fixtures/corpus/README.md``). Each one runs from a copy in tmp_path,
as real subprocesses (``python -m hubcheck``, ``python -m pytest --hubcheck``)
under a hard timeout, and every run must:

* end with the expected exit code and check outcomes, never with exit code 3
  or a Python traceback of hubcheck's own on stderr (repo code's output only
  ever reaches a user inside a check's message);
* finish within ``timeout_s``, and leave no process behind: each run gets a
  unique ``HUBCHECK_TEST_TAG`` in its environment, which the worker and
  everything it starts inherit, and no process may hold it afterwards;
* leave every file of the repo byte-identical, with no new file (bytecode
  included), except what the command was asked to write (``writes``) or the
  repo's own code writes beside itself (``repo_writes``); the working
  directory hubcheck ran in stays empty;
* never write ``$HUBCHECK_CORPUS_MARKER``, which repo code writes only when it
  runs (``import_marker``) and the pickles disguised as references would write
  if anything unpickled them; after ``lint`` and ``list`` of every fixture it
  must not exist, and after ``validate`` of ``import_marker`` it names a
  process other than hubcheck's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"
CASES = sorted(path.parent for path in CORPUS.glob("*/expected.json"))
MARKER_ENV = "HUBCHECK_CORPUS_MARKER"
TAG_ENV = "HUBCHECK_TEST_TAG"
TRACEBACK = "Traceback (most recent call last)"
STATIC_TIMEOUT_S = 60
STATUSES = ("passed", "failed", "skipped", "not-verified")
SETUPS = ("empty_dir", "chmod_000", "git_no_commits", "git_commit", "git_branch_and_tag")
KEYS = {
    "command", "args", "setup", "repo", "exit_code", "timeout_s", "slow", "error", "checks", "lint", "static",
    "output", "writes", "repo_writes", "marker", "plugin",
}

pytestmark = pytest.mark.corpus


# -- the cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One fixture and what hubcheck must report about it."""

    name: str
    path: Path
    expected: dict[str, Any]

    @property
    def command(self) -> str:
        return self.expected.get("command", "validate")

    @property
    def timeout_s(self) -> float:
        return float(self.expected.get("timeout_s", 60))


def _case(path: Path) -> Case:
    return Case(path.name, path, json.loads((path / "expected.json").read_text(encoding="utf-8")))


def _params(cases: list[Path]) -> list:
    params = []
    for path in cases:
        case = _case(path)
        marks = [pytest.mark.slow] if case.expected.get("slow") else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


ALL = _params(CASES)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fixture_is_documented_and_valid(path):
    """Every fixture says what is wrong in one README line and uses only the documented keys."""
    readme = (path / "README.md").read_text(encoding="utf-8").strip()
    assert readme and "\n" not in readme, f"{path.name}/README.md must be one line"
    expected = _case(path).expected
    assert set(expected) <= KEYS, f"unknown keys {sorted(set(expected) - KEYS)}"
    assert expected.get("command", "validate") in ("validate", "record")
    assert expected.get("setup") in (None, *SETUPS)
    assert isinstance(expected["exit_code"], int)
    for pattern, outcome in expected.get("checks", {}).items():
        assert outcome[0] in STATUSES, f"{pattern}: unknown status {outcome[0]!r}"
    assert set(expected["static"]) == {"lint", "list"}


def test_corpus_covers_every_kind():
    names = {path.name for path in CASES}
    assert len(names) >= 30
    for prefix in ("res_", "import_", "entry_", "ref_", "record_"):
        assert any(name.startswith(prefix) for name in names), f"no {prefix}* fixture"


# -- a place to run a case -----------------------------------------------------------------------------


@dataclass
class Workspace:
    """A copy of one fixture and everything a run of hubcheck on it needs."""

    root: Path
    """The directory whose files must survive: the repo copy, or the git origin."""
    spec: str
    """REPO as given to hubcheck."""
    cwd: Path
    """hubcheck's working directory: empty before, empty after."""
    marker: Path

    def env(self, tag: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "HUBCHECK_")) and k not in ("PYTHONDONTWRITEBYTECODE", "COV_CORE_SOURCE")}
        env.update({
            TAG_ENV: tag,
            MARKER_ENV: str(self.marker),
            "HUBCHECK_CACHE": str(self.cwd.parent / "cache"),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        })
        return env


def _git_origin(template: Path, origin: Path, setup: str) -> None:
    """The git repository a ``git_*`` setup asks for, made from the fixture's template/."""
    import git

    def commit(message: str) -> None:
        repo.index.add([p.relative_to(origin).as_posix() for p in origin.rglob("*")
                        if p.is_file() and ".git" not in p.parts])
        actor = git.Actor("hubcheck corpus", "corpus@hubcheck.invalid")
        repo.index.commit(message, author=actor, committer=actor)

    shutil.copytree(template, origin)
    repo = git.Repo.init(origin)
    if setup == "git_no_commits":
        return
    commit("first")
    if setup == "git_branch_and_tag":
        repo.create_tag("v1")
        with (origin / "hubconf.py").open("a") as hubconf:
            hubconf.write("\n# second commit\n")
        commit("second")
        repo.create_head("v1")


def _make_workspace(case: Case, tmp_path: Path) -> Workspace:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    setup = case.expected.get("setup")
    if setup == "empty_dir":
        root = tmp_path / "repo"
        root.mkdir()
    elif setup in ("git_no_commits", "git_commit", "git_branch_and_tag"):
        root = tmp_path / "origin"
        _git_origin(case.path / "template", root, setup)
    else:
        root = tmp_path / "repo"
        shutil.copytree(case.path, root, symlinks=True)
        if setup == "chmod_000":
            if os.geteuid() == 0:
                pytest.skip("running as root, who reads files whatever their mode: an unreadable hubconf.py cannot be made")
            (root / "hubconf.py").chmod(0)
    spec = case.expected.get("repo", "{repo}").format(repo=root, origin=root)
    return Workspace(root, spec, cwd, tmp_path / "marker")


# -- running hubcheck ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A finished hubcheck (or pytest) process."""

    returncode: int
    stdout: str
    stderr: str
    pid: int


def _tagged_processes(tag: str) -> list[tuple[int, str]]:
    """Processes whose environment holds ``HUBCHECK_TEST_TAG=tag``: (pid, command line)."""
    entry = f"{TAG_ENV}={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if entry not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(name), command[:200]))
    return found


def _kill(processes: list[tuple[int, str]]) -> None:
    for pid, _ in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _run(workspace: Workspace, argv: list[str], timeout_s: float) -> Run:
    """Run ``python argv...`` in the workspace; fail the test on a hang or a leftover process."""
    tag = uuid.uuid4().hex
    command = [sys.executable, *argv]
    process = subprocess.Popen(command, cwd=workspace.cwd, env=workspace.env(tag), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _kill(_tagged_processes(tag))
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(argv)} hung: still running after {timeout_s:g} s\n"
                    f"stderr: {stderr.decode(errors='replace')[-3000:]}")
    leftovers = _tagged_processes(tag)
    if leftovers:
        time.sleep(0.5)  # a process killed just now may still be on its way out
        leftovers = _tagged_processes(tag)
    _kill(leftovers)
    assert not leftovers, f"{' '.join(argv)} left processes behind: {leftovers}"
    return Run(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"), process.pid)


def _assert_no_hubcheck_traceback(run: Run) -> None:
    assert run.returncode != 3, f"internal error (exit code 3): {run.stderr[-3000:]}"
    assert TRACEBACK not in run.stderr, f"a traceback on hubcheck's stderr:\n{run.stderr[-3000:]}"


# -- files -----------------------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (the git origin's .git included) with a hash of its content."""
    files = {}
    if not root.exists():
        return files
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            files[relative] = "link:" + os.readlink(path)
        elif path.is_file():
            try:
                files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            except PermissionError:  # the chmod_000 case, as a user that cannot read it
                files[relative] = "unreadable"
    return files


def _assert_files_kept(workspace: Workspace, before: dict[str, str], allowed: set[str], required: set[str]) -> None:
    after = _snapshot(workspace.root)
    changed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
    created = after.keys() - before.keys()
    deleted = before.keys() - after.keys()
    assert not deleted, f"files deleted: {sorted(deleted)}"
    unexpected = (changed | created) - allowed
    assert not unexpected, f"files written that the command was not asked to write: {sorted(unexpected)}"
    missing = required - (changed | created)
    assert not missing, f"files the command should have written: {sorted(missing)}"
    assert not any(workspace.cwd.iterdir()), f"files left in the working directory: {sorted(workspace.cwd.iterdir())}"


# -- outcomes ----------------------------------------------------------------------------------------------


def _check_id(check: dict[str, Any]) -> str:
    head = f"{check['entrypoint']}::{check['check']}" if check["entrypoint"] else check["check"]
    return f"{head}[{check['device']}]" if check["device"] else head


def _matches(check_id: str, pattern: str) -> bool:
    """``*`` matches anything; every other character, ``[`` and ``]`` included, only itself."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), check_id) is not None


def _fragments(outcome: list) -> list[str]:
    """The message fragments of an expected outcome: none, one, or any one of a list."""
    if len(outcome) < 2:
        return []
    return outcome[1] if isinstance(outcome[1], list) else [outcome[1]]


def _assert_checks(expected: dict[str, list], checks: dict[str, dict[str, Any]]) -> None:
    """Each pattern matches a check with its status and a fragment; no other check failed."""
    matched: set[str] = set()
    for pattern, outcome in expected.items():
        hits = [cid for cid in checks if _matches(cid, pattern)]
        assert hits, f"no check matches {pattern!r}; checks: {sorted(checks)}"
        for cid in hits:
            check = checks[cid]
            assert check["status"] == outcome[0], f"{cid}: {check['status']}, expected {outcome[0]}: {check['message']}"
            fragments = _fragments(outcome)
            assert not fragments or any(f in check["message"] for f in fragments), (
                f"{cid}: none of {fragments} in its message: {check['message']}")
        matched.update(hits)
    unexpected = sorted(cid for cid, check in checks.items() if check["status"] == "failed" and cid not in matched)
    assert not unexpected, "unexpected failures: " + "; ".join(f"{cid}: {checks[cid]['message']}" for cid in unexpected)


def _assert_marker(workspace: Workspace, expected: str | None, hubcheck_pid: int) -> None:
    if expected is None:
        assert not workspace.marker.exists(), f"repo code ran where it must not: {workspace.marker.read_text()!r}"
        return
    assert expected == "worker"
    lines = workspace.marker.read_text().split("\n")
    writers = [tuple(int(part) for part in line.split()) for line in lines if line]
    assert writers, "hubconf.py never ran"
    for pid, parent, grandparent in writers:
        assert hubcheck_pid not in (pid, parent), "repo code ran inside the hubcheck process or its fork server"
        assert grandparent == hubcheck_pid, "repo code ran in a process hubcheck's fork server did not start"


# -- the CLI -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL)
def test_cli(case: Case, tmp_path):
    """The fixture's command: exit code, checks, no traceback, no hang, no leftovers, nothing lost."""
    workspace = _make_workspace(case, tmp_path)
    expected = case.expected
    before = _snapshot(workspace.root)
    argv = ["-m", "hubcheck", case.command, workspace.spec, *expected.get("args", [])]
    if case.command == "validate":
        argv += ["--format", "json"]
    run = _run(workspace, argv, case.timeout_s)
    _assert_no_hubcheck_traceback(run)
    assert run.returncode == expected["exit_code"], f"exit code {run.returncode}\n{run.stderr[-3000:]}\n{run.stdout[-3000:]}"
    if "error" in expected:
        assert expected["error"] in run.stderr, run.stderr
    if expected["exit_code"] == 2:
        assert run.stderr.startswith("hubcheck: error: ") and run.stderr.count("\n") == 1, run.stderr
    for fragment in expected.get("output", []):
        assert fragment in run.stdout + run.stderr, f"{fragment!r} not in\n{run.stdout}\n{run.stderr}"
    if case.command == "validate" and expected["exit_code"] != 2:
        report = json.loads(run.stdout)
        checks = {_check_id(check): check for check in report["checks"]}
        _assert_checks(expected.get("checks", {}), checks)
        codes = {finding["code"] for finding in report["findings"]}
        assert set(expected.get("lint", [])) <= codes, f"lint codes {sorted(codes)}"
        assert len(run.stdout) < 1_000_000, "repo output leaked into the report"
    writes = set(expected.get("writes", []))
    _assert_files_kept(workspace, before, writes | set(expected.get("repo_writes", [])), writes)
    _assert_marker(workspace, expected.get("marker"), run.pid)


@pytest.mark.parametrize("case", ALL)
def test_static_commands_run_no_repo_code(case: Case, tmp_path):
    """``lint`` and ``list`` read hubconf.py without running it: exit codes, lint codes, no marker, no writes."""
    workspace = _make_workspace(case, tmp_path)
    before = _snapshot(workspace.root)
    lint = _run(workspace, ["-m", "hubcheck", "lint", workspace.spec, "--format", "json"], STATIC_TIMEOUT_S)
    listing = _run(workspace, ["-m", "hubcheck", "list", workspace.spec], STATIC_TIMEOUT_S)
    for run in (lint, listing):
        _assert_no_hubcheck_traceback(run)
    static = case.expected["static"]
    assert lint.returncode == static["lint"], f"lint exit code {lint.returncode}\n{lint.stderr}"
    assert listing.returncode == static["list"], f"list exit code {listing.returncode}\n{listing.stderr}"
    if lint.returncode != 2:
        codes = {finding["code"] for finding in json.loads(lint.stdout)["findings"]}
        assert set(case.expected.get("lint", [])) <= codes, f"lint codes {sorted(codes)}"
    _assert_files_kept(workspace, before, set(), set())
    _assert_marker(workspace, None, lint.pid)


# -- interrupted runs --------------------------------------------------------------------------------------


def _wait_for_worker(tag: str, hubcheck_pid: int, timeout_s: float = 60) -> None:
    """Wait until hubcheck's worker has started and had a moment to reach the hanging entry point."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(pid != hubcheck_pid for pid, _ in _tagged_processes(tag)):
            time.sleep(2.0)
            return
        time.sleep(0.1)
    pytest.fail("hubcheck never started its worker")


INTERRUPTIONS = [
    pytest.param("entry_hangs", ["validate", "-e", "b_hangs", "--format", "json"], id="validate"),
    pytest.param("record_hangs", ["record", "--update", "-e", "other"], id="record"),
]


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize(("name", "command"), INTERRUPTIONS)
def test_interrupted_while_repo_code_hangs(name, command, how, tmp_path):
    """Ctrl-C, SIGTERM or SIGKILL while an entry point hangs: no worker survives, no reference is touched.

    SIGINT and SIGTERM end hubcheck with exit code 130 after it stopped the
    worker; after SIGKILL, which hubcheck cannot handle, the kernel kills the
    worker (it asked to die with its parent).
    """
    workspace = _make_workspace(_case(CORPUS / name), tmp_path)
    before = _snapshot(workspace.root)
    tag = uuid.uuid4().hex
    process = _start(workspace, command, tag)
    try:
        _wait_for_worker(tag, process.pid)
        process.send_signal(how)
        _, stderr = process.communicate(timeout=30)
    finally:
        _end(process)
    if how == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 130, stderr.decode(errors="replace")
        assert stderr.decode() == "hubcheck: interrupted\n"
    _assert_none_left(tag, within_s=10)
    if how == signal.SIGKILL and command[0] == "record":
        # SIGKILL leaves hubcheck no moment to delete the temporary it was recording into; what must hold is that
        # nothing holds its lock any more, so the next record's sweep removes it, and no reference was touched.
        from hubcheck.fileio import remove_stale_temporaries

        for reference in (workspace.root / "hubcheck_refs").glob("*/default.safetensors"):
            remove_stale_temporaries(reference)
    _assert_files_kept(workspace, before, set(), set())


@pytest.mark.slow
def test_sigkill_ends_the_grandchildren_of_repo_code(tmp_path):
    """hubcheck SIGKILLed while an entry point hangs beside a sleep it started in a session of its own:
    within seconds nothing of the run is left, neither the worker, the entry point's process nor the sleep.

    The fork server is the subreaper of what it forks, so the sleep is its child once
    the entry point's process dies, and it kills every process below it when hubcheck goes.
    """
    workspace = _make_workspace(_case(CORPUS / "entry_spawns_sleep_then_hangs"), tmp_path)
    tag = uuid.uuid4().hex
    process = _start(workspace, ["validate", "-e", "a_hangs_with_sleep", "--format", "json"], tag)
    try:
        deadline = time.monotonic() + 60
        while not any(command.startswith("sleep 300") for _, command in _tagged_processes(tag)):
            assert time.monotonic() < deadline, "the entry point never started its sleep"
            time.sleep(0.1)
        process.kill()
        process.communicate(timeout=30)
    finally:
        _end(process)
    _assert_none_left(tag, within_s=5)


def _start(workspace: Workspace, command: list[str], tag: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "hubcheck", command[0], workspace.spec, *command[1:], "--timeout", "300"]
    return subprocess.Popen(argv, cwd=workspace.cwd, env=workspace.env(tag), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _assert_none_left(tag: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while _tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = _tagged_processes(tag)
    _kill(leftovers)
    assert not leftovers, f"processes outlived the interrupted hubcheck: {leftovers}"


# -- the pytest plugin ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def plugin_ready() -> str | None:
    """None when ``pytest --hubcheck`` can run a repo here, else why not."""
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                               capture_output=True, text=True, timeout=120, cwd=CORPUS).stdout
    if "--hubcheck-timeout" not in help_text:
        return "the pytest plugin is not ready (pytest --help shows no --hubcheck-timeout)"
    return None


_ITEM = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)")
_LINT_ITEM = re.compile(r"^lint\[(?P<code>[A-Z]+\d+)\]$")


@pytest.mark.parametrize("case", ALL)
def test_plugin(case: Case, tmp_path, plugin_ready):
    """``pytest --hubcheck`` on the fixture: an item fails exactly when the CLI's check fails.

    Check items must fail where expected.json says the CLI's checks fail; a
    ``lint[CODE]`` item fails exactly for the warnings and errors that
    ``hubcheck lint`` reports; a repo hubcheck cannot resolve is a collection
    error with hubcheck's message.
    """
    if plugin_ready:
        pytest.skip(plugin_ready)
    if case.command != "validate":
        pytest.skip(f"the plugin runs checks; `hubcheck {case.command}` has no plugin counterpart")
    if case.expected.get("plugin"):
        pytest.skip(case.expected["plugin"])
    workspace = _make_workspace(case, tmp_path)
    expected = case.expected
    before = _snapshot(workspace.root)
    # --hubcheck takes directories that hold hubconf.py; --hubcheck-repo any REPO, broken ones included.
    where = ["--hubcheck", workspace.spec] if expected["exit_code"] != 2 else ["--hubcheck-repo", workspace.spec]
    argv = ["-m", "pytest", *where, "-p", "no:cacheprovider", "-q", "-rA"]
    run = _run(workspace, argv, case.timeout_s + 60)
    output = run.stdout + run.stderr
    assert "INTERNALERROR" not in output, output[-3000:]
    if expected["exit_code"] == 2:
        assert run.returncode == 2, output[-3000:]
        assert expected["error"] in output, output[-3000:]
    else:
        outcomes = {match[2].split("hubconf.py::", 1)[-1]: match[1]
                    for line in run.stdout.splitlines() if (match := _ITEM.match(line))}
        assert outcomes, f"no hubcheck items ran:\n{output[-3000:]}"
        failed = {item for item, outcome in outcomes.items() if outcome != "PASSED"}
        failed_lint = {m["code"] for item in failed if (m := _LINT_ITEM.match(item))}
        failed_checks = {item for item in failed if not _LINT_ITEM.match(item)}
        failing_patterns = [p for p, outcome in expected.get("checks", {}).items() if outcome[0] == "failed"]
        for item in failed_checks:
            assert any(_matches(item, p) for p in failing_patterns), f"{item} failed under the plugin only:\n{output[-3000:]}"
        for pattern in failing_patterns:
            assert any(_matches(item, pattern) for item in failed_checks), f"{pattern} failed under the CLI only"
        # Static, so safe in this process: what `hubcheck lint` reports.
        from hubcheck.lint import lint_repo

        problems = {f.code for f in lint_repo(workspace.root).findings if f.severity.fails}
        assert failed_lint == problems, f"failed lint items {sorted(failed_lint)}, `hubcheck lint`: {sorted(problems)}"
        assert run.returncode == (1 if failed else 0), output[-3000:]
    _assert_files_kept(workspace, before, set(expected.get("repo_writes", [])), set())
    _assert_marker(workspace, expected.get("marker"), run.pid)
