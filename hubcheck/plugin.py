"""pytest plugin: opt-in with ``pytest --hubcheck``; installing hubcheck changes nothing otherwise.

``pytest --hubcheck path/to/repo`` collects every check of every entry point on
every device as a test item (``path/to/repo/hubconf.py::custom_model::forward[cpu]``),
runs it in the repo's isolated worker, and lets pytest-xdist spread the entry
points over cores and machines (``-n auto``). This module holds only hooks,
options and fixtures; the items live in :mod:`hubcheck.pytest_items`, imported
when a run asks for hubcheck, so that loading the plugin stays cheap (no torch,
typer, rich or git).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hubcheck.pytest_items import HubcheckRun, HubRepo, RepoRequest

CHECK_MARKERS = (
    "import", "dependencies", "entrypoints", "config", "references", "lint",
    "docstring", "load", "forward", "determinism", "state-dict-roundtrip", "reference", "device-parity",
)
_RUN = pytest.StashKey["HubcheckRun"]()
"""The :class:`~hubcheck.pytest_items.HubcheckRun` of this process."""
_ACTIVE = pytest.StashKey[bool]()
"""Whether this run collects hubcheck items."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hubcheck", "check PyTorch Hub repos")
    group.addoption("--hubcheck", action="store_true", default=False,
                    help="check hub repos as test items: every path argument that holds hubconf.py, every "
                         "--hubcheck-repo, else the hubcheck_repos ini option, else the rootdir")
    group.addoption("--hubcheck-repo", action="append", default=[], metavar="SPEC",
                    help="also check this hub repo: a directory, owner/name[:ref] or git+URL[@ref]; repeatable; "
                         "implies --hubcheck")
    group.addoption("--hubcheck-device", action="append", default=[], metavar="DEVICE",
                    help="cpu, cuda, cuda:N, mps or auto (cpu and cuda); repeatable; default: the repo's "
                         "[validate] devices")
    group.addoption("--hubcheck-update", action="store_true", default=False,
                    help="record new reference outputs of the selected entry points (hubcheck record --update) "
                         "before checking them")
    group.addoption("--hubcheck-timeout", type=float, default=None, metavar="SECONDS",
                    help="seconds per entry point (default: the repo's [validate] timeout)")
    group.addoption("--hubcheck-python", default=None, metavar="PYTHON",
                    help="run repo code in a worker under this interpreter (e.g. a venv with another torch)")
    group.addoption("--hubcheck-shard", default=None, metavar="K/N",
                    help="check only shard K of N (1 <= K <= N): the entry points whose name hashes to it, and in "
                         "shard 1 the repo-level items; the N shards of a CI matrix hold every item once")
    # --hubcheck-config, --hubcheck-kwarg... : the twins of validate's options, from one table.
    from hubcheck.run_options import add_plugin_options

    add_plugin_options(group)
    parser.addini("hubcheck_repos", type="args", default=[],
                  help="hub repos to check, relative to the configuration file: with --hubcheck, and on runs "
                       "given no path arguments (like testpaths); the repos of the hub_repo fixture")


def _is_active(config: pytest.Config) -> bool:
    if config.option.hubcheck or config.option.hubcheck_repo:
        return True
    # Like testpaths: the ini option applies when no paths were given, so `pytest tests/test_x.py` stays quick.
    return bool(config.getini("hubcheck_repos")) and config.args_source is not pytest.Config.ArgsSource.ARGS


