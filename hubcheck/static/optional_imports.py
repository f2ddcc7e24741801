"""Imports that are optional extras: repo modules imported only inside ``try: ... except ImportError``,
imports in the branch of an ``if`` that runs only when ``find_spec`` found the module, and imports
in the alternative branches of a dispatch on format flags (yolov5's DetectMultiBackend).

NVIDIA's efficientnet.py does ``try: from ..quantization import switch_on_quantization``
``except ImportError: <a fallback>``: quantization.py and what it imports are optional by
design, so its imports are not dependencies to declare. A module counts as optional when
every import of it in the reached files sits in such a ``try`` body or in an optional module;
one plain import anywhere else (even inside a function) makes it required. The submodules
of an optional package are optional too. A module imported only in a later branch of an
``if pt: ... elif onnx: ... elif triton: ...`` dispatch is optional in the same way.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path

from hubcheck.static.modules import ModuleFile, ModuleIndex, resolve_from_module
from hubcheck.static.names import FileNames
from hubcheck.static.syntax import dotted_name, handles_import_error

# The calls that tell whether a module is installed without importing it.
_AVAILABILITY_CHECKS = frozenset({"importlib.util.find_spec", "importlib.find_loader", "pkgutil.find_loader"})


def optional_modules(files: Iterable[tuple[Path, str | None]], index: ModuleIndex) -> frozenset[str]:
    """The dotted names of repo modules that the given files (path, module name; None for hubconf)
    import only inside ``try`` bodies whose handlers catch ImportError or in the alternative
    branches of a dispatch (:func:`in_alternative_branch`: yolov5's ``elif triton:`` importing
    utils/triton.py), or only from such optional modules (quantization.py's own
    ``from . import logger``)."""
    files = list(files)
    importers: dict[str, set[tuple[str | None, bool]]] = {}
    for path, module in files:
        tree = index.tree(path)
        if tree is None:
            continue
        found = index.find(module) if module else None
        for node, in_guard in _imports(tree.body, guarded=False):
            for target in _targets(node, found):
                # A package imported from its own submodule is already loading: that is no new route to it.
                if module is None or not (module == target or module.startswith(f"{target}.")):
                    importers.setdefault(target, set()).add((module, in_guard))
    optional: set[str] = set()
    changed = True
    while changed:
        changed = False
        for target, sources in importers.items():
            if target not in optional and all(guard or (source is not None and source in optional)
                                              for source, guard in sources):
                optional.add(target)
                changed = True
    # A submodule reached by following a definition (no import of it read) loads only after its
    # package, and every import of a package's submodule counts as one of the package.
    optional |= {module for _, module in files if module and _under(module, optional)}
    return frozenset(name for name in optional if index.is_local(name))


def _under(module: str, packages: set[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:depth]) in packages for depth in range(1, len(parts)))


def _imports(body: list[ast.stmt], guarded: bool) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import in ``body`` (into functions and classes), with whether it is in a guarding ``try`` body.

    A worklist, not nested generators: it visits every statement of every reached file.
    """
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
    pending: list[tuple[list, bool]] = [(body, guarded)]
    while pending:
        statements, in_guard = pending.pop()
        for stmt in statements:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                found.append((stmt, in_guard))
            elif isinstance(stmt, ast.Try):
                catches = any(handles_import_error(handler) for handler in stmt.handlers)
                pending.append((stmt.body, in_guard or catches))
                pending.extend((handler.body, in_guard) for handler in stmt.handlers)
                pending.append((stmt.orelse, in_guard))
                pending.append((stmt.finalbody, in_guard))
            elif isinstance(stmt, ast.If) and _is_dispatch(stmt):
                # Only the first branch may be what every user runs; the others are alternatives.
                pending.append((stmt.body, in_guard))
                branch: ast.stmt | None = stmt.orelse[0] if len(stmt.orelse) == 1 else None
                rest = stmt.orelse
                while isinstance(branch, ast.If):
                    pending.append((branch.body, True))
                    rest = branch.orelse
                    branch = branch.orelse[0] if len(branch.orelse) == 1 else None
                pending.append((rest, True))
            elif isinstance(stmt, ast.stmt):
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, field, None)
                    if inner and isinstance(inner, list):
                        pending.append((inner, in_guard))
                if isinstance(stmt, ast.Match):
                    pending.extend((case.body, in_guard) for case in stmt.cases)
    return found


