"""What the pytest plugin collects and runs: hubcheck's checks of hub repos as pytest items.

:mod:`hubcheck.plugin` holds only hooks, options and fixtures and imports this
module when a run asks for hubcheck. Items are laid out as::

    reference_repo/hubconf.py::import                      the repo: import, dependencies,
    reference_repo/hubconf.py::lint[HUB203]                entrypoints, config, references;
    reference_repo/hubconf.py::custom_model::docstring     one lint item per rule that fired;
    reference_repo/hubconf.py::custom_model::forward[cpu]  then every check of every entry
    reference_repo/hubconf.py::DCGAN::device-parity[cuda]  point on every device.

Collection reads hubconf.py statically and never imports torch or repo code in
the pytest process; only a hubconf whose entry points are built at run time is
imported, in the worker. Running an item runs nothing of its own: the first
item of an entry point runs :meth:`ValidationSession.run_entrypoint` (the one
implementation ``hubcheck validate`` uses) in that repo's worker, and every
item of the entry point reports its own :class:`CheckResult` from that run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hubcheck.config import Config
from hubcheck.config_overlay import load_layered_config
from hubcheck.cpu_share import GatewaySpec, intra_op_threads, workers_at
from hubcheck.errors import ConfigError, HubcheckError
from hubcheck.findings import Finding
from hubcheck.resolve import ResolvedRepo, SourceKind, parse_spec, require_hubconf, resolve
from hubcheck.results import CheckResult, Report, Status
from hubcheck.run_options import RunOverrides, is_selected, plugin_overrides, plugin_value
from hubcheck.sharding import Shard, parse_shard
from hubcheck.validate import (
    ACCELERATOR_CHECKS,
    ENTRYPOINT_CHECKS,
    REPO_CHECKS,
    ValidateOptions,
    ValidationSession,
    leaked_reason,
)

if TYPE_CHECKING:
    from hubcheck.lint import LintResult

NOT_VERIFIED_PROPERTY = "hubcheck-not-verified"
"""``user_properties`` key of an item whose check was not verified; it travels with xdist's reports."""
UPDATE_PROPERTY = "hubcheck-update"
"""``user_properties`` key of what ``--hubcheck-update`` recorded; it travels with xdist's reports."""

HUBCONF = "hubconf.py"
REPO_ITEMS = (*REPO_CHECKS, "config", "references")
"""Checks of the repo as a whole, one item each, ahead of the lint and entry point items."""
AUTO_DEVICES = ("cpu", "cuda")
"""What ``auto`` collects with fewer than two kinds of GPU. Item ids must not
depend on the worker (every xdist worker, remote ones too, has to collect the
same items), so ``auto`` is the CPU plus CUDA, whose items skip with the reason
where no GPU is present; with several kinds, see :func:`_auto_devices`."""
WORKER_INPUT = "hubcheck"
"""The key of what the xdist controller hands every worker in ``workerinput`` (see :meth:`HubcheckRun.worker_input`)."""
RECORD_DEVICE = "cpu"
"""Where ``--hubcheck-update`` records references, as ``hubcheck record`` does by default."""


class CheckFailure(Exception):
    """A hubcheck check failed; its message is all the report shows."""


# -- which repos --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RepoRequest:
    """One hub repo the run asks for, before anything is resolved or fetched."""

    spec: str
    """As written: a directory, ``owner/name[:ref]`` or ``git+URL[@ref]``."""
    cwd: Path
    """The directory relative paths in ``spec`` are read from."""
    local: Path | None
    """The absolute directory of a local spec; None for specs that are fetched."""


def _request(spec: str, cwd: Path, what: str) -> RepoRequest:
    try:
        parsed = parse_spec(spec, cwd=cwd)
    except HubcheckError as error:
        raise pytest.UsageError(f"{what} {spec}: {error}") from None
    return RepoRequest(spec, cwd, parsed.path if parsed.kind is SourceKind.LOCAL else None)


def _hub_dir(arg: str, cwd: Path) -> Path | None:
    """The repo directory a pytest path argument names (the dir, or its hubconf.py), or None."""
    # Any hubconf.py counts (a FIFO, a link loop): resolving the repo then says in one line what is wrong with it.
    target = cwd / arg.split("::", 1)[0]
    if target.name == HUBCONF and os.path.lexists(target):
        return target.parent.resolve()
    path = target.resolve()
    if path.is_dir() and os.path.lexists(path / HUBCONF):
        return path
    return None


