"""What a rule's check is given: the static model of the repo and the one walk of its reached code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.names import FileNames
from hubcheck.static.reach import CodeUnit, Reach
from hubcheck.static.reader import HUBCONF, HubconfUnreadable
from hubcheck.static.syntax import span


@dataclass
class LintContext:
    """The repo as the rules see it. ``model`` is None when hubconf.py is missing or unreadable.

    Everything here is derived once per lint run and shared by every rule: the
    reached code is walked once (skipping branches torch.hub never takes), and
    each file's names are resolved once.
    """

    repo_root: Path
    index: ModuleIndex
    model: HubconfModel | None
    hubconf_error: HubconfUnreadable | None = None
    _names: dict[Path, FileNames] = field(default_factory=dict, repr=False)

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
        return tuple(self._reach.nodes) if self._reach is not None else ()

    def nodes(self) -> Iterator[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]]]:
        """Every node of every reached unit, once per unit, with its ancestors."""
        return iter(self._walked)

    @cached_property
    def _calls(self) -> tuple[tuple[CodeUnit, ast.Call, tuple[ast.AST, ...]], ...]:
        seen: set[tuple] = set()
        found = []
        for unit, node, ancestors in self._walked:
            if isinstance(node, ast.Call):
                # The whole span: in `net.cuda().eval()` both calls start at `net`.
                key = (unit.path, *span(node))
                if key not in seen:
                    seen.add(key)
                    found.append((unit, node, ancestors))
        return tuple(found)

    def calls(self) -> Iterator[tuple[CodeUnit, ast.Call, tuple[ast.AST, ...]]]:
        """Every call in reached code, each reported once even when several units hold it."""
        return iter(self._calls)

    @cached_property
    def _hubconf_nodes(self) -> tuple[tuple[ast.AST, tuple[ast.AST, ...], str | None], ...]:
        return tuple(self._reach.hubconf_nodes()) if self._reach is not None else ()

    def hubconf_nodes(self) -> Iterator[tuple[ast.AST, tuple[ast.AST, ...], str | None]]:
        """Every live node of hubconf.py, reached or not, with its ancestors and the entry point reaching it."""
        return iter(self._hubconf_nodes)

    def names(self, path: Path) -> FileNames:
        """How names resolve in one file of the repo (hubconf.py or a module it reaches)."""
        found = self._names.get(path)
        if found is None:
            model = self.model
            tree = model.tree if model is not None and path == model.path else self.index.tree(path)
            found = self._names[path] = FileNames(tree)
        return found
