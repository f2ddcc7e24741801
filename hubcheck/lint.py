"""Run the rule set over a repo and return its findings; printing is the reporters' job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hubcheck.config import Config, load_config
from hubcheck.findings import Finding, FindingSummary
from hubcheck.rules import Rule, select_rules
from hubcheck.rules.context import LintContext
from hubcheck.rules.suppression import suppressed_codes
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
    """The static model the rules read, or None when hubconf.py was missing or unreadable."""

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
) -> LintResult:
    """Lint the hub repo at ``repo_root`` without running any of its code.

    Args:
        repo_root: the directory that holds (or should hold) hubconf.py.
        config: the repo's configuration; read from the repo when None.
        select: rule codes or prefixes replacing ``[lint] select``; None keeps the config's.
        ignore: rule codes or prefixes ignored on top of ``[lint] ignore``.

    Raises:
        ConfigError: the repo's configuration is invalid.
    """
    repo_root = repo_root.resolve()
    config = config if config is not None else load_config(repo_root)
    rules = select_rules(select if select is not None else config.lint.select, config.lint.ignore + tuple(ignore))
    context = build_context(repo_root)
    findings: list[Finding] = []
    for rule in rules:
        for violation in rule.check(context):
            findings.append(Finding(
                code=rule.code,
                name=rule.name,
                severity=rule.severity,
                message=rule.format_message(violation.args),
                path=_relative(violation.path, repo_root),
                line=violation.line,
                column=violation.column,
                entrypoint=violation.entrypoint,
                fix=rule.format_fix(violation.args),
            ))
    kept = [f for f in findings if not _is_suppressed(f, repo_root)]
    unique = sorted(set(kept), key=Finding.sort_key)
    return LintResult(tuple(unique), rules, context.model)


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
    try:
        return path.resolve().relative_to(repo_root).as_posix()
    except ValueError:
        return path.as_posix()


def _is_suppressed(finding: Finding, repo_root: Path) -> bool:
    if finding.line is None:
        return False
    path = repo_root / finding.path
    return finding.code in suppressed_codes(path).get(finding.line, frozenset())