def _run(config: pytest.Config) -> HubcheckRun:
    run = config.stash.get(_RUN, None)
    if run is None:
        from hubcheck.pytest_items import HubcheckRun

        run = config.stash[_RUN] = HubcheckRun(config)
    return run


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):
    # Ahead of xdist, which turns an unset --dist into "load" when -n is given. loadscope sends all
    # items up to the last "::" to one worker: an entry point's items stay together (its model is
    # built once) and the repo's own items together. loadgroup would do the same through the
    # xdist_group marks, but on pytest 9.2 it silently stops grouping (pytest-xdist#1386).
    if _is_active(config) and getattr(config.option, "numprocesses", None) and config.option.dist == "no":
        config.option.dist = "loadscope"
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hubcheck: every hubcheck item")
    for check in CHECK_MARKERS:
        config.addinivalue_line("markers", f"hubcheck_{check.replace('-', '_')}: hubcheck's {check} items")
    from hubcheck.model_checks import MODEL_CHECKS

    for model_check in MODEL_CHECKS:
        config.addinivalue_line("markers", f"{model_check.marker}: hubcheck's {model_check.id} items "
                                           f"({model_check.description})")
    config.stash[_ACTIVE] = _is_active(config)
    if not config.stash[_ACTIVE]:
        return
    _check_timeout(config.option.hubcheck_timeout)
    if not _run(config).requests:
        named = ""
        if config.args_source is pytest.Config.ArgsSource.ARGS:
            named = "; ".join(f"{arg} holds no hubconf.py" for arg in config.args) + ": "
        raise pytest.UsageError(
            f"--hubcheck: no hub repo to check: {named}name a directory that holds hubconf.py "
            "(pytest --hubcheck path/to/repo), pass --hubcheck-repo SPEC, or set hubcheck_repos in the pytest "
            "configuration"
        )


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent: pytest.Collector):
    collectors = yield
    if file_path.name != "hubconf.py" or not parent.config.stash.get(_ACTIVE, False):
        return collectors
    hubconf = _run(parent.config).collect_file(file_path, parent)
    if hubconf is None:
        return collectors
    # pytest makes a test module of any .py file named on the command line, and importing that
    # would run repo code in this process: the repo's hubconf.py is ours alone.
    return [c for c in collectors if not isinstance(c, pytest.Module)] + [hubconf]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    # A script among the repo's own files that calls sys.exit when imported (argparse at module level) would
    # end the whole session with an INTERNALERROR: it becomes that file's collection error instead.
    try:
        return (yield)
    except SystemExit as exited:
        run = collector.config.stash.get(_RUN, None)
        if run is None or _request_holding(run, collector.path) is None:
            raise
        return pytest.CollectReport(collector.nodeid, "failed",
                                    f"{collector.path} called sys.exit({exited.code!r}) when pytest imported it", [])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # First, so that -k, -m, --deselect and xdist's grouping see these items too.
    if config.stash.get(_ACTIVE, False):
        items.extend(_run(config).collect_unreached(session))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    # pytest-xdist's controller, before any worker starts: where they will run, for each one's share of the cores.
    if config.stash.get(_ACTIVE, False):
        _run(config).note_worker_specs(specs)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    # pytest-xdist's controller, once per worker before it starts: the workers collect what it hands them.
    if node.config.stash.get(_ACTIVE, False):
        from hubcheck.pytest_items import WORKER_INPUT

        node.workerinput[WORKER_INPUT] = _run(node.config).node_input(node.gateway.spec)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(_RUN, None)
    if run is not None:
        run.close()
        # A shard that no entry point hashes to (a small hub, many shards) has nothing to check: not a failure.
        if run.shard is not None and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not config.stash.get(_ACTIVE, False):
        return None
    from hubcheck.isolation import probe

    lines = [f"hubcheck isolation: {probe().summary}",
             "  (network allowed for repos with [validate] allow_network; repos writable with --hubcheck-update)"]
    shard = _run(config).shard
    if shard is not None:
        lines.append(f"hubcheck shard {shard}: the entry points whose name hashes to it"
                     + (", and the repo-level items" if shard.holds_repo_items else ""))
    return lines


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    # A check that was not verified is counted apart from skips: "3 passed, 1 not verified".
    if report.when != "call" or not report.skipped or not config.stash.get(_ACTIVE, False):
        return None
    from hubcheck.pytest_items import NOT_VERIFIED_PROPERTY

    if any(key == NOT_VERIFIED_PROPERTY for key, _ in report.user_properties):
        return "not verified", "N", ("NOT VERIFIED", {"purple": True})
    return None


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if not config.stash.get(_ACTIVE, False):
        return
    _hint_repo_tests(terminalreporter, config)
    _list_not_verified(terminalreporter)
    if not config.option.hubcheck_update:
        return
    from hubcheck.pytest_items import UPDATE_PROPERTY

    # Every phase's report (setup, call, teardown) carries the item's user_properties: read the call's, once.
    messages = dict.fromkeys(
        value for reports in terminalreporter.stats.values() for report in reports
        if getattr(report, "when", None) == "call"
        for key, value in getattr(report, "user_properties", ()) if key == UPDATE_PROPERTY)
    if messages:
        terminalreporter.write_sep("=", "hubcheck --hubcheck-update")
        for message in messages:
            terminalreporter.write_line(message)


