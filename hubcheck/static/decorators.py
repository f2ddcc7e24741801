"""What calling a decorated entry point runs: the function itself, or a wrapper its decorator returns instead.

torch.hub.help returns the decorated name's ``__doc__``, and its signature is what
users call. A decorator that returns its argument (timm's ``register_model``) or a
``functools.wraps`` wrapper keeps both. One of the repo's own that returns a wrapper
without copying them replaces both with the wrapper's: hiera's
``@pretrained_model({...})`` turns every ``hiera_*`` builder into its ``model_def``,
which has no docstring and takes ``pretrained``, ``checkpoint`` and ``strict``.
Decorators whose code cannot be read are taken to keep what they decorate.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Callable, Iterator

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
Resolve = Callable[[ast.expr], FunctionNode | None]
"""The repo function a name or attribute in the decorated function's module refers to, if any."""

# Ways a decorator hands the wrapped function's metadata (``__doc__``, ``__wrapped__``) to its wrapper.
_METADATA_COPIERS = frozenset({"wraps", "update_wrapper"})
_METADATA_ATTRIBUTES = frozenset({"__doc__", "__wrapped__", "__signature__"})


def replacing_wrapper(function: FunctionNode, resolve: Resolve) -> FunctionNode | None:
    """The wrapper whose docstring and signature the decorated ``function`` ends up with.

    None when its decorators keep its own: none is the repo's, or each returns what it
    is given or a wrapper that copies its metadata. Decorators apply innermost first.
    """
    current = None
    for decorator in reversed(function.decorator_list):
        decorating = _decorator_function(decorator, resolve)
        wrapper = _replacement(decorating) if decorating is not None else None
        if wrapper is not None:
            current = wrapper
    return current


def hands_back_unchanged(decorator: ast.expr, resolve: Resolve) -> bool:
    """Whether ``decorator`` is one of the repo's registries: the function receiving the decorated one (``@name``'s,
    or what ``@factory(...)`` returns) gives back its first parameter in every ``return``, so no wrapper runs."""
    decorating = _decorator_function(decorator, resolve)
    if decorating is None:
        return False
    parameters = decorating.args.posonlyargs + decorating.args.args
    returns = [node for node in _own_nodes(decorating) if isinstance(node, ast.Return)]
    return bool(parameters and returns) and all(
        isinstance(node.value, ast.Name) and node.value.id == parameters[0].arg for node in returns)


def _decorator_function(decorator: ast.expr, resolve: Resolve) -> FunctionNode | None:
    """The function that receives the decorated one: ``@name``'s function, or what ``@factory(...)`` returns."""
    if not isinstance(decorator, ast.Call):
        return resolve(decorator)
    factory = resolve(decorator.func)
    return _returned_local_function(factory) if factory is not None else None


def _replacement(decorating: FunctionNode) -> FunctionNode | None:
    """The nested function ``decorating`` returns in place of its argument, when it copies none of its metadata."""
    wrapper = _returned_local_function(decorating)
    if wrapper is None:
        return None
    # `@functools.wraps(fn)` on the wrapper is a call in the decorator's own code, as is update_wrapper.
    for node in _own_nodes(decorating):
        if isinstance(node, ast.Call) and _last_name(node.func) in _METADATA_COPIERS:
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr in _METADATA_ATTRIBUTES:
            return None
    return wrapper


def _returned_local_function(function: FunctionNode) -> FunctionNode | None:
    """The function defined in ``function``'s body that every one of its ``return`` statements returns."""
    local = {stmt.name: stmt for stmt in function.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))}
    returned = {node.value.id if isinstance(node.value, ast.Name) else None
                for node in _own_nodes(function) if isinstance(node, ast.Return)}
    if len(returned) != 1:
        return None
    name = returned.pop()
    return local.get(name) if name is not None else None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _own_nodes(function: FunctionNode) -> tuple[ast.AST, ...]:
    """The nodes of ``function``'s body, without the bodies of the functions, lambdas and classes it defines.

    Kept per function while its tree lives: the 1,200 builders of a timm-shaped zoo share one decorator,
    whose body was walked again for each of them (0.2 s of a cold lint).
    """
    found = _OWN_NODES.get(function)
    if found is None:
        found = _OWN_NODES[function] = tuple(_walk_own_nodes(function))
    return found


_OWN_NODES: weakref.WeakKeyDictionary[ast.AST, tuple[ast.AST, ...]] = weakref.WeakKeyDictionary()


def _walk_own_nodes(function: FunctionNode) -> Iterator[ast.AST]:
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Lambda, ast.ClassDef)):
            continue
        pending.extend(ast.iter_child_nodes(node))
