"""Find modules and the names they define without importing them.

torch.hub imports hubconf with the repo at ``sys.path[0]``; hubcheck mirrors that
search order here but only looks at files: it parses sources, it never runs them.
The one exception is the standard library, which is not repo code, which importing
cannot harm, and whose compiled modules (``math``) and aliases (``typing.List``)
cannot be judged from source.
"""

from __future__ import annotations

import ast
import builtins
import enum
import importlib
import importlib.machinery
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.static.syntax import never_true_under_torch_hub

# How many re-exports deep to follow a name before giving up; torchvision's
# `models.resnet50` is three hops, nothing real needs more than a handful.
_MAX_DEPTH = 12

# Standard library modules whose import does something visible.
_UNSAFE_STDLIB = frozenset({"antigravity", "this", "turtle", "tkinter", "idlelib", "turtledemo"})

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


class Callability(enum.Enum):
    CALLABLE = "callable"
    NOT_CALLABLE = "not callable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ModuleFile:
    """Where a module lives on disk."""

    name: str
    path: Path | None
    """The source file (``__init__.py`` for packages), or None for namespace/compiled modules."""
    package_dirs: tuple[Path, ...]
    """Directories searched for submodules; empty for plain modules."""
    local: bool
    """Inside the hub repo."""
    has_source: bool


@dataclass(frozen=True)
class NameInfo:
    """What static reading learned about one name of one module."""

    callability: Callability
    definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = field(default=None, compare=False)
    path: Path | None = None
    module: str | None = None
    local: bool = False
    note: str = ""


UNKNOWN = NameInfo(Callability.UNKNOWN)
NOT_CALLABLE = NameInfo(Callability.NOT_CALLABLE)


def is_stdlib(top_level: str) -> bool:
    return top_level in _STDLIB or top_level == "__future__"


