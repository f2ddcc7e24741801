"""Entry point names that a module-level loop binds through ``globals()[name] = value``, when they are literal.

Real hubconfs build entry points in a loop over a table they spell out:
ClassyVision's ``for model in resnext_wsl_models: globals()[model] = partial(...)``
over a list of strings, torchhub-ssl's ``for name, config in URL_CONFIGS.items():``
over a dict literal. The names are in the source, so the static list can hold them
instead of calling itself incomplete. A table that anything could change first
(``TABLE[k] = v``, ``TABLE.update(...)``, ``global TABLE``) is not read: its
names are decided at run time after all.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_MUTATING_METHODS = frozenset({
    "update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove", "add",
    "discard", "__setitem__", "__delitem__", "__ior__", "__iadd__",
})


@dataclass(frozen=True)
class NamespaceLoop:
    """A loop whose every iteration binds one module name, read from its literal table."""

    names: tuple[str, ...]
    """The names bound, in the table's order (repeats kept once)."""
    assignments: tuple[ast.Assign, ...]
    """The ``globals()[name] = value`` statements of the loop body: each binds every name."""


def namespace_loop(loop: ast.For | ast.AsyncFor, tree: ast.Module,
                   value_of: Callable[[str], ast.expr | None]) -> NamespaceLoop | None:
    """The names ``loop`` binds through the module namespace, or None when they are not all literal.

    The body must be nothing but ``globals()[key] = value`` (``vars()``, ``locals()``
    at module level alike), ``key`` the loop variable holding each name; ``value_of``
    gives the single value a module-level name was assigned so far, or None.
    """
    if isinstance(loop, ast.AsyncFor) or loop.orelse or not loop.body:
        return None
    key = loop.target.elts[0] if isinstance(loop.target, ast.Tuple) and loop.target.elts else loop.target
    if not isinstance(key, ast.Name):
        return None
    assignments = []
    for stmt in loop.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and _namespace_key(stmt.targets[0]) == key.id):
            return None
        assignments.append(stmt)
    names = _table_keys(loop, value_of, tree)
    if names is None:
        return None
    return NamespaceLoop(tuple(dict.fromkeys(names)), tuple(assignments))


def _namespace_key(target: ast.expr) -> str | None:
    """``k`` for ``globals()[k]`` (or ``vars()[k]``, ``locals()[k]``)."""
    if not (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Name)):
        return None
    call = target.value
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("globals", "vars", "locals")
            and not call.args and not call.keywords):
        return target.slice.id
    return None


def _table_keys(loop: ast.For, value_of: Callable[[str], ast.expr | None], tree: ast.Module) -> list[str] | None:
    """The string each iteration gives the loop's name variable, read from a literal table."""
    iterable = loop.iter
    pairs = isinstance(loop.target, ast.Tuple)
    method = None
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args \
            and not iterable.keywords:
        method = iterable.func.attr
        iterable = iterable.func.value
    table: ast.expr | None = iterable
    if isinstance(iterable, ast.Name):
        if _may_change(iterable.id, tree):
            return None
        table = value_of(iterable.id)
    if isinstance(table, ast.Dict):
        if method not in (None, "keys", "items") or pairs != (method == "items"):
            return None
        return _strings(table.keys)
    if method is not None or not isinstance(table, (ast.List, ast.Tuple)):
        return None
    if not pairs:
        return _strings(table.elts)
    firsts = [e.elts[0] if isinstance(e, (ast.Tuple, ast.List)) and e.elts else None for e in table.elts]
    return _strings(firsts)


def _strings(nodes: Sequence[ast.expr | None]) -> list[str] | None:
    values = [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return values if len(values) == len(nodes) else None


def _may_change(name: str, tree: ast.Module) -> bool:
    """Whether code anywhere in hubconf may change the table ``name`` after it was assigned."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Name) and node.value.id == name:
            return True
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name \
                and node.attr in _MUTATING_METHODS:
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return True
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
    return False
