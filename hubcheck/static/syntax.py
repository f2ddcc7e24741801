"""Small AST helpers shared by the reader and the rules."""

from __future__ import annotations

import ast


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


def string_value(node: ast.AST | None) -> str | None:
    """The value of a string literal, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