def requested_repos(config: pytest.Config) -> list[RepoRequest]:
    """The repos of this run: named on the command line, else ``hubcheck_repos``, else the rootdir.

    On the command line (with ``--hubcheck``) every path argument that is a
    directory holding hubconf.py, or a hubconf.py, names a repo, and so does
    every ``--hubcheck-repo``. Paths in the ini option are relative to the
    configuration file's directory.
    """
    cwd = config.invocation_params.dir
    requests: list[RepoRequest] = []
    if config.option.hubcheck:
        for arg in config.args:
            found = _hub_dir(arg, cwd)
            if found is not None:
                requests.append(RepoRequest(os.path.relpath(found, cwd), cwd, found))
    requests += [_request(spec, cwd, "--hubcheck-repo") for spec in config.option.hubcheck_repo]
    if not requests:
        base = config.inipath.parent if config.inipath else config.rootpath
        requests = [_request(spec, base, "hubcheck_repos:") for spec in config.getini("hubcheck_repos")]
    if not requests and (config.rootpath / HUBCONF).is_file():
        requests = [RepoRequest(".", config.rootpath, config.rootpath)]
    unique: dict[Path | str, RepoRequest] = {}
    for request in requests:
        unique.setdefault(request.local or request.spec, request)
    return list(unique.values())


def check_device_words(words: list[str]) -> None:
    """Fail the run with one line for a ``--hubcheck-device`` that names no device."""
    from hubcheck.config import device_word_problem

    for word in words:
        problem = device_word_problem(word)
        if problem:
            raise pytest.UsageError(f"--hubcheck-device: {problem}")


def _auto_devices(gpus: list[tuple[str, str]]) -> tuple[str, ...]:
    """``auto`` for the run's visible GPUs ``(pin, kind)``: with two kinds or more, one ``cuda:I`` per kind (its
    first GPU), so that every kind is checked; otherwise :data:`AUTO_DEVICES`."""
    from hubcheck.device_pinning import Gpu, gpu_kinds

    kinds = gpu_kinds([Gpu(pin, kind) for pin, kind in gpus])
    if len(kinds) < 2:
        return AUTO_DEVICES
    return ("cpu", *(f"cuda:{[kind for _, kind in gpus].index(k)}" for k in kinds))


def _expand_devices(words: tuple[str, ...], auto: tuple[str, ...] = AUTO_DEVICES) -> tuple[str, ...]:
    expanded: list[str] = []
    for word in words:
        for device in auto if word == "auto" else (word,):
            if device not in expanded:
                expanded.append(device)
    return tuple(expanded)


def item_checks(devices: tuple[str, ...], model_checks: tuple[str, ...] = ()) -> list[tuple[str, str | None]]:
    """The (check, device) items of one entry point, in the order the worker runs them."""
    checks: list[tuple[str, str | None]] = [("docstring", None)]
    for device in devices:
        checks += [(check, device) for check in ENTRYPOINT_CHECKS]
        if not device.startswith("cpu"):
            checks += [(check, device) for check in ACCELERATOR_CHECKS]
        checks += [(check, device) for check in model_checks]
    return checks


def _item_device(device: str | None, devices: tuple[str, ...]) -> str | None:
    """The collected device a result belongs to: ``cuda`` items get the results of ``cuda:0``."""
    if device is None or device in devices:
        return device
    base = device.partition(":")[0]
    return base if base in devices else device


# -- one repo ------------------------------------------------------------------------


