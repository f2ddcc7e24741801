"""Top-level module names that collide in ``sys.modules`` when two hub repos are loaded in one process.

torch.hub leaves every module a repo imports in ``sys.modules``, keyed by its
top-level name. When two repos loaded in one process both have a local
``models`` package, the second repo's ``import models`` returns the first
repo's package. HUB303 flags the imports in reached code that bind repo modules
with these names, and ``hubcheck init`` refuses them as package names, so that
a new repo never starts with one.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubcheck.static.reach import CodeUnit, Reach

GENERIC_MODULE_NAMES = frozenset({
    "utils", "util", "models", "model", "common", "modules", "module", "layers", "helpers", "helper",
    "data", "datasets", "dataset", "config", "configs", "networks", "network", "nets", "net", "lib",
    "src", "ops", "tools", "backbone", "backbones", "builder", "core", "loss", "losses", "transforms",
    "blocks", "train", "test", "hub", "nn", "misc", "base", "engine", "structures", "eval", "evals",
})
"""Names many public hub repos use for their own code (drawn from the names they use most)."""

SHADOWING_MODULE_NAMES = frozenset({"torch", "torchvision", "hubconf"})
"""Names a repo's own package must not take: they hide torch itself, or hubconf.py, on ``sys.path``."""


@dataclass(frozen=True)
class GenericImport:
    """An import in reached code that puts one of the repo's modules with a generic name in ``sys.modules``."""

    path: Path
    node: ast.Import | ast.ImportFrom = field(compare=False, repr=False)
    name: str
    """The generic top-level name bound (``utils`` for ``from utils.misc import x``)."""
    chain: tuple[str, ...]
    """The modules imported from hubconf down to this import's module, then the module it imports:
    ``("vision_transformer", "utils")``; just ``("utils",)`` for hubconf's own import."""
    entrypoint: str | None
    """The entry point whose call runs the import; None when importing hubconf runs it."""


def generic_imports(reach: Reach) -> tuple[GenericImport, ...]:
    """Each generic top-level name of the repo that reached code imports, once, at the import that binds it.

    Reached code is :class:`Reach`'s: hubconf's module level, the repo modules it imports
    in turn, and the code the entry points run (an import there leaves its module in
    ``sys.modules`` just the same, when ``torch.hub.load`` calls the entry point). Only
    absolute imports bind a top-level name: a relative import finds its package already
    imported, and one in hubconf fails (HUB304). A name is reported where importing
    hubconf binds it, else where an entry point does; there, at the shortest import chain
    from hubconf, hubconf's own import first, then in source order.
    """
    statements: list[tuple[CodeUnit, ast.Import | ast.ImportFrom]] = []
    seen: set[int] = set()
    for unit, node in reach.nodes_of(ast.Import, ast.ImportFrom):
        if id(node) not in seen:
            seen.add(id(node))
            statements.append((unit, node))  # type: ignore[arg-type]  # ``nodes_of`` gives only the types asked for
    candidates = [(unit, node, imported) for unit, node in statements for imported in _absolute_imports(node)
                  if _is_generic_repo_module(reach, imported.partition(".")[0])]
    if not candidates:
        return ()
    chains = _import_chains(reach, statements)
    chosen: dict[str, tuple[tuple, GenericImport]] = {}
    for unit, node, imported in candidates:
        chain = (*chains.get(unit.module, (unit.module,) if unit.module else ()), imported)
        found = GenericImport(unit.path, node, imported.partition(".")[0], chain, unit.entrypoint)
        rank = (unit.entrypoint is not None, len(chain), unit.path != reach.model.path, str(unit.path),
                node.lineno, node.col_offset)
        if found.name not in chosen or rank < chosen[found.name][0]:
            chosen[found.name] = (rank, found)
    return tuple(sorted((found for _, found in chosen.values()),
                        key=lambda f: (str(f.path), f.node.lineno, f.node.col_offset)))


def _is_generic_repo_module(reach: Reach, top: str) -> bool:
    """Whether ``top`` is a generic name and, on the search path torch.hub gives, a module of the repo."""
    if top not in GENERIC_MODULE_NAMES:
        return False
    found = reach.index.find(top)
    return found is not None and found.local


def _absolute_imports(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules an absolute import statement names (of a ``from`` import, the module it imports from)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif node.level == 0 and node.module:
        yield node.module


def _import_chains(reach: Reach, statements: list[tuple[CodeUnit, ast.Import | ast.ImportFrom]],
                   ) -> dict[str | None, tuple[str, ...]]:
    """The shortest chain of reached imports from hubconf (None) to each module they import.

    Breadth first over the import statements of reached code, each leading from the
    module it is in to the modules it imports and the packages above them.
    """
    by_importer: dict[str | None, list[tuple[CodeUnit, ast.Import | ast.ImportFrom]]] = {}
    for unit, node in statements:
        by_importer.setdefault(unit.module, []).append((unit, node))
    chains: dict[str | None, tuple[str, ...]] = {None: ()}
    pending: deque[str | None] = deque([None])
    while pending:
        importer = pending.popleft()
        for unit, node in by_importer.get(importer, ()):
            for module in reach.imported_modules(unit, node):
                parts = module.split(".")
                for end in range(len(parts), 0, -1):
                    name = ".".join(parts[:end])
                    if name not in chains:
                        chains[name] = (*chains[importer], name)
                        pending.append(name)
    return chains
