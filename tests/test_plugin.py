"""The pytest plugin, tested through real pytest runs over the fixture repos in fixtures/plugin/.

Runs that start hubcheck workers (each loads torch, seconds apiece) are made
once per module and shared: one sequential run over four repos and the same
run under ``-n 2``. A small conftest in every run directory records each
item's outcome, message and location, which worker ran it, and whether the
pytest process itself ever imported torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "fixtures" / "plugin"
REFERENCE_REPO = PROJECT / "reference_repo"
FIXTURE_REPOS = ("broken_entrypoints", "crash_on_import", "dynamic_entrypoints")
ENTRYPOINT_CHECKS = ("load", "forward", "determinism", "state-dict-roundtrip", "reference")
DEFAULT_MODEL_CHECKS = ("batch-invariance", "threads")
REPO_ITEMS = ("import", "dependencies", "entrypoints", "config", "references")
TOKEN_VARIABLE = "HUBCHECK_PLUGIN_TEST_RUN"

RECORDER = '''
import json
import sys
from pathlib import Path

_items = {}


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    if report.skipped:
        message = report.longrepr[2].removeprefix("Skipped: ")
    else:
        message = report.longreprtext
    node = getattr(report, "node", None)
    _items[report.nodeid] = {"outcome": report.outcome, "message": message, "location": list(report.location),
                             "worker": node.gateway.id if node is not None else None}


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        Path("outcomes.json").write_text(json.dumps({"items": _items, "torch_imported": "torch" in sys.modules}))
'''


@dataclass(frozen=True)
class Run:
    """A finished pytest run and what the recorder saw."""

    code: int
    stdout: str
    items: dict[str, dict]
    """Node id -> outcome, message, location, worker."""
    torch_imported: bool
    token: str
    """Set in the run's environment, so its worker processes can be found afterwards."""


def prepare(directory: Path, *repos: str) -> Path:
    """A run directory holding copies of ``repos`` (fixture names or ``reference_repo``) and the recorder."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in repos:
        source = REFERENCE_REPO if name == "reference_repo" else FIXTURES / name
        shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "conftest.py").write_text(RECORDER)
    (directory / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return directory


def run_pytest(directory: Path, *args: str, timeout: float = 300) -> Run:
    """``python -m pytest ARGS`` in ``directory``, as CI runs it."""
    token = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HUBCHECK_"))}
    env.update({TOKEN_VARIABLE: token, "PYTHONDONTWRITEBYTECODE": "1", "HUBCHECK_CACHE": str(directory / ".cache")})
    outcomes = directory / "outcomes.json"
    outcomes.unlink(missing_ok=True)
    completed = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=directory, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                               stdin=subprocess.DEVNULL)
    recorded = json.loads(outcomes.read_text()) if outcomes.exists() else {"items": {}, "torch_imported": None}
    return Run(completed.returncode, completed.stdout, recorded["items"], recorded["torch_imported"], token)


def processes_with(token: str) -> list[int]:
    """Live processes whose environment holds ``token``: the workers a run left behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{TOKEN_VARIABLE}={token}".encode() in environment:
            found.append(int(entry.name))
    return found


def expected_items(repo: str) -> dict[str, dict]:
    """Node id -> expected outcome (and message fragment) from the fixture's expected.json."""
    data = json.loads((FIXTURES / repo / "expected.json").read_text())
    return {f"{repo}/hubconf.py::{item}": expectation for item, expectation in data.items()}


def reference_repo_items() -> list[str]:
    ids = [f"reference_repo/hubconf.py::{check}" for check in (*REPO_ITEMS, "lint")]
    for name in ("DCGAN", "custom_model"):
        ids.append(f"reference_repo/hubconf.py::{name}::docstring")
        for device in ("cpu", "cuda"):
            ids += [f"reference_repo/hubconf.py::{name}::{check}[{device}]" for check in ENTRYPOINT_CHECKS]
            if device == "cuda":
                ids.append(f"reference_repo/hubconf.py::{name}::device-parity[cuda]")
            ids += [f"reference_repo/hubconf.py::{name}::{check}[{device}]" for check in DEFAULT_MODEL_CHECKS]
    return ids


def collected(result: pytest.RunResult | subprocess.CompletedProcess) -> list[str]:
    lines = result.outlines if isinstance(result, pytest.RunResult) else result.stdout.splitlines()
    return [line for line in lines if "::" in line]


