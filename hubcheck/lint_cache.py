"""Lint findings kept between runs, keyed by everything that can change them.

A repeat ``hubcheck lint`` of an unchanged repo reads its findings back instead of
parsing the repo again. The key covers hubcheck itself (its version and its own
source files, so a development checkout never serves findings of older rules), the
Python version, the rules that run, the repo's path, and every file under the repo:
the content of Python sources and configuration files, the size and modification time
of anything else. Any change anywhere is a new key.

Entries are JSON, never pickle: ``validate`` runs repo code, which could write into
this cache, and reading an entry must never execute anything. An entry that does not
read back as exactly what this module writes is ignored and rebuilt. Entries live in
``<hubcheck cache>/lint/``, never in the repo, and the least recently used are pruned
beyond :data:`MAX_ENTRIES`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubcheck.entry_store import EntryStore
from hubcheck.findings import Finding, Severity

FORMAT = 1
"""Bumped whenever the entry layout changes; entries of another format are ignored."""

MAX_ENTRIES = 128
"""Entries kept; older ones (by last use) are removed when a new one is written."""

MAX_FILES = 50_000
"""A tree with more files than this is not cached: hashing it could cost more than linting."""

# Files whose content decides findings; anything else counts by size and modification time.
_CONTENT_SUFFIXES = frozenset({".py", ".pyi", ".toml", ".cfg", ".ini", ".txt", ".json", ".yaml", ".yml"})
# Above this, even a source file counts by size and modification time (no reader takes it whole).
_CONTENT_LIMIT = 32 * 2**20
# Never the repo's code: version control, bytecode, and trees of installed packages.
_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                           ".tox", ".nox", "node_modules"})
_FINDING_FIELDS: dict[str, type] = {"code": str, "name": str, "severity": str, "message": str, "path": str}
_OPTIONAL_FIELDS: dict[str, type] = {"line": int, "column": int, "entrypoint": str, "fix": str, "fingerprint": str}


class CacheMiss(Exception):
    """The tree cannot be keyed (too many files); lint runs without the cache."""


@dataclass(frozen=True)
class LintCache:
    """Findings by key, one JSON file per entry in ``directory``."""

    directory: Path

    @classmethod
    def default(cls) -> LintCache:
        """``lint/`` under the hubcheck cache (``$HUBCHECK_CACHE``, ``$XDG_CACHE_HOME/hubcheck`` or ``~/.cache/hubcheck``)."""
        from hubcheck.resolve import default_cache_dir

        return cls(default_cache_dir().expanduser().absolute() / "lint")

    def load(self, key: str) -> tuple[Finding, ...] | None:
        """The findings stored under ``key``, or None when there are none or the entry is not one of ours."""
        entry = self._store.read(key)
        findings = _findings_from_entry(entry) if entry is not None else None
        if findings is not None:
            self._store.used(key)
        return findings

    def store(self, key: str, findings: tuple[Finding, ...]) -> str | None:
        """Keep ``findings`` under ``key``; returns why they could not be kept, or None."""
        return self._store.write(key, {"findings": [finding.to_json() for finding in findings]})

    @property
    def _store(self) -> EntryStore:
        return EntryStore(self.directory, FORMAT, MAX_ENTRIES, "lint cache")


def cache_key(repo_root: Path, rule_codes: tuple[str, ...]) -> str:
    """The key of a lint run of ``repo_root`` with ``rule_codes``.

    Raises:
        CacheMiss: the tree has more than :data:`MAX_FILES` files.
    """
    digest = hashlib.sha256()
    for part in _identity(rule_codes):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(f"repo {repo_root}".encode("utf-8", "surrogateescape") + b"\0")
    for count, (relative, stamp) in enumerate(_tree_stamps(repo_root), start=1):
        if count > MAX_FILES:
            raise CacheMiss(f"more than {MAX_FILES} files under {repo_root}")
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0" + stamp + b"\0")
    return digest.hexdigest()


def _identity(rule_codes: tuple[str, ...]) -> Iterator[str]:
    """Everything outside the repo that decides findings: hubcheck, its rules, the interpreter."""
    import hubcheck

    yield f"format {FORMAT} hubcheck {hubcheck.__version__}"
    yield f"python {sys.implementation.name} {sys.version_info[:3]} {sys.platform}"
    yield "rules " + ",".join(sorted(rule_codes))
    package = Path(hubcheck.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            try:
                info = path.stat()
            except OSError:  # Removed since the listing (an upgrade under way): the key changes, nothing fails.
                yield f"own {path.relative_to(package).as_posix()} gone"
                continue
            yield f"own {path.relative_to(package).as_posix()} {info.st_size} {info.st_mtime_ns}"


def _tree_stamps(root: Path) -> Iterator[tuple[str, bytes]]:
    """``(relative path, stamp)`` for every file under ``root``, in a stable order.

    Symbolic links are followed (lint follows them too), each real directory once, so
    a link loop ends. Special files (FIFOs, devices) are never opened.
    """
    seen: set[tuple[int, int]] = set()
    pending = [("", str(root))]
    while pending:
        relative_dir, directory = pending.pop()
        try:
            info = os.stat(directory)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            names = sorted(os.listdir(directory))
        except OSError as error:
            yield relative_dir, f"unlistable {error.errno}".encode()
            continue
        if relative_dir and "pyvenv.cfg" in names:
            continue  # A virtualenv inside the repo holds installed packages, not repo code.
        subdirectories = []
        for name in names:
            path = os.path.join(directory, name)
            relative = f"{relative_dir}/{name}" if relative_dir else name
            try:
                info = os.stat(path)
            except OSError as error:
                yield relative, f"unreadable {error.errno}".encode()
                continue
            if stat.S_ISDIR(info.st_mode):
                if name not in _SKIPPED_DIRS:
                    subdirectories.append((relative, path))
            else:
                yield relative, _file_stamp(path, name, info)
        pending.extend(reversed(subdirectories))


def _file_stamp(path: str, name: str, info: os.stat_result) -> bytes:
    kind_and_size = f"{stat.S_IFMT(info.st_mode)} {info.st_size}".encode()
    if stat.S_ISREG(info.st_mode) and os.path.splitext(name)[1] in _CONTENT_SUFFIXES \
            and info.st_size <= _CONTENT_LIMIT:
        try:
            with open(path, "rb") as handle:
                return kind_and_size + b" " + hashlib.sha256(handle.read()).digest()
        except OSError as error:
            return kind_and_size + f" unreadable {error.errno}".encode()
    return kind_and_size + f" {info.st_mtime_ns}".encode()


def _findings_from_entry(data: dict[str, Any]) -> tuple[Finding, ...] | None:
    """The findings of an entry exactly as :meth:`LintCache.store` writes it, else None."""
    records = data.get("findings")
    if not isinstance(records, list):
        return None
    findings = []
    for record in records:
        finding = _finding(record)
        if finding is None:
            return None
        findings.append(finding)
    return tuple(findings)


def _finding(record: Any) -> Finding | None:
    if not isinstance(record, dict) or set(record) != set(_FINDING_FIELDS) | set(_OPTIONAL_FIELDS):
        return None
    for name, kind in _FINDING_FIELDS.items():
        if not isinstance(record[name], kind):
            return None
    for name, kind in _OPTIONAL_FIELDS.items():
        value = record[name]
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return None
    try:
        severity = Severity(record["severity"])
    except ValueError:
        return None
    return Finding(**{**record, "severity": severity})
