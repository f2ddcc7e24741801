"""Find modules and the names they define without importing anything.

torch.hub imports hubconf with the repo at ``sys.path[0]``. hubcheck mirrors that
search, reading the file system only: in the repo first, as the import system does
(a regular package, then a module file, source or compiled, then a namespace
directory, which loses to any regular module of the same name further down the path),
then "the rest of the path", which for hubcheck is what it knows statically about
modules that are not repo code (:mod:`hubcheck.static.known`).

The rule, so that findings are the same whatever is installed: **repo code is read
with ``ast``; nothing outside the repo is ever looked at.** A third-party package on
disk is neither searched nor read; the standard library and the common third-party
packages are known from the table shipped with hubcheck, and other names by their
spelling (``ResNet`` is a class). Compiled modules in the repo are recognised by
their suffix (``.so``, ``.pyd``, with or without a platform tag) and never loaded.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.static.call_results import built_class, instance_callability
from hubcheck.static.known import (
    Callability,
    builtin_callability,
    callability_by_spelling,
    is_stdlib,
    known_module,
    known_name,
)
from hubcheck.static.module_all import TIMM_REGISTER_MODEL, all_after_import, appends_decorated_to_all
from hubcheck.static.search_path import SearchPath, hubconf_search_path
from hubcheck.static.source import (
    SourceProblem,
    UnreadableSource,
    parse_source,
    read_source,
)
from hubcheck.static.syntax import never_true_under_torch_hub

__all__ = [
    "Callability", "ModuleFile", "ModuleIndex", "NameInfo", "builtin_callability", "is_stdlib",
    "resolve_from_module", "statement_bound_names", "target_names",
]

# How many re-exports deep to follow a name before giving up; torchvision's
# `models.resnet50` is three hops, nothing real needs more than a handful.
_MAX_DEPTH = 12

# The import system's suffixes, in its order (extension modules, source, bytecode), spelled
# so that every platform recognises every other's: `_ops.cpython-311-x86_64-linux-gnu.so`
# is a compiled module of the repo on Windows too, although Windows could not load it.
_COMPILED = re.compile(r"^(?P<stem>[^.]+)(\.[^.]+)?\.(so|pyd)$")
_SOURCE_SUFFIX = ".py"
_BYTECODE_SUFFIX = ".pyc"


@dataclass(frozen=True)
class ModuleFile:
    """Where a module lives."""

    name: str
    path: Path | None
    """The file read for the module (``__init__.py`` for packages), or None: namespace packages,
    and every module that is not repo code, which hubcheck never reads."""
    package_dirs: tuple[Path, ...]
    """Directories searched for submodules; empty for plain modules and modules outside the repo."""
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
    instances: Callability | None = None
    """For a class known from hubcheck's table (no definition to read): whether its instances are callable."""


UNKNOWN = NameInfo(Callability.UNKNOWN)
NOT_CALLABLE = NameInfo(Callability.NOT_CALLABLE)


@dataclass(frozen=True)
class _TopLevel:
    """What a module binds at its top level, as far as ``from module import name`` needs."""

    bindings: dict[str, ast.stmt]
    """Name -> the last top-level statement (looking into if/try blocks) that binds it."""
    star_modules: tuple[str, ...]
    """Modules it star-imports, in order."""
    exported: tuple[str, ...] | None
    """Its ``__all__`` once it has run (a literal list, and what timm's ``register_model`` appends), or None."""


