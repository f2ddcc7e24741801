"""Which code runs when hubconf is imported, and which code each entry point reaches.

Rules such as HUB203 (cwd-relative paths) and HUB204 (unguarded CUDA) only
matter in code that users actually run through torch.hub: hubconf's module
level, the repo modules it imports, and the functions and classes the entry
points refer to, followed across the repo's own modules. Code in other
packages is not the repo's to fix and is never visited.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress, repeat
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


# ASDL types of fields that never hold a node worth visiting: names and flags (strings, numbers) and the
# shared singletons for load/store contexts and operators, which carry no position and that no rule asks for.
_LEAF_TYPES = frozenset({"identifier", "string", "constant", "int", "object",
                         "expr_context", "operator", "unaryop", "cmpop", "boolop"})
# The node lists that may hold None: ``{**spread}``'s key, a keyword-only parameter without a default.
_LISTS_WITH_HOLES = frozenset({("Dict", "keys"), ("arguments", "kw_defaults")})
_SIGNATURE = re.compile(r"\w+\((.*)\)$")
_CHILDREN: dict[type[ast.AST], Callable[[ast.AST], list[ast.AST]]] = {}
_FOLLOWED = frozenset({ast.Name, ast.Attribute, ast.Import, ast.ImportFrom})


def _children_of(kind: type[ast.AST]) -> Callable[[ast.AST], list[ast.AST]]:
    """A function giving a node's child nodes in field order, written for its type from the grammar.

    The walk calls it once per reached node (hundreds of thousands on a timm-sized repo):
    straight-line attribute reads cost a third of a loop over ``_fields`` with a type test
    on every value. The fields and their types come from the node class's docstring, the
    grammar's own line (``Return(expr? value)``); a class whose docstring does not spell its
    fields falls back to testing every field's value.
    """
    found = _CHILDREN.get(kind)
    if found is not None:
        return found
    match = _SIGNATURE.match((kind.__doc__ or "").strip())
    declared = [part.split(" ") for part in match.group(1).split(", ")] if match and match.group(1) else []
    if [name for _, name in declared] != list(kind._fields) or any(len(part) != 2 for part in declared):
        found = _CHILDREN[kind] = _any_children
        return found
    lines = ["def children(node):", "    found = []"]
    for grammar_type, name in declared:
        if grammar_type.rstrip("*?") in _LEAF_TYPES:
            continue
        if grammar_type.endswith("*"):
            if (kind.__name__, name) in _LISTS_WITH_HOLES:
                lines.append(f"    found += [item for item in node.{name} if item is not None]")
            else:
                lines.append(f"    found += node.{name}")
        elif grammar_type.endswith("?"):
            lines.append(f"    if node.{name} is not None:\n        found.append(node.{name})")
        else:
            lines.append(f"    found.append(node.{name})")
    lines.append("    return found")
    namespace: dict[str, Callable[[ast.AST], list[ast.AST]]] = {}
    exec("\n".join(lines), namespace)  # noqa: S102  # hubcheck's own text, built from the grammar above
    found = _CHILDREN[kind] = namespace["children"]
    return found


def _any_children(node: ast.AST) -> list[ast.AST]:
    """A node's child nodes by testing every field (for node classes whose grammar line is unknown)."""
    found: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            found += [item for item in value if isinstance(item, ast.AST) and not _is_singleton(item)]
        elif isinstance(value, ast.AST) and not _is_singleton(value):
            found.append(value)
    return found


