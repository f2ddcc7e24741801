"""What a rule's check is given: the static model of the repo and the one walk of its reached code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from hubcheck.static.collisions import GenericImport, generic_imports
from hubcheck.static.import_calls import CalledAtImport, CallResolver, functions_called_at_import
from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.names import FileNames, last_words
from hubcheck.static.optional_imports import optional_modules
from hubcheck.static.reach import CodeUnit, NodeT, Reach
from hubcheck.static.reader import HUBCONF, HubconfUnreadable
from hubcheck.static.syntax import span

if TYPE_CHECKING:
    from hubcheck.static.snippets import HubCall


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

    def nodes_of(self, *types: type[NodeT], import_time: bool | None = None) -> list[tuple[CodeUnit, NodeT]]:
        """Every reached node that is an instance of ``types`` (``ast.Call``, ``ast.stmt``...), once per
        unit that reaches it, in the order the walk met them; with ``import_time``, only those of units
        that run at import (True) or of the others (False). A node's ancestors come from :meth:`ancestors`."""
        return self._reach.nodes_of(*types, import_time=import_time) if self._reach is not None else []

    def imported_modules(self, unit: CodeUnit, node: ast.Import | ast.ImportFrom) -> list[str]:
        """The repo or other modules an import statement of ``unit`` imports (relative names resolved, and each
        name a ``from`` import takes that is a submodule), as the reach follows them."""
        return self._reach.imported_modules(unit, node) if self._reach is not None else []

    def import_source(self, unit: CodeUnit, node: ast.ImportFrom) -> str | None:
        """The module a ``from`` import of ``unit`` takes names from, relative names resolved; None when unknown."""
        return self._reach.import_source(unit, node) if self._reach is not None else node.module

    def ancestors(self, unit: CodeUnit, node: ast.AST) -> tuple[ast.AST, ...]:
        """The nodes above a node of :meth:`nodes_of` or :meth:`calls`, from ``unit``'s own node down."""
        return self._reach.ancestors(unit, node) if self._reach is not None else ()

    @cached_property
    def called_at_import(self) -> tuple[CalledAtImport, ...]:
        """The repo's function bodies that run when hubconf is imported, because import-time code calls them."""
        return functions_called_at_import(self._reach, self.index) if self._reach is not None else ()

    @cached_property
    def optional_modules(self) -> frozenset[str]:
        """The repo modules that reached code imports only where an ImportError is handled, or in the later
        branches of a dispatch (:func:`hubcheck.static.optional_imports.optional_modules`): HUB007 and HUB008
        both skip their imports, and working them out for each was a tenth of a second on a zoo."""
        return optional_modules({(unit.path, unit.module) for unit in self.units}, self.index)

    @cached_property
    def generic_imports(self) -> tuple[GenericImport, ...]:
        """The imports in reached code that put a repo module with a generic top-level name in ``sys.modules``."""
        return generic_imports(self._reach) if self._reach is not None else ()

    @cached_property
    def _resolver(self) -> CallResolver | None:
        return CallResolver(self._reach, self.index) if self._reach is not None else None

    def callee_definition(self, unit: CodeUnit, func: ast.expr) -> tuple[Path, ast.AST] | None:
        """The repo's ``def`` or ``class`` (and its file) that a call's ``func`` in ``unit`` names, or None."""
        return self._resolver.definition(unit, func) if self._resolver is not None else None

    @cached_property
    def _calls(self) -> tuple[tuple[CodeUnit, ast.Call], ...]:
        seen: set[tuple] = set()
        found = []
        for unit, node in self.nodes_of(ast.Call):
            # The whole span: in `net.cuda().eval()` both calls start at `net`.
            key = (unit.path, *span(node))
            if key not in seen:
                seen.add(key)
                found.append((unit, node))
        return tuple(found)

    def calls(self) -> tuple[tuple[CodeUnit, ast.Call], ...]:
        """Every call in reached code, each reported once even when several units hold it."""
        return self._calls

    @cached_property
    def _calls_by_name(self) -> dict[str, list[tuple[int, CodeUnit, ast.Call]]]:
        """The calls of :meth:`calls` by the last word of what they call: ``load`` for ``torch.load(...)``,
        and for a bare name its import alias's (``lsd(...)`` after ``import ... as lsd``), read once."""
        by_name: dict[str, list[tuple[int, CodeUnit, ast.Call]]] = {}
        for position, (unit, call) in enumerate(self._calls):
            func = call.func
            if isinstance(func, ast.Attribute):
                name = func.attr
            elif isinstance(func, ast.Name):
                name = self.names(unit.path).qualified_name(func.id).rpartition(".")[2]
            else:
                continue
            by_name.setdefault(name, []).append((position, unit, call))
        return by_name

    def calls_to(self, *callees: str) -> list[tuple[CodeUnit, ast.Call, str]]:
        """The calls of :meth:`calls` whose callee is one of ``callees``, canonical dotted names as
        :meth:`FileNames.qualified` gives them (``torch.load``), in the same order, each with its callee.

        Only the calls whose last word can be one of the callees' are resolved (a timm-sized
        repo makes 70,000 calls, and few are to any function a rule asks about).
        """
        by_name = self._calls_by_name
        wanted = set(callees)
        found = []
        for name in {word for callee in wanted for word in last_words(callee)}:
            for position, unit, call in by_name.get(name, ()):
                callee = self.names(unit.path).qualified(call.func)
                if callee in wanted:
                    found.append((position, unit, call, callee))
        found.sort(key=itemgetter(0))
        return [(unit, call, callee) for _, unit, call, callee in found]

    @cached_property
    def _hubconf_nodes(self) -> tuple[tuple[ast.AST, tuple[ast.AST, ...], str | None], ...]:
        return tuple(self._reach.hubconf_nodes()) if self._reach is not None else ()

    def hubconf_nodes(self) -> Iterator[tuple[ast.AST, tuple[ast.AST, ...], str | None]]:
        """Every live node of hubconf.py, reached or not, with its ancestors and the entry point reaching it."""
        return iter(self._hubconf_nodes)

    @cached_property
    def hub_calls(self) -> tuple[HubCall, ...]:
        """The torch.hub calls written in the repo's documentation, read on first use (only the docs rules ask)."""
        from hubcheck.static.snippets import hub_calls

        return hub_calls(self.repo_root, self.model)

    def names(self, path: Path) -> FileNames:
        """How names resolve in one file of the repo (hubconf.py or a module it reaches)."""
        found = self._names.get(path)
        if found is None:
            model = self.model
            tree = model.tree if model is not None and path == model.path else self.index.tree(path)
            found = self._names[path] = FileNames(tree)
        return found