class ModuleIndex:
    """Module lookup over the repo, then hubcheck's knowledge of other modules; parse results cached per file."""

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root.resolve()
        self._modules: dict[str, ModuleFile | None] = {}
        self._trees: dict[Path, ast.Module | None] = {}
        self._names: dict[tuple[str, str], NameInfo] = {}
        self._compiled: dict[Path, dict[str, Path]] = {}
        self._top_levels: dict[Path, _TopLevel] = {}
        self._star_filters: dict[str, frozenset[str] | None] = {}
        self._decorators_appending: dict[str, bool] = {}
        self.unreadable: dict[Path, SourceProblem] = {}
        """Files :meth:`tree` could not read or parse, and why (HUB011 reports the repo's)."""
        self._search_path: SearchPath | None = None
        self._beside: dict[tuple[Path, str], Path | None] = {}

    # -- finding modules -------------------------------------------------------------

    def find(self, dotted: str) -> ModuleFile | None:
        """The module, found the way the import system would with the repo at ``sys.path[0]``, or None."""
        if dotted in self._modules:
            return self._modules[dotted]
        parent_name, _, tail = dotted.rpartition(".")
        if parent_name:
            parent = self.find(parent_name)
            if parent is None:
                found = None
            elif parent.local:
                found = self._find_in(dotted, tail, parent.package_dirs)
            else:
                found = _known(dotted)
        else:
            found = self._find_top_level(dotted)
        self._modules[dotted] = found
        return found

    def _find_top_level(self, name: str) -> ModuleFile | None:
        """A top-level module: hubconf's inserted directories and the repo, then the modules hubcheck
        knows (installed packages precede appended entries), then hubconf's appended directories.
        A namespace directory is only what is left when no regular module of that name exists."""
        search_path = self.search_path()
        first = self._find_in(name, name, (*search_path.before_repo, self.repo_root))
        if first is not None and first.path is not None:
            return first
        known = _known(name)
        if known is not None:
            return known
        later = self._find_in(name, name, search_path.after_repo) if search_path.after_repo else None
        if later is not None and later.path is not None:
            return later
        portions = (first.package_dirs if first else ()) + (later.package_dirs if later else ())
        return ModuleFile(name, None, portions, local=True, has_source=False) if portions else None

    def search_path(self) -> SearchPath:
        """The directories hubconf's static ``sys.path`` edits add around the repo, read once."""
        if self._search_path is None:
            # While the edits are read, the modules they import are found in the repo alone.
            self._search_path = SearchPath()
            hubconf = self.repo_root / "hubconf.py"
            tree = self._trees.get(hubconf)
            if tree is None and os.path.isfile(hubconf):
                try:
                    tree = parse_source(hubconf).tree
                except UnreadableSource:
                    tree = None  # the reader reports it (HUB001)
            if tree is not None:
                self._search_path = hubconf_search_path(self.repo_root, tree, self.tree, self._locate)
        return self._search_path

    def _locate(self, dotted: str, search_path: SearchPath) -> Path | None:
        """The repo source file of ``dotted`` with ``search_path``'s directories, uncached (the path is not final yet)."""
        parts = dotted.split(".")
        directories: tuple[Path, ...] = (*search_path.before_repo, self.repo_root, *search_path.after_repo)
        found: ModuleFile | None = None
        for depth, part in enumerate(parts):
            found = self._find_in(".".join(parts[:depth + 1]), part, directories)
            if found is None:
                return None
            directories = found.package_dirs
        return found.path if found is not None and found.has_source else None

    def _find_in(self, dotted: str, tail: str, directories: tuple[Path, ...]) -> ModuleFile | None:
        """``tail`` in the first of ``directories`` that holds it, as one FileFinder per directory would find it.

        Regular packages and module files win over namespace directories in any later
        directory, as they do in the import system. Only the file system's metadata is
        read; symlink loops and dangling links read as absent (os.path never raises).
        """
        namespace: list[Path] = []
        for directory in directories:
            candidate = directory / tail
            is_dir = os.path.isdir(candidate)
            if is_dir:
                init = self._module_file(candidate, "__init__")
                if init is not None:
                    return ModuleFile(dotted, init, (candidate,), local=True, has_source=init.suffix == _SOURCE_SUFFIX)
            module = self._module_file(directory, tail)
            if module is not None:
                return ModuleFile(dotted, module, (), local=True, has_source=module.suffix == _SOURCE_SUFFIX)
            if is_dir:
                namespace.append(candidate)
        if namespace:
            return ModuleFile(dotted, None, tuple(namespace), local=True, has_source=False)
        return None

    def _module_file(self, directory: Path, stem: str) -> Path | None:
        """``stem``'s file in ``directory``: compiled, then source, then bytecode, the import system's order."""
        if directory not in self._compiled:
            self._compiled[directory] = _compiled_modules(directory)
        compiled = self._compiled[directory].get(stem)
        if compiled is not None:
            return compiled
        source = directory / f"{stem}{_SOURCE_SUFFIX}"
        # The import system passes over a "source file" that is a FIFO or a link loop; hubcheck
        # takes it, so that reading it reports the problem (torch.hub fails on it anyway).
        if os.path.lexists(source) and not os.path.isdir(source):
            return source
        bytecode = directory / f"{stem}{_BYTECODE_SUFFIX}"
        return bytecode if os.path.isfile(bytecode) else None

    def beside(self, path: Path, name: str) -> Path | None:
        """The module or regular package ``name`` in a folder above ``path`` (its own first, the repo root
        left out), or None: where a script run from inside the repo finds ``import name``, and torch.hub,
        which puts only the repo root on ``sys.path``, does not."""
        key = (path.parent, name)
        if key not in self._beside:
            self._beside[key] = self._beside_uncached(path.parent, name)
        return self._beside[key]

    def _beside_uncached(self, directory: Path, name: str) -> Path | None:
        while directory != self.repo_root and self.repo_root in directory.parents:
            found = self._find_in(name, name, (directory,))
            if found is not None and found.path is not None:
                return found.package_dirs[0] if found.package_dirs else found.path
            directory = directory.parent
        return None

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
            source = read_source(found.path)
        except UnreadableSource:
            return False
        pattern = rb"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+" + re.escape(name.encode()) + rb"\b"
        return re.search(pattern, source, re.MULTILINE) is not None

    def remember_tree(self, path: Path, tree: ast.Module) -> None:
        """Keep a file's tree parsed elsewhere (hubconf.py's, by the reader), so that it is not parsed again: a
        400 KB hubconf was parsed three times (the reader, the ``sys.path`` edits, HUB007's optional imports)."""
        self._trees.setdefault(path, tree)

    def tree(self, path: Path) -> ast.Module | None:
        """The parsed source of a file, or None when it cannot be read or parsed (:attr:`unreadable` says why).

        A compiled or bytecode module (``.so``, ``.pyd``, ``.pyc``) has no source: None, and nothing is read.
        """
        if path.suffix != _SOURCE_SUFFIX:
            return None
        if path not in self._trees:
            try:
                self._trees[path] = parse_source(path).tree
            except UnreadableSource as error:
                self._trees[path] = None
                self.unreadable[path] = error.problem
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
            unknown = (f"hubcheck does not know what {module} defines" if is_stdlib(module.partition(".")[0])
                       else f"module {module} is neither in the repo nor one hubcheck knows")
            return _by_spelling(name, unknown)
        if not found.local:
            return _known_name_info(module, name)
        if not found.has_source:
            submodule = self.find(f"{module}.{name}") if found.package_dirs else None
            if submodule is not None:
                return NOT_CALLABLE
            return NameInfo(Callability.UNKNOWN, note=f"{module} has no Python source to read")
        tree = self.tree(found.path) if found.path else None
        if tree is not None:
            top_level = self.top_level(found, tree)
            binding = top_level.bindings.get(name)
            if binding is not None:
                return self._classify_binding(binding, found, name, depth)
            for star_module in top_level.star_modules:
                if not self._star_binds(star_module, name):
                    continue
                info = self.lookup(star_module, name, depth + 1)
                if info.callability is not Callability.UNKNOWN or info.definition is not None:
                    return info
        if found.package_dirs and self.find(f"{module}.{name}") is not None:
            return NOT_CALLABLE
        return NameInfo(Callability.UNKNOWN, note=f"{name} not found in {module}")

    def top_level(self, found: ModuleFile, tree: ast.Module) -> _TopLevel:
        """``tree``'s top-level names, read once per file: a package star-importing 200 modules
        is asked for each of their 1,000 names, and rescanning every module for each was quadratic."""
        assert found.path is not None
        if found.path not in self._top_levels:
            bindings = _last_module_level_bindings(tree)
            exported = all_after_import(tree, lambda decorator: _imported_as(decorator, bindings, found),
                                        self._appends_to_all)
            self._top_levels[found.path] = _TopLevel(bindings, tuple(_star_imports(tree, found)), exported)
        return self._top_levels[found.path]

    def _appends_to_all(self, function: str) -> bool:
        """Whether the decorator imported as ``function`` appends each function it decorates to ``__all__``:
        timm's ``register_model``, or a repo's copy of it. Decided once per decorator: a zoo's 1,200 models
        share one, and walking its definition for each was a tenth of a second."""
        if function in TIMM_REGISTER_MODEL:
            return True
        if function not in self._decorators_appending:
            module, _, name = function.rpartition(".")
            definition = self.lookup(module, name).definition if module and self.is_local(module) else None
            self._decorators_appending[function] = isinstance(
                definition, (ast.FunctionDef, ast.AsyncFunctionDef)) and appends_decorated_to_all(definition)
        return self._decorators_appending[function]

    def _star_binds(self, module: str, name: str) -> bool:
        """Whether ``from module import *`` binds ``name`` (``__all__``, else public names); decided
        per module once, as it is asked for every name of every module a package star-imports."""
        if module not in self._star_filters:
            self._star_filters[module] = _star_filter(self, module)
        exported = self._star_filters[module]
        return not name.startswith("_") if exported is None else name in exported

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
        if isinstance(value, ast.Call) and found.local:
            built = built_class(self, found.name, value)
            callability = instance_callability(built[0]) if built is not None else Callability.UNKNOWN
            if callability is not Callability.UNKNOWN:
                return NameInfo(callability, path=found.path, module=found.name, local=found.local)
        return UNKNOWN


