"""Which code runs when hubconf is imported, and which code each entry point reaches.

Rules such as HUB203 (cwd-relative paths) and HUB204 (unguarded CUDA) only
matter in code that users actually run through torch.hub: hubconf's module
level, the repo modules it imports, and the functions and classes the entry
points refer to, followed across the repo's own modules. Code in other
packages is not the repo's to fix and is never visited.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import (
    ModuleIndex,
    resolve_from_module,
    statement_bound_names,
)
from hubcheck.static.syntax import FUNCTION_NODES, live_children, live_statements, walk_live

NodeT = TypeVar("NodeT", bound=ast.AST)


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


# Fields that never hold a node worth visiting: names and flags (strings, numbers) and the shared
# singletons for load/store contexts and operators, which carry no position and that no rule asks for.
_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "module", "level", "kind",
                          "conversion", "simple", "is_async", "type_comment", "tag", "rest"})
# The list fields that may hold something other than nodes (None, or identifiers); the grammar's others hold nodes only.
_MIXED_LISTS = frozenset({("Dict", "keys"), ("arguments", "kw_defaults"), ("Global", "names"),
                          ("Nonlocal", "names"), ("MatchClass", "kwd_attrs")})
_NODE_FIELDS: dict[type[ast.AST], tuple[tuple[str, bool], ...]] = {ast.Constant: ()}
_FOLLOWED = frozenset({ast.Name, ast.Attribute, ast.Import, ast.ImportFrom})


def _node_fields(kind: type[ast.AST]) -> tuple[tuple[str, bool], ...]:
    """The fields of a node type that can hold nodes, each with whether a list there may hold non-nodes."""
    fields = _NODE_FIELDS.get(kind)
    if fields is None:
        fields = _NODE_FIELDS[kind] = tuple((f, (kind.__name__, f) in _MIXED_LISTS)
                                            for f in kind._fields if f not in _LEAF_FIELDS)
    return fields


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
        self._by_type: dict[bool, defaultdict[type, list[tuple[int, CodeUnit, ast.AST]]]] = {
            True: defaultdict(list), False: defaultdict(list)}
        """Every node of every unit, by whether its unit runs at import and by node type, each with
        its place in the walk (units in order, each walked depth first): collected while following names,
        so the rules need not walk the code again, and each rule reads only the node types it looks at."""
        self._parents: dict[ast.AST, ast.AST] = {}
        """Each walked node's parent, so that the few rules that look up get its ancestors."""
        self._lifted: dict[ast.AST, ast.AST] = {}
        """A function's decorators and defaults in an import-time walk: their parent there is the
        function's (the function's body is not walked at import, and neither is the function)."""
        self._returned: dict[ast.AST, frozenset[str]] = {}
        self.units: tuple[CodeUnit, ...] = tuple(self._collect())

    def nodes_of(self, *types: type[NodeT], import_time: bool | None = None) -> list[tuple[CodeUnit, NodeT]]:
        """Every walked node that is an instance of ``types``, once per unit reaching it, in walk order;
        only those of units that run at import (or only the others) when ``import_time`` says so.

        Load/store contexts and operators are never walked: they are shared singletons.
        """
        buckets = [bucket for at_import, by_type in self._by_type.items() if import_time in (None, at_import)
                   for kind, bucket in by_type.items() if issubclass(kind, types)]
        if len(buckets) == 1:
            return [(unit, node) for _, unit, node in buckets[0]]  # type: ignore[misc]
        merged = sorted((entry for bucket in buckets for entry in bucket), key=_WALK_ORDER)
        return [(unit, node) for _, unit, node in merged]  # type: ignore[misc]  # the buckets of ``types``

    def ancestors(self, unit: CodeUnit, node: ast.AST) -> tuple[ast.AST, ...]:
        """The nodes above ``node`` in ``unit``'s walk, from the unit's own node down to its parent."""
        parents = self._parents
        lifted = self._lifted if unit.import_time else {}
        root = unit.node
        chain: list[ast.AST] = []
        current = node
        while current is not root:
            current = lifted.get(current) or parents[current]
            chain.append(current)
        chain.reverse()
        return tuple(chain)

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

        order = 0
        while queue:
            path, module, node, import_time, entrypoint = queue.popleft()
            unit = CodeUnit(path, node, import_time, entrypoint, module)
            units.append(unit)
            order = self._walk(unit, self._scope(path, module), enqueue, order)
        return units

    def _walk(self, unit: CodeUnit, scope: _ModuleScope | None, enqueue, order: int) -> int:
        """Record every live node of ``unit`` (depth first, as the rules read them) and follow the names
        it uses; returns ``order`` advanced past its nodes.

        One loop, no ancestor tuples: each node's parent is kept in a map, and the
        ancestors are put together only for the nodes that need them.
        """
        root, import_time = unit.node, unit.import_time
        bindings = scope.bindings if scope is not None else {}
        by_type, parents, lifted, node_fields = self._by_type[import_time], self._parents, self._lifted, _NODE_FIELDS
        node_class, name_class, if_class, if_expression, followed = ast.AST, ast.Name, ast.If, ast.IfExp, _FOLLOWED
        stack = [root]
        pop, extend = stack.pop, stack.extend
        while stack:
            node = pop()
            kind = type(node)
            if node is not root:
                order += 1
                by_type[kind].append((order, unit, node))
                # Most names are locals and builtins: a name the module does not bind leads nowhere.
                if scope is not None and kind in followed and (not isinstance(node, name_class) or node.id in bindings):
                    self._follow(unit, scope, node, enqueue)
            if kind is if_class or kind is if_expression:
                children = live_children(node)
            else:
                fields = node_fields.get(kind)
                if fields is None:
                    fields = _node_fields(kind)
                children = []
                for name, mixed in fields:
                    value = getattr(node, name, None)
                    if type(value) is list:
                        if mixed:
                            children += [item for item in value if isinstance(item, node_class)]
                        else:
                            children += value
                    elif isinstance(value, node_class):
                        children.append(value)
            if not import_time:
                parents.update(dict.fromkeys(children, node))
                children.reverse()
                extend(children)
                continue
            # At import a function's body does not run, but its decorators and defaults do.
            kept: list[ast.AST] = []
            for child in children:
                if isinstance(child, FUNCTION_NODES):
                    args = child.args
                    for runs in [*getattr(child, "decorator_list", ()), *args.defaults, *args.kw_defaults]:
                        if runs is not None:
                            lifted[runs] = node
                            kept.append(runs)
                else:
                    parents[child] = node
                    kept.append(child)
            kept.reverse()
            extend(kept)
        return order

    def _follow(self, unit: CodeUnit, scope: _ModuleScope, node: ast.AST, enqueue) -> None:
        """Queue the repo code that one node of ``unit`` names."""
        import_time, entrypoint = unit.import_time, unit.entrypoint
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load) or (import_time and _is_base_class(node, self._parents)):
                # `class FashionMNIST(MNIST)` runs none of MNIST's methods at import.
                return
            self._follow_name(scope, node.id, entrypoint, enqueue, (unit, node))
        elif isinstance(node, ast.Attribute):
            if import_time and _is_base_class(node, self._parents):
                return
            self._method_called(node.attr, enqueue)
            if isinstance(node.value, ast.Name):
                self._follow_attribute(scope, node.value.id, node.attr, entrypoint, enqueue, (unit, node))
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not import_time:
            # A function-level import of a repo module runs that module's top level, and the
            # function uses what it imports: its names are local, so follow them from here.
            for name in _imported_module_names(node, scope, self.index):
                self._enqueue_module(name, entrypoint, enqueue)
            source = _from_source(node, scope, self.index) if isinstance(node, ast.ImportFrom) else None
            if source:
                for alias in node.names:
                    if alias.name != "*":
                        self._follow_definition(source, alias.name, entrypoint, enqueue, (unit, node))

    def hubconf_nodes(self) -> list[tuple[ast.AST, tuple[ast.AST, ...], str | None]]:
        """Every live node of hubconf.py, reached or not, with its ancestors and the entry point reaching it.

        Reached code comes from the walk made while following names (ancestors
        start at its unit, as in :meth:`ancestors`); only the functions and methods
        nothing reaches are walked again, with ancestors from the module down.
        """
        hubconf = self.model.path
        found: list[tuple[ast.AST, tuple[ast.AST, ...], str | None]] = []
        seen: set[int] = set()
        walked = sorted((entry for by_type in self._by_type.values() for bucket in by_type.values()
                         for entry in bucket if entry[1].path == hubconf), key=_WALK_ORDER)
        for _, unit, node in walked:
            if id(node) not in seen:
                seen.add(id(node))
                found.append((node, self.ancestors(unit, node), unit.entrypoint))
        covered = {id(u.node) for u in self.units if u.path == hubconf and not u.import_time}
        for function, ancestors in _unreached_functions(self.model.tree, covered):
            found.append((function, ancestors, None))
            found.extend((node, inner, None) for node, inner in walk_live(function, (*ancestors, function)))
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
                     where: tuple[CodeUnit, ast.AST]) -> None:
        stmt = scope.bindings.get(name)
        if stmt is None:
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._enqueue_definition(scope.path, scope.module, stmt, entrypoint, enqueue, where)
        elif isinstance(stmt, ast.ImportFrom):
            source = _from_source(stmt, scope, self.index)
            for alias in stmt.names:
                if (alias.asname or alias.name) == name and source:
                    self._follow_definition(source, alias.name, entrypoint, enqueue, where)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(getattr(stmt, "value", None), ast.Lambda):
            enqueue(scope.path, scope.module, stmt.value, False, entrypoint)

    def _follow_attribute(self, scope: _ModuleScope, base: str, attr: str, entrypoint, enqueue,
                          where: tuple[CodeUnit, ast.AST]) -> None:
        stmt = scope.bindings.get(base)
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname == base:
                    self._follow_definition(alias.name, attr, entrypoint, enqueue, where)
                elif alias.asname is None and alias.name == base:
                    self._follow_definition(base, attr, entrypoint, enqueue, where)
        elif isinstance(stmt, ast.ImportFrom):
            source = _from_source(stmt, scope, self.index)
            for alias in stmt.names:
                if (alias.asname or alias.name) == base and source:
                    self._follow_definition(f"{source}.{alias.name}", attr, entrypoint, enqueue, where)

    def _follow_definition(self, module: str, name: str, entrypoint, enqueue, where: tuple[CodeUnit, ast.AST]) -> None:
        found = self.index.find(module)
        if found is None or not found.local:
            return
        info = self.index.lookup(module, name)
        if info.definition is not None and info.local and info.path is not None:
            self._enqueue_definition(info.path, info.module, info.definition, entrypoint, enqueue, where)

    def _enqueue_definition(self, path: Path, module: str | None, node: ast.AST, entrypoint, enqueue,
                            where: tuple[CodeUnit, ast.AST]) -> None:
        """Queue a function, or the methods of a class that can run.

        A class whose instance is handed back to the caller (``return Cls()``, or
        ``model = Cls(); ...; return model``) may have any method called by the
        user, so all of them run. A class the repo's code uses itself
        runs its dunder methods and ``forward``, and the methods that reached code
        names (``builder.get_model``): GPUNet's builder has an ImageNet evaluation
        helper no entry point calls.
        """
        if not isinstance(node, ast.ClassDef) or _handed_back(self.ancestors(*where), self._returned):
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
                    self._follow_name(scope, inner.id, entrypoint, enqueue, where)
                elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
                    self._follow_attribute(scope, inner.value.id, inner.attr, entrypoint, enqueue, where)

    def _method_called(self, name: str, enqueue) -> None:
        """Reached code names ``x.name``: the methods of that name in classes already opened can run."""
        if name in self._attributes_seen:
            return
        self._attributes_seen.add(name)
        for path, module, method, entrypoint in self._pending_methods.pop(name, ()):
            enqueue(path, module, method, False, entrypoint)


