"""Baselines: adopt lint in a repo with old findings by reporting only the new ones.

A finding's fingerprint names what is wrong, not where: the rule code, the file, the
entry point and the whitespace-normalised text of the offending line (the message when
the finding has no line). Moving code up or down keeps it; editing the offending line
makes a new finding. Identical lines in one file share a fingerprint, so the baseline
keeps a count per fingerprint and only the extra occurrences are new.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hubcheck.errors import UsageError
from hubcheck.fileio import atomic_write_text
from hubcheck.findings import Finding

BASELINE_FORMAT = 1
_WHITESPACE = re.compile(r"\s+")


def content_fingerprint(code: str, path: str, entrypoint: str | None, subject: str) -> str:
    """The fingerprint of a finding of rule ``code`` in ``path`` whose offending text is ``subject``."""
    normalised = _WHITESPACE.sub(" ", subject).strip()
    parts = (code, path, entrypoint or "", normalised)
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:20]


class SourceLines:
    """The lines of repo files, each file read once per lint run."""

    def __init__(self, repo_root: Path) -> None:
        self._root = repo_root
        self._lines: dict[str, list[str]] = {}

    def line(self, path: str, line: int | None) -> str | None:
        """Line ``line`` of ``path`` (relative to the repo), or None when there is none to read."""
        if line is None:
            return None
        lines = self._lines.get(path)
        if lines is None:
            file = self._root / path
            try:
                # A FIFO or device in the repo would block or never end: only regular files are read.
                lines = file.read_bytes().decode("utf-8", "replace").splitlines() if file.is_file() else []
            except OSError:
                lines = []
            self._lines[path] = lines
        return lines[line - 1] if 0 < line <= len(lines) else None


def fingerprint_of(finding: Finding) -> str:
    """The finding's fingerprint (see the module docstring); lint sets it on every finding."""
    if finding.fingerprint is not None:
        return finding.fingerprint
    return content_fingerprint(finding.code, finding.path, finding.entrypoint, finding.message)


@dataclass(frozen=True)
class Baseline:
    """Findings accepted as they are: fingerprint -> how many times it occurs."""

    counts: dict[str, int]

    @classmethod
    def of(cls, findings: tuple[Finding, ...]) -> Baseline:
        return cls(dict(Counter(fingerprint_of(f) for f in findings)))

    def new_findings(self, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
        """The findings not in the baseline: for a fingerprint it holds n times, all occurrences after the n-th."""
        left = dict(self.counts)
        new = []
        for finding in findings:
            fingerprint = fingerprint_of(finding)
            if left.get(fingerprint, 0) > 0:
                left[fingerprint] -= 1
            else:
                new.append(finding)
        return tuple(new)


def write_baseline(path: Path, findings: tuple[Finding, ...]) -> None:
    """Write a baseline accepting ``findings`` to ``path`` atomically (replacing one that is there).

    The entries name code, file and message too, so that a reviewer can read what was accepted.
    """
    entries: dict[str, dict] = {}
    for finding in findings:
        fingerprint = fingerprint_of(finding)
        entry = entries.setdefault(fingerprint, {
            "fingerprint": fingerprint, "code": finding.code, "path": finding.path,
            "entrypoint": finding.entrypoint, "message": finding.message, "count": 0,
        })
        entry["count"] += 1
    ordered = sorted(entries.values(), key=lambda e: (e["path"], e["code"], e["fingerprint"]))
    text = json.dumps({"hubcheck_baseline": BASELINE_FORMAT, "findings": ordered}, indent=2) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as error:
        raise UsageError(f"cannot write baseline {path}: {error.strerror or error}") from None


def read_baseline(path: Path) -> Baseline:
    """The baseline in ``path``.

    Raises:
        UsageError: the file is missing, unreadable or not a baseline this version writes.
    """
    rewrite = "write a new one with `hubcheck lint --write-baseline FILE`"
    try:
        data = json.loads(path.read_bytes())
    except OSError as error:
        raise UsageError(f"cannot read baseline {path}: {error.strerror or error}; {rewrite}") from None
    except ValueError:
        raise UsageError(f"baseline {path} is not valid JSON; {rewrite}") from None
    if not isinstance(data, dict) or data.get("hubcheck_baseline") != BASELINE_FORMAT \
            or not isinstance(data.get("findings"), list):
        raise UsageError(f"{path} is not a hubcheck baseline (format {BASELINE_FORMAT}); {rewrite}")
    counts: dict[str, int] = {}
    for entry in data["findings"]:
        fingerprint = entry.get("fingerprint") if isinstance(entry, dict) else None
        count = entry.get("count") if isinstance(entry, dict) else None
        if not isinstance(fingerprint, str) or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise UsageError(f"baseline {path} has an entry without a fingerprint and a positive count; {rewrite}")
        counts[fingerprint] = counts.get(fingerprint, 0) + count
    return Baseline(counts)