def _imported_as(expression: ast.expr, bindings: dict[str, ast.stmt], found: ModuleFile) -> str | None:
    """The dotted name ``expression`` (``register_model``, ``registry.register_model``) refers to through the
    module's top-level imports, or None when its first word is not imported."""
    words: list[str] = []
    while isinstance(expression, ast.Attribute):
        words.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        return None
    head = expression.id
    stmt = bindings.get(head)
    origin: str | None = None
    if isinstance(stmt, ast.ImportFrom):
        source = resolve_from_module(found, stmt)
        origin = next((f"{source}.{a.name}" for a in stmt.names if (a.asname or a.name) == head), None) \
            if source else None
    elif isinstance(stmt, ast.Import):
        origin = next((a.name if a.asname else head for a in stmt.names
                       if (a.asname or a.name.partition(".")[0]) == head), None)
    if origin is None:
        return None
    return ".".join([origin, *reversed(words)])


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


def _known_name_info(module: str, name: str) -> NameInfo:
    kind = known_name(module, name)
    if kind is not None:
        return NameInfo(kind.callability, module=module, instances=kind.instances)
    known = known_module(module)
    if known is not None and not known.described:
        return _by_spelling(name, f"hubcheck does not know what {module} defines")
    if known_module(f"{module}.{name}") is not None:
        return NOT_CALLABLE
    return _by_spelling(name, f"hubcheck's table of {module} has no {name}")