def collect_only(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


# -- loading the plugin ---------------------------------------------------------------


def test_loading_the_plugin_imports_nothing_heavy():
    code = ("import sys, hubcheck.plugin; "
            "print(sorted(m for m in ('torch', 'typer', 'rich', 'git', 'hubcheck.pytest_items') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_test_suite_that_does_not_ask_is_unaffected(pytester: pytest.Pytester):
    shutil.copytree(FIXTURES / "crash_on_import", pytester.path / "repo")
    pytester.makepyfile(test_ordinary="def test_ordinary():\n    pass\n")

    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert pytester.runpytest("repo", "-p", "no:cacheprovider").ret == pytest.ExitCode.NO_TESTS_COLLECTED


# -- collection -------------------------------------------------------------------------


def test_items_from_the_project_root():
    result = collect_only(PROJECT, "--hubcheck", "reference_repo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert collected(result) == reference_repo_items()


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(("-k", "DCGAN and cuda"), [
        f"DCGAN::{check}[cuda]" for check in (*ENTRYPOINT_CHECKS, "device-parity", *DEFAULT_MODEL_CHECKS)],
        id="keyword"),
    pytest.param(("-m", "hubcheck_reference"), [
        f"{name}::reference[{device}]" for name in ("DCGAN", "custom_model") for device in ("cpu", "cuda")],
        id="marker"),
    pytest.param(("--hubcheck-device", "cpu", "-k", "custom_model"), [
        "custom_model::docstring", *[f"custom_model::{check}[cpu]" for check in (*ENTRYPOINT_CHECKS, *DEFAULT_MODEL_CHECKS)]],
        id="device"),
])
def test_selecting_items(args, expected):
    result = collect_only(PROJECT, "--hubcheck", "reference_repo", *args)
    assert collected(result) == [f"reference_repo/hubconf.py::{item}" for item in expected], result.stdout


def test_selecting_an_entrypoint_by_node_id():
    result = collect_only(PROJECT, "--hubcheck", "reference_repo/hubconf.py::custom_model")
    assert collected(result) == [item for item in reference_repo_items() if "::custom_model::" in item]


def test_naming_hubconf_py_does_not_import_it_here(pytester: pytest.Pytester):
    shutil.copytree(FIXTURES / "crash_on_import", pytester.path / "repo")

    # pytest imports any .py file named on the command line as a test module; this one would crash it.
    result = pytester.runpytest_subprocess("--hubcheck", "repo/hubconf.py::model", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert collected(result)[0] == "repo/hubconf.py::model::docstring"


def test_the_ini_option_applies_when_no_paths_are_given(pytester: pytest.Pytester):
    shutil.copytree(FIXTURES / "broken_entrypoints", pytester.path / "repo")
    pytester.makeini("[pytest]\nhubcheck_repos = repo\n")
    pytester.makepyfile(test_ordinary="def test_ordinary():\n    pass\n")

    everything = collected(pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider"))
    assert "repo/hubconf.py::fine::load[cpu]" in everything
    assert "test_ordinary.py::test_ordinary" in everything
    only_the_file = collected(pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", "test_ordinary.py"))
    assert only_the_file == ["test_ordinary.py::test_ordinary"]


def test_a_repo_given_as_a_git_spec(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    source = pytester.path / "source"
    shutil.copytree(FIXTURES / "broken_entrypoints", source)
    for command in (["init", "-q", "-b", "main"], ["add", "."],
                    ["-c", "user.name=Hub Check", "-c", "user.email=hub@example.com", "commit", "-q", "-m", "c1"]):
        subprocess.run(["git", *command], cwd=source, check=True, capture_output=True)
    monkeypatch.setenv("HUBCHECK_CACHE", str(pytester.path / "cache"))
    spec = f"git+{source.as_uri()}@main"

    ids = collected(pytester.runpytest("--hubcheck-repo", spec, "--collect-only", "-q", "-p", "no:cacheprovider"))
    assert f"{spec}/hubconf.py::fine::load[cpu]" in ids
    assert f"{spec}/hubconf.py::import" in ids


def test_an_invalid_config_is_one_failing_item(pytester: pytest.Pytester):
    repo = pytester.path / "repo"
    shutil.copytree(FIXTURES / "broken_entrypoints", repo)
    (repo / "hubcheck.toml").write_text("[validate]\ndevices = ['gpu']\n")

    result = pytester.runpytest("--hubcheck", "repo", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*repo/hubcheck.toml*devices*"])


@pytest.mark.parametrize(("args", "message"), [
    (("--hubcheck",), "*--hubcheck: no hub repo to check*"),
    (("--hubcheck", "--hubcheck-device", "gpu"),
     "*--hubcheck-device: unknown device 'gpu' (use auto, cpu, cuda, cuda:N or mps)*"),
    (("--hubcheck-repo", "not/a/dir/at/all"), "*--hubcheck-repo not/a/dir/at/all:*"),
    (("--hubcheck", "--hubcheck-python", "/no/such/python"), "*--hubcheck-python /no/such/python: no such interpreter*"),
])
def test_usage_errors_are_one_line(pytester: pytest.Pytester, args, message):
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_options_reach_the_validation_session(pytester: pytest.Pytester):
    from hubcheck.pytest_items import HubcheckRun
    from hubcheck.validate import ValidateOptions

    shutil.copytree(FIXTURES / "crash_on_import", pytester.path / "repo")
    config = pytester.parseconfigure("--hubcheck", "repo", "--hubcheck-device", "cuda", "--hubcheck-timeout", "7",
                                     "--hubcheck-python", sys.executable, "--hubcheck-update")
    run = HubcheckRun(config)
    # --hubcheck-update records references: the worker writes into the repo.
    assert run.options == ValidateOptions(devices=("cuda",), timeout=7.0, python=sys.executable, writes_repo=True)
    assert run.update


# -- running: one sequential run over four repos ---------------------------------------


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory = prepare(tmp_path_factory.mktemp("sequential"), *FIXTURE_REPOS, "reference_repo")
    return run_pytest(directory, "--hubcheck", *FIXTURE_REPOS, "reference_repo", "-rA")


def assert_reference_repo_passes(items: dict[str, dict]) -> None:
    for node_id in reference_repo_items():
        outcome = items[node_id]
        if "::threads[cuda]" in node_id and outcome["outcome"] == "skipped":
            assert outcome["message"] in ("no CUDA device", "thread count is a CPU setting; cuda:0 kernels do not use it")
        elif "[cuda]" in node_id and outcome["outcome"] == "skipped":
            assert outcome["message"] == "no CUDA device"
        else:
            assert outcome["outcome"] == "passed", (node_id, outcome)


@pytest.mark.slow
@pytest.mark.parametrize("repo", FIXTURE_REPOS)
def test_outcomes_are_the_expected_ones(sequential: Run, repo: str):
    expected = expected_items(repo)
    found = {node_id: item for node_id, item in sequential.items.items() if node_id.startswith(f"{repo}/")}
    assert list(found) == list(expected), sequential.stdout
    for node_id, expectation in expected.items():
        assert found[node_id]["outcome"] == expectation["outcome"], (node_id, found[node_id])
        assert expectation.get("message", "") in found[node_id]["message"], (node_id, found[node_id])


@pytest.mark.slow
def test_two_repos_in_one_session_keep_their_outcomes(sequential: Run):
    assert sequential.code == pytest.ExitCode.TESTS_FAILED
    assert_reference_repo_passes(sequential.items)
    assert sequential.items["dynamic_entrypoints/hubconf.py::wide::forward[cpu]"]["outcome"] == "passed"


@pytest.mark.slow
def test_a_crash_fails_one_item_and_skips_its_siblings_once(sequential: Run):
    exits = {k: v for k, v in sequential.items.items() if k.startswith("broken_entrypoints/hubconf.py::exits::")}
    assert [k for k, v in exits.items() if v["outcome"] == "failed"] == ["broken_entrypoints/hubconf.py::exits::load[cpu]"]
    skipped = [v["message"] for v in exits.values() if v["outcome"] == "skipped"]
    assert len(skipped) == 4 + len(DEFAULT_MODEL_CHECKS)
    assert all(m.startswith("not run: worker exited with code 1") for m in skipped)
    # The entry point after the crash ran in a fresh worker, untouched.
    fine = [v["outcome"] for k, v in sequential.items.items() if k.startswith("broken_entrypoints/hubconf.py::fine::")]
    assert fine == ["passed"] * 5 + ["skipped"] + ["passed"] * len(DEFAULT_MODEL_CHECKS)


@pytest.mark.slow
def test_failures_show_hubcheck_messages_not_tracebacks(sequential: Run):
    assert "timed out after 3 s during load[cpu]" in sequential.stdout
    assert "Traceback (most recent call last)" not in sequential.stdout
    assert "pytest_items.py" not in sequential.stdout
    assert "hubcheck/plugin.py" not in sequential.stdout


@pytest.mark.slow
def test_reports_point_at_the_entrypoint_definition(sequential: Run):
    source = (FIXTURES / "broken_entrypoints" / "hubconf.py").read_text().splitlines()
    line = source.index("def sleeps():")  # 0-based, as pytest locations are
    node_id = "broken_entrypoints/hubconf.py::sleeps::forward[cpu]"
    # The domain names the repo but is not the node id, whose dots `pytest -v` would turn into "::".
    domain = "sleeps::forward[cpu] (broken_entrypoints)"
    assert sequential.items[node_id]["location"] == ["broken_entrypoints/hubconf.py", line, domain]
    assert f"broken_entrypoints/hubconf.py:{line + 1}: not run: timed out during load[cpu]" in sequential.stdout


@pytest.mark.slow
def test_repo_code_never_runs_in_the_pytest_process(sequential: Run):
    assert sequential.torch_imported is False


@pytest.mark.slow
def test_no_worker_outlives_the_run(sequential: Run):
    assert processes_with(sequential.token) == []
    # The search does find a process started with the token.
    probe = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env={**os.environ, TOKEN_VARIABLE: sequential.token})
    try:
        assert processes_with(sequential.token) == [probe.pid]
    finally:
        probe.kill()
        probe.wait()


# -- the same run under pytest-xdist -----------------------------------------------------


@pytest.mark.slow
def test_xdist_gives_the_same_outcomes(sequential: Run, tmp_path: Path):
    repos = ("broken_entrypoints", "reference_repo")
    directory = prepare(tmp_path, *repos)
    parallel = run_pytest(directory, "--hubcheck", *repos, "-n", "2")

    assert {k: v["outcome"] for k, v in parallel.items.items()} == {
        k: v["outcome"] for k, v in sequential.items.items() if k.startswith(repos)}
    # An entry point's items (and the repo's own) ran on one worker, which built the model once.
    workers_of: dict[str, set[str]] = {}
    for node_id, item in parallel.items.items():
        workers_of.setdefault(node_id.rsplit("::", 1)[0], set()).add(item["worker"])
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of
    assert processes_with(parallel.token) == []


# -- accepting new references ----------------------------------------------------------------


@pytest.mark.slow
def test_update_records_new_references_then_they_pass(tmp_path: Path):
    directory = prepare(tmp_path, "reference_repo")
    references = directory / "reference_repo" / "hubcheck_refs"
    for path in (references / "DCGAN").iterdir():
        path.unlink()
    config = directory / "reference_repo" / "hubcheck.toml"
    # Untrained weights: custom_model's outputs no longer match its reference.
    config.write_text(config.read_text().replace("kwargs = { pretrained = true }\ninputs = [ { shape = [8, 4]",
                                                 "kwargs = { pretrained = false }\ninputs = [ { shape = [8, 4]"))
    args = ("--hubcheck", "reference_repo", "-m", "hubcheck_reference", "-k", "cpu")

    before = run_pytest(directory, *args)
    assert {k: v["outcome"] for k, v in before.items.items()} == {
        "reference_repo/hubconf.py::DCGAN::reference[cpu]": "failed",
        "reference_repo/hubconf.py::custom_model::reference[cpu]": "failed",
    }, before.stdout
    missing = before.items["reference_repo/hubconf.py::DCGAN::reference[cpu]"]["message"]
    assert "no reference for 'DCGAN'" in missing and "pytest --hubcheck-update" in missing

    update = run_pytest(directory, *args, "--hubcheck-update")
    assert update.code == pytest.ExitCode.OK, update.stdout
    assert "created hubcheck_refs/DCGAN/default.safetensors" in update.stdout
    assert "updated hubcheck_refs/custom_model/default.safetensors" in update.stdout
    assert (references / "DCGAN" / "default.safetensors").is_file()

    after = run_pytest(directory, *args)
    assert after.code == pytest.ExitCode.OK, after.stdout
    assert [v["outcome"] for v in after.items.values()] == ["passed", "passed"]


# -- fixtures for hand-written tests -------------------------------------------------------------


HAND_WRITTEN_TESTS = '''
import sys

import torch


def test_repo(hub_repo):
    assert (hub_repo.path / "hubconf.py").is_file()
    assert hub_repo.config.entrypoint("custom_model").kwargs == {"pretrained": True}


def test_model(hub_model):
    model = hub_model("custom_model")
    assert not model.training
    assert model(torch.zeros(2, 4)).shape == (2, 3)


def test_modules_are_forgotten():
    assert not [name for name in sys.modules if name.split(".")[0] == "refzoo"]


def test_cuda(hub_model):
    model = hub_model("custom_model", device="cuda")
    assert next(model.parameters()).is_cuda
'''


@pytest.mark.slow
def test_hub_repo_and_hub_model_in_the_repos_own_tests(pytester: pytest.Pytester):
    shutil.copytree(REFERENCE_REPO, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    pytester.makepyfile(test_hub=HAND_WRITTEN_TESTS)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == 4 and "failed" not in outcomes, result.stdout.str()
    if outcomes.get("skipped"):
        result.stdout.fnmatch_lines(["*test_hub.py*no CUDA device*"])


def test_hub_repo_runs_once_per_requested_repo(pytester: pytest.Pytester):
    repos = ("broken_entrypoints", "crash_on_import")
    for name in repos:
        shutil.copytree(FIXTURES / name, pytester.path / name)
    pytester.makepyfile(test_repos="def test_has_hubconf(hub_repo):\n    assert (hub_repo.path / 'hubconf.py').is_file()\n")

    result = pytester.runpytest("--hubcheck", *repos, "test_repos.py", "-m", "not hubcheck", "-p", "no:cacheprovider",
                                "-v")
    result.assert_outcomes(passed=2, deselected=sum(len(expected_items(name)) for name in repos))
    result.stdout.fnmatch_lines([f"*test_has_hubconf?{name}? PASSED*" for name in repos])


def _repo_with_model(root: Path, outputs: int) -> None:
    root.mkdir()
    (root / "hubconf.py").write_text(
        'dependencies = ["torch"]\n\nimport torch\n\n\n'
        f'def model():\n    """A 4-to-{outputs} linear layer."""\n    return torch.nn.Linear(4, {outputs})\n'
    )


TWO_REPO_TESTS = {
    "a/test_in_a.py": "def test_model(hub_model, hub_repo):\n"
                      "    assert hub_repo.path.name == 'a'\n"
                      "    assert hub_model('model').out_features == 2\n",
    "b/test_in_b.py": "def test_model(hub_model):\n    assert hub_model('model').out_features == 3\n",
    "test_outside.py": "import pytest\n\n\n"
                       "def test_named(hub_model):\n"
                       "    assert hub_model('model', repo='b').out_features == 3\n"
                       "    assert hub_model('model', repo='a').out_features == 2\n\n\n"
                       "def test_unnamed(hub_model):\n    hub_model('model')\n\n\n"
                       "def test_per_repo(hub_repo, hub_model):\n"
                       "    assert hub_model('model').out_features == {'a': 2, 'b': 3}[hub_repo.path.name]\n",
}


@pytest.mark.slow
def test_hub_model_binds_to_the_repo_that_holds_the_test(pytester: pytest.Pytester):
    """Two repos with an entry point of the same name: each repo's tests get their own model, never the other's."""
    _repo_with_model(pytester.path / "a", 2)
    _repo_with_model(pytester.path / "b", 3)
    for name, text in TWO_REPO_TESTS.items():
        (pytester.path / name).write_text(text)

    result = pytester.runpytest_subprocess("--hubcheck", "a", "b", "test_outside.py", "-m", "not hubcheck",
                                           "-p", "no:cacheprovider", "-v")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 5 and outcomes.get("failed") == 1, result.stdout.str()
    result.stdout.fnmatch_lines_random([  # session-scoped parameters reorder the tests
        "a/test_in_a.py::test_model?a? PASSED*",
        "b/test_in_b.py::test_model PASSED*",
        "test_outside.py::test_named PASSED*",
        "test_outside.py::test_unnamed FAILED*",
        "test_outside.py::test_per_repo?a? PASSED*",
        "test_outside.py::test_per_repo?b? PASSED*",
    ])
    result.stdout.fnmatch_lines([("*hub_model: this session checks 2 hub repos ('a', 'b') and test_outside.py is "
                                  "inside none of them: name one, hub_model('model', repo='a')*")])


@pytest.mark.parametrize("value", ["1e308", "inf", "nan", "-1"])
def test_an_unusable_timeout_is_one_line(pytester: pytest.Pytester, value):
    shutil.copytree(FIXTURES / "broken_entrypoints", pytester.path / "repo")
    result = pytester.runpytest_subprocess("--hubcheck", "repo", f"--hubcheck-timeout={value}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --hubcheck-timeout: *"])


CORPUS = PROJECT / "fixtures" / "corpus"
UNUSABLE_CONFIGS = ("config_timeout_overflow", "config_nested_toml", "config_invalid_utf8", "config_tiny_max_memory",
                    "config_references_proc", "config_symlink_dev_zero")


@pytest.mark.parametrize("name", UNUSABLE_CONFIGS)
def test_an_unusable_config_value_is_one_failing_item(pytester: pytest.Pytester, name):
    """The corpus's config cases under the plugin: one failed ``config`` item with the CLI's message."""
    shutil.copytree(CORPUS / name, pytester.path / "repo", symlinks=True)
    expected = json.loads((CORPUS / name / "expected.json").read_text())

    result = pytester.runpytest_subprocess("--hubcheck", "repo", "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(failed=1)
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert expected["error"] in result.stdout.str(), result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED repo/hubconf.py::config*"])
