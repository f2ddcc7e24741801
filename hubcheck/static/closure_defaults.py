"""What a decorator's wrapper's defaults are when they name the decorator factory's own parameters.

hiera's ``pretrained_model(checkpoints, default=None)`` returns ``inner``, which returns
``model_def(pretrained=False, checkpoint: str = default, ...)``: ``default`` is a closure
variable, and ``@pretrained_model({...}, default="mae_in1k_ft_in1k")`` gives it its value,
so ``inspect.signature`` shows ``checkpoint: str = 'mae_in1k_ft_in1k'``. Each such default
is replaced by the source text of what the decorator call passes (or the factory's own
default), as any other default is shown by its source. Where the call's arguments cannot
be matched to the factory's parameters (``*args``, ``**kwargs``), or the factory computes
the name itself, the default says so instead of naming a variable users cannot see.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from hubcheck.static.decorators import FunctionNode
from hubcheck.static.model import Parameter

Resolve = Callable[[ast.expr], FunctionNode | None]


def with_closure_defaults(parameters: tuple[Parameter, ...], function: FunctionNode, wrapper: FunctionNode,
                          resolve: Resolve) -> tuple[Parameter, ...]:
    """``parameters`` (the wrapper's) with each default that names a factory parameter given its value."""
    values = _closure_values(function, wrapper, resolve)
    if not values:
        return parameters
    return tuple(Parameter(p.name, p.kind, values.get(p.default, p.default) if p.default else p.default,
                           p.annotation) for p in parameters)


def _closure_values(function: FunctionNode, wrapper: FunctionNode, resolve: Resolve) -> dict[str, str]:
    """Each factory parameter the wrapper's defaults may read, mapped to the text of its value."""
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        factory = resolve(decorator.func)
        if factory is None or not any(node is wrapper for node in ast.walk(factory)):
            continue
        computed = f"<computed in {ast.unparse(decorator.func)}(...)>"
        return {**_bound_arguments(factory, decorator),
                **dict.fromkeys(_rebound_names(factory, wrapper), computed)}
    return {}


def _bound_arguments(factory: FunctionNode, call: ast.Call) -> dict[str, str]:
    arguments = factory.args
    positional = [*arguments.posonlyargs, *arguments.args]
    names = [arg.arg for arg in (*positional, *arguments.kwonlyargs)]
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords):
        unmatched = f"<given to {ast.unparse(call.func)}(...)>"
        return dict.fromkeys(names, unmatched)
    defaults = dict(zip([arg.arg for arg in positional[len(positional) - len(arguments.defaults):]],
                        arguments.defaults, strict=True))
    defaults.update({arg.arg: default for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                                               strict=True) if default is not None})
    given = dict(zip([arg.arg for arg in positional], call.args, strict=False))
    given.update({keyword.arg: keyword.value for keyword in call.keywords if keyword.arg is not None})
    values = {**defaults, **given}
    return {name: ast.unparse(values[name]) for name in names if name in values}


def _rebound_names(factory: FunctionNode, wrapper: FunctionNode) -> set[str]:
    """Names the factory's code binds (an assignment, a nested function's parameter) where the wrapper's
    defaults are evaluated: their values are computed when the decorator runs. The wrapper's own body
    is left out, since its defaults do not see its locals."""
    rebound: set[str] = set()
    pending: list[ast.AST] = list(factory.body)
    while pending:
        node = pending.pop()
        if node is wrapper:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            rebound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            rebound.update(arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg))
        pending.extend(ast.iter_child_nodes(node))
    return rebound