class RepoState:
    """One repo in one pytest process: its static reading, lint, and the one worker session.

    The session starts when the first item that needs it runs (or at collection,
    for a hubconf whose entry points only exist at run time) and is closed when
    the pytest session ends.
    """

    def __init__(self, request: RepoRequest, run: HubcheckRun) -> None:
        self.request = request
        self.run = run
        self._resolved: ResolvedRepo | None = None
        self._config: Config | None = None
        self._lint: LintResult | None = None
        self._session: ValidationSession | None = None
        self._session_error: HubcheckError | None = None
        self._results: dict[str, dict[tuple[str, str | None], CheckResult] | HubcheckError] = {}
        self._config_checks: list[CheckResult] | None = None
        self._selected: dict[str, list[tuple[str, str | None]]] | None = None
        self.recorded: dict[str, tuple[bool, str]] = {}
        """Entry point -> (failed, message) of what ``--hubcheck-update`` did for it in this process."""

    # -- what collection needs ---------------------------------------------------------

    @property
    def resolved(self) -> ResolvedRepo:
        if self._resolved is None:
            resolved = resolve(self.request.spec, cwd=self.request.cwd)
            require_hubconf(resolved)
            self._resolved = resolved
        return self._resolved

    @property
    def hubconf(self) -> Path:
        return self.resolved.path / HUBCONF

    def prepare(self) -> Config:
        """Resolve the repo and read its configuration.

        Raises:
            ResolutionError: the spec cannot be resolved or there is no hubconf.py.
            ConfigError: the repo's configuration is invalid.
        """
        if self._config is None:
            self._config = load_layered_config(self.resolved.path, self.run.options.overrides.config_file)
        return self._config

    @property
    def config(self) -> Config:
        return self.prepare()

    @property
    def lint(self) -> LintResult:
        """The :class:`~hubcheck.lint.LintResult` of the repo (static: no repo code runs)."""
        if self._lint is None:
            from hubcheck.lint import lint_repo

            self._lint = lint_repo(self.resolved.path, config=self.config)
        return self._lint

    def entrypoints(self) -> tuple[list[str], dict[str, int]]:
        """Entry point names and their lines in hubconf.py.

        The static model when it is complete; otherwise hubconf is imported in
        the worker, as torch.hub would import it, for the names built at run time.
        """
        model = self.lint.model
        static = list(model.entrypoints) if model is not None else []
        lines = {entry.name: entry.line for entry in static}
        # Leaked helpers (HUB103) are not loaded unless named, as in `hubcheck validate`.
        leaked = {e.name for e in static if e.leaked and e.name not in self.run.options.entrypoints}
        if model is not None and model.complete:
            return [n for n in self.run.selected([entry.name for entry in static]) if n not in leaked], lines
        names, run_time_lines = self.run_time_listing()
        for name, line in run_time_lines.items():
            lines.setdefault(name, line)
        return [n for n in self.run.selected(names or [entry.name for entry in static]) if n not in leaked], lines

    def run_time_listing(self) -> tuple[list[str], dict[str, int]]:
        """The names hubconf defines once imported, with their lines: as the xdist controller listed them for every
        worker, else from this process's worker (whose import the run reuses)."""
        handed = self.run.handed_listing(self)
        if handed is not None:
            return handed
        outcome = self.session().import_hubconf()
        return list(outcome.names), {name: entry.line for name, entry in outcome.entries.items() if entry.line}

    @property
    def listing_key(self) -> str:
        """This repo's key in the controller's listings: its place among the requests and its hubconf's digest,
        the same on a remote worker given the same files."""
        digest = hashlib.sha256(self.hubconf.read_bytes()).hexdigest()
        return f"{self.run.requests.index(self.request)}:{digest}"

    def leaked(self) -> list[tuple[str, int | None]]:
        """Names lint calls leaked that a full run would have loaded, with their lines: each gets one skipped
        ``load`` item saying why, as ``hubcheck validate`` reports them."""
        model = self.lint.model
        options = self.run.options
        if model is None or options.entrypoints:
            return []
        return [(e.name, e.line) for e in model.entrypoints
                if e.leaked and is_selected(e.name, (), options.select_patterns, options.exclude_patterns)]

    def model_checks(self) -> tuple[str, ...]:
        """The model checks collected for every entry point: ``--hubcheck-check``, else ``[validate] checks``."""
        from hubcheck.model_checks import selected

        return selected(self.run.options.overrides.checks, self.config.validate.checks)

    def devices(self, name: str) -> tuple[str, ...]:
        """The devices an entry point's items are collected for."""
        entry = self.config.entrypoint(name)
        words = self.run.options.devices or entry.devices or self.config.validate.devices
        return _expand_devices(tuple(words), self.run.auto_devices(words))

    def pinned_gpu(self) -> str | None:
        """The one GPU this xdist worker's hubcheck worker sees, or None to keep the mask as it is.

        Only under xdist, and only when no device of the repo names a GPU by index
        (``cuda:1`` means the second GPU of all, not of a worker's one).
        """
        if self.run.worker_id is None:
            return None
        config = self.config
        words = [*(self.run.options.devices or ()), *config.validate.devices,
                 *(d for entry in config.entrypoints.values() for d in entry.devices or ())]
        if any(d.startswith("cuda:") for d in _expand_devices(tuple(words), self.run.auto_devices(words))):
            return None
        from hubcheck.device_pinning import pinned_gpu, visible_gpus, worker_index

        # This machine's GPUs, not the controller's: a remote worker pins one of its own.
        index = worker_index(self.run.worker_id)
        gpu = pinned_gpu(visible_gpus(), index) if index is not None else None
        return gpu.pin if gpu is not None else None

    # -- the worker ----------------------------------------------------------------------

    def session(self) -> ValidationSession:
        """The repo's validation session; a HubcheckError (no torch, say) is raised for every caller."""
        if self._session_error is not None:
            raise self._session_error
        if self._session is None:
            options = dataclasses.replace(self.run.options, spec_for_commands=self.request.spec)
            session = None
            try:
                session = ValidationSession(self.resolved, options, self.config)
                pin = self.pinned_gpu()
                if pin is not None:
                    session.worker_options = dataclasses.replace(session.worker_options, cuda_visible_devices=pin)
                if self.run.intra_op_threads is not None:
                    session.worker_options = dataclasses.replace(session.worker_options,
                                                                 intra_op_threads=self.run.intra_op_threads)
                session.start()
            except HubcheckError as error:
                if session is not None:
                    session.close()
                self._session_error = error
                raise
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def repo_result(self, check: str) -> CheckResult:
        """The result of one repo-level check (``import``, ``config``...)."""
        session = self.session()
        outcome = session.import_hubconf()
        found = [r for r in outcome.results if r.check == check]
        if check in REPO_CHECKS:
            if found:
                return found[0]
            return CheckResult(None, check, None, Status.SKIPPED, outcome.blocked_reason or "hubconf did not import")
        # The same one result per check that `hubcheck validate` reports, so both count alike.
        if self._config_checks is None:
            self._config_checks = session.config_checks(outcome.names)
        return next(r for r in self._config_checks if r.check == check)

    def entrypoint_result(self, item: EntrypointCheckItem) -> CheckResult:
        """The result of one item, from the entry point's one run (made by its first item)."""
        name = item.entrypoint
        if name not in self._results:
            try:
                self._results[name] = self._run_entrypoint(name, item.session.items)
            except HubcheckError as error:
                self._results[name] = error
        results = self._results[name]
        if isinstance(results, HubcheckError):
            raise results
        result = results.get((item.check, item.device))
        if result is None:
            return CheckResult(name, item.check, item.device, Status.SKIPPED,
                               "not run: the same device as another requested device")
        failed, message = self.recorded.get(name, (False, ""))
        if item.check == "reference" and failed and result.status is not Status.SKIPPED:
            return dataclasses.replace(result, status=Status.FAILED,
                                       message=f"--hubcheck-update could not record it: {message}")
        return result

    def _run_entrypoint(self, name: str, items: list[pytest.Item]) -> dict[tuple[str, str | None], CheckResult]:
        selected = self._selected_checks(items)
        mine = selected.get(name, [])
        collected = self.devices(name)
        # Only the devices of the selected items run: `-k cuda` does not build the model on the CPU.
        devices = tuple(d for d in collected if any(device == d for _, device in mine)) or collected[:1]
        if self.run.update and any(check == "reference" for check, _ in mine):
            self._record([name] if self.run.is_xdist_worker else [
                n for n, checks in selected.items() if any(c == "reference" for c, _ in checks)])
        results = self.session().run_entrypoint(name, devices=devices)
        return {(r.check, _item_device(r.device, devices)): r for r in results}

    def _selected_checks(self, items: list[pytest.Item]) -> dict[str, list[tuple[str, str | None]]]:
        """Entry point -> its (check, device) items left after -k, -m and friends (every xdist worker has them all)."""
        if self._selected is None:
            self._selected = {}
            for item in items:
                if isinstance(item, EntrypointCheckItem) and item.repo is self:
                    self._selected.setdefault(item.entrypoint, []).append((item.check, item.device))
        return self._selected

    def _record(self, names: list[str]) -> None:
        """``hubcheck record --update`` for entry points not recorded yet in this process.

        Without xdist the first entry point records every selected one; an xdist
        worker records only what it runs, since the scheduler, not we, decides
        which entry points those are. Either way through this repo's session's worker.
        """
        from hubcheck.record import record_references

        names = [n for n in names if n not in self.recorded]
        if not names:
            return
        options = dataclasses.replace(self.run.options, entrypoints=tuple(names), spec_for_commands=self.request.spec)
        try:
            outcomes = record_references(self.resolved, options, device=RECORD_DEVICE, update=True,
                                         session=self.session())
        except HubcheckError as error:
            self.recorded.update((n, (True, str(error))) for n in names)
            return
        for outcome in outcomes:
            self.recorded[outcome.entrypoint] = (outcome.status.fails, outcome.message)


