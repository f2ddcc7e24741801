"""The directories hubconf's own ``sys.path`` edits add, worked out without running anything.

Repos put their code on the import path from hubconf: silero-vad's
``sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src"))``, NVIDIA's
``sys.path.append(os.path.join(sys.path[0], "PyTorch/Forecasting/TFT"))``, HRNet's
``import tools._init_paths`` whose ``add_path(osp.join(this_dir, "..", "lib"))`` inserts
``lib/``. Modules found there are the repo's own, not third-party packages.

Only what is static is followed: string constants, ``__file__``, ``sys.path[0]`` (the
repo, where torch.hub puts it), ``os.path`` ``join``/``dirname``/``abspath``/``realpath``/
``normpath``, ``pathlib.Path`` with ``/``, ``.parent``, ``.parents[n]``, ``.resolve()``, names
bound to such values at module level, and module-level helper functions that pass a parameter
to ``sys.path.insert``/``append``. The edits of hubconf and of the repo modules it imports at
its top level count (bounded), in statement order. A directory outside the repo, or one
that does not exist, is ignored: nothing outside the repo is ever looked at. An edit whose
directory is not static is remembered as such: what it adds is unknown.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hubcheck.static.names import FileNames
from hubcheck.static.syntax import dotted_name, live_statements

# Repo modules imported from hubconf's top level whose own edits are followed, at most.
_MAX_MODULES = 16

_OS_PATH_CALLS = frozenset({"join", "dirname", "abspath", "realpath", "normpath"})
_SYS_PATH_METHODS = frozenset({"insert", "append", "extend", "remove", "pop", "clear"})
SYS_PATH_EDIT_NODES = (ast.Call, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)
"""The node types :func:`edits_sys_path` can be true of."""
_PATH_METHODS = frozenset({"resolve", "absolute"})


@dataclass(frozen=True)
class SearchPath:
    """Where hubconf's edits put directories relative to the repo on ``sys.path``."""

    before_repo: tuple[Path, ...] = ()
    """``sys.path.insert(0, d)``: searched before the repo itself, the latest insert first."""
    after_repo: tuple[Path, ...] = ()
    """``sys.path.append(d)`` and inserts at a later position: searched after the repo and
    after installed packages (so a name hubcheck knows as a third-party module wins)."""
    unresolved: bool = False
    """Some edit that runs adds a directory that is not static: what it makes importable is unknown."""


def edits_sys_path(node: ast.AST, names: FileNames) -> bool:
    """Whether ``node`` changes ``sys.path``: ``sys.path.insert/append/extend/remove/pop/clear``,
    an assignment to ``sys.path`` or ``sys.path[...]`` (augmented too), ``del sys.path[...]``,
    ``site.addsitedir``, under any import alias."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _SYS_PATH_METHODS:
            return names.qualified(func.value) == "sys.path"
        return names.qualified(func) == "site.addsitedir"
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        return any(
            names.qualified(target.value if isinstance(target, ast.Subscript) else target) == "sys.path"
            for target in targets
        )
    return False


# Finds a repo module's file (``__init__.py`` for a package) for an import, given the
# directories added so far; None when it is not a repo source file.
ModuleLocator = Callable[[str, "SearchPath"], "Path | None"]


def hubconf_search_path(repo_root: Path, hubconf: ast.Module, read: Callable[[Path], ast.Module | None],
                        locate: ModuleLocator) -> SearchPath:
    """The directories hubconf's top level (and the repo modules it imports there) add to ``sys.path``."""
    edits = _Edits(repo_root.resolve(), read, locate)
    edits.run_module(repo_root / "hubconf.py", hubconf)
    return edits.search_path()


