"""Which code runs when hubconf is imported, and which code each entry point reaches.

Rules such as HUB203 (cwd-relative paths) and HUB204 (unguarded CUDA) only
matter in code that users actually run through torch.hub: hubconf's module
level, the repo modules it imports, and the functions and classes the entry
points refer to, followed across the repo's own modules. Code in other
packages is not the repo's to fix and is never visited.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import (
    ModuleIndex,
    resolve_from_module,
    statement_bound_names,
)
from hubcheck.static.syntax import live_children, live_statements, walk_live


@dataclass(frozen=True)
class CodeUnit:
    """A piece of repo code that runs: a module's import-time statements, a function or a class."""

    path: Path
    node: ast.AST = field(compare=False, repr=False)
    import_time: bool
    """Module-level statements, run when the module is imported."""
    entrypoint: str | None
    """The first entry point (alphabetically) that reaches this code; None for code that runs when
    hubconf is imported (a module that only an entry point imports runs when that entry point is called)."""
    module: str | None
    """Dotted module name; None for hubconf.py."""

    def walk(self) -> Iterator[tuple[ast.AST, tuple[ast.AST, ...]]]:
        """Every node of the unit with its ancestors (outermost first).

        Import-time units skip function bodies (they run later, if at all) but keep
        class bodies and decorators, which run at import. No unit goes into branches
        torch.hub never takes (see :func:`~hubcheck.static.syntax.branch_taken`).
        """
        return walk_live(self.node, (), self.import_time)


class _ModuleScope:
    """Top-level names of one repo module, for following references."""

    def __init__(self, path: Path, module: str | None, tree: ast.Module) -> None:
        self.path = path
        self.module = module
        self.tree = tree
        self.bindings: dict[str, ast.stmt] = {}
        for stmt in live_statements(tree.body, into_definitions=False):
            for name in statement_bound_names(stmt):
                self.bindings[name] = stmt


