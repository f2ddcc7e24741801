"""Rules about how reached code loads weights and picks devices (HUB201-HUB205).

Every rule here looks only at code torch.hub users actually run (``ctx.units``)
and recognises torch's functions under whatever name a file imports them by
(``import torch as T``, ``from torch.hub import load_state_dict_from_url as lsd``).
The name-resolution helpers at the top are shared with the import-time rules.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.reach import CodeUnit
from hubcheck.static.syntax import dotted_name

# -- which torch function a call names --------------------------------------------------

# Other spellings of the same function, mapped to one canonical name.
# torch.utils.model_zoo.load_url *is* torch.hub.load_state_dict_from_url, and
# older torchvision re-exported it from two private places.
_CANONICAL = {
    "torch.serialization.load": "torch.load",
    "torch.utils.model_zoo.load_url": "torch.hub.load_state_dict_from_url",
    "torchvision.models.utils.load_state_dict_from_url": "torch.hub.load_state_dict_from_url",
    "torchvision._internally_replaced_utils.load_state_dict_from_url": "torch.hub.load_state_dict_from_url",
    "torch.utils.model_zoo.download_url_to_file": "torch.hub.download_url_to_file",
    "builtins.open": "open",
    "io.open": "open",
    "pathlib.PurePath": "pathlib.Path",
    "pathlib.PosixPath": "pathlib.Path",
    "pathlib.WindowsPath": "pathlib.Path",
    "posixpath.join": "os.path.join",
}

TORCH_LOAD = "torch.load"
LOAD_STATE_DICT_FROM_URL = "torch.hub.load_state_dict_from_url"
DOWNLOAD_URL_TO_FILE = "torch.hub.download_url_to_file"

_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)

# A splat (``*args`` / ``**kwargs``) may or may not pass a parameter.
_MAYBE = ast.Constant(value=Ellipsis)


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as, from every absolute import in the file.

    Function-level imports count too: a file that imports a name inside a
    function nearly always means the same thing by it everywhere.
    """
    aliases: dict[str, str] = {}
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _statements(body: list[ast.stmt]):
    """Every statement, at any depth: imports are statements, so this skips the far more numerous expressions."""
    pending = list(reversed(body))
    while pending:
        stmt = pending.pop()
        yield stmt
        blocks = [getattr(stmt, name, None) for name in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(stmt, "handlers", ()) or ()]
        blocks += [case.body for case in getattr(stmt, "cases", ()) or ()]
        for block in reversed(blocks):
            if isinstance(block, list):
                pending.extend(reversed(block))