# -- the run ---------------------------------------------------------------------------


class HubcheckRun:
    """Everything hubcheck holds in one pytest process: the requested repos and their states."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        check_device_words(config.option.hubcheck_device)
        if config.option.hubcheck_python:
            from hubcheck.sandbox import resolve_python

            try:
                resolve_python(config.option.hubcheck_python)
            except HubcheckError as error:
                raise pytest.UsageError(str(error).replace("--python", "--hubcheck-python", 1)) from None
        self.options = ValidateOptions(
            devices=tuple(config.option.hubcheck_device) or None,
            timeout=config.option.hubcheck_timeout,
            python=config.option.hubcheck_python,
            # --hubcheck-update records through the same worker, which writes the references into the repo.
            writes_repo=config.option.hubcheck_update,
            torch_home=Path(plugin_value(config.option, "torch-home")).resolve()
            if plugin_value(config.option, "torch-home") else None,
            allow_network=True if plugin_value(config.option, "allow-network") else None,
            entrypoints=tuple(plugin_value(config.option, "entrypoint")),
            select_patterns=tuple(plugin_value(config.option, "select-entrypoints")),
            exclude_patterns=tuple(plugin_value(config.option, "exclude-entrypoints")),
            overrides=self._overrides(config),
            strict=plugin_value(config.option, "strict"),
        )
        self.update: bool = config.option.hubcheck_update
        self.shard: Shard | None = self._shard(config.option.hubcheck_shard)
        worker_input = getattr(config, "workerinput", None)
        self.is_xdist_worker = worker_input is not None
        self.worker_id: str | None = worker_input["workerid"] if worker_input is not None else None
        self._handed: dict[str, Any] | None = worker_input.get(WORKER_INPUT) if worker_input is not None else None
        self.intra_op_threads: int | None = self._intra_op_threads(worker_input)
        """torch's intra-op threads for this process's hubcheck workers: its share of the machine's cores under
        xdist (see :mod:`hubcheck.cpu_share`); None keeps torch's default."""
        self._worker_specs: list[GatewaySpec] = []
        self._gpus: list[tuple[str, str]] | None = None
        self._worker_input: dict[str, Any] | None = None
        self.requests = requested_repos(config)
        self._states: dict[RepoRequest, RepoState] = {}
        self._reached: set[RepoRequest] = set()

    @staticmethod
    def _overrides(config: pytest.Config) -> RunOverrides:
        try:
            return plugin_overrides(config.option)
        except HubcheckError as error:
            raise pytest.UsageError(str(error)) from None

    @staticmethod
    def _shard(text: str | None) -> Shard | None:
        try:
            return parse_shard(text) if text is not None else None
        except HubcheckError as error:
            raise pytest.UsageError(str(error)) from None

    def _intra_op_threads(self, worker_input: dict[str, Any] | None) -> int | None:
        if worker_input is None:
            return None
        # The controller counts the workers on each machine; without its count, every worker of the session.
        return intra_op_threads(int((self._handed or {}).get("workers_here", worker_input["workercount"])))

    def selected(self, names: list[str]) -> list[str]:
        """The names ``--hubcheck-entrypoint`` / ``--hubcheck-select-entrypoints`` / ``--hubcheck-exclude-…`` keep."""
        options = self.options
        return [n for n in names
                if is_selected(n, options.entrypoints, options.select_patterns, options.exclude_patterns)
                and (self.shard is None or self.shard.holds(n))]

    # -- what the xdist controller hands its workers ------------------------------------

    @property
    def gpus(self) -> list[tuple[str, str]]:
        """The run's visible GPUs as ``(pin, kind)``: the controller's under xdist, so that ``auto`` collects the
        same items on every worker."""
        if self._gpus is None:
            if self._handed is not None:
                self._gpus = [(pin, kind) for pin, kind in self._handed["gpus"]]
            else:
                from hubcheck.device_pinning import visible_gpus

                self._gpus = [(gpu.pin, gpu.kind) for gpu in visible_gpus()]
        return self._gpus

    def auto_devices(self, words: Sequence[str]) -> tuple[str, ...]:
        """What ``auto`` means among ``words`` (the GPUs are looked for only when a word is ``auto``)."""
        return _auto_devices(self.gpus) if "auto" in words else AUTO_DEVICES

    def worker_input(self) -> dict[str, Any]:
        """What the xdist controller hands every worker (plain values: execnet sends them to remote ones too).

        ``listings``: the run-time entry point list of each hub whose list only
        exists once hubconf has run, listed once here rather than once per worker,
        so that every worker collects the same items even if one of them could not
        import hubconf. ``gpus``: this machine's visible GPUs, for ``auto``.
        """
        if self._worker_input is None:
            listings: dict[str, Any] = {}
            for request in self.requests:
                state = self.state(request)
                try:
                    model = state.lint.model
                    if model is None or not model.complete:
                        names, lines = state.run_time_listing()
                        listings[state.listing_key] = {"names": names, "lines": lines}
                except HubcheckError:
                    continue  # every worker meets the same error when it collects, and reports it
                finally:
                    # This process runs no item: its worker is of no further use.
                    state.close()
            self._worker_input = {"listings": listings, "gpus": [list(gpu) for gpu in self.gpus]}
        return self._worker_input

    def note_worker_specs(self, specs: Sequence[GatewaySpec]) -> None:
        """The controller's gateway specs of every worker (execnet ``XSpec``), before any worker starts."""
        self._worker_specs = list(specs)

    def node_input(self, spec: GatewaySpec) -> dict[str, Any]:
        """What the controller hands the worker of gateway ``spec``: :meth:`worker_input`, and ``workers_here``, how
        many of the session's workers share that worker's machine (its cores), once the specs are known."""
        if not self._worker_specs:
            return self.worker_input()
        return {**self.worker_input(), "workers_here": workers_at(self._worker_specs, spec)}

    def handed_listing(self, state: RepoState) -> tuple[list[str], dict[str, int]] | None:
        """The run-time list the controller made for ``state``'s repo, or None (not under xdist, or not listed)."""
        listing = (self._handed or {}).get("listings", {}).get(state.listing_key)
        if listing is None:
            return None
        return list(listing["names"]), {name: int(line) for name, line in listing["lines"].items()}


    def state(self, request: RepoRequest) -> RepoState:
        if request not in self._states:
            self._states[request] = RepoState(request, self)
        return self._states[request]

    def close(self) -> None:
        """Close every repo's worker; nothing hubcheck started outlives the pytest session."""
        for state in self._states.values():
            state.close()

    # -- collection --------------------------------------------------------------------

    def collect_file(self, file_path: Path, parent: pytest.Collector) -> HubconfFile | None:
        """The collector of a requested repo's hubconf.py, reached by pytest's own directory walk."""
        request = next((r for r in self.requests if r.local == file_path.parent), None)
        if request is None:
            return None
        self._reached.add(request)
        return HubconfFile.from_parent(parent, path=file_path, repo=self.state(request))

    def collect_unreached(self, session: pytest.Session) -> list[pytest.Item]:
        """Items of the repos no path argument reached: fetched specs, ini repos, the rootdir."""
        items: list[pytest.Item] = []
        for request in self.requests:
            if request in self._reached:
                continue
            self._reached.add(request)
            name = self._node_name(request)
            # An explicit id: a child of the session would otherwise be "::name" on pytest 9.2.
            collector = HubRepoCollector.from_parent(session, name=name, nodeid=name, repo=self.state(request))
            items.extend(session.genitems(collector))
        return items

    def _node_name(self, request: RepoRequest) -> str:
        if request.local is None:
            return f"{request.spec}/{HUBCONF}"
        try:
            return (request.local / HUBCONF).relative_to(self.config.rootpath).as_posix()
        except ValueError:
            return (request.local / HUBCONF).as_posix()

    # -- fixtures ------------------------------------------------------------------------

    def hub_repo(self, request: RepoRequest) -> HubRepo:
        state = self.state(request)
        try:
            return HubRepo(state.resolved, state.config)
        except HubcheckError as error:
            pytest.fail(f"hub_repo {request.spec}: {error}", pytrace=False)