def _targets(node: ast.Import | ast.ImportFrom, found: ModuleFile | None) -> set[str]:
    """The modules an import statement may load, packages above them included:
    ``from a.b import c`` runs ``a``, ``a.b`` and maybe ``a.b.c``."""
    if isinstance(node, ast.Import):
        named = {alias.name for alias in node.names}
    elif node.level and found is None:
        return set()
    else:
        source = resolve_from_module(found, node) if found is not None else node.module
        if not source:
            return set()
        named = {source} | {f"{source}.{alias.name}" for alias in node.names if alias.name != "*"}
    parts = [name.split(".") for name in named]
    return {".".join(dotted[:depth]) for dotted in parts for depth in range(1, len(dotted) + 1)}


# Resolves a call in an ``if`` test to the function it calls, with the names of that function's file.
HelperResolver = Callable[[ast.Call], "tuple[ast.FunctionDef | ast.AsyncFunctionDef, FileNames] | None"]


def checked_before_import(module: str, ancestors: tuple[ast.AST, ...], node: ast.AST, names: FileNames,
                          helper: HelperResolver) -> bool:
    """Whether an import of ``module`` sits in the branch of an ``if`` that runs only when a check found
    that module: ``if importlib.util.find_spec("hf") is not None: import hf``, the ``else`` of
    ``if find_spec("hf") is None``, or ``if hf_available():`` where ``hf_available`` (in this file or
    imported from the repo) makes the check, or tries the import itself inside ``try``/``except
    ImportError`` or ``with contextlib.suppress(ImportError)`` (facebookresearch/hiera's
    ``is_huggingface_hub_available``, yolov5's ``is_jupyter``, which imports IPython).
    """
    top = module.partition(".")[0]
    for position, ancestor in enumerate(ancestors):
        if not isinstance(ancestor, ast.If):
            continue
        child = ancestors[position + 1] if position + 1 < len(ancestors) else node
        found, test = _found_when(ancestor.test)
        branch = ancestor.body if found else ancestor.orelse
        if any(child is stmt for stmt in branch) and top in _checked_modules(test, names, helper):
            return True
    return False


def _found_when(test: ast.expr) -> tuple[bool, ast.expr]:
    """Whether the ``if`` body runs when the check in ``test`` finds its module, and that check:
    ``not x`` and ``x is None`` turn the answer round."""
    found = True
    while True:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            found, test = not found, test.operand
        elif (isinstance(test, ast.Compare) and len(test.ops) == 1
              and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None
              and isinstance(test.ops[0], (ast.Is, ast.IsNot, ast.Eq, ast.NotEq))):
            found, test = found == isinstance(test.ops[0], (ast.IsNot, ast.NotEq)), test.left
        else:
            return found, test


def _checked_modules(test: ast.expr, names: FileNames, helper: HelperResolver) -> set[str]:
    """The top-level modules whose availability ``test`` checks, directly or through a function it calls."""
    checked: set[str] = set()
    for call in (n for n in ast.walk(test) if isinstance(n, ast.Call)):
        resolved = helper(call)
        if resolved is None:
            checked |= _find_spec_targets(call, names)
        else:
            function, function_names = resolved
            checked |= _find_spec_targets(function, function_names) | _tried_imports(function, function_names)
    return checked


def _find_spec_targets(node: ast.AST, names: FileNames) -> set[str]:
    return {
        call.args[0].value.partition(".")[0]
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and names.qualified(call.func) in _AVAILABILITY_CHECKS
        and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)
    }


