"""How names resolve in one file of the repo: import aliases, scopes and the literal values of names.

Rules recognise torch's functions under whatever name a file imports them by
(``import torch as T``, ``from torch.hub import load_state_dict_from_url as lsd``)
and follow a name to the one plain assignment that gives it its value. Everything
here reads the file's AST; nothing is imported.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from hubcheck.static.syntax import (
    FUNCTION_NODES,
    dotted_name,
    live_children,
    live_statements,
)

# Other spellings of the same function, mapped to one canonical name.
# torch.utils.model_zoo.load_url *is* torch.hub.load_state_dict_from_url, and
# older torchvision re-exported it from two private places.
CANONICAL = {
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

def last_words(callee: str) -> set[str]:
    """The last words a dotted name can be written with that :meth:`FileNames.qualified` turns into
    ``callee``: its own, and those of the other spellings of it (``load_url`` for ``load_state_dict_from_url``)."""
    return {name.rpartition(".")[2] for name in (callee, *(other for other, canonical in CANONICAL.items()
                                                           if canonical == callee))}


TORCH_LOAD = "torch.load"
LOAD_STATE_DICT_FROM_URL = "torch.hub.load_state_dict_from_url"
DOWNLOAD_URL_TO_FILE = "torch.hub.download_url_to_file"

# A splat (``*args`` / ``**kwargs``) may or may not pass a parameter.
MAYBE = ast.Constant(value=Ellipsis)


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as, from every absolute import in the file.

    Function-level imports count too: a file that imports a name inside a
    function nearly always means the same thing by it everywhere.
    """
    aliases: dict[str, str] = {}
    for node in live_statements(tree.body, into_definitions=True):
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


def argument(call: ast.Call, position: int | None, keyword: str | None) -> ast.expr | None:
    """What a call passes for one parameter: the expression, None when surely nothing, or ``MAYBE``.

    ``position`` is the parameter's index among positional arguments (None for
    keyword-only parameters). A ``*args`` or ``**kwargs`` splat that could fill
    the parameter gives ``MAYBE``.
    """
    for keyword_arg in call.keywords:
        if keyword is not None and keyword_arg.arg == keyword:
            return keyword_arg.value
    if position is not None:
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return MAYBE
            if index == position:
                return arg
    if any(keyword_arg.arg is None for keyword_arg in call.keywords):
        return MAYBE
    return None


def is_constant(node: ast.expr | None, value: object) -> bool:
    """Whether ``node`` is the literal ``None`` / ``True`` / ``False`` given as ``value``."""
    return isinstance(node, ast.Constant) and node.value is value


@dataclass
class Scope:
    """The names one function (or a module's top level) binds, with the value of each simple assignment."""

    params: frozenset[str] = frozenset()
    stores: dict[str, list[tuple[ast.expr | None, int]]] = field(default_factory=dict)
    """name -> (assigned value or None when not a plain ``name = value``, line) for each binding."""
    declared_global: frozenset[str] = frozenset()
    declared_nonlocal: frozenset[str] = frozenset()


def _build_scope(node: ast.AST) -> Scope:
    if isinstance(node, FUNCTION_NODES):
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    elif isinstance(node, ast.Module):
        params, body = set(), list(node.body)
    else:  # scopes are looked up for the module and the functions of an enclosing_functions chain
        raise TypeError(f"{type(node).__name__} has no scope of its own")
    scope = Scope(frozenset(params))
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
        stack.extend(reversed(live_children(current)))
    scope.declared_global = frozenset(declared[ast.Global])
    scope.declared_nonlocal = frozenset(declared[ast.Nonlocal])
    return scope