class ModuleIndex:
    """Module lookup over ``[repo_root] + sys.path``, with parse results cached per file."""

    def __init__(self, repo_root: Path, search_path: list[str] | None = None) -> None:
        self.repo_root = repo_root.resolve()
        base = sys.path if search_path is None else search_path
        # '' and relative entries stand for hubcheck's own working directory,
        # which is not where the repo's users run torch.hub from.
        self._search_path = [str(self.repo_root)] + [p for p in base if p and Path(p).is_absolute()]
        self._modules: dict[str, ModuleFile | None] = {}
        self._trees: dict[Path, ast.Module | None] = {}
        self._names: dict[tuple[str, str], NameInfo] = {}

    # -- finding modules -------------------------------------------------------------

    def find(self, dotted: str) -> ModuleFile | None:
        """The module's file, found the way the import system would, or None."""
        if dotted in self._modules:
            return self._modules[dotted]
        parent_name, _, _ = dotted.rpartition(".")
        if parent_name:
            parent = self.find(parent_name)
            locations = [str(p) for p in parent.package_dirs] if parent else []
        else:
            parent = None
            locations = self._search_path
        found = self._find_spec(dotted, locations, parent) if locations else None
        self._modules[dotted] = found
        return found

    def _found_on_repo_entry(self, anchor: Path) -> bool:
        """Whether the import path entry that holds ``anchor`` is the repo root itself.

        A virtualenv inside the repo (``.venv/lib/.../site-packages``) is under the
        repo root too, but what it holds is installed packages, not repo code.
        """
        holders = [Path(entry) for entry in self._search_path if _is_within(anchor, Path(entry))]
        if not holders:
            return False
        closest = max(holders, key=lambda entry: len(entry.resolve().parts))
        return closest.resolve() == self.repo_root

    def _find_spec(self, dotted: str, locations: list[str], parent: ModuleFile | None) -> ModuleFile | None:
        try:
            spec = importlib.machinery.PathFinder.find_spec(dotted, locations)
        except (ImportError, ValueError, OSError):
            spec = None
        if spec is None:
            if "." not in dotted and dotted in sys.builtin_module_names:
                return ModuleFile(dotted, None, (), local=False, has_source=False)
            return None
        origin = Path(spec.origin) if spec.origin and spec.has_location else None
        package_dirs = tuple(Path(p) for p in (spec.submodule_search_locations or ()))
        anchor = origin or (package_dirs[0] if package_dirs else None)
        if parent is not None:
            local = parent.local
        else:
            local = anchor is not None and self._found_on_repo_entry(anchor)
        has_source = origin is not None and origin.suffix == ".py"
        return ModuleFile(dotted, origin, package_dirs, local=local, has_source=has_source)

    def is_local(self, dotted: str) -> bool:
        found = self.find(dotted)
        return bool(found and found.local)

    def may_define(self, module: str, name: str) -> bool:
        """Whether ``module``'s source may hold ``def name`` or ``class name``: a text search that spares
        parsing a large ``__init__.py`` (torch's) only to learn that ``name`` is its submodule."""
        found = self.find(module)
        if found is None or found.path is None or not found.has_source:
            return False
        try:
            source = found.path.read_bytes()
        except OSError:
            return False
        pattern = rb"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+" + re.escape(name.encode()) + rb"\b"
        return re.search(pattern, source, re.MULTILINE) is not None

    def tree(self, path: Path) -> ast.Module | None:
        """The parsed source of a file, or None when it cannot be read or parsed."""
        if path not in self._trees:
            try:
                self._trees[path] = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError):
                self._trees[path] = None
        return self._trees[path]

    # -- what a module's names are ---------------------------------------------------------

    def lookup(self, module: str, name: str, _depth: int = 0) -> NameInfo:
        """What ``from module import name`` binds, read from source."""
        key = (module, name)
        if key in self._names:
            return self._names[key]
        # Guard against import cycles (a package re-exporting from itself).
        self._names[key] = UNKNOWN
        info = self._lookup_uncached(module, name, _depth)
        self._names[key] = info
        return info

    def _lookup_uncached(self, module: str, name: str, depth: int) -> NameInfo:
        if depth > _MAX_DEPTH:
            return UNKNOWN
        found = self.find(module)
        if found is None:
            return NameInfo(Callability.UNKNOWN, note=f"module {module} not found")
        top_level = module.partition(".")[0]
        if is_stdlib(top_level) and top_level not in _UNSAFE_STDLIB and not found.local:
            # The standard library is not repo code, and typing's aliases
            # (`List = _alias(list, 1)`) cannot be judged from source.
            return _introspect_stdlib(module, name)
        if not found.has_source:
            submodule = self.find(f"{module}.{name}") if found.package_dirs else None
            if submodule is not None:
                return NOT_CALLABLE
            return NameInfo(Callability.UNKNOWN, note=f"{module} has no Python source to read")
        tree = self.tree(found.path) if found.path else None
        if tree is not None:
            binding = _last_module_level_binding(tree, name)
            if binding is not None:
                return self._classify_binding(binding, found, name, depth)
            for star_module in _star_imports(tree, found):
                info = self.lookup(star_module, name, depth + 1)
                if info.callability is not Callability.UNKNOWN or info.definition is not None:
                    if _star_exports(self, star_module, name):
                        return info
        if found.package_dirs and self.find(f"{module}.{name}") is not None:
            return NOT_CALLABLE
        return NameInfo(Callability.UNKNOWN, note=f"{name} not found in {module}")

    def _classify_binding(self, node: ast.stmt, found: ModuleFile, name: str, depth: int) -> NameInfo:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return NameInfo(Callability.CALLABLE, node, found.path, found.name, found.local)
        if isinstance(node, ast.Import):
            return NOT_CALLABLE
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = resolve_from_module(found, node)
                    if source is None:
                        return UNKNOWN
                    if self.find(f"{source}.{alias.name}") is not None:
                        return NOT_CALLABLE
                    return self.lookup(source, alias.name, depth + 1)
            return UNKNOWN
        value = getattr(node, "value", None)
        if isinstance(value, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr,
                              ast.ListComp, ast.DictComp, ast.SetComp)):
            return NOT_CALLABLE
        if isinstance(value, ast.Lambda):
            return NameInfo(Callability.CALLABLE, path=found.path, module=found.name, local=found.local)
        if isinstance(value, ast.Name):
            if value.id == name:
                return UNKNOWN
            return self.lookup(found.name, value.id, depth + 1)
        return UNKNOWN