def _hint_repo_tests(terminalreporter, config: pytest.Config) -> None:
    """Lead users of ``pytest --hubcheck DIR`` to ``--hubcheck-repo DIR`` when DIR's own test files failed to collect.

    A path argument makes pytest collect every test file under it, as it always does; hubcheck's items
    need only the repo.
    """
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    failing: dict[str, list[str]] = {}
    for report in terminalreporter.stats.get("error", []):
        if getattr(report, "when", None) != "collect":
            continue
        path = config.rootpath / report.nodeid.split("::", 1)[0]
        request = _request_holding(run, path)
        if request is not None and path.name != "hubconf.py":
            failing.setdefault(request.spec, []).append(report.nodeid)
    named = {_real(config.invocation_params.dir / arg.split("::", 1)[0]) for arg in config.args}
    for spec, nodeids in failing.items():
        request = next(r for r in run.requests if r.spec == spec)
        files = f"{len(nodeids)} of {spec}'s own test files failed to collect ({', '.join(nodeids[:3])}" + (
            ", ...)" if len(nodeids) > 3 else ")")
        if request.local in named or (request.local is not None and request.local / "hubconf.py" in named):
            advice = ("a path argument also collects the repo's tests. To run only the hub checks, run: "
                      f"pytest --hubcheck-repo {spec}")
        else:
            advice = ("pytest collected them from the paths it was given (or the current directory): name only "
                      f"your own tests, e.g. pytest --hubcheck-repo {spec} tests/")
        terminalreporter.write_sep("=", "hubcheck")
        terminalreporter.write_line(f"{files}: {advice}")


def _list_not_verified(terminalreporter) -> None:
    """Every item whose check was not verified, with why: pytest's ``-rs`` lists skips, which these are not."""
    reports = terminalreporter.stats.get("not verified", [])
    if reports:
        terminalreporter.write_sep("=", "hubcheck: not verified (fails with --hubcheck-strict)")
        for report in reports:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.write_line(f"NOT VERIFIED {report.nodeid}: {reason.removeprefix('Skipped: ')}")


def _request_holding(run: HubcheckRun, path: Path) -> RepoRequest | None:
    """The requested local repo whose directory holds ``path``, or None."""
    resolved = _real(path)
    return next((r for r in run.requests if r.local is not None and resolved.is_relative_to(r.local)), None)