class Reach:
    """The code units of a repo reached from hubconf's import and its entry points."""

    def __init__(self, model: HubconfModel, index: ModuleIndex) -> None:
        self.model = model
        self.index = index
        self._scopes: dict[Path, _ModuleScope] = {}
        self._queued_modules: set[str] = set()
        self._classes_opened: set[tuple[Path, int]] = set()
        self._attributes_seen: set[str] = set()
        self._pending_methods: dict[str, list[tuple[Path, str | None, ast.AST, str | None]]] = {}
        self.nodes: list[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]]] = []
        """Every node of every unit with its ancestors, in unit order: collected while following names,
        so the rules need not walk the code again."""
        self.units: tuple[CodeUnit, ...] = tuple(self._collect())

    def _scope(self, path: Path, module: str | None) -> _ModuleScope | None:
        if path not in self._scopes:
            tree = self.model.tree if path == self.model.path else self.index.tree(path)
            if tree is None:
                return None
            self._scopes[path] = _ModuleScope(path, module, tree)
        return self._scopes[path]

    def _collect(self) -> list[CodeUnit]:
        units: list[CodeUnit] = []
        seen: set[tuple[Path, int]] = set()
        queue: deque[tuple[Path, str | None, ast.AST, bool, str | None]] = deque()

        def enqueue(path: Path, module: str | None, node: ast.AST, import_time: bool, entrypoint: str | None) -> None:
            key = (path, id(node))
            if key not in seen:
                seen.add(key)
                queue.append((path, module, node, import_time, entrypoint))

        enqueue(self.model.path, None, self.model.tree, True, None)
        for imported in self.model.imports:
            if imported.local and imported.module_level:
                self._enqueue_module(imported.name, None, enqueue)
        for entry in self.model.entrypoints:
            definition = entry.definition
            if definition is not None and definition.local:
                enqueue(definition.path, definition.module, definition.node, False, entry.name)

        while queue:
            path, module, node, import_time, entrypoint = queue.popleft()
            unit = CodeUnit(path, node, import_time, entrypoint, module)
            units.append(unit)
            scope = self._scope(path, module)
            if scope is None:
                self.nodes.extend((unit, child, ancestors) for child, ancestors in unit.walk())
                continue
            for child, ancestors in unit.walk():
                self.nodes.append((unit, child, ancestors))
                if import_time and _is_base_class(child, ancestors):
                    # `class FashionMNIST(MNIST)` runs none of MNIST's methods at import.
                    continue
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                    self._follow_name(scope, child.id, entrypoint, enqueue, ancestors)
                elif isinstance(child, ast.Attribute):
                    self._method_called(child.attr, enqueue)
                    if isinstance(child.value, ast.Name):
                        self._follow_attribute(scope, child.value.id, child.attr, entrypoint, enqueue, ancestors)
                elif isinstance(child, (ast.Import, ast.ImportFrom)) and not import_time:
                    # A function-level import of a repo module runs that module's top level, and the
                    # function uses what it imports: its names are local, so follow them from here.
                    for name in _imported_module_names(child, scope, self.index):
                        self._enqueue_module(name, entrypoint, enqueue)
                    source = _from_source(child, scope, self.index) if isinstance(child, ast.ImportFrom) else None
                    for alias in child.names if source else ():
                        if alias.name != "*":
                            self._follow_definition(source, alias.name, entrypoint, enqueue, ancestors)
        return units

    def hubconf_nodes(self) -> list[tuple[ast.AST, tuple[ast.AST, ...], str | None]]:
        """Every live node of hubconf.py, reached or not, with its ancestors and the entry point reaching it.

        Reached code comes from the walk made while following names (ancestors
        start at its unit, as in :attr:`nodes`); only the functions and methods
        nothing reaches are walked again, with ancestors from the module down.
        """
        hubconf = self.model.path
        found: list[tuple[ast.AST, tuple[ast.AST, ...], str | None]] = []
        seen: set[int] = set()
        for unit, node, ancestors in self.nodes:
            if unit.path == hubconf and id(node) not in seen:
                seen.add(id(node))
                found.append((node, ancestors, unit.entrypoint))
        covered = {id(u.node) for u in self.units if u.path == hubconf and not u.import_time}
        for function, ancestors in _unreached_functions(self.model.tree, covered):
            found.append((function, ancestors, None))
            found.extend((node, inner, None) for node, inner in walk_live(function, ancestors + (function,)))
        return found

    def _enqueue_module(self, name: str, entrypoint: str | None, enqueue) -> None:
        """Queue a repo module's import-time code, and that of the repo modules it imports in turn.

        Importing ``a.b.c`` runs ``a`` and ``a.b`` first. ``entrypoint`` is the entry point whose
        call imports the module, or None when hubconf's own import does.
        """
        pending = _with_parents([name])
        visited = self._queued_modules
        # A worklist, not recursion: import chains can be far deeper than Python's recursion limit.
        # A module queued once had its imports queued then too: later imports of it add nothing.
        while pending:
            current = pending.pop()
            if current in visited:
                continue
            visited.add(current)
            found = self.index.find(current)
            if found is None or not found.local or found.path is None:
                continue
            tree = self.index.tree(found.path)
            if tree is None:
                continue
            enqueue(found.path, current, tree, True, entrypoint)
            scope = self._scope(found.path, current)
            for stmt in live_statements(tree.body, into_definitions=False):
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    pending.extend(_with_parents(_imported_module_names(stmt, scope, self.index)))

    def _follow_name(self, scope: _ModuleScope, name: str, entrypoint: str | None, enqueue,
                     ancestors: tuple[ast.AST, ...]) -> None:
        stmt = scope.bindings.get(name)
        if stmt is None:
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._enqueue_definition(scope.path, scope.module, stmt, entrypoint, enqueue, ancestors)
        elif isinstance(stmt, ast.ImportFrom):
            source = _from_source(stmt, scope, self.index)
            for alias in stmt.names:
                if (alias.asname or alias.name) == name and source:
                    self._follow_definition(source, alias.name, entrypoint, enqueue, ancestors)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(getattr(stmt, "value", None), ast.Lambda):
            enqueue(scope.path, scope.module, stmt.value, False, entrypoint)

    def _follow_attribute(self, scope: _ModuleScope, base: str, attr: str, entrypoint, enqueue,
                          ancestors: tuple[ast.AST, ...]) -> None:
        stmt = scope.bindings.get(base)
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname == base:
                    self._follow_definition(alias.name, attr, entrypoint, enqueue, ancestors)
                elif alias.asname is None and alias.name == base:
                    self._follow_definition(base, attr, entrypoint, enqueue, ancestors)
        elif isinstance(stmt, ast.ImportFrom):
            source = _from_source(stmt, scope, self.index)
            for alias in stmt.names:
                if (alias.asname or alias.name) == base and source:
                    self._follow_definition(f"{source}.{alias.name}", attr, entrypoint, enqueue, ancestors)

    def _follow_definition(self, module: str, name: str, entrypoint, enqueue, ancestors: tuple[ast.AST, ...]) -> None:
        found = self.index.find(module)
        if found is None or not found.local:
            return
        info = self.index.lookup(module, name)
        if info.definition is not None and info.local and info.path is not None:
            self._enqueue_definition(info.path, info.module, info.definition, entrypoint, enqueue, ancestors)

    def _enqueue_definition(self, path: Path, module: str | None, node: ast.AST, entrypoint, enqueue,
                            ancestors: tuple[ast.AST, ...]) -> None:
        """Queue a function, or the methods of a class that can run.

        A class whose instance is handed back to the caller (``return Cls()``, or
        ``model = Cls(); ...; return model``) may have any method called by the
        user, so all of them run. A class the repo's code uses itself
        runs its dunder methods and ``forward``, and the methods that reached code
        names (``builder.get_model``): GPUNet's builder has an ImageNet evaluation
        helper no entry point calls.
        """
        if not isinstance(node, ast.ClassDef) or _handed_back(ancestors):
            enqueue(path, module, node, False, entrypoint)
            return
        key = (path, id(node))
        if key in self._classes_opened:
            return
        self._classes_opened.add(key)
        scope = self._scope(path, module)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if stmt.name.startswith("__") or stmt.name == "forward" or stmt.name in self._attributes_seen:
                    enqueue(path, module, stmt, False, entrypoint)
                else:
                    self._pending_methods.setdefault(stmt.name, []).append((path, module, stmt, entrypoint))
        if scope is None:
            return
        # Inherited methods run too, and decorators and base expressions name code of their own.
        for expression in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            for inner in ast.walk(expression):
                if isinstance(inner, ast.Name):
                    self._follow_name(scope, inner.id, entrypoint, enqueue, ancestors)
                elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
                    self._follow_attribute(scope, inner.value.id, inner.attr, entrypoint, enqueue, ancestors)

    def _method_called(self, name: str, enqueue) -> None:
        """Reached code names ``x.name``: the methods of that name in classes already opened can run."""
        if name in self._attributes_seen:
            return
        self._attributes_seen.add(name)
        for path, module, method, entrypoint in self._pending_methods.pop(name, ()):
            enqueue(path, module, method, False, entrypoint)