def builtin_callability(name: str) -> Callability | None:
    """Callability of a builtin name (``print``, ``dict``), or None when it is not a builtin."""
    if not hasattr(builtins, name):
        return None
    return Callability.CALLABLE if callable(getattr(builtins, name)) else Callability.NOT_CALLABLE


def resolve_from_module(found: ModuleFile, node: ast.ImportFrom) -> str | None:
    """The absolute module name of a ``from ... import`` statement inside ``found``."""
    if node.level == 0:
        return node.module
    package = found.name if found.package_dirs else found.name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    if not package and node.level:
        return node.module
    return f"{package}.{node.module}" if node.module else package


def _introspect_stdlib(module: str, name: str) -> NameInfo:
    try:
        loaded = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any failure just means we cannot tell
        return UNKNOWN
    if not hasattr(loaded, name):
        return UNKNOWN
    value = getattr(loaded, name)
    return NameInfo(Callability.CALLABLE if callable(value) else Callability.NOT_CALLABLE, module=module)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def _last_module_level_binding(tree: ast.Module, name: str) -> ast.stmt | None:
    """The last top-level statement (looking into if/try blocks) that binds ``name``."""
    found: ast.stmt | None = None
    for stmt in _flatten_module_statements(tree.body):
        if name in statement_bound_names(stmt):
            found = stmt
    return found


def _flatten_module_statements(body: list[ast.stmt]):
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if not never_true_under_torch_hub(stmt.test):
                yield from _flatten_module_statements(stmt.body)
            yield from _flatten_module_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield from _flatten_module_statements(stmt.body)
            for handler in stmt.handlers:
                yield from _flatten_module_statements(handler.body)
            yield from _flatten_module_statements(stmt.orelse)
            yield from _flatten_module_statements(stmt.finalbody)


def statement_bound_names(stmt: ast.stmt) -> set[str]:
    """Names a simple statement binds in its scope (not looking into blocks)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, ast.Import):
        return {(alias.asname or alias.name.partition(".")[0]) for alias in stmt.names}
    if isinstance(stmt, ast.ImportFrom):
        return {(alias.asname or alias.name) for alias in stmt.names if alias.name != "*"}
    if isinstance(stmt, ast.Assign):
        names: set[str] = set()
        for target in stmt.targets:
            names |= target_names(target)
        return names
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and getattr(stmt, "value", None) is not None:
        return target_names(stmt.target)
    return set()


def target_names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        names: set[str] = set()
        for element in target.elts:
            names |= target_names(element)
        return names
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return set()


def _star_imports(tree: ast.Module, found: ModuleFile) -> list[str]:
    modules = []
    for stmt in _flatten_module_statements(tree.body):
        if isinstance(stmt, ast.ImportFrom) and any(alias.name == "*" for alias in stmt.names):
            source = resolve_from_module(found, stmt)
            if source:
                modules.append(source)
    return modules


def literal_all(tree: ast.Module) -> tuple[str, ...] | None:
    """``__all__`` when it is a literal list or tuple of strings."""
    value = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "__all__":
            value = stmt.value
    if isinstance(value, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
    ):
        return tuple(e.value for e in value.elts)
    return None


def _star_exports(index: ModuleIndex, module: str, name: str) -> bool:
    """Whether ``from module import *`` binds ``name`` (``__all__``, else public names)."""
    found = index.find(module)
    if found is None or found.path is None or not found.has_source:
        return not name.startswith("_")
    tree = index.tree(found.path)
    if tree is None:
        return False
    exported = literal_all(tree)
    if exported is not None:
        return name in exported
    return not name.startswith("_")
