"""What a module's ``__all__`` holds once it has run, read from its statements.

Most modules spell ``__all__`` as a literal list. timm's ``@register_model`` adds
to it: the decorator appends each function it registers to its module's
``__all__``, creating the list when there is none. xcit.py has no ``__all__`` and
fourteen registered models, so ``from xcit import *`` in its hubconf binds those
fourteen and none of the helpers and classes the module also defines; deit's
modules list their models and register them too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TypeGuard

from hubcheck.static.syntax import live_statements

TIMM_REGISTER_MODEL = frozenset({
    "timm.models.register_model",
    "timm.models.registry.register_model",
    "timm.models._registry.register_model",
})
"""Where timm's ``register_model`` is imported from, across its releases."""


def all_after_import(tree: ast.Module, origin: Callable[[ast.expr], str | None],
                     appends_to_all: Callable[[str], bool]) -> tuple[str, ...] | None:
    """The names in ``__all__`` once the module has run, or None when it has no ``__all__`` known statically.

    ``__all__`` is the last literal list or tuple of strings assigned to it at the top level, followed by
    the top-level functions defined after that assignment with a decorator that appends them to it.
    ``origin`` gives the dotted name a decorator expression was imported as (None when it was not), and
    ``appends_to_all`` whether the function of that name appends what it decorates to ``__all__``.
    An ``__all__`` assigned anything but a literal makes the whole None: its names are decided at run time.
    """
    listed: list[str] | None = None
    registered: list[str] = []
    for stmt in live_statements(tree.body, into_definitions=False):
        if _assigns_all(stmt):
            listed = _literal_strings(stmt.value)
            if listed is None:
                return None
            registered = []
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            not isinstance(d, ast.Call) and (found := origin(d)) is not None and appends_to_all(found)
            for d in stmt.decorator_list
        ):
            registered.append(stmt.name)
    if listed is None and not registered:
        return None
    return tuple(dict.fromkeys([*(listed or ()), *registered]))


def literal_all(tree: ast.Module) -> tuple[str, ...] | None:
    """``__all__`` when its last top-level assignment is a literal list or tuple of strings (hubconf's own,
    whose registrations torch.hub.list does not read)."""
    value: ast.expr | None = None
    for stmt in tree.body:
        if _assigns_all(stmt):
            value = stmt.value
    names = _literal_strings(value)
    return tuple(names) if names is not None else None


def appends_decorated_to_all(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a repo's decorator appends to a module's ``__all__`` (``mod.__all__.append(fn.__name__)``), as
    the copies of timm's registry that repos keep do."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append":
            target = node.func.value
            if isinstance(target, ast.Attribute) and target.attr == "__all__":
                return True
    return False


def _assigns_all(stmt: ast.stmt) -> TypeGuard[ast.Assign | ast.AnnAssign]:
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return False
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def _literal_strings(value: ast.expr | None) -> list[str] | None:
    if not isinstance(value, (ast.List, ast.Tuple)):
        return None
    names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return names if len(names) == len(value.elts) else None
