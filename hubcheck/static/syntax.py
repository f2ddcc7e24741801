"""Small AST helpers shared by the reader and the rules, and the one way to walk code torch.hub runs.

Every part of the static side that asks "does this block run under torch.hub?"
asks :func:`branch_taken`, and every walk of code goes through
:func:`live_children` (node by node) or :func:`live_statements` (statement by
statement), so the reader, the reach and the rules agree on what is dead code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def handles_import_error(handler: ast.ExceptHandler) -> bool:
    """Whether an ``except`` clause catches ImportError (bare, ImportError, Exception...)."""
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(dotted_name(n) in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for n in names)


def in_try_body_handling_import_error(node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether ``node`` sits in the body of a ``try`` whose handlers catch ImportError."""
    for position, ancestor in enumerate(ancestors):
        if isinstance(ancestor, ast.Try) and any(handles_import_error(h) for h in ancestor.handlers):
            child = ancestors[position + 1] if position + 1 < len(ancestors) else node
            if any(child is stmt for stmt in ancestor.body):
                return True
    return False


def in_import_fallback(node: ast.AST, ancestors: tuple[ast.AST, ...], module: str) -> bool:
    """Whether ``node``, an import of top-level ``module``, sits in a handler catching ImportError of a ``try``
    whose body imports some other top-level module: ``try: from mmcv.utils import Config``
    ``except ImportError: from mmengine import Config`` (YvanYin/Metric3D). The handler's import is the
    alternative to the one tried, not a requirement of its own: users need one of the two, and declaring
    the fallback would make torch.hub refuse the installs that have the first."""
    for position, ancestor in enumerate(ancestors):
        if not isinstance(ancestor, ast.Try):
            continue
        child = ancestors[position + 1] if position + 1 < len(ancestors) else node
        if any(child is handler and handles_import_error(handler) for handler in ancestor.handlers):
            tried = {top for stmt in ancestor.body for found in ast.walk(stmt) for top in _imported_tops(found)}
            if tried - {module}:
                return True
    return False


