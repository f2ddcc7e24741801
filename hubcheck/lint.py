"""Run the rule set over a repo and return its findings; printing is the reporters' job."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hubcheck.baseline import SourceLines, content_fingerprint
from hubcheck.config import Config, load_config
from hubcheck.findings import Finding, FindingSummary
from hubcheck.lint_cache import CacheMiss, LintCache, cache_key
from hubcheck.process_end import keep_until_exit
from hubcheck.rules import ALL_RULES, Rule, select_rules
from hubcheck.rules.base import Violation
from hubcheck.rules.context import LintContext
from hubcheck.rules.suppression import (
    UNUSED_SUPPRESSION,
    suppressed_codes,
    suppression_paths,
    unused_suppressions,
)
from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.reader import HubconfUnreadable, read_hubconf


@dataclass(frozen=True)
class LintResult:
    """The findings of one lint run, sorted by path and position."""

    findings: tuple[Finding, ...]
    rules: tuple[Rule, ...]
    """The rules that ran."""
    model: HubconfModel | None
    """The static model the rules read, or None when hubconf.py was missing or unreadable, or when
    the findings came from the cache."""
    cache_problem: str | None = None
    """Why the findings could not be kept in the cache for the next run, when that failed."""
    ignored: tuple[str, ...] = ()
    """The codes and prefixes left out: ``[lint] ignore`` and the caller's, API change codes among them."""

    @property
    def summary(self) -> FindingSummary:
        return FindingSummary.of(self.findings)

    @property
    def failed(self) -> bool:
        """True when a warning or an error is left (``hubcheck lint`` exits 1)."""
        return self.summary.fails


def lint_repo(
    repo_root: Path,
    *,
    config: Config | None = None,
    select: tuple[str, ...] | None = None,
    ignore: tuple[str, ...] = (),
    cache: LintCache | None = None,
) -> LintResult:
    """Lint the hub repo at ``repo_root`` without running any of its code.

    Args:
        repo_root: the directory that holds (or should hold) hubconf.py.
        config: the repo's configuration; read from the repo when None.
        select: rule codes or prefixes replacing ``[lint] select``; None keeps the config's.
        ignore: rule codes or prefixes ignored on top of ``[lint] ignore``.
        cache: where to find the findings of an identical earlier run, and keep these; None
            always lints (see :mod:`hubcheck.lint_cache` for what makes runs identical).

    Raises:
        ConfigError: the repo's configuration is invalid.
    """
    repo_root = repo_root.resolve()
    config = config if config is not None else load_config(repo_root)
    ignored = config.lint.ignore + tuple(ignore)
    rules = select_rules(select if select is not None else config.lint.select, ignored)
    key = _cache_key(cache, repo_root, rules)
    if cache is not None and key is not None:
        cached = cache.load(key)
        if cached is not None:
            return LintResult(cached, rules, None, ignored=ignored)
    with _collector_paused():
        found, model = _check(rules, repo_root)
    kept = [f for f in found if not _is_suppressed(f, repo_root)]
    findings = tuple(sorted(set(kept), key=Finding.sort_key))
    problem = cache.store(key, findings) if cache is not None and key is not None else None
    return LintResult(findings, rules, model, cache_problem=problem, ignored=ignored)


def _cache_key(cache: LintCache | None, repo_root: Path, rules: tuple[Rule, ...]) -> str | None:
    if cache is None:
        return None
    try:
        return cache_key(repo_root, tuple(rule.code for rule in rules))
    except CacheMiss:
        return None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of the way while the static model is built.

    The model holds every parsed file's syntax tree alive (millions of nodes on a
    timm-sized repo); each collection re-walks all of them, which tripled the time
    spent parsing. Trees are freed by reference counting as usual (before the collector
    is back, so that its first run does not walk them either); it is switched back on
    afterwards only if it was on, so the caller's process is unchanged.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(rules: tuple[Rule, ...], repo_root: Path) -> tuple[list[Finding], HubconfModel | None]:
    """The rules' findings, and the model they read; the rest of the context is freed on return (or kept
    until the process ends, when it ends right after this command: :mod:`hubcheck.process_end`)."""
    context = build_context(repo_root)
    lines = SourceLines(repo_root)
    findings: list[Finding] = []
    for rule, violation in _violations(rules, context, repo_root):
        path = _relative(violation.path, repo_root)
        message = rule.format_message(violation.args)
        subject = lines.line(path, violation.line)
        findings.append(Finding(
            code=rule.code,
            name=rule.name,
            severity=rule.severity,
            message=message,
            path=path,
            line=violation.line,
            column=violation.column,
            entrypoint=violation.entrypoint,
            fix=rule.format_fix(violation.args),
            fingerprint=content_fingerprint(rule.code, path, violation.entrypoint,
                                            message if subject is None else subject),
        ))
    keep_until_exit(context)
    return findings, context.model


def _violations(rules: tuple[Rule, ...], context: LintContext, repo_root: Path) -> Iterator[tuple[Rule, Violation]]:
    """Every rule's violations; then, when it is selected, the suppressions none of them used (HUB012)."""
    fired: set[tuple[Path, int, str]] = set()
    for rule in rules:
        for violation in rule.check(context):
            if violation.line is not None:
                fired.add((repo_root / _relative(violation.path, repo_root), violation.line, rule.code))
            yield rule, violation
    unused_rule = next((rule for rule in rules if rule.code == UNUSED_SUPPRESSION), None)
    if unused_rule is not None:
        paths = [repo_root / _relative(path, repo_root) for path in suppression_paths(context)]
        known = frozenset(rule.code for rule in ALL_RULES)
        for violation in unused_suppressions(paths, fired, frozenset(r.code for r in rules), known):
            yield unused_rule, violation


def build_context(repo_root: Path) -> LintContext:
    """Read hubconf.py statically into the context every rule is given."""
    index = ModuleIndex(repo_root)
    if not (repo_root / "hubconf.py").is_file():
        return LintContext(repo_root, index, None)
    try:
        model = read_hubconf(repo_root, index)
    except HubconfUnreadable as error:
        return LintContext(repo_root, index, None, hubconf_error=error)
    return LintContext(repo_root, index, model)


def _relative(path: Path, repo_root: Path) -> str:
    # The path as found first: resolving would name a link's target, and fails on a link loop.
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(repo_root).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        return path.as_posix()


def _is_suppressed(finding: Finding, repo_root: Path) -> bool:
    if finding.line is None:
        return False
    path = repo_root / finding.path
    return finding.code in suppressed_codes(path).get(finding.line, frozenset())
