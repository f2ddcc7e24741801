"""What a rule's check is given: the static model of the repo and helpers to walk its code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.reach import CodeUnit, Reach
from hubcheck.static.reader import HUBCONF, HubconfUnreadable


@dataclass
class LintContext:
    """The repo as the rules see it. ``model`` is None when hubconf.py is missing or unreadable."""

    repo_root: Path
    index: ModuleIndex
    model: HubconfModel | None
    hubconf_error: HubconfUnreadable | None = None
    _units: tuple[CodeUnit, ...] | None = field(default=None, repr=False)

    @property
    def hubconf_path(self) -> Path:
        return self.repo_root / HUBCONF

    @cached_property
    def units(self) -> tuple[CodeUnit, ...]:
        """Code that runs at import time or is reached from an entry point (empty without a model)."""
        if self.model is None:
            return ()
        return Reach(self.model, self.index).units

    def nodes(self) -> Iterator[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]]]:
        """Every node of every reached unit, once per unit, with its ancestors."""
        for unit in self.units:
            for node, ancestors in unit.walk():
                yield unit, node, ancestors

    def calls(self) -> Iterator[tuple[CodeUnit, ast.Call, tuple[ast.AST, ...]]]:
        """Every call in reached code, each reported once even when several units hold it."""
        seen: set[tuple[Path, int, int]] = set()
        for unit, node, ancestors in self.nodes():
            if isinstance(node, ast.Call):
                key = (unit.path, node.lineno, node.col_offset)
                if key not in seen:
                    seen.add(key)
                    yield unit, node, ancestors