def _argument(call: ast.Call, position: int | None, keyword: str | None) -> ast.expr | None:
    """What a call passes for one parameter: the expression, None when surely nothing, or ``_MAYBE``.

    ``position`` is the parameter's index among positional arguments (None for
    keyword-only parameters). A ``*args`` or ``**kwargs`` splat that could fill
    the parameter gives ``_MAYBE``.
    """
    for keyword_arg in call.keywords:
        if keyword is not None and keyword_arg.arg == keyword:
            return keyword_arg.value
    if position is not None:
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return _MAYBE
            if index == position:
                return arg
    if any(keyword_arg.arg is None for keyword_arg in call.keywords):
        return _MAYBE
    return None


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _short(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` or ``TYPE_CHECKING``: a body that never runs under torch.hub."""
    if dotted_name(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = (test.left, test.comparators[0])
        return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
                and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))
    return False


def _never_runs_under_hub(node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether ``node`` sits in the body of an ``if __name__ == "__main__":`` (or ``TYPE_CHECKING``) block."""
    for position, ancestor in enumerate(ancestors):
        if isinstance(ancestor, ast.If) and _is_main_guard(ancestor.test):
            child = ancestors[position + 1] if position + 1 < len(ancestors) else node
            if any(child is stmt for stmt in ancestor.body):
                return True
    return False


def _enclosing_functions(ancestors: tuple[ast.AST, ...]) -> tuple[ast.AST, ...]:
    """The functions around a node, innermost first."""
    return tuple(a for a in reversed(ancestors) if isinstance(a, _FUNCTION_NODES))


@dataclass
class _Scope:
    """The names one function (or a module's top level) binds, with the value of each simple assignment."""

    params: frozenset[str] = frozenset()
    stores: dict[str, list[tuple[ast.expr | None, int]]] = field(default_factory=dict)
    """name -> (assigned value or None when not a plain ``name = value``, line) for each binding."""
    declared_global: frozenset[str] = frozenset()
    declared_nonlocal: frozenset[str] = frozenset()


def _build_scope(node: ast.AST) -> _Scope:
    if isinstance(node, _FUNCTION_NODES):
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    else:
        params, body = set(), list(node.body)
    scope = _Scope(frozenset(params))
    values: dict[int, ast.expr] = {}
    declared: dict[type, set[str]] = {ast.Global: set(), ast.Nonlocal: set()}
    stack = list(reversed(body))
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # Their bodies are other scopes; only the name is bound here.
            scope.stores.setdefault(current.name, []).append((None, current.lineno))
            continue
        if isinstance(current, ast.Lambda):
            continue
        if isinstance(current, (ast.Global, ast.Nonlocal)):
            declared[type(current)].update(current.names)
        elif isinstance(current, ast.Assign):
            for target in current.targets:
                if isinstance(target, ast.Name):
                    values[id(target)] = current.value
        elif isinstance(current, (ast.AnnAssign, ast.NamedExpr)) and isinstance(current.target, ast.Name):
            if current.value is not None:
                values[id(current.target)] = current.value
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            for alias in current.names:
                name = alias.asname or alias.name.partition(".")[0]
                scope.stores.setdefault(name, []).append((None, current.lineno))
        elif isinstance(current, ast.ExceptHandler) and current.name:
            scope.stores.setdefault(current.name, []).append((None, current.lineno))
        elif isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del)):
            scope.stores.setdefault(current.id, []).append((values.get(id(current)), current.lineno))
        stack.extend(reversed(list(ast.iter_child_nodes(current))))
    scope.declared_global = frozenset(declared[ast.Global])
    scope.declared_nonlocal = frozenset(declared[ast.Nonlocal])
    return scope


class _FileNames:
    """How the names of one file resolve: import aliases, and what simple assignments bind."""

    def __init__(self, tree: ast.Module | None) -> None:
        self.tree = tree
        self.aliases = _import_aliases(tree) if tree is not None else {}
        self._scopes: dict[int, _Scope] = {}
        self._module_globals: frozenset[str] | None = None

    def qualified(self, expr: ast.expr) -> str | None:
        """The canonical dotted name an expression refers to (``T.load`` -> ``torch.load``), or None."""
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, dot, rest = dotted.partition(".")
        full = self.aliases.get(head, head) + dot + rest
        return _CANONICAL.get(full, full)

    def imports_from(self, *modules: str) -> bool:
        """Whether the file binds any of these modules, or a name from one, anywhere."""
        return any(value == m or value.startswith(m + ".") for value in self.aliases.values() for m in modules)

    def scope(self, node: ast.AST) -> _Scope:
        if id(node) not in self._scopes:
            self._scopes[id(node)] = _build_scope(node)
        return self._scopes[id(node)]

    def _declared_global_anywhere(self) -> frozenset[str]:
        if self._module_globals is None:
            names: set[str] = set()
            if self.tree is not None:
                for node in ast.walk(self.tree):
                    if isinstance(node, ast.Global):
                        names.update(node.names)
            self._module_globals = frozenset(names)
        return self._module_globals

    def bindings(self, name: str, chain: tuple[ast.AST, ...]) -> tuple[list[tuple[ast.expr | None, int]], tuple[ast.AST, ...]] | None:
        """Where ``name`` is bound as seen from code inside ``chain`` (functions, innermost first).

        Returns the bindings of the scope that owns the name and the chain of
        that scope, or None when the name is a parameter or bound nowhere in
        the file (a builtin, ``__file__``, a name from a star import).
        """
        for position, function in enumerate(chain):
            scope = self.scope(function)
            if name in scope.declared_global:
                break
            if name in scope.declared_nonlocal:
                continue
            if name in scope.params:
                return None
            if name in scope.stores:
                return scope.stores[name], chain[position:]
        if self.tree is None:
            return None
        module = self.scope(self.tree)
        if name not in module.stores:
            return None
        stores = module.stores[name]
        if name in self._declared_global_anywhere():
            stores = stores + [(None, 0)]
        return stores, ()

    def single_value(self, name: str, chain: tuple[ast.AST, ...], line: int) -> tuple[ast.expr, tuple[ast.AST, ...]] | None:
        """The value of ``name`` when it is bound exactly once, by a plain assignment that runs before ``line``."""
        found = self.bindings(name, chain)
        if found is None:
            return None
        stores, owner = found
        if len(stores) != 1 or stores[0][0] is None:
            return None
        value, assigned_at = stores[0]
        # Module constants read inside a function are assigned before the function runs.
        if (owner or not chain) and assigned_at >= line:
            return None
        return value, owner

    # -- literal strings ------------------------------------------------------------

    def literal(self, expr: ast.expr, chain: tuple[ast.AST, ...], depth: int = 0) -> str | None:
        """The string an expression always evaluates to, or None when it depends on anything at run time.

        Follows f-strings, ``+``, ``os.path.join``, ``Path(...)``, ``/`` and
        names bound once to such an expression; anything involving ``__file__``,
        a parameter, the environment or any other call is not a literal.
        """
        if depth > 8:
            return None
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else None
        if isinstance(expr, ast.JoinedStr):
            parts = []
            for value in expr.values:
                part = self.literal(value.value if isinstance(value, ast.FormattedValue) else value, chain, depth + 1)
                if part is None:
                    return None
                parts.append(part)
            return "".join(parts)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Div)):
            left = self.literal(expr.left, chain, depth + 1)
            right = self.literal(expr.right, chain, depth + 1) if left is not None else None
            if right is None:
                return None
            return left + right if isinstance(expr.op, ast.Add) else posixpath.join(left, right)
        if isinstance(expr, ast.Name):
            found = self.single_value(expr.id, chain, expr.lineno)
            return self.literal(found[0], found[1], depth + 1) if found else None
        if isinstance(expr, ast.Call) and not expr.keywords:
            return self._literal_call(expr, chain, depth)
        return None

    def _literal_call(self, call: ast.Call, chain: tuple[ast.AST, ...], depth: int) -> str | None:
        if isinstance(call.func, ast.Attribute) and call.func.attr == "joinpath":
            base = self.literal(call.func.value, chain, depth + 1)
            parts = [self.literal(arg, chain, depth + 1) for arg in call.args]
            return None if base is None or None in parts else posixpath.join(base, *parts)
        name = self.qualified(call.func)
        if name not in ("os.path.join", "pathlib.Path", "str", "os.fspath", "os.path.normpath"):
            return None
        parts = [self.literal(arg, chain, depth + 1) for arg in call.args]
        if None in parts or any(isinstance(arg, ast.Starred) for arg in call.args):
            return None
        if not parts:
            return "." if name == "pathlib.Path" else None
        if name == "os.path.normpath":
            return posixpath.normpath(parts[0])
        return posixpath.join(*parts)

    def literal_candidates(self, expr: ast.expr, chain: tuple[ast.AST, ...]) -> list[str]:
        """Every string ``expr`` may be: its literal value, or for ``TABLE[key]`` on a literal dict, its values."""
        value = self.literal(expr, chain)
        if value is not None:
            return [value]
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
            found = self.single_value(expr.value.id, chain, expr.lineno)
            if found and isinstance(found[0], ast.Dict):
                table, owner = found
                key = self.literal(expr.slice, chain)
                if key is not None:
                    for dict_key, dict_value in zip(table.keys, table.values):
                        if dict_key is not None and self.literal(dict_key, owner) == key:
                            return [v] if (v := self.literal(dict_value, owner)) is not None else []
                    return []
                return [v for v in (self.literal(item, owner) for item in table.values) if v is not None]
        return []


def _span(path: Path, node: ast.AST) -> tuple:
    return (path, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


class _Reached:
    """The reached code of one lint run, walked once and shared by the rules here and in import_time.py.

    Every rule is handed the same LintContext; deriving this again for each of
    nine rules made them most of a large repo's lint time, so it is memoised on
    the context.
    """

    def __init__(self, ctx: LintContext) -> None:
        self._model = ctx.model
        self._index = ctx.index
        self._units = ctx.units
        self._files: dict[Path, _FileNames] = {}
        self._ctx_calls = tuple(ctx.calls())
        self.nodes: tuple[tuple[CodeUnit, ast.AST, tuple[ast.AST, ...]], ...] = tuple(ctx.nodes())
        """Every node of every reached unit, as ``ctx.nodes()`` gives them."""
        self.calls: tuple[tuple[CodeUnit, ast.Call, tuple[ast.AST, ...], _FileNames], ...] = tuple(self._calls())
        """Every call that can run under torch.hub, once each, with its file's names."""

    def file(self, path: Path) -> _FileNames:
        """How names resolve in one file of the repo."""
        if path not in self._files:
            model = self._model
            tree = model.tree if model is not None and path == model.path else self._index.tree(path)
            self._files[path] = _FileNames(tree)
        return self._files[path]

    def _calls(self):
        for unit, node, ancestors in self._ctx_calls:
            if not _never_runs_under_hub(node, ancestors):
                yield unit, node, ancestors, self.file(unit.path)

    @cached_property
    def hubconf_units(self) -> frozenset[int]:
        """``id()`` of the units that are hubconf.py code (comparing paths per node is slow)."""
        model = self._model
        return frozenset(id(u) for u in self._units if model is not None and u.path == model.path)

    @cached_property
    def hubconf_nodes(self) -> tuple[tuple[ast.AST, tuple[ast.AST, ...], str | None], ...]:
        """Every node of hubconf.py, reached or not, with its ancestors and the entry point reaching it.

        Reached code comes from the shared walk (ancestors start at its unit, as
        in ``ctx.nodes()``); only the functions and methods nothing reaches are
        walked again.
        """
        model = self._model
        if model is None:
            return ()
        found: list[tuple[ast.AST, tuple[ast.AST, ...], str | None]] = []
        seen: set[int] = set()
        hubconf_units = self.hubconf_units
        for unit, node, ancestors in self.nodes:
            if id(unit) in hubconf_units and id(node) not in seen:
                seen.add(id(node))
                found.append((node, ancestors, unit.entrypoint))
        covered = {id(u.node) for u in self._units if id(u) in hubconf_units and not u.import_time}
        for function, ancestors in _unreached_functions(model.tree.body, (model.tree,), covered):
            found.append((function, ancestors, None))
            found.extend((node, ancestors + inner, None) for node, inner in _walk_with_ancestors(function))
        return tuple(found)


def _unreached_functions(body: list[ast.stmt], ancestors: tuple[ast.AST, ...], covered: set[int]):
    """Functions and methods in these statements whose bodies no reached unit walks."""
    for stmt in body:
        if id(stmt) in covered:
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield stmt, ancestors
            continue
        inner = ancestors + (stmt,)
        for field_name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, field_name, None)
            if isinstance(block, list):
                yield from _unreached_functions(block, inner, covered)
        for handler in getattr(stmt, "handlers", ()) or ():
            yield from _unreached_functions(handler.body, inner + (handler,), covered)
        for case in getattr(stmt, "cases", ()) or ():
            yield from _unreached_functions(case.body, inner + (case,), covered)


def _walk_with_ancestors(root: ast.AST):
    """Every node below ``root`` with its ancestors from ``root`` down (outermost first)."""
    stack: list[tuple[ast.AST, tuple[ast.AST, ...]]] = [(root, ())]
    while stack:
        node, ancestors = stack.pop()
        inner = ancestors + (node,)
        for child in reversed(list(ast.iter_child_nodes(node))):
            stack.append((child, inner))
        if node is not root:
            yield node, ancestors


def _reached(ctx: LintContext) -> _Reached:
    """The shared walk of ``ctx``'s reached code, made on first use."""
    return ctx.memo(_Reached, lambda: _Reached(ctx))


def _at(unit: CodeUnit, node: ast.AST, args: dict) -> Violation:
    return Violation(unit.path, node.lineno, node.col_offset + 1, args, unit.entrypoint)


# -- HUB201 / HUB202: torch.load and friends -----------------------------------------------

# (position, keyword) of map_location in each loader's signature.
_MAP_LOCATION = {
    TORCH_LOAD: (1, "map_location"),
    LOAD_STATE_DICT_FROM_URL: (2, "map_location"),
}


@rule(
    code="HUB201",
    name="torch-load-without-map-location",
    severity=Severity.WARNING,
    message="`{call}(...)` {problem}: weights saved on a GPU fail to load on CPU-only machines",
    fix="pass `map_location=\"cpu\"` (or the device the model goes to) to `{call}`",
)
def torch_load_without_map_location(ctx: LintContext):
    """
    ## What it does
    Checks that reached code passes `map_location` when it loads weights.

    Covers `torch.load`, `torch.hub.load_state_dict_from_url` and
    `torch.utils.model_zoo.load_url`, under any import alias, in code that
    torch.hub users run. `map_location` counts when given by keyword or as
    `torch.load`'s 2nd / `load_state_dict_from_url`'s 3rd positional
    argument. An explicit `map_location=None` is the default and counts as
    missing; a `*args` / `**kwargs` splat may pass it and is not flagged.

    ## Why is this bad?
    Without `map_location`, tensors come back on the device they were saved
    from. A checkpoint saved from a GPU then fails on every CPU-only machine
    with "Attempting to deserialize object on a CUDA device but
    torch.cuda.is_available() is False". About a quarter of public hub repos
    call `load_state_dict_from_url` this way, and nobody with a GPU notices.

    ## Example
    ```python
    def resnet18(pretrained=True):
        model = ResNet18()
        if pretrained:
            model.load_state_dict(load_state_dict_from_url(URLS["resnet18"], check_hash=True))
        return model
    ```

    ## Use instead
    ```python
    def resnet18(pretrained=True):
        model = ResNet18()
        if pretrained:
            model.load_state_dict(load_state_dict_from_url(URLS["resnet18"], map_location="cpu", check_hash=True))
        return model
    ```

    ## References
    - https://pytorch.org/docs/stable/generated/torch.load.html
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load_state_dict_from_url
    """
    for unit, call, _, names in _reached(ctx).calls:
        target = _MAP_LOCATION.get(names.qualified(call.func))
        if target is None:
            continue
        passed = _argument(call, *target)
        if passed is None or _is_constant(passed, None):
            problem = "has no map_location" if passed is None else "passes map_location=None"
            yield _at(unit, call, {"call": ast.unparse(call.func), "problem": problem})