def _is_singleton(node: ast.AST) -> bool:
    return isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop))


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
        self._walked: list[tuple[CodeUnit, list[ast.AST]]] = []
        """Every unit with the nodes its walk met, depth first: collected while following names, so
        that the rules need not walk the code again (a pass over these lists is cheap; bucketing each
        node by type as it was met cost more than all the rules' passes together)."""
        self._base_classes: set[int] = set()
        """The base expressions of the classes of import-time walks (``class A(B)`` runs none of B's methods)."""
        self._parents: dict[ast.AST, ast.AST] = {}
        """The parent of each node of the units in :attr:`_linked`, for the few nodes whose ancestors are asked."""
        self._lifted: dict[ast.AST, ast.AST] = {}
        """A function's decorators and defaults in an import-time walk: their parent there is the
        function's (the function's body is not walked at import, and neither is the function)."""
        self._linked: set[tuple[int, bool]] = set()
        """The units (their node, whether at import) whose nodes have their parents in :attr:`_parents`."""
        self._statements_linked: set[tuple[int, bool]] = set()
        """The units whose statements (not all nodes) have their parents in :attr:`_parents`."""
        self._asked: set[tuple[int, bool]] = set()
        """The units whose ancestors were asked once (by a search, :func:`_path_to`)."""
        self._returned: dict[ast.AST, frozenset[str]] = {}
        self._handed_back: dict[int, frozenset[int]] = {}
        """Per unit walked after import (its node's id), the ids of its nodes that it hands back (:func:`_handed_back`)."""
        self.units: tuple[CodeUnit, ...] = tuple(self._collect())

    def nodes_of(self, *types: type[NodeT], import_time: bool | None = None) -> list[tuple[CodeUnit, NodeT]]:
        """Every walked node that is an instance of ``types``, once per unit reaching it, in walk order;
        only those of units that run at import (or only the others) when ``import_time`` says so.

        Load/store contexts and operators are never walked: they are shared singletons.
        """
        is_kind = _node_classes(types).__contains__
        found: list[tuple[CodeUnit, NodeT]] = []
        for unit, nodes in self._walked:
            if import_time is None or unit.import_time is import_time:
                # Filtered in C (map, compress, zip): rules ask this of every reached node, a few times a run.
                found += zip(repeat(unit), compress(nodes, map(is_kind, map(type, nodes))))  # type: ignore[arg-type]
        return found

    def imported_modules(self, unit: CodeUnit, node: ast.Import | ast.ImportFrom) -> list[str]:
        """The modules an import statement of ``unit`` imports, as the walk follows them: relative
        names resolved, and each name a ``from`` import takes that is a submodule."""
        return _imported_module_names(node, self._scope(unit.path, unit.module), self.index)

    def import_source(self, unit: CodeUnit, node: ast.ImportFrom) -> str | None:
        """The module a ``from`` import of ``unit`` takes names from, relative names resolved; None when unknown."""
        scope = self._scope(unit.path, unit.module)
        return _from_source(node, scope, self.index) if scope is not None else node.module

    def ancestors(self, unit: CodeUnit, node: ast.AST) -> tuple[ast.AST, ...]:
        """The nodes above ``node`` in ``unit``'s walk, from the unit's own node down to its parent."""
        root = unit.node
        key = (id(root), unit.import_time)
        if key not in self._linked:
            if isinstance(node, ast.stmt):
                # Only statements hold statements: linking a unit's statements is cheap.
                if key not in self._statements_linked:
                    self._link(unit, statements_only=True)
            elif key in self._asked:
                # A unit asked again (a module's imports, one by one) has all its parents recorded at once.
                self._link(unit)
            else:
                # One question about a unit is answered by a search down to the node.
                self._asked.add(key)
                return _path_to(root, node, unit.import_time)
        parents = self._parents
        lifted = self._lifted if unit.import_time else {}
        chain: list[ast.AST] = []
        current = node
        while current is not root:
            current = lifted.get(current) or parents[current]
            chain.append(current)
        chain.reverse()
        return tuple(chain)

    def _link(self, unit: CodeUnit, statements_only: bool = False) -> None:
        """Record the parent of every node of ``unit``'s walk (or of every statement, the only nodes
        that statements sit in), for a unit whose nodes' ancestors are asked again and again."""
        key = (id(unit.node), unit.import_time)
        (self._statements_linked if statements_only else self._linked).add(key)
        parents = self._parents
        lifted: dict[ast.AST, ast.AST] = {}
        stack = [unit.node]
        while stack:
            node = stack.pop()
            children = _walked_children(node, unit.import_time, lifted)
            if statements_only:
                children = [child for child in children if isinstance(child, _HOLDS_STATEMENTS)]
            for child in children:
                if child not in lifted:
                    parents[child] = node
            stack += children
        self._lifted.update(lifted)

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
            self._walk(unit, self._scope(path, module), enqueue)
        return units

    def _walk(self, unit: CodeUnit, scope: _ModuleScope | None, enqueue) -> None:
        """Record every live node of ``unit`` (depth first, as the rules read them) and follow the names it uses.

        The loop runs once per reached node, hundreds of thousands of times on a large
        repo, so it does as little as it can: one append per node, and no parents (they
        are found again for the few units whose ancestors are asked, :meth:`_link`).
        """
        root, import_time = unit.node, unit.import_time
        bindings = scope.bindings if scope is not None else {}
        getters, base_classes = _CHILDREN, self._base_classes
        name_class, class_node, if_class, if_expression, followed = ast.Name, ast.ClassDef, ast.If, ast.IfExp, _FOLLOWED
        walked: list[ast.AST] = []
        self._walked.append((unit, walked))
        record = walked.append
        stack = [root]
        pop, extend = stack.pop, stack.extend
        while stack:
            node = pop()
            kind = type(node)
            if node is not root:
                record(node)
                # Most names are locals and builtins: a name the module does not bind leads nowhere.
                if kind in followed and scope is not None and (kind is not name_class or node.id in bindings):  # type: ignore[attr-defined]
                    self._follow(unit, scope, node, enqueue)
            if import_time:
                if kind is class_node:
                    base_classes.update(map(id, node.bases))  # type: ignore[attr-defined]
                children = _walked_children(node, True, None)
            elif kind is if_class or kind is if_expression:
                children = live_children(node)
            else:
                children = (getters.get(kind) or _children_of(kind))(node)
            children.reverse()
            extend(children)

    def _follow(self, unit: CodeUnit, scope: _ModuleScope, node: ast.AST, enqueue) -> None:
        """Queue the repo code that one node of ``unit`` names."""
        import_time, entrypoint = unit.import_time, unit.entrypoint
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load) or (import_time and id(node) in self._base_classes):
                # `class FashionMNIST(MNIST)` runs none of MNIST's methods at import.
                return
            self._follow_name(scope, node.id, entrypoint, enqueue, (unit, node))
        elif isinstance(node, ast.Attribute):
            if import_time and id(node) in self._base_classes:
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
        for unit, nodes in self._walked:
            if unit.path != hubconf:
                continue
            self._link(unit)
            for node in nodes:
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
        if not isinstance(node, ast.ClassDef) or self._hands_back(*where):
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

    def _hands_back(self, unit: CodeUnit, node: ast.AST) -> bool:
        """Whether ``unit`` hands the value of ``node`` back to its caller: ``return Cls()``, or ``model = Cls();
        ...; return model``. Never at import: module-level code has no caller to hand anything to.

        Read from one pass over the unit's statements rather than from ``node``'s ancestors: classes
        are named again and again (12,000 times in torch._dynamo's 77 files, read as a hub), and
        each first question about a unit searched its tree, each later one recorded the parents of
        all its nodes.
        """
        if unit.import_time:
            return False
        key = id(unit.node)
        if key not in self._handed_back:
            self._handed_back[key] = _handed_back(unit.node, self._returned)
        return id(node) in self._handed_back[key]

    def _method_called(self, name: str, enqueue) -> None:
        """Reached code names ``x.name``: the methods of that name in classes already opened can run."""
        if name in self._attributes_seen:
            return
        self._attributes_seen.add(name)
        for path, module, method, entrypoint in self._pending_methods.pop(name, ()):
            enqueue(path, module, method, False, entrypoint)


