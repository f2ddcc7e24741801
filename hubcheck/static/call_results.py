"""Which of the repo's classes a module-level call builds an instance of, read from source.

NVIDIA's image-classification models bind their entry points as
``resnet50 = _ce("resnet50")``, where ``_ce = lambda n: EntryPoint.create(n, ...)``
and ``EntryPoint.create`` is a static method that returns ``EntryPoint(name, model)``,
an instance of a class with ``__call__``: callable, so torch.hub.list shows it.
Following such a call needs what each callee returns: a class called directly, a
lambda's body, and a function's or static/class method's ``return`` values (a call,
``cls(...)`` in a classmethod, or a local name assigned one call). Every return must
agree on one class; anything else is unknown (None). Only repo code is read.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from hubcheck.static.known import Callability
from hubcheck.static.syntax import FUNCTION_NODES

if TYPE_CHECKING:
    from hubcheck.static.modules import ModuleIndex

# How many callees deep to follow; NVIDIA's chain is three (lambda, static method, class).
_MAX_DEPTH = 6
_FACTORY_DECORATORS = frozenset({"staticmethod", "classmethod"})
_MODULE_BASES = frozenset({"Module", "nn.Module", "torch.nn.Module"})

_Target = tuple[ast.AST, str, "ast.ClassDef | None"]
"""A callee's definition, the module it is written in, and the class of a static or class method."""


def built_class(index: ModuleIndex, module: str, call: ast.expr, depth: int = 0,
                owner: ast.ClassDef | None = None) -> tuple[ast.ClassDef, str] | None:
    """The repo class (and its module) whose instance ``call``, written in ``module``, returns; else None.

    ``owner`` is the class whose ``cls`` a classmethod's body refers to.
    """
    if depth > _MAX_DEPTH or not isinstance(call, ast.Call):
        return None
    target = _callee(index, module, call.func, owner)
    if target is None:
        return None
    node, where, method_owner = target
    if isinstance(node, ast.ClassDef):
        return node, where
    if isinstance(node, ast.Lambda):
        return built_class(index, where, node.body, depth + 1)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        results = [built_class(index, where, value, depth + 1, method_owner) for value in _returned_calls(node)]
        first = results[0] if results else None
        if first is not None and all(r is not None and r[0] is first[0] for r in results):
            return first
    return None


def instance_callability(cls: ast.ClassDef) -> Callability:
    """Whether instances of the class are callable: it defines ``__call__`` or derives from ``nn.Module`` by
    name (callable), it has neither and no base but ``object`` (not callable); other bases are not followed."""
    if any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__call__"
           for item in cls.body) or any(ast.unparse(base) in _MODULE_BASES for base in cls.bases):
        return Callability.CALLABLE
    if all(ast.unparse(base) == "object" for base in cls.bases) and not cls.keywords:
        return Callability.NOT_CALLABLE
    return Callability.UNKNOWN


def _returned_calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """What each ``return`` of the function's own body hands back, with a returned local name replaced by
    the one call assigned to it (``ep = EntryPoint(...); ...; return ep``); a bare ``return`` is None."""
    returns: list[ast.expr] = []
    assigned: dict[str, list[ast.expr]] = {}
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            returns.append(node.value if node.value is not None else ast.Constant(None))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        pending.extend(ast.iter_child_nodes(node))
    return [_through_local(value, assigned) for value in returns]


def _through_local(value: ast.expr, assigned: dict[str, list[ast.expr]]) -> ast.expr:
    if not isinstance(value, ast.Name):
        return value
    candidates = assigned.get(value.id, [])
    return candidates[0] if len(candidates) == 1 else ast.Constant(None)


def _callee(index: ModuleIndex, module: str, func: ast.expr, owner: ast.ClassDef | None) -> _Target | None:
    if isinstance(func, ast.Name):
        if func.id == "cls" and owner is not None:
            return owner, module, None
        return _named(index, module, func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        base = _named(index, module, func.value.id)
        cls = base[0] if base is not None else None
        if base is None or not isinstance(cls, ast.ClassDef):
            return None
        where = base[1]
        method = next((item for item in cls.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and item.name == func.attr), None)
        if method is None or not any(isinstance(d, ast.Name) and d.id in _FACTORY_DECORATORS
                                     for d in method.decorator_list):
            return None
        return method, where, cls
    return None


def _named(index: ModuleIndex, module: str, name: str) -> _Target | None:
    """What a top-level name of a repo module is defined as: a def, a class, or an assigned lambda."""
    found = index.find(module)
    if found is None or not found.local or found.path is None:
        return None
    tree = index.tree(found.path)
    if tree is None:
        return None
    binding = index.top_level(found, tree).bindings.get(name)
    if isinstance(binding, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return binding, module, None
    if isinstance(binding, ast.Assign) and isinstance(binding.value, ast.Lambda):
        return binding.value, module, None
    if isinstance(binding, ast.ImportFrom):
        info = index.lookup(module, name)
        if info.definition is not None and info.local and info.module is not None:
            return info.definition, info.module, None
    return None