@rule(
    code="HUB202",
    name="torch-load-without-weights-only",
    severity=Severity.WARNING,
    message="`{call}(...)` leaves weights_only to torch's default, which flipped in torch 2.6 from False "
            "(unpickles and runs arbitrary code) to True (rejects non-tensor objects)",
    fix="pass `weights_only=True` to `{call}` (or `weights_only=False` only for a checkpoint you made "
        "yourself that holds more than tensors)",
)
def torch_load_without_weights_only(ctx: LintContext):
    """
    ## What it does
    Checks that reached code says `weights_only=` whenever it calls `torch.load`.

    Covers `torch.load` under any import alias (`torch.serialization.load`
    too). A `**kwargs` splat may pass it and is not flagged; an explicit
    `weights_only=False` is a decision and is not flagged either.

    ## Why is this bad?
    Until torch 2.5, `torch.load` unpickled anything, running whatever code
    the file names; from 2.6 the default is `weights_only=True`, which
    refuses checkpoints holding arbitrary Python objects (an argparse
    Namespace, a whole pickled model). The same hub entry point then works
    on one torch version and fails, or silently runs pickled code, on the
    other. Saying which one is meant makes it behave the same everywhere.

    ## Example
    ```python
    state = torch.load(path, map_location="cpu")
    ```

    ## Use instead
    ```python
    state = torch.load(path, map_location="cpu", weights_only=True)
    ```

    ## References
    - https://pytorch.org/docs/stable/generated/torch.load.html
    - https://dev-discuss.pytorch.org/t/bc-breaking-change-torch-load-is-being-flipped-to-use-weights-only-true-by-default-in-the-nightlies-after-137602/2573
    """
    for unit, call, _, names in _reached(ctx).calls:
        if names.qualified(call.func) == TORCH_LOAD and _argument(call, None, "weights_only") is None:
            yield _at(unit, call, {"call": ast.unparse(call.func)})


