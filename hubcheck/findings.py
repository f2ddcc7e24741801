"""The one record of a lint finding, shared by every command, format and the pytest plugin."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    """How bad a finding is; ``warning`` and ``error`` make ``hubcheck lint`` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def fails(self) -> bool:
        return self is not Severity.INFO


def notebook_place(cell: int, line: int) -> str:
    """How a finding in a notebook names its place, having no line of the file: ``cell 12, line 3``, the cell
    counted among all the notebook's cells and the line within its source, as Jupyter shows them."""
    return f"cell {cell}, line {line}"


_NOTEBOOK_PLACE = re.compile(r"\bcell (\d+), line (\d+)\b")


@dataclass(frozen=True)
class Finding:
    """One rule violation at one place."""

    code: str
    """Rule code, e.g. ``HUB203``."""
    name: str
    """Rule name, e.g. ``cwd-relative-path``."""
    severity: Severity
    message: str
    """What is wrong here, in one sentence."""
    path: str
    """File, relative to the repo root, with forward slashes."""
    line: int | None
    """1-based line, or None for findings about a whole file or the repo."""
    column: int | None
    """1-based column, or None."""
    entrypoint: str | None = None
    """The entry point whose code holds the problem, when there is one."""
    fix: str | None = None
    """What to write instead, in one sentence."""
    fingerprint: str | None = field(default=None, compare=False)
    """What is wrong regardless of where: stable across line moves (see :mod:`hubcheck.baseline`)."""

    def sort_key(self) -> tuple:
        """Path, then place: the line and column, or in a notebook the cell and its line, as numbers (cell 2
        before cell 12), then the rule."""
        place = _NOTEBOOK_PLACE.search(self.message) if self.line is None else None
        in_notebook = (int(place[1]), int(place[2])) if place is not None else (0, 0)
        return (self.path, self.line or 0, self.column or 0, in_notebook, self.code, self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "entrypoint": self.entrypoint,
            "fix": self.fix,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class FindingSummary:
    """Counts of findings by severity."""

    errors: int
    warnings: int
    infos: int

    @classmethod
    def of(cls, findings: tuple[Finding, ...] | list[Finding]) -> FindingSummary:
        return cls(
            errors=sum(f.severity is Severity.ERROR for f in findings),
            warnings=sum(f.severity is Severity.WARNING for f in findings),
            infos=sum(f.severity is Severity.INFO for f in findings),
        )

    @property
    def total(self) -> int:
        return self.errors + self.warnings + self.infos

    @property
    def fails(self) -> bool:
        return bool(self.errors or self.warnings)

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "error": self.errors, "warning": self.warnings, "info": self.infos}