class FileNames:
    """How the names of one file resolve: import aliases, and what simple assignments bind."""

    def __init__(self, tree: ast.Module | None) -> None:
        self.tree = tree
        self.aliases = import_aliases(tree) if tree is not None else {}
        self._scopes: dict[int, Scope] = {}
        self._module_globals: frozenset[str] | None = None

    def qualified(self, expr: ast.expr) -> str | None:
        """The canonical dotted name an expression refers to (``T.load`` -> ``torch.load``), or None."""
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, dot, rest = dotted.partition(".")
        full = self.aliases.get(head, head) + dot + rest
        return CANONICAL.get(full, full)

    def qualified_name(self, name: str) -> str:
        """:meth:`qualified` of a bare name (``lsd`` -> ``torch.hub.load_state_dict_from_url``), without an
        expression to walk: asked for every call of a timm-sized repo."""
        full = self.aliases.get(name, name)
        return CANONICAL.get(full, full)

    def imports_from(self, *modules: str) -> bool:
        """Whether the file binds any of these modules, or a name from one, anywhere."""
        return any(value == m or value.startswith(m + ".") for value in self.aliases.values() for m in modules)

    def scope(self, node: ast.AST) -> Scope:
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

    def bindings(
        self, name: str, chain: tuple[ast.AST, ...],
    ) -> tuple[list[tuple[ast.expr | None, int]], tuple[ast.AST, ...]] | None:
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
            stores = [*stores, (None, 0)]
        return stores, ()

    def single_value(self, name: str, chain: tuple[ast.AST, ...], line: int) -> tuple[ast.expr, tuple[ast.AST, ...]] | None:
        """The value of ``name`` when it is bound exactly once, by a plain assignment that runs before ``line``."""
        found = self.bindings(name, chain)
        if found is None:
            return None
        stores, owner = found
        if len(stores) != 1:
            return None
        value, assigned_at = stores[0]
        if value is None:
            return None
        # Module constants read inside a function are assigned before the function runs.
        if (owner or not chain) and assigned_at >= line:
            return None
        return value, owner

    # -- literal strings ------------------------------------------------------------

    def literal(self, expr: ast.expr, chain: tuple[ast.AST, ...], depth: int = 0,
                bound: Mapping[str, str] | None = None) -> str | None:
        """The string an expression always evaluates to, or None when it depends on anything at run time.

        Follows f-strings, ``+``, ``os.path.join``, ``Path(...)``, ``/`` and
        names bound once to such an expression; anything involving ``__file__``,
        a parameter, the environment or any other call is not a literal.
        ``bound`` gives a comprehension's loop variables the value of the element at hand.
        """
        if depth > 8:
            return None
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else None
        if isinstance(expr, ast.JoinedStr):
            parts = []
            for value in expr.values:
                part = self.literal(value.value if isinstance(value, ast.FormattedValue) else value, chain, depth + 1,
                                    bound)
                if part is None:
                    return None
                parts.append(part)
            return "".join(parts)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Div)):
            left = self.literal(expr.left, chain, depth + 1, bound)
            if left is None:
                return None
            right = self.literal(expr.right, chain, depth + 1, bound)
            if right is None:
                return None
            return left + right if isinstance(expr.op, ast.Add) else posixpath.join(left, right)
        if isinstance(expr, ast.Name):
            if bound and expr.id in bound:
                return bound[expr.id]
            found = self.single_value(expr.id, chain, expr.lineno)
            return self.literal(found[0], found[1], depth + 1) if found else None
        if isinstance(expr, ast.Call) and not expr.keywords:
            return self._literal_call(expr, chain, depth, bound)
        return None

    def _literal_call(self, call: ast.Call, chain: tuple[ast.AST, ...], depth: int,
                      bound: Mapping[str, str] | None) -> str | None:
        if isinstance(call.func, ast.Attribute) and call.func.attr == "joinpath":
            base = self.literal(call.func.value, chain, depth + 1, bound)
            parts = _every_known([self.literal(arg, chain, depth + 1, bound) for arg in call.args])
            return None if base is None or parts is None else posixpath.join(base, *parts)
        name = self.qualified(call.func)
        if name not in ("os.path.join", "pathlib.Path", "str", "os.fspath", "os.path.normpath"):
            return None
        parts = _every_known([self.literal(arg, chain, depth + 1, bound) for arg in call.args])
        if parts is None or any(isinstance(arg, ast.Starred) for arg in call.args):
            return None
        if not parts:
            return "." if name == "pathlib.Path" else None
        if name == "os.path.normpath":
            return posixpath.normpath(parts[0])
        return posixpath.join(*parts)

    def literal_candidates(self, expr: ast.expr, chain: tuple[ast.AST, ...], depth: int = 0) -> list[str]:
        """Every string ``expr`` may be, as far as the source says: its literal value; for ``TABLE[key]`` or
        ``TABLE.get(key, default)`` on a literal dict (a display, or a comprehension over a literal list), the
        value under a literal key, else every value; for a name bound several times, what each binding gives."""
        if depth > 8:
            return []
        value = self.literal(expr, chain)
        if value is not None:
            return [value]
        if isinstance(expr, ast.Name):
            found = self.bindings(expr.id, chain)
            if found is None:
                return []
            stores, owner = found
            return list(dict.fromkeys(candidate for stored, _ in stores if stored is not None
                                      for candidate in self.literal_candidates(stored, owner, depth + 1)))
        table_key = _table_lookup(expr)
        if table_key is None:
            return []
        table_expr, key_expr, default = table_key
        table, owner = self.single_value(table_expr.id, chain, expr.lineno) or (None, ())
        entries = self._table_entries(table, owner) if table is not None else None
        if entries is None:
            return []
        fallback = self.literal_candidates(default, chain, depth + 1) if default is not None else []
        key = self.literal(key_expr, chain)
        if key is not None:
            given = [v for k, v in entries if k == key]
            return [v for v in given[:1] if v is not None] if given else fallback
        return list(dict.fromkeys([*(v for _, v in entries if v is not None), *fallback]))

    def _table_entries(self, table: ast.expr, owner: tuple[ast.AST, ...]) -> list[tuple[str | None, str | None]] | None:
        """The (key, value) strings of a literal dict: a display, or ``{k: f"..." for k in [...]}`` over a
        list or tuple of strings; None for anything else. An entry the source does not spell is None."""
        if isinstance(table, ast.Dict):
            return [(self.literal(k, owner) if k is not None else None, self.literal(v, owner))
                    for k, v in zip(table.keys, table.values, strict=True)]
        if not isinstance(table, ast.DictComp) or len(table.generators) != 1:
            return None
        generator = table.generators[0]
        if generator.ifs or generator.is_async or not isinstance(generator.target, ast.Name) \
                or not isinstance(generator.iter, (ast.List, ast.Tuple)):
            return None
        items = _every_known([self.literal(item, owner) for item in generator.iter.elts])
        if items is None:
            return None
        entries = []
        for item in items:
            bound = {generator.target.id: item}
            entries.append((self.literal(table.key, owner, bound=bound), self.literal(table.value, owner, bound=bound)))
        return entries

    def parameter_default(self, expr: ast.expr | None, chain: tuple[ast.AST, ...]) -> ast.expr | None:
        """The default of the parameter ``expr`` names, when it is a parameter of a function of ``chain`` that
        its body never rebinds: what the name holds when the caller leaves it out. None otherwise."""
        if not isinstance(expr, ast.Name):
            return None
        for function in chain:
            scope = self.scope(function)
            if expr.id in scope.declared_global:
                return None
            if expr.id in scope.declared_nonlocal:
                continue
            if expr.id in scope.params:
                return None if expr.id in scope.stores else _default_of(function, expr.id)
            if expr.id in scope.stores:
                return None
        return None


def _table_lookup(expr: ast.expr) -> tuple[ast.Name, ast.expr, ast.expr | None] | None:
    """``TABLE[key]`` or ``TABLE.get(key)`` / ``TABLE.get(key, default)``: the table's name, the key, the default."""
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
        return expr.value, expr.slice, None
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get" \
            and isinstance(expr.func.value, ast.Name) and not expr.keywords and 1 <= len(expr.args) <= 2 \
            and not any(isinstance(arg, ast.Starred) for arg in expr.args):
        return expr.func.value, expr.args[0], (expr.args[1] if len(expr.args) == 2 else None)
    return None


def _default_of(function: ast.AST, name: str) -> ast.expr | None:
    if not isinstance(function, FUNCTION_NODES):
        return None
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in (*zip(positional, defaults, strict=True), *zip(args.kwonlyargs, args.kw_defaults, strict=True)):
        if arg.arg == name:
            return default
    return None


def _every_known(parts: list[str | None]) -> list[str] | None:
    """The parts when every one of them is known, else None."""
    known = [part for part in parts if part is not None]
    return known if len(known) == len(parts) else None