# -- HUB203: paths relative to the working directory -----------------------------------------

# Functions that take a file path: (position, keyword) of the path parameter.
_PATH_PARAMETERS = {
    TORCH_LOAD: (0, "f"),
    "torch.jit.load": (0, "f"),
    "torch.save": (1, "f"),
    "open": (0, "file"),
    "pathlib.Path": (0, None),
    "numpy.load": (0, "file"),
    "numpy.loadtxt": (0, "fname"),
    "numpy.genfromtxt": (0, "fname"),
    "numpy.fromfile": (0, "file"),
    "numpy.save": (0, "file"),
    "os.path.exists": (0, "path"),
    "os.path.isfile": (0, "path"),
    "os.path.isdir": (0, "s"),
    "os.path.getsize": (0, "filename"),
    "os.path.abspath": (0, "path"),
    "os.path.realpath": (0, "filename"),
    "os.listdir": (0, "path"),
    "os.makedirs": (0, "name"),
    "os.mkdir": (0, "path"),
    "glob.glob": (0, "pathname"),
    "PIL.Image.open": (0, "fp"),
    "cv2.imread": (0, "filename"),
    "safetensors.torch.load_file": (0, "filename"),
    "safetensors.numpy.load_file": (0, "filename"),
    "safetensors.safe_open": (0, "filename"),
    LOAD_STATE_DICT_FROM_URL: (1, "model_dir"),
    DOWNLOAD_URL_TO_FILE: (1, "dst"),
}

