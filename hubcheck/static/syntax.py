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


def never_true_under_torch_hub(test: ast.expr) -> bool:
    """Whether an ``if`` test is false whenever torch.hub runs the code.

    ``if __name__ == "__main__":`` (hubconf runs as ``"hubconf.py"``, repo modules
    under their own names) and ``if TYPE_CHECKING:``.
    """
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = [test.left, test.comparators[0]]
        has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
        has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
        return has_name and has_main
    return False


def string_value(node: ast.AST | None) -> str | None:
    """The value of a string literal, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
