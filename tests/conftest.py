"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

import pytest

pytest_plugins = ["pytester"]

# What CI must have: without them whole groups of tests skip, and a skip would hide a broken install step.
_CI_MODULES = ("torch", "torchvision", "sklearn", "safetensors", "xdist", "libcst")


def pytest_configure(config: pytest.Config) -> None:
    """Under CI, refuse to run (rather than skip) when the install lacks the plugin or a test dependency."""
    if not os.environ.get("CI"):
        return
    missing = [name for name in _CI_MODULES if importlib.util.find_spec(name) is None]
    plugins = {entry.name for entry in importlib.metadata.entry_points(group="pytest11")}
    if "hubcheck" not in plugins:
        missing.append("the hubcheck pytest11 entry point (install hubcheck, e.g. pip install -e '.[dev]')")
    if missing:
        raise pytest.UsageError(f"CI is set but the test environment lacks: {', '.join(missing)}")