_CAUGHT_BY_IMPORT_ERROR = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def suppresses_import_error(node: ast.With | ast.AsyncWith, names: FileNames) -> bool:
    """Whether a ``with`` is ``with contextlib.suppress(...)`` of ImportError (or Exception, its base)."""
    return any(
        isinstance(item.context_expr, ast.Call) and names.qualified(item.context_expr.func) == "contextlib.suppress"
        and any(dotted_name(arg) in _CAUGHT_BY_IMPORT_ERROR for arg in item.context_expr.args)
        for item in node.items)


def in_suppressing_with(node: ast.AST, ancestors: tuple[ast.AST, ...], names: FileNames) -> bool:
    """Whether ``node`` sits in the body of a ``with contextlib.suppress(ImportError)`` (yolov5's ``is_jupyter``)."""
    for position, ancestor in enumerate(ancestors):
        if isinstance(ancestor, (ast.With, ast.AsyncWith)) and suppresses_import_error(ancestor, names):
            child = ancestors[position + 1] if position + 1 < len(ancestors) else node
            if any(child is stmt for stmt in ancestor.body):
                return True
    return False


def _tried_imports(function: ast.AST, names: FileNames) -> set[str]:
    """Top-level modules a function imports where a failure is caught: in a ``try`` body whose handlers
    catch ImportError, or under ``with contextlib.suppress(ImportError)`` (or Exception)."""
    tried: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Try) and any(handles_import_error(handler) for handler in node.handlers):
            body: list[ast.stmt] = node.body
        elif isinstance(node, (ast.With, ast.AsyncWith)) and suppresses_import_error(node, names):
            body = node.body
        else:
            continue
        for inner in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(inner, ast.Import):
                tried |= {alias.name.partition(".")[0] for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and not inner.level and inner.module:
                tried.add(inner.module.partition(".")[0])
    return tried


# A dispatch has at least this many branches (``if pt: ... elif jit: ... elif onnx: ...``).
_DISPATCH_BRANCHES = 3


def in_alternative_branch(node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether ``node`` sits in a later branch of a dispatch: an ``if``/``elif`` chain of at least
    :data:`_DISPATCH_BRANCHES` branches whose every test is a flag (a name, an attribute, or ``or``/``and``/
    ``not`` of them), as yolov5's ``if pt: ... elif onnx: import onnxruntime ... elif paddle: ...``
    picks one backend per weights format. Only one branch runs, chosen at run time; what a later
    branch imports is needed for that format alone, so it is no dependency every user must have."""
    for position, ancestor in enumerate(ancestors):
        if not isinstance(ancestor, ast.If):
            continue
        child = ancestors[position + 1] if position + 1 < len(ancestors) else node
        head = ancestor
        for above in reversed(ancestors[:position]):
            if not (isinstance(above, ast.If) and above.orelse == [head]):
                break
            head = above
        # A later branch: an `elif` body, or the final `else`.
        later = (any(child is stmt for stmt in ancestor.body) and head is not ancestor) or (
            any(child is stmt for stmt in ancestor.orelse) and not isinstance(child, ast.If))
        if later and _is_dispatch(head):
            return True
    return False


def _is_dispatch(first: ast.If) -> bool:
    tests = _chain_tests(first)
    return len(tests) >= _DISPATCH_BRANCHES and all(_is_flag(test) for test in tests)


def _chain_tests(first: ast.AST) -> list[ast.expr]:
    tests: list[ast.expr] = []
    branch: ast.AST | None = first
    while isinstance(branch, ast.If):
        tests.append(branch.test)
        branch = branch.orelse[0] if len(branch.orelse) == 1 else None
    return tests


def _is_flag(test: ast.expr) -> bool:
    if isinstance(test, (ast.Name, ast.Attribute)):
        return True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_flag(test.operand)
    return isinstance(test, ast.BoolOp) and all(_is_flag(value) for value in test.values)
