"""What a ``for`` loop's variable holds, when the iterable says so without running anything.

Module-level loops bind public names (fairseq's ``for dep in dependencies``,
``for name, config in URL_CONFIGS.items()``); torch.hub.list shows them only
when callable. A loop over literal strings, over a dict's keys, or over a
literal dict's items (containers or constants) binds values that are never
callable. A builtin shadowed by the module (`dict = ...`) is not considered.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

# Stands for "some string": a dict key, a name built by `"efficientnet_b" + str(i)`.
_SOME_STRING = ast.Constant(value="")


def loop_element(iterable: ast.expr, value_of: Callable[[str], ast.expr | None], depth: int = 0) -> ast.expr | None:
    """An expression standing for every element the loop binds, or None when unknown or possibly callable.

    ``value_of`` gives the single value a name was assigned at module level, or None.
    ``.items()`` of a literal dict gives a ``(key, value)`` tuple, so a tuple target
    is bound element by element.
    """
    if depth > 4:
        return None
    if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
        return iterable.elts[0] if iterable.elts and all(_plain_literal(e) for e in iterable.elts) else None
    if isinstance(iterable, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        return iterable.elt if _string_expression(iterable.elt) else None
    if isinstance(iterable, ast.Name):
        value = value_of(iterable.id)
        if isinstance(value, ast.Dict):
            return _SOME_STRING if all(_plain_literal(k) for k in value.keys if k is not None) else None
        return loop_element(value, value_of, depth + 1) if value is not None else None
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args:
        method = iterable.func.attr
        if method == "keys":
            return _SOME_STRING
        if method == "items":
            base = iterable.func.value
            table = value_of(base.id) if isinstance(base, ast.Name) else None
            if isinstance(table, ast.Dict) and table.values and all(_plain_literal(v) for v in table.values):
                return ast.Tuple(elts=[_SOME_STRING, table.values[0]], ctx=ast.Load())
    return None


_CONTAINER_BUILDERS = frozenset({"dict", "list", "tuple", "set", "frozenset", "str", "int", "float"})


def _plain_literal(node: ast.expr | None) -> bool:
    """A value that is never callable: a constant, an f-string, a container (whatever it holds)."""
    if isinstance(node, (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Set, ast.Dict,
                         ast.ListComp, ast.SetComp, ast.DictComp)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        # `dict(ctor=PrenormVit, ...)`: the value is the dict, not what it holds.
        return node.func.id in _CONTAINER_BUILDERS
    return _string_expression(node) if node is not None else False


def _string_expression(node: ast.expr) -> bool:
    """``"a" + str(i)``, an f-string or a string constant: always a string."""
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (
        _string_expression(node.left) or _string_expression(node.right))