# -- collectors and items -----------------------------------------------------------


# The mixin below is always combined with a pytest collector; the type checker is told so.
if TYPE_CHECKING:
    _CollectorBase = pytest.Collector
else:
    _CollectorBase = object


class _RepoCollector(_CollectorBase):
    """What both kinds of repo collector yield: repo items, lint items, one collector per entry point."""

    repo: RepoState

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            self.repo.prepare()
        except ConfigError as error:
            # Without a valid config nothing can be run the way the repo asks; say why once.
            yield RepoCheckItem.from_parent(self, name="config", repo=self.repo, check="config",
                                            failure=str(error))
            return
        except HubcheckError as error:
            raise self.CollectError(str(error)) from None
        try:
            names, lines = self.repo.entrypoints()
        except HubcheckError as error:
            raise self.CollectError(f"{self.repo.request.spec}: {error}") from None
        shard = self.repo.run.shard
        if shard is None or shard.holds_repo_items:
            yield from self._repo_items()
        for name in names:
            yield EntrypointCollector.from_parent(self, name=name, repo=self.repo, line=lines.get(name))

    def _repo_items(self) -> Iterator[pytest.Item]:
        for check in REPO_ITEMS:
            yield RepoCheckItem.from_parent(self, name=check, repo=self.repo, check=check)
        findings = self.repo.lint.findings
        codes = sorted({f.code for f in findings})
        for code in codes:
            yield LintItem.from_parent(self, name=f"lint[{code}]", repo=self.repo,
                                       findings=tuple(f for f in findings if f.code == code))
        if not codes:
            yield LintItem.from_parent(self, name="lint", repo=self.repo, findings=())
        for name, line in self.repo.leaked():
            yield LeakedItem.from_parent(self, name=f"{name}::load", repo=self.repo, check="load", entrypoint=name,
                                         line=line)