# ``Path("model.pth").stem`` manipulates a name; it never touches the file system.
_PURE_PATH_ATTRIBUTES = frozenset({"name", "stem", "suffix", "suffixes", "parts", "with_suffix", "with_name", "with_stem"})
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _is_cwd_relative(path: str) -> bool:
    """Whether a path string resolves against the working directory (not absolute, ``~``, a URL or empty)."""
    return bool(path) and not (
        path.startswith(("/", "\\", "~")) or "://" in path or _WINDOWS_ABSOLUTE.match(path)
    )


def _anchored(function: str, path: str) -> str:
    """Where the path should live: next to the code, or in torch.hub's cache for downloads."""
    if function in (LOAD_STATE_DICT_FROM_URL, DOWNLOAD_URL_TO_FILE):
        return f'os.path.join(torch.hub.get_dir(), "{path}")'
    return f'Path(__file__).resolve().parent / "{path}"'


def _path_argument_is_not_a_use(call: ast.Call, ancestors: tuple[ast.AST, ...]) -> bool:
    """``base / Path("w.pth")`` and ``Path("w.pth").stem`` build or split names; they open nothing."""
    parent = ancestors[-1] if ancestors else None
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div) and parent.right is call:
        return True
    return isinstance(parent, ast.Attribute) and parent.attr in _PURE_PATH_ATTRIBUTES