def _handed_back(ancestors: tuple[ast.AST, ...], returned: dict[ast.AST, frozenset[str]]) -> bool:
    """Whether the expression under ``ancestors`` is returned, directly or through the name it is assigned to.

    ``returned`` keeps, per function, the names its ``return`` statements hand back: a builder
    function names many classes, and is read once.
    """
    if any(isinstance(a, ast.Return) for a in ancestors):
        return True
    assign = next((a for a in reversed(ancestors) if isinstance(a, (ast.Assign, ast.AnnAssign))), None)
    function = next((a for a in reversed(ancestors) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if assign is None or function is None:
        return False
    targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
    assigned = {t.id for t in targets if isinstance(t, ast.Name)}
    names = returned.get(function)
    if names is None:
        names = returned[function] = frozenset(_returned_names(function))
    return not assigned.isdisjoint(names)


def _returned_names(function: ast.AST) -> Iterator[str]:
    """The names that ``return`` statements anywhere in ``function`` hand back, alone or in a tuple or list.

    Dead branches and nested functions count too. Only statement blocks are visited: a
    ``return`` is a statement, and expressions hold none.
    """
    pending: list[ast.AST] = [function]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, (ast.Tuple, ast.List)) else [node.value]
            yield from (v.id for v in values if isinstance(v, ast.Name))
        for name in _BLOCK_FIELDS:
            pending.extend(getattr(node, name, ()))


# Where statements live: the blocks of compound statements, and the except handlers and match cases holding blocks.
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _is_base_class(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.ClassDef) and any(base is node for base in parent.bases)


_WALK_ORDER = itemgetter(0)


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
        inner = (*above, node)
        nested = []
        for child in live_children(node):
            if id(child) in covered or not isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield child, inner
            else:
                nested.append((child, inner))
        stack.extend(reversed(nested))