def _handed_back(ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether the expression under ``ancestors`` is returned, directly or through the name it is assigned to."""
    if any(isinstance(a, ast.Return) for a in ancestors):
        return True
    assign = next((a for a in reversed(ancestors) if isinstance(a, (ast.Assign, ast.AnnAssign))), None)
    function = next((a for a in reversed(ancestors) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if assign is None or function is None:
        return False
    targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
    assigned = {t.id for t in targets if isinstance(t, ast.Name)}
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, (ast.Tuple, ast.List)) else [node.value]
            if any(isinstance(v, ast.Name) and v.id in assigned for v in values):
                return True
    return False


def _is_base_class(node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
    parent = ancestors[-1] if ancestors else None
    return isinstance(parent, ast.ClassDef) and any(base is node for base in parent.bases)


def _with_parents(modules: list[str]) -> list[str]:
    """The modules with the packages above them, which importing them runs first (``a``, ``a.b``, ``a.b.c``)."""
    found: list[str] = []
    for module in modules:
        parts = module.split(".")
        found.extend(".".join(parts[:end]) for end in range(len(parts), 0, -1))
    return found


def _from_source(stmt: ast.ImportFrom, scope: _ModuleScope, index: ModuleIndex) -> str | None:
    if stmt.level == 0 or scope.module is None:
        return stmt.module
    found = index.find(scope.module)
    return resolve_from_module(found, stmt) if found else None


def _imported_module_names(stmt: ast.Import | ast.ImportFrom, scope: _ModuleScope | None, index: ModuleIndex) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [alias.name for alias in stmt.names]
    source = _from_source(stmt, scope, index) if scope is not None else stmt.module
    if not source:
        return []
    names = [source]
    for alias in stmt.names:
        if alias.name != "*" and index.find(f"{source}.{alias.name}") is not None:
            names.append(f"{source}.{alias.name}")
    return names


def _unreached_functions(tree: ast.Module, covered: set[int]):
    """Functions and methods in live blocks of the module whose bodies no reached unit walks, in source order."""
    stack: list[tuple[ast.AST, tuple[ast.AST, ...]]] = [(tree, ())]
    while stack:
        node, above = stack.pop()
        inner = above + (node,)
        nested = []
        for child in live_children(node):
            if id(child) in covered or not isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield child, inner
            else:
                nested.append((child, inner))
        stack.extend(reversed(nested))