@rule(
    code="HUB203",
    name="cwd-relative-path",
    severity=Severity.ERROR,
    message="`{call}` gets the relative path {path!r}, which resolves against the user's working "
            "directory, not the repo",
    fix="anchor it to a fixed location: `{anchored}`",
)
def cwd_relative_path(ctx: LintContext):
    """
    ## What it does
    Checks for file paths that are relative to the working directory in reached code.

    Looks at the path given to functions that open, test or create files:
    `torch.load`, `open` (reading or writing), `pathlib.Path`, `np.load`,
    `os.path.exists` / `isfile`, `PIL.Image.open`, safetensors' `load_file`,
    the `model_dir` of `load_state_dict_from_url`, the `dst` of
    `download_url_to_file`, and similar. A path is flagged when it is a
    string literal, or an f-string, `+`, `/` or `os.path.join` chain of
    literals, or a name bound once to one (at module level, or earlier in
    the same function), and is not absolute, `~`-prefixed, a URL or empty.
    Paths built from `__file__`, `torch.hub.get_dir()`, environment
    variables or parameters are not flagged, nor is a `Path("x")` that only
    joins onto another path (`base / Path("x")`) or splits a name
    (`Path("x").stem`). A name bound more than once, or a class attribute
    (`self.WEIGHTS`), is not followed.

    ## Why is this bad?
    torch.hub does not change the working directory: it imports hubconf from
    its cache folder and calls the entry point in the user's process. A
    relative path resolves against wherever the user started Python, so
    `torch.load("model_wt.pth")`, straight from the PyTorch Hub tutorial,
    works in the repo's own checkout and raises FileNotFoundError for
    everyone else (or, worse, loads an unrelated file of the same name).

    ## Example
    ```python
    def custom_model(pretrained=True):
        model = MLP()
        if pretrained:
            model.load_state_dict(torch.load("model_wt.pth", map_location="cpu", weights_only=True))
        return model
    ```

    ## Use instead
    ```python
    import os

    _HERE = os.path.dirname(os.path.abspath(__file__))

    def custom_model(pretrained=True):
        model = MLP()
        if pretrained:
            weights = os.path.join(_HERE, "model_wt.pth")
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return model
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load
    - torch/hub.py `_load_local`: hubconf is imported from the cache folder; `os.chdir` is never called
    """
    covered: set[int] = set()
    for unit, call, ancestors, names in _reached(ctx).calls:
        if id(call) in covered:
            continue
        name = names.qualified(call.func)
        parameter = _PATH_PARAMETERS.get(name)
        if parameter is None:
            continue
        argument = _argument(call, *parameter)
        if argument is None or argument is _MAYBE:
            continue
        chain = _enclosing_functions(ancestors)
        if name == "pathlib.Path":
            if _path_argument_is_not_a_use(call, ancestors):
                continue
            # `Path("weights", "resnet.pth")`: name the whole path when every part is known.
            argument = call if names.literal(call, chain) is not None else argument
        path = names.literal(argument, chain)
        if path is not None and _is_cwd_relative(path):
            # `torch.load(Path("w.pth"))` is one problem, reported at the outer call.
            covered.update(id(inner) for inner in ast.walk(argument))
            yield _at(unit, call, {"call": ast.unparse(call.func), "path": path, "anchored": _anchored(name, path)})


# -- HUB204: CUDA without a check ------------------------------------------------------------

# Calls whose result says whether CUDA can be used.
_CUDA_PROBES = frozenset({"is_available", "device_count"})
# Parts of names that say "this is about the device": `use_gpu`, `useGPU`, `device`, `cuda`, `args.cpu`.
_DEVICE_WORDS = ("gpu", "cuda", "device", "cpu", "maplocation")
# Exceptions raised by `.cuda()` where CUDA is missing (RuntimeError, or AssertionError on CPU-only builds).
_CUDA_FAILURES = frozenset({"Exception", "BaseException", "RuntimeError", "AssertionError"})


def _is_device_name(name: str) -> bool:
    normalized = name.lower().replace("_", "")
    return normalized == "dev" or any(word in normalized for word in _DEVICE_WORDS)


def _is_cuda_literal(node: ast.expr | None) -> bool:
    """``"cuda"``, ``"cuda:0"`` or ``f"cuda:{rank}"``."""
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
        node.value == "cuda" or node.value.startswith("cuda:")
    )


