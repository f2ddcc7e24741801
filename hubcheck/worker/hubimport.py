"""Import hubconf and load entry points exactly as the installed torch.hub does.

torch.hub's private helpers are used where they exist (torch 2.1 through
2.14 have them), so behaviour follows the user's torch release; the copies
below are the fallback for a release that renames them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
from typing import Any

import torch
import torch.hub

from .protocol import EntryDescription

MODULE_HUBCONF = "hubconf.py"


@contextlib.contextmanager
def _add_to_sys_path(path: str):
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def _import_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # torch.hub asserts the same
        raise ImportError(f"cannot import {path} as a module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_dependencies(module) -> None:
    dependencies = getattr(module, "dependencies", None) if "dependencies" in dir(module) else None
    if dependencies is not None:
        missing = [pkg for pkg in dependencies if importlib.util.find_spec(pkg) is None]
        if missing:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")


add_to_sys_path = getattr(torch.hub, "_add_to_sys_path", _add_to_sys_path)
import_module = getattr(torch.hub, "_import_module", _import_module)
check_dependencies = getattr(torch.hub, "_check_dependencies", _check_dependencies)


def import_hubconf(repo_dir: str):
    """Execute hubconf.py the way torch.hub.list/help/load do, and return the module."""
    with add_to_sys_path(repo_dir):
        return import_module(MODULE_HUBCONF, os.path.join(repo_dir, MODULE_HUBCONF))


def list_entrypoints(module) -> list[str]:
    """torch.hub.list's rule, verbatim."""
    return [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]


def load(repo_dir: str, name: str, kwargs: dict[str, Any]):
    """``torch.hub.load(repo_dir, name, source="local", **kwargs)``: hubconf is re-imported each call, as for users."""
    return torch.hub.load(repo_dir, name, source="local", **kwargs)


def describe_entrypoint(module, name: str) -> EntryDescription:
    """What ``hubcheck list --dynamic`` shows for one entry point: kind, signature, doc, line."""
    import functools

    value = getattr(module, name)
    if isinstance(value, functools.partial):
        kind = "partial"
    elif inspect.isclass(value):
        kind = "class"
    elif inspect.isfunction(value) and value.__name__ == "<lambda>":
        kind = "lambda"
    elif inspect.isfunction(value) or inspect.isbuiltin(value):
        kind = "function" if getattr(value, "__module__", None) == MODULE_HUBCONF else "imported"
    else:
        kind = "object"
    if kind == "class" and getattr(value, "__module__", None) != MODULE_HUBCONF:
        kind = "imported"
    try:
        signature = str(inspect.signature(value))
    except (TypeError, ValueError):
        signature = None
    line = None
    try:
        if getattr(value, "__module__", None) == MODULE_HUBCONF:
            line = inspect.getsourcelines(value)[1]
    except (OSError, TypeError):
        line = None
    doc = value.__doc__ if isinstance(getattr(value, "__doc__", None), str) else None
    generic_doc = isinstance(value, functools.partial) and doc == functools.partial.__doc__
    return EntryDescription(name, kind, signature, doc, generic_doc, line)