def _imported_tops(node: ast.AST) -> set[str]:
    """The top-level names of the absolute imports ``node`` makes (none for a relative import)."""
    if isinstance(node, ast.Import):
        return {alias.name.partition(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return {node.module.partition(".")[0]}
    return set()


# -- which branches torch.hub takes ---------------------------------------------------------

def branch_taken(test: ast.expr) -> bool | None:
    """Whether an ``if`` test is always true (True), never true (False) or unknown (None) under torch.hub.

    Never true: ``TYPE_CHECKING``, ``False`` / ``0`` / ``None``, ``__name__ == "__main__"``
    (hubconf runs as ``"hubconf.py"``, repo modules under their own names),
    ``not hasattr(torch, "hub")`` and Python 2 checks (``six.PY2``,
    ``sys.version_info[0] == 2``, ``sys.version_info < (3,)``): torch.hub exists only
    on Python 3 with a torch that has ``torch.hub``. ``not``, ``and`` and ``or`` combine them.
    """
    if isinstance(test, ast.Constant):
        return bool(test.value) if test.value in (True, False, None, 0, 1) else None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = branch_taken(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [branch_taken(value) for value in test.values]
        decisive = isinstance(test.op, ast.Or)
        if decisive in values:
            return decisive
        return (not decisive) if all(v is (not decisive) for v in values) else None
    name = dotted_name(test)
    if name is not None:
        return _NAMED_CONDITIONS.get(name.rpartition(".")[2] if name.endswith("TYPE_CHECKING") else name)
    if isinstance(test, ast.Call):
        return True if _is_hasattr_torch_hub(test) else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare_taken(test.left, test.ops[0], test.comparators[0])
    return None


_NAMED_CONDITIONS = {"TYPE_CHECKING": False, "six.PY2": False, "six.PY3": True}


def _is_hasattr_torch_hub(call: ast.Call) -> bool:
    return (dotted_name(call.func) == "hasattr" and len(call.args) == 2 and not call.keywords
            and dotted_name(call.args[0]) == "torch" and string_value(call.args[1]) == "hub")


def _compare_taken(left: ast.expr, op: ast.cmpop, right: ast.expr) -> bool | None:
    sides = (left, right)
    if isinstance(op, (ast.Eq, ast.NotEq)) and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) \
            and any(string_value(s) == "__main__" for s in sides):
        return isinstance(op, ast.NotEq)
    major = _python_major(left)
    if major is None:
        return None
    if isinstance(right, ast.Tuple) and major == "tuple":
        # `sys.version_info < (3,)` or `< (3, 0)`: the Python 2 test; later minor versions are real choices.
        numbers = [e.value for e in right.elts if isinstance(e, ast.Constant) and type(e.value) is int]
        if not (numbers and len(numbers) == len(right.elts) and numbers[0] == 3 and all(n == 0 for n in numbers[1:])):
            return None
        bound = 3
    elif isinstance(right, ast.Constant) and type(right.value) is int and major == "major":
        bound = right.value
    else:
        return None
    known = {ast.Eq: bound == 3, ast.NotEq: bound != 3, ast.Lt: bound > 3, ast.LtE: bound >= 3,
             ast.Gt: bound < 3, ast.GtE: bound <= 3}
    # Only Python 2 against 3 is decided: `sys.version_info[0] >= 4` is a question about the future.
    return known.get(type(op)) if bound in (2, 3) else None


def _python_major(node: ast.expr) -> str | None:
    """``"major"`` for ``sys.version_info[0]`` / ``.major``, ``"tuple"`` for ``sys.version_info``, else None."""
    name = dotted_name(node)
    if name == "sys.version_info":
        return "tuple"
    if name == "sys.version_info.major":
        return "major"
    if isinstance(node, ast.Subscript) and dotted_name(node.value) == "sys.version_info" \
            and isinstance(node.slice, ast.Constant) and node.slice.value == 0:
        return "major"
    return None


def never_true_under_torch_hub(test: ast.expr) -> bool:
    """Whether an ``if`` test is false whenever torch.hub runs the code (see :func:`branch_taken`)."""
    return branch_taken(test) is False


def live_blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement blocks inside a compound statement that can run under torch.hub.

    A function's or class's body counts (whether it runs is the caller's question).
    """
    if isinstance(stmt, ast.If):
        taken = branch_taken(stmt.test)
        return [block for block, dead in ((stmt.body, taken is False), (stmt.orelse, taken is True)) if not dead]
    blocks = [getattr(stmt, name) for name in ("body", "orelse", "finalbody") if isinstance(getattr(stmt, name, None), list)]
    blocks += [handler.body for handler in getattr(stmt, "handlers", ()) or ()]
    blocks += [case.body for case in getattr(stmt, "cases", ()) or ()]
    return blocks


def live_statements(body: list[ast.stmt], into_definitions: bool) -> Iterator[ast.stmt]:
    """Every statement in ``body`` and the live blocks below it, in source order.

    ``into_definitions`` also goes into function and class bodies; without it
    a ``def`` or ``class`` is yielded and its body left alone (the statements
    of one scope).
    """
    # A worklist, not recursion: nesting can be far deeper than Python's recursion limit.
    pending = list(reversed(body))
    compound = _COMPOUND_STATEMENTS if into_definitions else _COMPOUND_STATEMENTS - set(DEFINITION_NODES)
    while pending:
        stmt = pending.pop()
        yield stmt
        if type(stmt) in compound:
            for block in reversed(live_blocks(stmt)):
                pending.extend(reversed(block))


# The statements that hold blocks (``body``, or a match's ``cases``); the others hold expressions only.
_COMPOUND_STATEMENTS = frozenset(kind for kind in vars(ast).values() if isinstance(kind, type)
                                 and issubclass(kind, ast.stmt) and {"body", "cases"} & set(kind._fields))


def live_children(node: ast.AST) -> list[ast.AST]:
    """A node's children, without the branches of an ``if`` (or ``x if c else y``) torch.hub never takes."""
    if isinstance(node, (ast.If, ast.IfExp)):
        taken = branch_taken(node.test)
        if taken is not None:
            kept = node.body if taken else node.orelse
            return [node.test, *(kept if isinstance(kept, list) else [kept])]
    # ast.iter_child_nodes, without its two layers of generators: this runs once per reached node.
    children: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            children.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def walk_live(root: ast.AST, ancestors: tuple[ast.AST, ...] = (), import_time: bool = False
              ) -> Iterator[tuple[ast.AST, tuple[ast.AST, ...]]]:
    """Every node below ``root`` that can run under torch.hub, with its ancestors (outermost first).

    ``import_time`` also leaves out function bodies (they run later, if at all)
    but keeps decorators and default values, which run when the ``def`` does.
    """
    # An explicit stack rather than recursive generators: every node would otherwise
    # pass up through one generator per level.
    stack: list[tuple[ast.AST, tuple[ast.AST, ...]]] = [(root, ancestors)]
    pop, push = stack.pop, stack.append
    while stack:
        node, above = pop()
        if node is not root:
            yield node, above
        inner = (*above, node)
        children = live_children(node)
        if import_time:
            children = _runs_at_import(children)
        for child in reversed(children):
            push((child, inner))


def _runs_at_import(children: list[ast.AST]) -> list[ast.AST]:
    kept: list[ast.AST] = []
    for child in children:
        if isinstance(child, FUNCTION_NODES):
            kept.extend(getattr(child, "decorator_list", ()))
            args = child.args
            kept.extend(d for d in [*args.defaults, *args.kw_defaults] if d is not None)
        else:
            kept.append(child)
    return kept


def is_parameter_default(node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether ``node`` is (inside) a parameter's default value.

    Inside a function's own unit the ``arguments`` node is an ancestor; an
    import-time walk hands defaults over directly, so the function holding
    them is found among the parent's children.
    """
    if any(isinstance(a, ast.arguments) for a in ancestors):
        return True
    for position in range(len(ancestors) - 1, -1, -1):
        for sibling in live_children(ancestors[position]):
            if isinstance(sibling, FUNCTION_NODES):
                args = sibling.args
                if any(d is not None and _contains(d, node) for d in [*args.defaults, *args.kw_defaults]):
                    return True
        if isinstance(ancestors[position], ast.stmt):
            break
    return False


def _contains(root: ast.AST, node: ast.AST) -> bool:
    return any(inner is node for inner in ast.walk(root))


def enclosing_functions(ancestors: tuple[ast.AST, ...]) -> tuple[ast.AST, ...]:
    """The functions around a node, innermost first."""
    return tuple(a for a in reversed(ancestors) if isinstance(a, FUNCTION_NODES))


def string_value(node: ast.AST | None) -> str | None:
    """The value of a string literal, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def span(node: ast.stmt | ast.expr) -> tuple[int, int, int | None, int | None]:
    """Where a node starts and ends: one key for "the same code", however many walks reach it."""
    return (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


def short_source(node: ast.AST, limit: int = 60) -> str:
    """The node's source text, cut to ``limit`` characters for a message."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
