"""Check every entry of an index, one at a time or in worker processes, never stopping at one repo's failure."""

from __future__ import annotations

import hashlib
import importlib.metadata
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from hubcheck.errors import HubcheckError
from hubcheck.index.cache import IndexCache, row_key
from hubcheck.index.pages import PageResult, repo_check, snippets_check
from hubcheck.index.results import IndexReport, RepoRow, Timing
from hubcheck.index.source import IndexEntry, IndexSource
from hubcheck.resolve import ResolvedRepo
from hubcheck.results import Report
from hubcheck.static.model import HubconfModel
from hubcheck.validate import ValidateOptions

OnRow = Callable[[RepoRow], None]


@dataclass(frozen=True)
class IndexSettings:
    """How every repo is checked; sent to worker processes as it is."""

    validate: ValidateOptions | None = None
    """validate's options for every repo, or None to lint only."""
    refresh: bool = False
    """Fetch git sources again and check every repo afresh, ignoring cached rows."""
    cache_dir: Path | None = None
    """Where rows are kept between runs; None keeps none."""

    @property
    def command(self) -> str:
        return "lint" if self.validate is None else "validate"

    def identity(self) -> str:
        """What was run, for the cache key: validate's options and the torch it ran on count."""
        if self.validate is None:
            return "lint"
        options = replace(self.validate, spec_for_commands=None)
        config = options.overrides.config_file
        config_digest = hashlib.sha256(config.read_bytes()).hexdigest() if config is not None else "-"
        try:
            torch = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            torch = "-"
        return f"validate {options!r} config {config_digest} torch {torch}"


def run_index(source: IndexSource, settings: IndexSettings, jobs: int = 1, on_row: OnRow | None = None) -> IndexReport:
    """Check every entry of ``source``; rows come back in SOURCE's order, ``on_row`` hears each as it ends."""
    started = time.perf_counter()
    identity = settings.identity()
    entries = source.entries
    rows: list[RepoRow | None] = [None] * len(entries)

    def done(position: int, row: RepoRow) -> None:
        rows[position] = row
        if on_row is not None:
            on_row(row)

    if jobs <= 1 or len(entries) <= 1:
        for position, entry in enumerate(entries):
            done(position, check_entry(entry, settings, identity))
    else:
        _run_in_processes(entries, settings, identity, jobs, done)
    orphans = tuple(PageResult(page.path, (page.front_matter,)) for page in source.orphan_pages)
    return IndexReport(source=str(source.path), source_kind=source.kind.value, command=settings.command,
                       rows=tuple(row for row in rows if row is not None), orphan_pages=orphans,
                       wall_s=time.perf_counter() - started, jobs=max(1, jobs))


def _run_in_processes(entries: tuple[IndexEntry, ...], settings: IndexSettings, identity: str, jobs: int,
                      done: Callable[[int, RepoRow], None]) -> None:
    # spawn, not fork: the parent runs rich's refresh thread, and a fork taken while it holds a lock deadlocks.
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(entries)), mp_context=context)
    try:
        pending: dict[Future[RepoRow], int] = {
            executor.submit(check_entry, entry, settings, identity): position for position, entry in enumerate(entries)
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                position = pending.pop(future)
                done(position, _row_of(future, entries[position], settings))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _row_of(future: Future[RepoRow], entry: IndexEntry, settings: IndexSettings) -> RepoRow:
    """The future's row; a worker process that died (killed, out of memory) is that repo's error row."""
    try:
        return future.result()
    except BrokenProcessPool as error:  # killed (out of memory, a signal): the process failed, not the checks
        return _error_row(entry, settings, f"the worker process checking it failed: {type(error).__name__}: {error}",
                          internal=True)


def check_entry(entry: IndexEntry, settings: IndexSettings, identity: str) -> RepoRow:
    """One entry's row: never raises for the repo's or the user's errors (they are the row's ``error``)."""
    started = time.perf_counter()
    try:
        return _check(entry, settings, identity, started)
    except HubcheckError as error:
        return _error_row(entry, settings, str(error), started=started)
    except Exception as error:  # noqa: BLE001 - one repo exposing a hubcheck bug must not stop the index
        return _error_row(entry, settings, f"internal error: {type(error).__name__}: {error} (a bug in hubcheck; "
                          "report it with this repo)", internal=True, started=started)


def _check(entry: IndexEntry, settings: IndexSettings, identity: str, started: float) -> RepoRow:
    from hubcheck.resolve import resolve

    repo = resolve(entry.spec, refresh=settings.refresh, cwd=entry.cwd)
    resolved_at = time.perf_counter()
    cache = IndexCache(settings.cache_dir) if settings.cache_dir is not None else None
    key = row_key(repo, identity, entry.pages) if cache is not None else None
    if cache is not None and key is not None and not settings.refresh:
        cached = cache.load(key)
        if cached is not None:
            return replace(cached, origins=entry.origins)
    report, model = _report(repo, settings)
    checked_at = time.perf_counter()
    pages = _page_results(entry, repo, model)
    finished = time.perf_counter()
    row = RepoRow(entry.spec, entry.origins, settings.command, report, pages=pages,
                  timing=Timing(resolved_at - started, checked_at - resolved_at, finished - checked_at,
                                finished - started))
    if cache is not None and key is not None:
        return replace(row, cache_problem=cache.store(key, row))
    return row


def _report(repo: ResolvedRepo, settings: IndexSettings) -> tuple[Report, HubconfModel | None]:
    """Lint (and validate, when asked) the repo; a repo without hubconf.py is lint's HUB001 and nothing more."""
    from hubcheck.lint import lint_repo
    from hubcheck.lint_cache import LintCache

    has_hubconf = (repo.path / "hubconf.py").is_file()
    if settings.validate is None or not has_hubconf:
        linted = lint_repo(repo.path, cache=LintCache.default())
        return Report(command=settings.command, repo=repo.to_json(), findings=linted.findings), linted.model
    from hubcheck.validate import validate_repo

    return validate_repo(repo, settings.validate), None


def _page_results(entry: IndexEntry, repo: ResolvedRepo, model: HubconfModel | None) -> tuple[PageResult, ...]:
    if not entry.pages:
        return ()
    from hubcheck.static import HubconfUnreadable, read_hubconf

    no_hubconf = None if (repo.path / "hubconf.py").is_file() else \
        f"{entry.spec} has no hubconf.py at its root: torch.hub cannot load it"
    problem = no_hubconf
    if model is None and no_hubconf is None:
        try:
            model = read_hubconf(repo.path)
        except HubconfUnreadable as error:
            problem = f"hubconf.py cannot be read statically ({error.reason})"
    return tuple(PageResult(page.path, (page.front_matter, repo_check(page, no_hubconf),
                                        snippets_check(page, model, problem)))
                 for page in entry.pages)


def _error_row(entry: IndexEntry, settings: IndexSettings, reason: str, internal: bool = False,
               started: float | None = None) -> RepoRow:
    elapsed = time.perf_counter() - started if started is not None else 0.0
    pages = tuple(PageResult(page.path, (page.front_matter, repo_check(page, reason))) for page in entry.pages)
    return RepoRow(entry.spec, entry.origins, settings.command, None, error=reason.splitlines()[0] if reason else reason,
                   internal=internal, pages=pages, timing=Timing(total_s=elapsed))