class HubconfFile(_RepoCollector, pytest.File):
    """A requested repo's hubconf.py, reached by pytest's directory walk."""

    def __init__(self, *, repo: RepoState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo


class HubRepoCollector(_RepoCollector, pytest.Collector):
    """A requested repo outside the collected paths, collected under the session."""

    def __init__(self, *, repo: RepoState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo


class EntrypointCollector(pytest.Collector):
    """One entry point: an item per check and device, sharing one run of the entry point."""

    def __init__(self, *, repo: RepoState, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.line = line

    def collect(self) -> Iterator[pytest.Item]:
        for check, device in item_checks(self.repo.devices(self.name), self.repo.model_checks()):
            name = f"{check}[{device}]" if device else check
            yield EntrypointCheckItem.from_parent(self, name=name, repo=self.repo, check=check, device=device)


class HubcheckItem(pytest.Item):
    """One hubcheck check; it fails with hubcheck's message and skips with hubcheck's reason."""

    def __init__(self, *, repo: RepoState, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.check = check
        self.add_marker("hubcheck")
        self.add_marker("hubcheck_" + check.replace("-", "_"))
        if self.config.pluginmanager.hasplugin("xdist"):
            # For --dist loadgroup: an entry point's items stay on one worker, which builds its model
            # once. (The default, loadscope, groups by node id and needs no mark.)
            assert self.parent is not None  # every item is collected under a repo or an entry point
            self.add_marker(pytest.mark.xdist_group(_group_name(self.parent.nodeid)))

    def result(self) -> CheckResult:
        raise NotImplementedError

    def runtest(self) -> None:
        _report(self.result(), self.repo.run.options.strict, self.user_properties)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (CheckFailure, HubcheckError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.repo.hubconf, 0, self.domain

    @property
    def domain(self) -> str:
        """What heads a failure: the repo and the item's path below hubconf.py (several repos have an `import`).

        Not the node id: `pytest -v` replaces the dots of a domain that ends the node id
        with "::", printing `repo/hubconf::py::import`, which cannot be pasted back.
        """
        below = self.nodeid.split("::", 1)[1]
        return f"{below} ({self.repo.request.spec})"


class RepoCheckItem(HubcheckItem):
    """A check of the repo as a whole: ``import``, ``dependencies``, ``entrypoints``, ``config``, ``references``."""

    def __init__(self, *, failure: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failure = failure

    def result(self) -> CheckResult:
        if self.failure is not None:
            return CheckResult(None, self.check, None, Status.FAILED, self.failure)
        return self.repo.repo_result(self.check)


class LeakedItem(HubcheckItem):
    """A name lint calls leaked (HUB103): not loaded, and skipped with the reason (repo-level, so in shard 1)."""

    def __init__(self, *, entrypoint: str, line: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entrypoint = entrypoint
        self.entrypoint_line = line

    def result(self) -> CheckResult:
        return CheckResult(self.entrypoint, "load", None, Status.SKIPPED, leaked_reason(self.entrypoint),
                           line=self.entrypoint_line)

    def reportinfo(self):
        return self.repo.hubconf, (self.entrypoint_line or 1) - 1, self.domain


class LintItem(HubcheckItem):
    """The findings of one lint rule; warnings and errors fail, info findings pass."""

    def __init__(self, *, findings: tuple[Finding, ...], **kwargs: Any) -> None:
        super().__init__(check="lint", **kwargs)
        self.findings = findings

    def result(self) -> CheckResult:
        from hubcheck.report.text import format_finding

        prefix = self._path_prefix()
        text = "\n".join(format_finding(f, prefix) for f in self.findings)
        # The policy `hubcheck lint` and `validate` exit by: warnings and errors fail.
        if Report(command="lint", repo=self.repo.resolved.to_json(), findings=self.findings).failed:
            return CheckResult(None, "lint", None, Status.FAILED, text)
        return CheckResult(None, "lint", None, Status.PASSED, text or "no findings")

    def _path_prefix(self) -> str:
        try:
            relative = self.repo.resolved.path.relative_to(self.config.invocation_params.dir)
        except ValueError:
            return f"{self.repo.resolved.path}/"
        return "" if relative == Path(".") else f"{relative.as_posix()}/"

    def reportinfo(self):
        first = self.findings[0] if self.findings else None
        if first is None:
            return super().reportinfo()
        return self.repo.resolved.path / first.path, (first.line or 1) - 1, self.domain


class EntrypointCheckItem(HubcheckItem):
    """One check of one entry point on one device (or none, for ``docstring``)."""

    def __init__(self, *, device: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert isinstance(self.parent, EntrypointCollector)
        self.entrypoint = self.parent.name
        self.entrypoint_line = self.parent.line
        self.device = device

    def result(self) -> CheckResult:
        result = self.repo.entrypoint_result(self)
        if self.check != "reference":
            return result
        if self.entrypoint in self.repo.recorded:
            message = self.repo.recorded[self.entrypoint][1]
            self.user_properties.append((UPDATE_PROPERTY, f"{self.repo.request.spec}: {message}"))
        elif result.status is Status.FAILED:
            return dataclasses.replace(result, message=f"{result.message}\n(or accept the new outputs with "
                                                       "pytest --hubcheck-update)")
        return result

    def reportinfo(self):
        return self.repo.hubconf, (self.entrypoint_line or 1) - 1, self.domain


def _group_name(nodeid: str) -> str:
    # xdist reads the group back as the text after the node id's last "@", and only when that
    # "@" follows the last "]": neither may appear in the name itself.
    return "hubcheck:" + nodeid.replace("@", "_").replace("[", "_").replace("]", "_")


def _report(result: CheckResult, strict: bool, properties: list[tuple[str, object]]) -> None:
    not_verified = result.status is Status.NOT_VERIFIED
    if not_verified:
        # Counted apart from skips in pytest's summary line (the plugin's pytest_report_teststatus reads this).
        properties.append((NOT_VERIFIED_PROPERTY, result.message))
    # The policy every format and `hubcheck validate --strict` exit by.
    if Report(command="validate", repo={}, strict=strict).fails(result):
        raise CheckFailure(f"not verified (--hubcheck-strict): {result.message}" if not_verified else result.message)
    if result.status is not Status.PASSED:
        _skip(f"not verified: {result.message}" if not_verified else result.message)


def _skip(reason: str) -> None:
    # The reason goes with the item's location (an entry point's line in hubconf.py, the
    # user's test), not with this line of hubcheck.
    raise pytest.skip.Exception(reason, _use_item_location=True)


# -- fixtures ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HubRepo:
    """What the ``hub_repo`` fixture gives a test."""

    repo: ResolvedRepo
    """The resolved repo: spec, directory, commit."""
    config: Config
    """Its hubcheck configuration (``hubcheck.toml`` or ``[tool.hubcheck]``)."""

    @property
    def path(self) -> Path:
        """The directory that holds hubconf.py."""
        return self.repo.path


class ModelLoader:
    """Loads entry points in the test process for ``hub_model`` and forgets the repo's modules afterwards."""

    def __init__(self, hub: HubRepo) -> None:
        self.hub = hub
        self._modules_before = set(sys.modules)

    def load(self, entrypoint: str, device: str = "cpu", **kwargs: Any) -> Any:
        import torch

        kind = device.partition(":")[0]
        if kind == "cuda" and not torch.cuda.is_available():
            _skip("no CUDA device")
        if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            _skip("no MPS device")
        entry = self.hub.config.entrypoint(entrypoint)
        arguments = {**entry.kwargs, **entry.device_kwargs.get(kind, {}), **entry.device_kwargs.get(device, {}), **kwargs}
        model = torch.hub.load(str(self.hub.path), entrypoint, source="local", **arguments)
        if isinstance(model, torch.nn.Module):
            model = model.to(device)
        if callable(getattr(model, "eval", None)):
            model.eval()
        return model

    def forget_modules(self) -> None:
        """Drop the repo modules torch.hub left in ``sys.modules``, so the next repo gets its own."""
        root = str(self.hub.path) + os.sep
        for name in set(sys.modules) - self._modules_before:
            location = getattr(sys.modules.get(name), "__file__", None) or ""
            if location.startswith(root):
                del sys.modules[name]