def _handed_back(root: ast.AST, returned: dict[ast.AST, frozenset[str]]) -> frozenset[int]:
    """The ids of the nodes under ``root`` whose value is handed back: inside a ``return``, or inside an
    assignment to a name that a ``return`` of the innermost function holding it hands back.

    ``returned`` keeps, per function, the names its ``return`` statements hand back: a builder
    function names many classes, and is read once. Only statement blocks are visited, as a
    ``return`` or an assignment is a statement and expressions hold none.
    """
    found: list[ast.AST] = []
    if isinstance(root, ast.Lambda):  # `resnet = lambda **kw: ResNet(**kw)`: its body is what it returns
        found.extend(ast.walk(root.body))
    pending: list[tuple[ast.AST, ast.AST | None]] = [(root, root if isinstance(root, _DEFINITIONS) else None)]
    while pending:
        statement, function = pending.pop()
        if isinstance(statement, ast.Return):
            if statement.value is not None:
                found.extend(ast.walk(statement.value))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and function is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = returned.get(function)
            if names is None:
                names = returned[function] = frozenset(_returned_names(function))
            if any(isinstance(t, ast.Name) and t.id in names for t in targets):
                found.extend(ast.walk(statement))
        inner = statement if isinstance(statement, _DEFINITIONS) else function
        for name in _BLOCK_FIELDS:
            block = getattr(statement, name, ())
            if isinstance(block, list):  # a lambda's body is one expression
                pending.extend((child, inner) for child in block)
    return frozenset(map(id, found))


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


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