def _cuda_use(call: ast.Call, names: _FileNames) -> bool:
    """Whether a call puts something on CUDA by a hard-coded choice."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "cuda" and names.qualified(func.value) != "torch":
        device = _argument(call, 0, "device")
        return device is None or _is_cuda_literal(device) or (
            isinstance(device, ast.Constant) and isinstance(device.value, int) and not isinstance(device.value, bool)
        )
    if isinstance(func, ast.Attribute) and func.attr == "to":
        return _is_cuda_literal(_argument(call, 0, "device"))
    if names.qualified(func) == "torch.device":
        return _is_cuda_literal(_argument(call, 0, "type"))
    if names.qualified(func) == "torch.set_default_device":
        return _is_cuda_literal(_argument(call, 0, "device"))
    return any(kw.arg in ("device", "map_location") and _is_cuda_literal(kw.value) for kw in call.keywords)


class _CudaGuards:
    """Whether a CUDA call is protected by a check, per the rules HUB204 documents."""

    def __init__(self, names: _FileNames) -> None:
        self.names = names

    def is_guard(self, test: ast.expr, chain: tuple[ast.AST, ...], depth: int = 0) -> bool:
        """Whether a condition refers to CUDA being available or to a device setting."""
        # `model.cuda()` or `torch.device(...)` in a condition (or in a value assigned to a
        # name the condition reads) does something with a device; it does not check one.
        methods = {id(node.func) for node in ast.walk(test) if isinstance(node, ast.Call)}
        for node in ast.walk(test):
            if isinstance(node, ast.Attribute):
                if node.attr in _CUDA_PROBES and (dotted_name(node.value) or "").endswith("cuda"):
                    return True
                if _is_device_name(node.attr) and id(node) not in methods and dotted_name(node) != "torch.cuda":
                    return True
            elif isinstance(node, ast.Name):
                if node.id in _CUDA_PROBES or _is_device_name(node.id):
                    return True
                if depth < 3 and self._assigned_from_guard(node.id, chain, depth):
                    return True
        return False

    def _assigned_from_guard(self, name: str, chain: tuple[ast.AST, ...], depth: int) -> bool:
        found = self.names.bindings(name, chain)
        if found is None:
            return False
        stores, owner = found
        return any(value is not None and self.is_guard(value, owner, depth + 1) for value, _ in stores)

    def guarded(self, node: ast.AST, ancestors: tuple[ast.AST, ...]) -> bool:
        chain = _enclosing_functions(ancestors)
        child = node
        for ancestor in reversed(ancestors):
            if self._guards_child(ancestor, child, chain) or self._earlier_check(ancestor, child, chain):
                return True
            child = ancestor
        return False

    def _guards_child(self, ancestor: ast.AST, child: ast.AST, chain: tuple[ast.AST, ...]) -> bool:
        if isinstance(ancestor, (ast.If, ast.While, ast.IfExp)):
            return child is not ancestor.test and self.is_guard(ancestor.test, chain)
        if isinstance(ancestor, ast.BoolOp):
            earlier = ancestor.values[: next((i for i, v in enumerate(ancestor.values) if v is child), 0)]
            return any(self.is_guard(value, chain) for value in earlier)
        if isinstance(ancestor, ast.Try) and any(child is stmt for stmt in ancestor.body):
            return any(_catches_cuda_failure(handler) for handler in ancestor.handlers)
        return False

    def _earlier_check(self, ancestor: ast.AST, child: ast.AST, chain: tuple[ast.AST, ...]) -> bool:
        """An earlier ``assert <check>`` or ``if not <check>: raise/return`` in the same block."""
        for field_name in ("body", "orelse", "finalbody"):
            block = getattr(ancestor, field_name, None)
            if not isinstance(block, list) or not any(stmt is child for stmt in block):
                continue
            for stmt in block:
                if stmt is child:
                    break
                if isinstance(stmt, ast.Assert) and self.is_guard(stmt.test, chain):
                    return True
                if isinstance(stmt, ast.If) and _leaves(stmt.body) and self.is_guard(stmt.test, chain):
                    return True
        return False


def _leaves(body: list[ast.stmt]) -> bool:
    return any(
        isinstance(stmt, (ast.Raise, ast.Return, ast.Continue, ast.Break))
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and dotted_name(stmt.value.func) in ("sys.exit", "exit", "quit"))
        for stmt in body
    )


def _catches_cuda_failure(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((dotted_name(c) or "").rpartition(".")[2] in _CUDA_FAILURES for c in caught)


@rule(
    code="HUB204",
    name="unguarded-cuda",
    severity=Severity.ERROR,
    message="`{code}` hard-codes CUDA with no `torch.cuda.is_available()` check or device parameter on "
            "its path: it fails on CPU-only machines",
    fix="pick the device first (`device = \"cuda\" if torch.cuda.is_available() else \"cpu\"`) and use "
        "`.to(device)`, or take a `device` parameter",
)
def unguarded_cuda(ctx: LintContext):
    """
    ## What it does
    Checks reached code for CUDA that is hard-coded with no check that a GPU is there.

    Flags `.cuda()` (or `.cuda(0)`), `.to("cuda")` / `.to("cuda:0")` /
    `.to(f"cuda:{rank}")`, a `device="cuda"` or `map_location="cuda"`
    keyword, `torch.device("cuda")` and `torch.set_default_device("cuda")`.
    They are fine when guarded: inside an `if`, `elif`, `while`, ternary or
    `and` whose condition calls `*.cuda.is_available()` / `device_count()`,
    reads a name assigned from such a call (`ok = torch.cuda.is_available()`)
    or a device-like name (`device`, `use_gpu`, `useGPU`, `args.cuda`,
    `map_location`); after an earlier `assert torch.cuda.is_available()` or
    `if not torch.cuda.is_available(): raise ...` in the same block; or in a
    `try` whose `except` catches RuntimeError or AssertionError.
    `.to(device)` and `.cuda(device)` with a variable are a choice made
    elsewhere and are not flagged. Calls are judged where they are written:
    a helper that calls `.cuda()` is flagged even when every caller checks
    first.

    ## Why is this bad?
    torch.hub users load models on laptops, CPU CI runners and Macs.
    `model.cuda()` there raises "Torch not compiled with CUDA enabled" or
    "Found no NVIDIA driver", so the entry point is unusable without a GPU,
    even though the model itself would run fine on the CPU.

    ## Example
    ```python
    def deeplab(pretrained=True):
        model = DeepLab()
        model.load_state_dict(torch.load(WEIGHTS, map_location="cuda", weights_only=True))
        return model.cuda().eval()
    ```

    ## Use instead
    ```python
    def deeplab(pretrained=True, device=None):
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = DeepLab()
        model.load_state_dict(torch.load(WEIGHTS, map_location=device, weights_only=True))
        return model.to(device).eval()
    ```

    ## References
    - https://pytorch.org/docs/stable/notes/cuda.html#device-agnostic-code
    """
    guards: dict[int, _CudaGuards] = {}
    for unit, call, ancestors, names in _reached(ctx).calls:
        if not _cuda_use(call, names):
            continue
        checker = guards.setdefault(id(names), _CudaGuards(names))
        if not checker.guarded(call, ancestors):
            yield _at(unit, call, {"code": _short(call)})


# -- HUB205: downloads nobody checks -------------------------------------------------------------

# torch/hub.py: the hash prefix is read from the file name, `resnet18-f37072fd.pth`.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")


def _has_hash_suffix(file_name: str) -> bool:
    """Whether torch.hub finds a non-empty hash prefix in a checkpoint's file name."""
    match = _HASH_IN_NAME.search(file_name)
    return match is not None and match.group(1) != ""


