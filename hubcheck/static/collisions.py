"""Top-level module names that collide in ``sys.modules`` when two hub repos are loaded in one process.

torch.hub leaves every module a repo imports in ``sys.modules``, keyed by its
top-level name. When two repos loaded in one process both have a local
``models`` package, the second repo's ``import models`` returns the first
repo's package. HUB303 flags repo modules with these names, and ``hubcheck init``
refuses them as package names, so that a new repo never starts with one.
"""

from __future__ import annotations

GENERIC_MODULE_NAMES = frozenset({
    "utils", "util", "models", "model", "common", "modules", "module", "layers", "helpers", "helper",
    "data", "datasets", "dataset", "config", "configs", "networks", "network", "nets", "net", "lib",
    "src", "ops", "tools", "backbone", "backbones", "builder", "core", "loss", "losses", "transforms",
    "blocks", "train", "test", "hub", "nn", "misc", "base", "engine", "structures",
})
"""Names many public hub repos use for their own code (drawn from the names they use most)."""

SHADOWING_MODULE_NAMES = frozenset({"torch", "torchvision", "hubconf"})
"""Names a repo's own package must not take: they hide torch itself, or hubconf.py, on ``sys.path``."""
