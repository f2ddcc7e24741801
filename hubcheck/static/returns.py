"""What an entry point returns, as far as its own code says so without running it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from hubcheck.static.model import EntryPoint, EntryPointKind
from hubcheck.static.syntax import FUNCTION_NODES, dotted_name

OBJECT = "an object"
"""What calling a class gives: one instance (a model), not a container of several things."""


def return_kind(entry: EntryPoint) -> str | None:
    """``"a tuple of 2"``, ``"a dict"``, ``"a list"``, ``"None"`` or :data:`OBJECT`; None when unknown.

    Known only when every ``return`` of the entry point's own function says it literally
    (``return model, transform``) or the entry point is a class; ``return build(...)`` is
    unknown, since ``build`` may return anything, and ``return ResNet(...)`` is :data:`OBJECT`
    (a class by its spelling).
    """
    definition = entry.definition
    if definition is None:
        return None
    node = definition.node
    if isinstance(node, ast.ClassDef):
        return OBJECT if entry.kind in (EntryPointKind.CLASS, EntryPointKind.IMPORTED, EntryPointKind.ALIAS) else None
    if isinstance(node, ast.Lambda):
        return _literal_kind(node.body)
    if entry.kind is EntryPointKind.PARTIAL or is_generator(node):
        return None
    kinds = {_literal_kind(value) if value is not None else "None" for value in returned_values(node)}
    if not kinds:
        return "None"
    return kinds.pop() if len(kinds) == 1 else None


def _literal_kind(value: ast.expr) -> str | None:
    if isinstance(value, ast.Tuple) and not any(isinstance(e, ast.Starred) for e in value.elts):
        return f"a tuple of {len(value.elts)}"
    if isinstance(value, ast.Dict):
        return "a dict"
    if isinstance(value, ast.List):
        return "a list"
    if isinstance(value, ast.Constant) and value.value is None:
        return "None"
    if isinstance(value, ast.Call) and _spelled_as_class(dotted_name(value.func)):
        return OBJECT
    return None


def _spelled_as_class(name: str | None) -> bool:
    """``ResNet`` or ``models.ResNet``: a class by its spelling, as lint reads names it cannot look up."""
    last = name.rsplit(".", 1)[-1] if name else ""
    return last[:1].isupper() and not last.isupper()


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The function's nodes, leaving out nested functions and classes (their returns are theirs)."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))


def returned_values(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr | None]:
    """What each ``return`` of the function's own body hands back (None for a bare ``return``)."""
    for node in _own_nodes(function):
        if isinstance(node, ast.Return):
            yield node.value


def local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, list[ast.expr | None]]:
    """Each name local to the function, with every value its own body binds it to.

    A value is None where the binding is not a plain ``name = value`` (a parameter, a loop target,
    an unpacking, an import, ``global``/``nonlocal`` left aside): what the name holds there is unknown.
    """
    arguments = function.args
    names: dict[str, list[ast.expr | None]] = {
        arg.arg: [None] for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                    *filter(None, (arguments.vararg, arguments.kwarg)))}
    for node in _own_nodes(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names.setdefault(node.targets[0].id, []).append(node.value)
            continue
        if isinstance(node, ast.Assign):
            node_targets: list[ast.expr] = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
            node_targets = [node.target]
        else:
            node_targets = []
        for target in node_targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    names.setdefault(name.id, []).append(None)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.setdefault((alias.asname or alias.name).partition(".")[0], []).append(None)
        elif isinstance(node, (*FUNCTION_NODES[:2], ast.ClassDef)):
            names.setdefault(node.name, []).append(None)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                for name in ast.walk(item.optional_vars) if item.optional_vars else ():
                    if isinstance(name, ast.Name):
                        names.setdefault(name.id, []).append(None)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.setdefault(node.name, []).append(None)
    return names


def is_generator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in _own_nodes(function))