class _Edits:
    def __init__(self, repo_root: Path, read: Callable[[Path], ast.Module | None], locate: ModuleLocator) -> None:
        self.repo_root = repo_root
        self.read = read
        self.locate = locate
        self.before: list[Path] = []
        self.after: list[Path] = []
        self.visited: set[Path] = set()
        self.unresolved = False

    def search_path(self) -> SearchPath:
        return SearchPath(tuple(self.before), tuple(self.after), self.unresolved)

    def run_module(self, path: Path, tree: ast.Module) -> None:
        self.visited.add(path)
        scope = _ModuleScope(path, self.repo_root)
        for stmt in live_statements(tree.body, into_definitions=False):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope.note_helper(stmt)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                scope.note_import(stmt)
                self._follow_import(stmt)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                scope.bind(stmt.targets[0].id, scope.value(stmt.value))
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                for position, directory in scope.edits(stmt.value):
                    if directory is None:
                        self.unresolved = True
                    else:
                        self._add(position, directory)

    def _follow_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.ImportFrom) and stmt.level:
            return
        modules = [alias.name for alias in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        for module in modules:
            if not module or len(self.visited) > _MAX_MODULES:
                continue
            path = self.locate(module, self.search_path())
            tree = self.read(path) if path is not None and path not in self.visited else None
            if path is not None and tree is not None:
                self.run_module(path, tree)

    def _add(self, position: int | None, directory: str) -> None:
        resolved = Path(os.path.normpath(directory))
        if not resolved.is_absolute() or not resolved.is_relative_to(self.repo_root) or not resolved.is_dir():
            return
        if position == 0:
            if resolved not in self.before:
                self.before.insert(0, resolved)
        elif resolved not in self.after and resolved != self.repo_root:
            self.after.append(resolved)


class _ModuleScope:
    """One module's static names: path values, module aliases and ``sys.path`` helper functions."""

    def __init__(self, path: Path, repo_root: Path) -> None:
        self.file = str(path.absolute())
        self.repo_root = str(repo_root)
        self.values: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        """Local name -> the dotted module or function it stands for (``osp`` -> ``os.path``)."""
        self.helpers: dict[str, list[tuple[int | None, int]]] = {}
        """Function name -> (sys.path position, parameter index) for each parameter it adds."""

    def note_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        for alias in stmt.names:
            if isinstance(stmt, ast.Import):
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    self.aliases[top] = top
            elif not stmt.level and stmt.module:
                self.aliases[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"

    def note_helper(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        parameters = [arg.arg for arg in function.args.posonlyargs + function.args.args]
        added = []
        for node in _walk_function(function):
            if isinstance(node, ast.Call):
                edit = self._edit_call(node)
                if edit is not None and isinstance(edit[1], ast.Name) and edit[1].id in parameters:
                    added.append((edit[0], parameters.index(edit[1].id)))
        if added:
            self.helpers[function.name] = added
        else:
            self.helpers.pop(function.name, None)

    def bind(self, name: str, value: str | None) -> None:
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value

    def edits(self, call: ast.Call) -> Iterator[tuple[int | None, str | None]]:
        """(position, directory) for each directory this top-level call adds to ``sys.path``; the
        directory is None when it is not static."""
        edit = self._edit_call(call)
        if edit is not None:
            yield edit[0], self.value(edit[1])
            return
        if isinstance(call.func, ast.Name) and call.func.id in self.helpers:
            for position, index in self.helpers[call.func.id]:
                yield position, self.value(call.args[index]) if index < len(call.args) else None

    def _edit_call(self, call: ast.Call) -> tuple[int | None, ast.expr] | None:
        """(position, added expression) when ``call`` is ``sys.path.insert(i, x)`` or ``sys.path.append(x)``."""
        func = call.func
        if not isinstance(func, ast.Attribute) or self._qualified(func.value) != "sys.path" or call.keywords:
            return None
        if func.attr == "append" and len(call.args) == 1:
            return None, call.args[0]
        if func.attr == "insert" and len(call.args) == 2:
            where = call.args[0]
            position = where.value if isinstance(where, ast.Constant) and isinstance(where.value, int) else None
            return position, call.args[1]
        return None

    def _qualified(self, node: ast.expr) -> str | None:
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, dot, rest = dotted.partition(".")
        resolved = self.aliases.get(head)
        if resolved is None:
            return None
        return resolved + dot + rest

    def value(self, node: ast.expr) -> str | None:
        """The path ``node`` evaluates to, when it is static; None otherwise."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.file if node.id == "__file__" else self.values.get(node.id)
        if isinstance(node, ast.Subscript) and self._qualified(node.value) == "sys.path" \
                and isinstance(node.slice, ast.Constant) and node.slice.value == 0:
            return self.repo_root
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.value(node.left), self.value(node.right)
            return os.path.join(left, right) if left is not None and right is not None else None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.value(node.value)
            return os.path.dirname(os.path.normpath(inner)) if inner is not None else None
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
                and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int and node.slice.value >= 0):
            inner = self.value(node.value.value)
            if inner is None:
                return None
            directory = os.path.normpath(inner)
            for _ in range(node.slice.value + 1):
                directory = os.path.dirname(directory)
            return directory
        if isinstance(node, ast.Call) and not node.keywords:
            return self._call_value(node)
        return None

    def _call_value(self, call: ast.Call) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _PATH_METHODS and not call.args:
            inner = self.value(func.value)
            return os.path.normpath(inner) if inner is not None and os.path.isabs(inner) else None
        qualified = "str" if isinstance(func, ast.Name) and func.id == "str" else self._qualified(func)
        arguments = [self.value(argument) for argument in call.args]
        if qualified is None or any(argument is None for argument in arguments) or not arguments:
            return None
        values = [argument for argument in arguments if argument is not None]
        module, _, function = qualified.rpartition(".")
        if module in ("os.path", "posixpath") and function in _OS_PATH_CALLS:
            if function == "join":
                return os.path.join(*values)
            if len(values) != 1:
                return None
            if function == "dirname":
                return os.path.dirname(values[0])
            # abspath/realpath of a relative path depend on the working directory: not static.
            return os.path.normpath(values[0]) if os.path.isabs(values[0]) else None
        if qualified in ("pathlib.Path", "pathlib.PurePath", "os.fspath", "str") and len(values) == 1:
            return values[0]
        return None


def _walk_function(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Every node of a function's body, not entering nested definitions."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
