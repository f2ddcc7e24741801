"""The repo's own functions that run at import time because import-time code calls them.

``check_requirements(...)`` on a line of hubconf's top level runs that function's body
whenever torch.hub imports hubconf (for list, help and load alike), and everything the
body calls of the repo's own in turn. The reach walk visits such a body as code
reached from import (a unit with no entry point), but it cannot tell a call from a
mere reference (``partial(_build, ...)``, a registry dict, a decorator that only
stores the function): this module finds the bodies that are really called.

Only calls by name are followed (``helper()``, ``module.helper()``, ``Class()`` runs
``Class.__init__``), each resolved to its definition in the repo, read statically.
Calls inside a nested function, lambda or class of a called body are not followed:
they run only when that inner code is called.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from hubcheck.static.modules import ModuleIndex, resolve_from_module, statement_bound_names
from hubcheck.static.reach import CodeUnit, Reach
from hubcheck.static.syntax import FUNCTION_NODES, live_statements

_Place = tuple[Path, int, int]
"""A definition by where it is written: hubconf's tree is parsed twice (reader and index)."""


@dataclass(frozen=True)
class CalledAtImport:
    """A function body of the repo that runs when hubconf is imported."""

    unit: CodeUnit
    """The reach unit of the function (its body, as walked for entry points)."""
    callee: str
    """The name called at import time that leads here, as written (``check_requirements``)."""
    module: str | None
    """The module whose top level makes that call; None for hubconf.py."""
    line: int
    """The line of that top-level call."""


def functions_called_at_import(reach: Reach, index: ModuleIndex) -> tuple[CalledAtImport, ...]:
    """Every function unit whose body runs at import, each once, with the top-level call that leads to it."""
    functions: dict[_Place, CodeUnit] = {}
    for unit in reach.units:
        if not unit.import_time and isinstance(unit.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(_place(unit.path, unit.node), unit)
    if not functions:
        return ()
    resolver = CallResolver(reach, index)
    calls_by_unit: dict[int, list[ast.Call]] = {}
    for unit, call in reach.nodes_of(ast.Call, import_time=False):
        calls_by_unit.setdefault(id(unit.node), []).append(call)

    found: dict[int, CalledAtImport] = {}
    pending: deque[CalledAtImport] = deque()

    def reached(target: CodeUnit | None, origin: CalledAtImport) -> None:
        if target is not None and id(target.node) not in found:
            found[id(target.node)] = CalledAtImport(target, origin.callee, origin.module, origin.line)
            pending.append(found[id(target.node)])

    # Every call in code that runs at import starts a chain (a module imported only by an
    # entry point runs when that entry point is called); each called body continues it.
    for unit, call in reach.nodes_of(ast.Call, import_time=True):
        if unit.entrypoint is None:
            reached(resolver.called(unit, call.func, functions),
                    CalledAtImport(unit, ast.unparse(call.func), unit.module, call.lineno))
    while pending:
        called = pending.popleft()
        for call in calls_by_unit.get(id(called.unit.node), ()):
            if not inside_inner_definition(reach.ancestors(called.unit, call)):
                reached(resolver.called(called.unit, call.func, functions), called)
    return tuple(found.values())


def _place(path: Path, node: ast.AST) -> _Place:
    return (path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def inside_inner_definition(ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether a node of a function unit, with its unit's ``ancestors`` (the function's own node first), sits in
    a function, lambda or class inside that function's body: calling the function does not run it."""
    return any(isinstance(a, (*FUNCTION_NODES, ast.ClassDef)) for a in ancestors[1:])


class CallResolver:
    """Resolves a called name in one repo file to the function or class it is defined as."""

    def __init__(self, reach: Reach, index: ModuleIndex) -> None:
        self.reach = reach
        self.index = index
        self._bindings: dict[Path, dict[str, ast.stmt]] = {}

    def called(self, unit: CodeUnit, func: ast.expr, functions: dict[_Place, CodeUnit]) -> CodeUnit | None:
        """The unit of the function (or the ``__init__`` of the class) that ``func(...)`` runs, if it is the repo's."""
        definition = self.definition(unit, func)
        if definition is None:
            return None
        path, node = definition
        if isinstance(node, ast.ClassDef):
            init = next((item for item in node.body if isinstance(item, FUNCTION_NODES) and item.name == "__init__"),
                        None)
            if init is None:
                return None
            node = init
        return functions.get(_place(path, node))

    def definition(self, unit: CodeUnit, func: ast.expr) -> tuple[Path, ast.AST] | None:
        """The repo's ``def`` or ``class`` (with its file) that ``func``, called in ``unit``, names; else None."""
        bindings = self._module_bindings(unit.path)
        if isinstance(func, ast.Name):
            stmt = bindings.get(func.id)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                return unit.path, stmt
            if isinstance(stmt, ast.ImportFrom):
                source = self._source(unit, stmt)
                alias = next((a for a in stmt.names if (a.asname or a.name) == func.id), None)
                return self._lookup(source, alias.name) if source and alias else None
            return None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            stmt = bindings.get(func.value.id)
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == func.value.id:
                        return self._lookup(alias.name, func.attr)
            elif isinstance(stmt, ast.ImportFrom):
                source = self._source(unit, stmt)
                alias = next((a for a in stmt.names if (a.asname or a.name) == func.value.id), None)
                return self._lookup(f"{source}.{alias.name}", func.attr) if source and alias else None
        return None

    def _source(self, unit: CodeUnit, stmt: ast.ImportFrom) -> str | None:
        if stmt.level == 0 or unit.module is None:
            return stmt.module
        found = self.index.find(unit.module)
        return resolve_from_module(found, stmt) if found is not None else None

    def _lookup(self, module: str, name: str) -> tuple[Path, ast.AST] | None:
        found = self.index.find(module)
        if found is None or not found.local:
            return None
        info = self.index.lookup(module, name)
        if info.definition is None or not info.local or info.path is None:
            return None
        return info.path, info.definition

    def _module_bindings(self, path: Path) -> dict[str, ast.stmt]:
        bindings = self._bindings.get(path)
        if bindings is None:
            model = self.reach.model
            tree = model.tree if path == model.path else self.index.tree(path)
            bindings = self._bindings[path] = {}
            for stmt in live_statements(tree.body if tree is not None else [], into_definitions=False):
                for name in statement_bound_names(stmt):
                    bindings[name] = stmt
        return bindings
