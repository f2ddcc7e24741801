"""Repo modules that are imported only as optional extras, inside ``try: ... except ImportError``.

NVIDIA's efficientnet.py does ``try: from ..quantization import switch_on_quantization``
``except ImportError: <a fallback>``: quantization.py and what it imports are optional by
design, so its imports are not dependencies to declare. A module counts as optional when
every import of it in the reached files sits in such a ``try`` body or in an optional module;
one plain import anywhere else (even inside a function) makes it required. The submodules
of an optional package are optional too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from hubcheck.static.modules import ModuleFile, ModuleIndex, resolve_from_module
from hubcheck.static.syntax import handles_import_error


def optional_modules(files: Iterable[tuple[Path, str | None]], index: ModuleIndex) -> frozenset[str]:
    """The dotted names of repo modules that the given files (path, module name; None for hubconf)
    import only inside ``try`` bodies whose handlers catch ImportError, or only from such optional
    modules (quantization.py's own ``from . import logger``)."""
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