def _by_spelling(name: str, note: str) -> NameInfo:
    callability = callability_by_spelling(name)
    return NameInfo(callability, note=note if callability is Callability.UNKNOWN else "")


def _known(dotted: str) -> ModuleFile | None:
    known = known_module(dotted)
    return ModuleFile(dotted, None, (), local=False, has_source=False) if known is not None else None


def _compiled_modules(directory: Path) -> dict[str, Path]:
    """Module name -> compiled module file in ``directory`` (the first by name when several builds exist)."""
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return {}
    found: dict[str, Path] = {}
    for entry in entries:
        match = _COMPILED.match(entry)
        if match and match["stem"] not in found and os.path.isfile(directory / entry):
            found[match["stem"]] = directory / entry
    return found


def _last_module_level_bindings(tree: ast.Module) -> dict[str, ast.stmt]:
    """Name -> the last top-level statement (looking into if/try blocks) that binds it."""
    found: dict[str, ast.stmt] = {}
    for stmt in _flatten_module_statements(tree.body):
        for name in statement_bound_names(stmt):
            found[name] = stmt
    return found


# `try:` blocks, with `except*` (ast.TryStar) on Python 3.11 and later.
_TRY_NODES: tuple[type[ast.stmt], ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def _flatten_module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            if not never_true_under_torch_hub(stmt.test):
                yield from _flatten_module_statements(stmt.body)
            yield from _flatten_module_statements(stmt.orelse)
        elif isinstance(stmt, _TRY_NODES):
            yield from _flatten_module_statements(stmt.body)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                yield from _flatten_module_statements(handler.body)
            yield from _flatten_module_statements(stmt.orelse)  # type: ignore[attr-defined]
            yield from _flatten_module_statements(stmt.finalbody)  # type: ignore[attr-defined]


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


def _star_filter(index: ModuleIndex, module: str) -> frozenset[str] | None:
    """The names ``from module import *`` binds when they are listed (its ``__all__``; none when
    its source cannot be read), or None when it binds every public name."""
    found = index.find(module)
    if found is None or found.path is None or not found.has_source:
        return None
    tree = index.tree(found.path)
    if tree is None:
        return frozenset()
    exported = index.top_level(found, tree).exported
    return frozenset(exported) if exported is not None else None
