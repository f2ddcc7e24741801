"""Cache entries kept as one JSON file each: what the lint cache and the index cache share.

An entry is ``{"format": N, "key": KEY, ...payload}``, written atomically; one whose format
or key is not the expected one reads as absent. Reading an entry back whole marks its last
use, and writing one prunes the directory to the ``max_entries`` most recently used. JSON
only, never pickle: ``validate`` runs repo code, which could write here.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubcheck.fileio import atomic_write_text


@dataclass(frozen=True)
class EntryStore:
    directory: Path
    format: int
    max_entries: int
    name: str
    """What the store is called in messages (``lint cache``)."""

    def read(self, key: str) -> dict[str, Any] | None:
        """The entry under ``key`` when it is of this format and key, else None."""
        try:
            data = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != self.format or data.get("key") != key:
            return None
        return data

    def used(self, key: str) -> None:
        """Mark the entry under ``key`` as just used (once its payload read back whole), for pruning."""
        with contextlib.suppress(OSError):
            os.utime(self._path(key))

    def write(self, key: str, payload: dict[str, Any]) -> str | None:
        """Keep ``payload`` under ``key``; returns why it could not be kept, or None."""
        entry = {"format": self.format, "key": key, **payload}
        try:
            atomic_write_text(self._path(key), json.dumps(entry, separators=(",", ":")))
        except OSError as error:
            return f"cannot write the {self.name} at {self.directory} ({error.strerror or error})"
        self._prune()
        return None

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def _prune(self) -> None:
        try:
            entries = [(entry.stat().st_mtime_ns, entry.path) for entry in os.scandir(self.directory)
                       if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False)]
        except OSError:
            return
        for _, path in sorted(entries)[:max(0, len(entries) - self.max_entries)]:
            with contextlib.suppress(OSError):  # another hubcheck may have removed it first
                os.unlink(path)
