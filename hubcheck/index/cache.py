"""Rows of earlier ``hubcheck index`` runs, reused while a repo's commit and hubcheck's version are unchanged.

The key is the repo (its URL or path) and resolved commit, hubcheck's version, what was run (lint, or validate
with its options and the installed torch), and the text of the index pages that name the repo. Only
repos whose files are a commit are kept: a local directory outside git, or a work tree with uncommitted
changes, is checked every time. Entries are JSON (never pickle) under ``<hubcheck cache>/index/``, never in the
checked repo; one that does not read back as this module writes it is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubcheck import __version__
from hubcheck.entry_store import EntryStore
from hubcheck.findings import Finding, Severity
from hubcheck.index.pages import IndexPage, PageResult
from hubcheck.index.results import RepoRow, Timing
from hubcheck.resolve import ResolvedRepo
from hubcheck.results import CheckResult, Environment, Report, Status
from hubcheck.worker.namespaces import Isolation

FORMAT = 1
MAX_ENTRIES = 4096
"""Entries kept (an index of a few hundred repos, several option sets); the least recently used go first."""


@dataclass(frozen=True)
class IndexCache:
    directory: Path

    @classmethod
    def default(cls) -> IndexCache:
        """``index/`` under the hubcheck cache, beside lint's (see :mod:`hubcheck.lint_cache`)."""
        from hubcheck.resolve import default_cache_dir

        return cls(default_cache_dir().expanduser().absolute() / "index")

    def load(self, key: str) -> RepoRow | None:
        entry = self._store.read(key)
        row = row_from_json(entry.get("row")) if entry is not None else None
        if row is not None:
            self._store.used(key)
        return row

    def store(self, key: str, row: RepoRow) -> str | None:
        """Keep ``row`` under ``key``; returns why it could not be kept, or None."""
        return self._store.write(key, {"row": row.to_json()})

    @property
    def _store(self) -> EntryStore:
        return EntryStore(self.directory, FORMAT, MAX_ENTRIES, "index cache")


def row_key(repo: ResolvedRepo, run_identity: str, pages: tuple[IndexPage, ...]) -> str | None:
    """The cache key of checking ``repo`` this way, or None when its files are not a clean commit."""
    if repo.commit is None or repo.dirty:
        return None
    digest = hashlib.sha256()
    parts = [f"format {FORMAT}", f"hubcheck {__version__}", run_identity, f"kind {repo.spec.kind.value}",
             f"where {repo.spec.url or repo.path}", f"commit {repo.commit}"]
    parts += [f"page {page.path} {hashlib.sha256(page.text.encode()).hexdigest()}" for page in pages]
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def row_from_json(data: Any) -> RepoRow | None:
    """The row :meth:`RepoRow.to_json` wrote, marked cached; None for anything else."""
    try:
        report = _report(data) if data["error"] is None else None
        timing = data["timing"]
        return RepoRow(
            spec=_text(data["repo"]["spec"]), origins=tuple(_text(o) for o in data["origins"]),
            command=_text(data["command"]), report=report, error=data["error"], internal=bool(data["internal_error"]),
            pages=tuple(PageResult(_text(p["path"]), tuple(_check(c) for c in p["checks"])) for p in data["pages"]),
            timing=Timing(*(float(timing[k]) for k in ("resolve_s", "check_s", "pages_s", "total_s"))),
            cached=True,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _report(data: dict[str, Any]) -> Report:
    environment = data.get("environment")
    return Report(
        command=_text(data["command"]), repo=dict(data["repo"]),
        findings=tuple(_finding(f) for f in data["findings"]),
        checks=tuple(_check(c) for c in data.get("checks", [])),
        environment=_environment(environment) if environment is not None else None,
        hubcheck_version=_text(data["hubcheck_version"]),
    )


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(code=_text(data["code"]), name=_text(data["name"]), severity=Severity(data["severity"]),
                   message=_text(data["message"]), path=_text(data["path"]), line=_number(data["line"]),
                   column=_number(data["column"]), entrypoint=data["entrypoint"], fix=data["fix"],
                   fingerprint=data["fingerprint"])


def _check(data: dict[str, Any]) -> CheckResult:
    return CheckResult(entrypoint=data["entrypoint"], check=_text(data["check"]), device=data["device"],
                       status=Status(data["status"]), message=_text(data["message"]),
                       duration_s=float(data["duration_s"]), line=_number(data.get("line")),
                       details=dict(data.get("details", {})))


def _environment(data: dict[str, Any]) -> Environment:
    isolation = data["isolation"]
    return Environment(python=_text(data["python"]), torch=data["torch"], devices=tuple(data["devices"]),
                       executable=data["executable"],
                       isolation=Isolation.from_json(isolation) if isolation is not None else None)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value
