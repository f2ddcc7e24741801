"""Which imported entry points hubconf lists on purpose, and which are helpers that leak into torch.hub.list.

torch.hub.list shows every public callable in hubconf's namespace, imported or
not. Read on hand-labelled public hub repos, the imports that hubconf exists to
re-export (torchvision's builders, dinov2's ``dinov2_vitb14``, dozens per repo)
share three traits: they come from the repo's own modules, hubconf's code never
uses them itself, and they are functions (classes only where hubconf defines
nothing of its own, as in a repo whose hubconf is one import line). What leaks
is the rest: anything from torch, torchvision, the standard library or another
package (``load_state_dict_from_url``, ``Path``, ``partial``, ``DataLoader``), and
the repo's classes and helpers that hubconf imports to build its own entry
points (``ResNet``, ``Bottleneck``, ``Backbone``, ``select_device``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from hubcheck.static.model import EntryPoint, EntryPointKind
from hubcheck.static.modules import Callability, ModuleIndex
from hubcheck.static.syntax import walk_live


def with_intended_reexports(entrypoints: Iterable[EntryPoint], tree: ast.Module, index: ModuleIndex,
                            hubconf: Path) -> list[EntryPoint]:
    """The entry points, with ``leaked`` cleared on the imports that are hubconf's deliberate list.

    ``hubconf`` is hubconf.py's path: an entry point defined there is hubconf's own.
    """
    entries = list(entrypoints)
    candidates = [e for e in entries if e.leaked]
    if not candidates:
        return entries
    used = _names_hubconf_uses(tree)
    defines_own = any(e.kind is not EntryPointKind.IMPORTED and e.definition is not None
                      and e.definition.path == hubconf for e in entries)
    return [replace(e, leaked=False) if e.leaked and _intended(e, used, defines_own, index) else e for e in entries]


def _intended(entry: EntryPoint, used: frozenset[str], defines_own: bool, index: ModuleIndex) -> bool:
    module, _, original = (entry.origin or "").rpartition(".")
    from_repo = entry.definition.local if entry.definition is not None else bool(module) and index.is_local(module)
    if from_repo and entry.definition is None:
        # A repo module passing on what it imported (`from typing import Any` in a module hubconf
        # star-imports) hands over a name that is not the repo's.
        info = index.lookup(module, original)
        from_repo = info.local or info.callability is Callability.UNKNOWN
    if not from_repo or entry.name in used:
        return False
    is_class = entry.definition is not None and isinstance(entry.definition.node, ast.ClassDef)
    # `from pkg.hub_utils import BPEHubInterface as bpe`: a new public name is chosen on purpose.
    renamed = bool(original) and original != entry.name
    # Next to entry points of hubconf's own, a repo function that cannot be called without arguments
    # (HRNet's `validate(config, val_loader, model, ...)`) is a helper: torch.hub.load(repo, name) fails.
    helper = not is_class and defines_own and needs_arguments(entry)
    return (not is_class and not helper) or not defines_own or renamed


def needs_arguments(entry: EntryPoint) -> bool:
    """Whether ``torch.hub.load(repo, name)`` with no arguments fails: a parameter without a default
    (``self`` and ``cls`` aside; unknown parameters count as none)."""
    return any(p.default is None and not p.is_variadic and p.name not in ("self", "cls")
               for p in entry.parameters or ())


def _names_hubconf_uses(tree: ast.Module) -> frozenset[str]:
    """Names hubconf's own live code reads: in its functions, classes and module-level statements."""
    return frozenset(node.id for node, _ in walk_live(tree)
                     if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))