def _unchecked_download(call: ast.Call, name: str | None, names: _FileNames, chain) -> dict | None:
    """The message arguments when a download's integrity is not checked, else None."""
    if name == DOWNLOAD_URL_TO_FILE:
        hash_prefix = _argument(call, 2, "hash_prefix")
        if hash_prefix is None or _is_constant(hash_prefix, None) or names.literal(hash_prefix, chain) == "":
            return {"problem": "downloads a file without hash_prefix: a truncated or replaced file is used unchecked",
                    "remedy": "pass `hash_prefix=` the first hex digits of the file's sha256 (`sha256sum FILE`)"}
        return None
    if name != LOAD_STATE_DICT_FROM_URL:
        return None
    check_hash = _argument(call, 4, "check_hash")
    if check_hash is None or _is_constant(check_hash, False):
        return {"problem": "downloads weights without check_hash=True: a truncated or replaced file is loaded unchecked",
                "remedy": "name the file `<name>-<first 8+ hex digits of its sha256>.<ext>` and pass `check_hash=True`"}
    if not _is_constant(check_hash, True):
        return None
    file_name = _argument(call, 5, "file_name")
    if file_name is _MAYBE:
        return None
    if file_name is not None:
        candidates = names.literal_candidates(file_name, chain)
    else:
        url = _argument(call, 0, "url")
        urls = names.literal_candidates(url, chain) if url is not None and url is not _MAYBE else []
        candidates = [os.path.basename(urlparse(u).path) for u in urls]
    unhashed = next((c for c in candidates if not _has_hash_suffix(c)), None)
    if unhashed is None:
        return None
    return {"problem": f"sets check_hash=True, but the file name {unhashed!r} has no `-<hex>.` hash part, "
                       "so torch.hub checks nothing",
            "remedy": f"rename the file to put its sha256 prefix before the extension "
                      f"(`{_hashed_example(unhashed)}`) and update the URL"}


def _hashed_example(file_name: str) -> str:
    stem, dot, extension = file_name.partition(".")
    return f"{stem}-1a2b3c4d.{extension}" if dot else f"{file_name}-1a2b3c4d.pth"


@rule(
    code="HUB205",
    name="unchecked-weights-download",
    severity=Severity.WARNING,
    message="`{call}(...)` {problem}",
    fix="{remedy}, so a corrupted or replaced download fails instead of being used",
)
def unchecked_weights_download(ctx: LintContext):
    """
    ## What it does
    Checks that weights downloaded in reached code are verified against a hash.

    Flags `load_state_dict_from_url` (torch.hub and model_zoo spellings)
    without `check_hash=True` (keyword or 5th positional argument), and
    `download_url_to_file` without `hash_prefix` (keyword or 3rd
    positional). It also flags `check_hash=True` when the file name (the
    URL's basename, the `file_name=` literal, or any value of a literal URL
    table indexed by a variable) has no `-<hex>.` part: torch.hub takes the
    expected hash from there, and a name without one is not checked at all.
    A check passed through a variable or `**kwargs` is not judged.

    ## Why is this bad?
    Weights are cached under `<hub>/checkpoints/<file name>` and reused
    forever. A download cut short by a proxy, a file replaced on the server,
    or another entry point's file with the same basename is then loaded
    without complaint, and the model silently gives wrong results (or
    `torch.load` fails with an unreadable pickle error far from the cause).

    ## Example
    ```python
    model.load_state_dict(load_state_dict_from_url(
        "https://example.com/weights/unet_carvana.pth", map_location="cpu", check_hash=True))
    ```

    ## Use instead
    ```python
    model.load_state_dict(load_state_dict_from_url(
        "https://example.com/weights/unet_carvana-2e0f1d3a.pth", map_location="cpu", check_hash=True))
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#torch.hub.load_state_dict_from_url
    - torch/hub.py `HASH_REGEX = re.compile(r'-([a-f0-9]*)\\.')`
    """
    for unit, call, ancestors, names in _reached(ctx).calls:
        found = _unchecked_download(call, names.qualified(call.func), names, _enclosing_functions(ancestors))
        if found is not None:
            yield _at(unit, call, {"call": ast.unparse(call.func), **found})
