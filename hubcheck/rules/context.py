"""What a rule's check is given: the static model of the repo and helpers to walk its code."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.reach import CodeUnit, Reach
from hubcheck.static.reader import HUBCONF, HubconfUnreadable

T = TypeVar("T")


@dataclass
class LintContext:
    """The repo as the rules see it. ``model`` is None when hubconf.py is missing or unreadable."""

    repo_root: Path
    index: ModuleIndex
    model: HubconfModel | None
    hubconf_error: HubconfUnreadable | None = None
    _memo: dict[object, Any] = field(default_factory=dict, repr=False)

    @property
    def hubconf_path(self) -> Path:
        return self.repo_root / HUBCONF

    @cached_property
    def _reach(self) -> Reach | None:
        return Reach(self.model, self.index) if self.model is not None else None

    @property
    def units(self) -> tuple[CodeUnit, ...]:
        """Code that runs at import time or is reached from an entry point (empty without a model)."""
        return self._reach.units if self._reach is not None else ()

    @cached_property
    def _walked(self) -> tuple[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]], ...]:
        # Walked once per lint run, while following names: every rule shares it.
        return tuple(self._reach.nodes) if self._reach is not None else ()

    def nodes(self) -> Iterator[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]]]:
        """Every node of every reached unit, once per unit, with its ancestors."""
        return iter(self._walked)

    def calls(self) -> Iterator[tuple[CodeUnit, ast.Call, tuple[ast.AST, ...]]]:
        """Every call in reached code, each reported once even when several units hold it."""
        seen: set[tuple] = set()
        for unit, node, ancestors in self._walked:
            if isinstance(node, ast.Call):
                # The whole span: in `net.cuda().eval()` both calls start at `net`.
                key = (unit.path, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
                if key not in seen:
                    seen.add(key)
                    yield unit, node, ancestors

    def memo(self, key: object, build: Callable[[], T]) -> T:
        """A value derived from this context, built once and shared by the rules that need it."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]