def _real(path: Path) -> Path:
    """``path`` with its links resolved as far as they go: a hostile tree's link loop is not an internal error."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _check_timeout(seconds: float | None) -> None:
    from hubcheck.config import timeout_problem

    problem = timeout_problem(seconds) if seconds is not None else None
    if problem:
        raise pytest.UsageError(f"--hubcheck-timeout: {problem}")


def _containing_repo(run: HubcheckRun, test_file: Path) -> RepoRequest | None:
    """The requested local repo whose directory holds ``test_file`` (the innermost one), or None."""
    holding = [r for r in run.requests if r.local is not None and r.local in test_file.resolve().parents]
    return max(holding, key=lambda r: len(r.local.parts), default=None)  # type: ignore[union-attr]


def _named_repo(run: HubcheckRun, name: str | Path) -> RepoRequest:
    """The requested repo ``name`` means: its spec as given, or its directory."""
    cwd = run.config.invocation_params.dir
    for request in run.requests:
        if str(name) == request.spec or (request.local is not None and (cwd / name).resolve() == request.local):
            return request
    known = ", ".join(repr(r.spec) for r in run.requests) or "none"
    pytest.fail(f"hub_model: repo={str(name)!r} is not a hub repo of this session (they are: {known})", pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_repo" not in metafunc.fixturenames:
        return
    run = _run(metafunc.config)
    if len(run.requests) < 2:
        return
    # A test inside a repo is that repo's; one outside every repo runs once per repo. Either
    # way a parameter, which keys the session-scoped fixture's value by repo.
    own = _containing_repo(run, metafunc.definition.path)
    repos = [own] if own is not None else run.requests
    metafunc.parametrize("hub_repo", repos, indirect=True, ids=[r.spec for r in repos], scope="session")


@pytest.fixture(scope="session")
def hub_repo(request: pytest.FixtureRequest) -> HubRepo:
    """The hub repo under test: ``.repo`` (the resolved repo), ``.config`` (its hubcheck.toml) and ``.path``.

    The repos are those of ``--hubcheck`` / ``--hubcheck-repo``, else the
    ``hubcheck_repos`` ini option, else the rootdir when it holds hubconf.py.
    A test file inside one of them gets that repo; a test outside every repo
    gets the only one, or with several runs once per repo.
    """
    run = _run(request.config)
    chosen = getattr(request, "param", None) or (run.requests[0] if run.requests else None)
    if chosen is None:
        pytest.fail("hub_repo: no hub repo: run pytest from a repo that holds hubconf.py, pass --hubcheck "
                    "path/to/repo, or set hubcheck_repos", pytrace=False)
    return run.hub_repo(chosen)


@pytest.fixture
def hub_model(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Factory: ``hub_model(entrypoint, device="cpu", *, repo=None, **kwargs)`` returns the entry point's model.

    The model comes from the repo whose directory holds the test file, else the
    test's ``hub_repo`` (when it asks for one), else the session's only repo;
    with several repos and none of those, name one: ``repo=`` takes a repo as
    given to ``--hubcheck`` / ``--hubcheck-repo`` / ``hubcheck_repos``, or its
    directory.

    Unlike hubcheck's own items, which run repo code only in an isolated
    worker, this loads the model **in the test process**, because that is what
    a hand-written test asks for: ``torch.hub.load(repo_path, entrypoint,
    source="local", **kwargs)`` with the keyword arguments of the entry point's
    ``[entrypoints.NAME]`` table (``kwargs``, then ``device_kwargs`` of the
    device) updated by ``kwargs``; an ``nn.Module`` is moved to ``device``, and
    the result is put in eval mode. A test asking for a CUDA or MPS device
    where there is none is skipped. The repo's modules that torch.hub leaves
    in ``sys.modules`` are removed after the test.

    Example:
        def test_batch_of_one(hub_model):
            model = hub_model("custom_model", pretrained=False)
            assert model(torch.zeros(1, 4)).shape == (1, 3)
    """
    from hubcheck.pytest_items import ModelLoader

    run = _run(request.config)
    if "hub_repo" in request.fixturenames:
        default: HubRepo | None = request.getfixturevalue("hub_repo")
    else:
        own = _containing_repo(run, request.path) or (run.requests[0] if len(run.requests) == 1 else None)
        default = run.hub_repo(own) if own is not None else None
    loaders: dict[Path, ModelLoader] = {}

    def load(entrypoint: str, device: str = "cpu", *, repo: str | Path | None = None, **kwargs: Any) -> Any:
        hub = run.hub_repo(_named_repo(run, repo)) if repo is not None else default
        if hub is None:
            specs = ", ".join(repr(r.spec) for r in run.requests)
            pytest.fail(f"hub_model: this session checks {len(run.requests)} hub repos ({specs}) and "
                        f"{request.path.name} is inside none of them: name one, "
                        f"hub_model({entrypoint!r}, repo={run.requests[0].spec!r})", pytrace=False)
        if hub.path not in loaders:
            loaders[hub.path] = ModelLoader(hub)
        return loaders[hub.path].load(entrypoint, device, **kwargs)

    yield load
    for loader in loaders.values():
        loader.forget_modules()