def _walked_children(node: ast.AST, import_time: bool, lifted: dict[ast.AST, ast.AST] | None) -> list[ast.AST]:
    """The children of ``node`` that a walk of a unit visits, in order: not the branches torch.hub never
    takes, and at import not a function's body but its decorators and defaults, which run when the
    ``def`` does (each recorded in ``lifted``, when given, with ``node`` as its parent in that walk)."""
    kind = type(node)
    if kind is ast.If or kind is ast.IfExp:
        children = live_children(node)
    else:
        children = (_CHILDREN.get(kind) or _children_of(kind))(node)
    if not import_time:
        return children
    kept: list[ast.AST] = []
    for child in children:
        if isinstance(child, FUNCTION_NODES):
            args = child.args
            for runs in [*getattr(child, "decorator_list", ()), *args.defaults, *args.kw_defaults]:
                if runs is not None:
                    if lifted is not None:
                        lifted[runs] = node
                    kept.append(runs)
        else:
            kept.append(child)
    return kept


def _path_to(root: ast.AST, node: ast.AST, import_time: bool) -> tuple[ast.AST, ...]:
    """The nodes from ``root`` down to ``node``'s parent in a walk of the unit ``root`` (with ``import_time``).

    The search goes down only into children whose source span holds ``node``'s (and those without
    a position), so it reads a few dozen nodes of a unit that may have thousands; should positions
    mislead it (they are not always right inside f-strings), every node is searched.
    """
    start = (getattr(node, "lineno", None), getattr(node, "col_offset", None))
    end = (getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))
    guided = None not in start and None not in end
    for pruning in ((True, False) if guided else (False,)):
        # Each entry: a node and the entry of its parent in this search, back to the root.
        stack: list[tuple[ast.AST, tuple | None]] = [(root, None)]
        while stack:
            current, above = stack.pop()
            entry = (current, above)
            for child in _walked_children(current, import_time, None):
                if child is node:
                    chain: list[ast.AST] = []
                    link: tuple | None = entry
                    while link is not None:
                        chain.append(link[0])
                        link = link[1]
                    chain.reverse()
                    return tuple(chain)
                if pruning and _outside(child, start, end):
                    continue
                stack.append((child, entry))
    raise KeyError(node)


def _outside(node: ast.AST, start: tuple, end: tuple) -> bool:
    """Whether ``node`` has a source span, and it does not hold the span from ``start`` to ``end``."""
    lineno = getattr(node, "lineno", None)
    if lineno is None or node.end_lineno is None:  # type: ignore[attr-defined]
        return False
    return ((lineno, node.col_offset) > start  # type: ignore[attr-defined]
            or (node.end_lineno, node.end_col_offset) < end)  # type: ignore[attr-defined]


# A statement sits in a statement's block, an except clause's or a match case's, and in nothing else.
_HOLDS_STATEMENTS = (ast.stmt, ast.excepthandler, ast.match_case)

_NODE_CLASSES: dict[tuple[type[ast.AST], ...], frozenset[type[ast.AST]]] = {}


def _node_classes(types: tuple[type[ast.AST], ...]) -> frozenset[type[ast.AST]]:
    """Every concrete node class that is one of ``types``, so that a walk's nodes are matched by a set lookup."""
    found = _NODE_CLASSES.get(types)
    if found is None:
        classes: list[type[ast.AST]] = []
        pending = [ast.AST]
        while pending:
            kind = pending.pop()
            classes.append(kind)
            pending.extend(kind.__subclasses__())
        found = _NODE_CLASSES[types] = frozenset(kind for kind in classes if issubclass(kind, types))
    return found


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
