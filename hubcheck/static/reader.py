"""Build a :class:`HubconfModel` from hubconf.py's source, never executing it.

torch.hub lists ``[f for f in dir(m) if callable(getattr(m, f)) and not f.startswith("_")]``
after running hubconf. This module replays the module-level statements over an
abstract namespace instead: each name maps to the set of bindings it may hold
once the module has run (several after an ``if`` or ``try``), and a name is an
entry point when every binding it may hold is callable. When that cannot be
decided (a value computed at run time, ``globals().update``), the model says
so instead of guessing.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.errors import ExitCode, HubcheckError
from hubcheck.static.model import (
    Definition,
    Dependencies,
    DependencyEntry,
    DynamicConstruct,
    EntryPoint,
    EntryPointKind,
    HubconfModel,
    ImportedModule,
    Parameter,
    Uncertain,
)
from hubcheck.static.syntax import dotted_name, handles_import_error
from hubcheck.static.modules import (
    Callability,
    ModuleIndex,
    NameInfo,
    builtin_callability,
    literal_all,
    target_names,
)

HUBCONF = "hubconf.py"

# Python 3.13 started stripping docstring indentation at compile time, so
# ``__doc__`` (what torch.hub.help returns) depends on the interpreter.
_COMPILER_CLEANS_DOCSTRINGS = sys.version_info >= (3, 13)

# Calls whose result is certainly not callable; enough to classify the constants
# real hubconfs define (URL tables, config dicts, paths).
_NON_CALLABLE_FACTORIES = frozenset({
    "dict", "list", "set", "tuple", "frozenset", "str", "int", "float", "bool", "bytes",
    "bytearray", "complex", "range", "len", "sorted", "sum", "min", "max", "abs", "round",
    "repr", "format", "open", "enumerate", "zip", "map", "filter", "reversed", "iter",
    "OrderedDict", "defaultdict", "Counter", "deque", "Path", "PurePath", "join", "dirname",
    "abspath", "realpath", "expanduser", "getenv", "get", "basename", "normpath",
})
_CALLABLE_FACTORIES = frozenset({"partial", "namedtuple", "NewType", "lru_cache", "cache"})
_MODULE_BASE_NAMES = frozenset({"Module", "nn.Module", "torch.nn.Module"})


class HubconfUnreadable(HubcheckError):
    """hubconf.py cannot be read or parsed; carries the position for HUB002."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, path: Path, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"{path}:{line}:{column}: hubconf.py does not parse: {message}")
        self.path = path
        self.reason = message
        self.line = line
        self.column = column


@dataclass(frozen=True, eq=False)
class _Binding:
    """One way a name may be bound once the module has run (compared by identity)."""

    name: str
    kind: str
    node: ast.AST
    value: ast.expr | None = None
    refs: frozenset = frozenset()
    import_source: tuple[str, str] | None = None
    reexport: bool = False


_UNBOUND = _Binding("", "unbound", ast.Pass())

_State = dict[str, frozenset]


def read_hubconf(repo_root: Path, index: ModuleIndex | None = None) -> HubconfModel:
    """Read ``repo_root/hubconf.py`` statically.

    Raises:
        HubconfUnreadable: the file cannot be read, decoded or parsed.
    """
    path = repo_root / HUBCONF
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise HubconfUnreadable(path, f"cannot read it ({error.strerror or error})") from None
    try:
        tree = ast.parse(raw, filename=str(path))
    except SyntaxError as error:
        raise HubconfUnreadable(path, error.msg, error.lineno or 1, (error.offset or 0) or 1) from None
    except ValueError as error:  # null bytes on Python < 3.12
        raise HubconfUnreadable(path, str(error)) from None
    source = _decode(raw)
    return _Reader(repo_root.resolve(), path, source, tree, index or ModuleIndex(repo_root)).build()


def _decode(raw: bytes) -> str:
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        encoding = "utf-8"
    return raw.decode(encoding, errors="replace")


class _Reader:
    def __init__(self, repo_root: Path, path: Path, source: str, tree: ast.Module, index: ModuleIndex) -> None:
        self.repo_root = repo_root
        self.path = path
        self.source = source
        self.tree = tree
        self.index = index
        self.dynamic: list[DynamicConstruct] = []
        self.doc_overrides: dict[str, str] = {}
        self.local_classes: dict[str, ast.ClassDef] = {}

    # -- namespace replay ----------------------------------------------------------

    def build(self) -> HubconfModel:
        self._find_dynamic_constructs()
        state = self._run(self.tree.body, {})
        all_names = literal_all(self.tree)
        entrypoints: list[EntryPoint] = []
        uncertain: list[Uncertain] = []
        for name in sorted(state):
            if name.startswith("_"):
                continue
            bindings = state[name]
            bound = [b for b in bindings if b is not _UNBOUND]
            if not bound:
                continue
            verdicts = {self._callability(b) for b in bound}
            last = max(bound, key=lambda b: (b.node.lineno, b.node.col_offset))
            if verdicts == {Callability.NOT_CALLABLE}:
                continue
            if verdicts == {Callability.CALLABLE} and _UNBOUND not in bindings:
                entrypoints.append(self._entrypoint(name, last, all_names))
                continue
            uncertain.append(Uncertain(name, last.node.lineno, last.node.col_offset + 1,
                                       self._uncertainty_reason(name, bindings, verdicts)))
        return HubconfModel(
            repo_root=self.repo_root,
            path=self.path,
            source=self.source,
            tree=self.tree,
            dependencies=self._dependencies(state),
            entrypoints=tuple(entrypoints),
            dynamic=tuple(self.dynamic),
            uncertain=tuple(uncertain),
            imports=tuple(self._imports()),
            all_names=all_names,
        )

    def _run(self, body: list[ast.stmt], state: _State) -> _State:
        for stmt in body:
            state = self._step(stmt, state)
        return state

    def _step(self, stmt: ast.stmt, state: _State) -> _State:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return {**state, stmt.name: frozenset({_Binding(stmt.name, "def", stmt)})}
        if isinstance(stmt, ast.ClassDef):
            self.local_classes[stmt.name] = stmt
            return {**state, stmt.name: frozenset({_Binding(stmt.name, "class", stmt)})}
        if isinstance(stmt, ast.Import):
            state = dict(state)
            for alias in stmt.names:
                name = alias.asname or alias.name.partition(".")[0]
                module = alias.name if alias.asname else name
                state[name] = frozenset({_Binding(name, "module", alias, import_source=(module, ""))})
            return state
        if isinstance(stmt, ast.ImportFrom):
            return self._import_from(stmt, state)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return self._assign(stmt, state)
        if isinstance(stmt, ast.AugAssign):
            return self._bind_targets(stmt.target, None, state, "augassign")
        if isinstance(stmt, ast.Delete):
            state = dict(state)
            for target in stmt.targets:
                for name in target_names(target):
                    state[name] = frozenset({_UNBOUND})
            return state
        if isinstance(stmt, ast.If):
            if _never_true_under_torch_hub(stmt.test):
                return self._run(stmt.orelse, state)
            return _merge(self._run(stmt.body, dict(state)), self._run(stmt.orelse, dict(state)))
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            after_body = self._run(stmt.orelse, self._run(stmt.body, dict(state)))
            entering_handler = _merge(state, after_body)
            outcomes = [after_body] + [self._run(h.body, dict(entering_handler)) for h in stmt.handlers]
            return self._run(stmt.finalbody, _merge(*outcomes))
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            looped = dict(state)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                looped = self._bind_targets(stmt.target, None, looped, "loop")
            looped = self._run(stmt.body, looped)
            return self._run(stmt.orelse, _merge(state, looped))
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    state = self._bind_targets(item.optional_vars, item.context_expr, state, "with")
            return self._run(stmt.body, state)
        if type(stmt).__name__ == "Match":
            return _merge(state, *[self._run(case.body, dict(state)) for case in stmt.cases])
        return state

    def _import_from(self, stmt: ast.ImportFrom, state: _State) -> _State:
        source = self._absolute_module(stmt)
        state = dict(state)
        for alias in stmt.names:
            if alias.name == "*":
                continue
            name = alias.asname or alias.name
            if stmt.level and not stmt.module:
                # `from . import x` binds the module x.
                state[name] = frozenset({_Binding(name, "module", alias, import_source=(alias.name, ""))})
                continue
            state[name] = frozenset({_Binding(
                name, "from", alias, import_source=(source or "", alias.name),
                reexport=alias.asname == alias.name,
            )})
        return state

    def _absolute_module(self, stmt: ast.ImportFrom) -> str | None:
        # hubconf has no package, so torch.hub fails on relative imports (HUB304);
        # resolving them against the repo root still shows what the author meant.
        return stmt.module

    def _assign(self, stmt: ast.Assign | ast.AnnAssign, state: _State) -> _State:
        if stmt.value is None:
            return state
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "__doc__"
                and isinstance(target.value, ast.Name)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                self.doc_overrides[target.value.id] = stmt.value.value
                continue
            state = self._bind_targets(target, stmt.value, state, "assign")
        return state

    def _bind_targets(self, target: ast.expr, value: ast.expr | None, state: _State, kind: str) -> _State:
        state = dict(state)
        if isinstance(target, ast.Name):
            refs = frozenset()
            if kind == "augassign":
                refs = state.get(target.id, frozenset())
            elif isinstance(value, ast.Name):
                refs = state.get(value.id, frozenset())
            state[target.id] = frozenset({_Binding(target.id, kind, target, value, refs)})
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
            for position, element in enumerate(target.elts):
                element_value = values[position] if values is not None else None
                element_kind = kind if values is not None else "unpack"
                state = self._bind_targets(element, element_value, state, element_kind)
        elif isinstance(target, ast.Starred):
            state = self._bind_targets(target.value, None, state, "unpack")
        return state

    # -- deciding callability ------------------------------------------------------------

    def _callability(self, binding: _Binding) -> Callability:
        return self._describe(binding)[0]

    def _describe(self, binding: _Binding) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        kind = binding.kind
        if kind == "def":
            return Callability.CALLABLE, EntryPointKind.FUNCTION, None
        if kind == "class":
            return Callability.CALLABLE, EntryPointKind.CLASS, None
        if kind == "module":
            return Callability.NOT_CALLABLE, None, None
        if kind == "from":
            module, name = binding.import_source
            if not module:
                return Callability.UNKNOWN, EntryPointKind.IMPORTED, None
            if self.index.find(f"{module}.{name}") is not None and self.index.lookup(module, name).definition is None:
                return Callability.NOT_CALLABLE, None, None
            info = self.index.lookup(module, name)
            return info.callability, EntryPointKind.IMPORTED, info
        if kind == "augassign":
            verdicts = {self._callability(ref) for ref in binding.refs if ref is not _UNBOUND}
            return (verdicts.pop() if len(verdicts) == 1 else Callability.UNKNOWN), None, None
        if kind in ("assign", "with") and binding.value is not None:
            return self._describe_expression(binding.value, binding.refs)
        return Callability.UNKNOWN, None, None

    def _describe_expression(self, value: ast.expr, refs: frozenset) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        if isinstance(value, ast.Lambda):
            return Callability.CALLABLE, EntryPointKind.LAMBDA, None
        if isinstance(value, ast.Name):
            bound = [ref for ref in refs if ref is not _UNBOUND]
            if not bound:
                builtin = builtin_callability(value.id)
                return (builtin or Callability.UNKNOWN), EntryPointKind.ALIAS, None
            verdicts = {self._callability(ref) for ref in bound}
            verdict = verdicts.pop() if len(verdicts) == 1 and _UNBOUND not in refs else Callability.UNKNOWN
            return verdict, EntryPointKind.ALIAS, None
        if isinstance(value, ast.Attribute):
            info = self._attribute_info(value)
            return info.callability, EntryPointKind.ALIAS, info
        if isinstance(value, ast.Call):
            return self._describe_call(value)
        if isinstance(value, ast.IfExp):
            verdicts = {self._describe_expression(v, frozenset())[0] for v in (value.body, value.orelse)}
            return (verdicts.pop() if len(verdicts) == 1 else Callability.UNKNOWN), None, None
        if isinstance(value, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr,
                              ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.BinOp,
                              ast.Compare, ast.UnaryOp)):
            return Callability.NOT_CALLABLE, None, None
        return Callability.UNKNOWN, None, None

    def _describe_call(self, call: ast.Call) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        callee = dotted_name(call.func)
        last = callee.rpartition(".")[2] if callee else None
        if last == "partial":
            return Callability.CALLABLE, EntryPointKind.PARTIAL, None
        if last in _CALLABLE_FACTORIES:
            return Callability.CALLABLE, None, None
        if last in _NON_CALLABLE_FACTORIES:
            return Callability.NOT_CALLABLE, None, None
        if callee in self.local_classes:
            return self._instance_callability(self.local_classes[callee]), EntryPointKind.OBJECT, None
        return Callability.UNKNOWN, None, None

    def _instance_callability(self, cls: ast.ClassDef) -> Callability:
        defines_call = any(
            isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__call__" for item in cls.body
        )
        bases = {dotted_name(base) for base in cls.bases}
        if defines_call or bases & _MODULE_BASE_NAMES:
            return Callability.CALLABLE
        if bases <= {"object"}:
            return Callability.NOT_CALLABLE
        return Callability.UNKNOWN

    def _attribute_info(self, value: ast.Attribute) -> NameInfo:
        dotted = dotted_name(value)
        if dotted is None:
            return NameInfo(Callability.UNKNOWN)
        root, _, rest = dotted.partition(".")
        module = self._imported_module_name(root)
        if module is None:
            return NameInfo(Callability.UNKNOWN)
        parts = (module + "." + rest).split(".")
        return self.index.lookup(".".join(parts[:-1]), parts[-1])

    def _imported_module_name(self, name: str) -> str | None:
        for stmt in ast.walk(self.tree):
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname == name:
                        return alias.name
                    if alias.asname is None and alias.name.partition(".")[0] == name:
                        return name
        return None

    def _uncertainty_reason(self, name: str, bindings: frozenset, verdicts: set[Callability]) -> str:
        bound = [b for b in bindings if b is not _UNBOUND]
        if len(bound) > 1 or _UNBOUND in bindings:
            return f"{name} is bound conditionally, so whether torch.hub.list shows it depends on run time"
        binding = bound[0]
        if binding.kind == "from":
            module, original = binding.import_source
            info = self._describe(binding)[2]
            note = f" ({info.note})" if info and info.note else ""
            return f"cannot tell statically whether {original} imported from {module} is callable{note}"
        if binding.kind == "loop":
            return f"{name} is bound by a for loop, so its value is decided at run time"
        value = ast.unparse(binding.value) if binding.value is not None else "..."
        if len(value) > 60:
            value = value[:57] + "..."
        return f"{name} = {value} is decided at run time"

    # -- describing entry points ------------------------------------------------------------

    def _entrypoint(self, name: str, binding: _Binding, all_names: tuple[str, ...] | None) -> EntryPoint:
        _, kind, info = self._describe(binding)
        kind = kind or EntryPointKind.OBJECT
        origin = None
        definition = self._definition(binding, info)
        if kind is EntryPointKind.IMPORTED:
            module, original = binding.import_source
            origin = f"{module}.{original}"
        elif kind is EntryPointKind.ALIAS:
            origin = ast.unparse(binding.value)
        elif kind is EntryPointKind.PARTIAL and binding.value.args:
            origin = ast.unparse(binding.value.args[0])
        node = definition.node if definition else None
        doc = None
        parameters = None
        if kind is EntryPointKind.LAMBDA:
            parameters = _parameters(binding.value.args, drop_first=False)
        elif kind is not EntryPointKind.PARTIAL and node is not None:
            doc = _docstring(node)
            if isinstance(node, ast.ClassDef):
                parameters = None if kind is EntryPointKind.OBJECT else _class_parameters(node)
                if kind is EntryPointKind.OBJECT:
                    parameters = _call_parameters(node)
            else:
                parameters = _parameters(node.args, drop_first=False)
        if name in self.doc_overrides:
            doc = self.doc_overrides[name]
        leaked = kind is EntryPointKind.IMPORTED and not binding.reexport and name not in (all_names or ())
        return EntryPoint(
            name=name,
            kind=kind,
            line=binding.node.lineno,
            column=binding.node.col_offset + 1,
            doc=doc,
            parameters=parameters,
            leaked=leaked,
            origin=origin,
            definition=definition,
        )

    def _definition(self, binding: _Binding, info: NameInfo | None, depth: int = 0) -> Definition | None:
        if binding.kind in ("def", "class"):
            return Definition(self.path, None, binding.node, local=True)
        if info is not None and info.definition is not None and info.path is not None:
            return Definition(info.path, info.module, info.definition, local=info.local)
        if binding.kind == "assign" and depth < 8:
            value = binding.value
            if isinstance(value, ast.Call) and dotted_name(value.func) in self.local_classes:
                return Definition(self.path, None, self.local_classes[dotted_name(value.func)], local=True)
            if isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.Name):
                value = value.args[0]
                refs = self._lookup_now(value.id)
            else:
                refs = binding.refs
            if isinstance(value, ast.Name):
                for ref in refs:
                    if ref is not _UNBOUND:
                        found = self._definition(ref, self._describe(ref)[2], depth + 1)
                        if found is not None:
                            return found
        return None

    def _lookup_now(self, name: str) -> frozenset:
        # Partials are rare enough that replaying the namespace again is fine.
        return self._run(self.tree.body, {}).get(name, frozenset())

    # -- dependencies and imports ----------------------------------------------------------

    def _dependencies(self, state: _State) -> Dependencies:
        bindings = [b for b in state.get("dependencies", frozenset()) if b is not _UNBOUND]
        if not bindings:
            return Dependencies(declared=False)
        binding = max(bindings, key=lambda b: b.node.lineno)
        value = binding.value
        line, column = binding.node.lineno, binding.node.col_offset + 1
        if value is None:
            return Dependencies(True, line, column, problem="not-literal", source=None)
        source = ast.unparse(value)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return Dependencies(True, line, column, problem="bare-string", source=source)
        if not isinstance(value, (ast.List, ast.Tuple)):
            return Dependencies(True, line, column, problem="not-literal", source=source)
        entries = []
        for element in value.elts:
            if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
                return Dependencies(True, line, column, problem="non-string-element", source=source)
            entries.append(DependencyEntry(element.value, element.lineno, element.col_offset + 1))
        return Dependencies(True, line, column, tuple(entries), None, source)

    def _imports(self) -> list[ImportedModule]:
        found: list[ImportedModule] = []
        for node, module_level, optional in _walk_imports(self.tree.body, True, False):
            if isinstance(node, ast.Import):
                names = [(alias.name, False) for alias in node.names]
            else:
                names = [(node.module or "", node.level > 0)]
                if node.level > 0 and not node.module:
                    names = [(alias.name, True) for alias in node.names]
            for name, relative in names:
                if not name:
                    continue
                module_file = self.index.find(name)
                found.append(ImportedModule(
                    name=name,
                    line=node.lineno,
                    column=node.col_offset + 1,
                    local=bool(module_file and module_file.local),
                    path=(module_file.path or (module_file.package_dirs[0] if module_file.package_dirs else None))
                    if module_file else None,
                    module_level=module_level,
                    optional=optional,
                    relative=relative,
                ))
        return found

    def _find_dynamic_constructs(self) -> None:
        for node in ast.walk(self.tree):
            description = _dynamic_description(node)
            if description:
                self.dynamic.append(DynamicConstruct(node.lineno, node.col_offset + 1, description))
        self.dynamic.sort(key=lambda d: (d.line, d.column))


def _merge(*states: _State) -> _State:
    merged: dict[str, frozenset] = {}
    names = set().union(*states)
    for name in names:
        union: frozenset = frozenset()
        for state in states:
            union |= state.get(name, frozenset({_UNBOUND}))
        merged[name] = union
    return merged


def _never_true_under_torch_hub(test: ast.expr) -> bool:
    """``if __name__ == "__main__"`` and ``if TYPE_CHECKING`` bodies never run under torch.hub."""
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = [test.left, test.comparators[0]]
        has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
        has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
        return has_name and has_main
    return False


def _dynamic_description(node: ast.AST) -> str | None:
    if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
        return f"from {'.' * node.level}{node.module or ''} import *"
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and _is_namespace_call(func.value) and func.attr in (
            "update", "setdefault", "__setitem__", "pop", "__delitem__"
        ):
            return f"{ast.unparse(func.value)}.{func.attr}(...)"
        name = dotted_name(func)
        if name in ("exec", "builtins.exec"):
            return "exec(...)"
        if name in ("setattr", "delattr") and node.args and _is_this_module(node.args[0]):
            return f"{name}() on the hubconf module"
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and _is_namespace_call(target.value):
                return f"{ast.unparse(target.value)}[...] assignment"
            if isinstance(target, ast.Attribute) and _is_this_module(target.value):
                return "attribute assignment on the hubconf module"
    if isinstance(node, ast.FunctionDef) and node.name == "__dir__":
        return "module-level __dir__ (changes what dir() and so torch.hub.list return)"
    return None


def _is_namespace_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars", "locals")


def _is_this_module(node: ast.expr) -> bool:
    """``sys.modules[__name__]`` (what a module uses to refer to itself)."""
    return (
        isinstance(node, ast.Subscript)
        and dotted_name(node.value) == "sys.modules"
        and isinstance(node.slice, ast.Name)
        and node.slice.id == "__name__"
    )


def _walk_imports(body, module_level: bool, optional: bool):
    """Every import statement with whether it runs at import time and whether ImportError is handled."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt, module_level, optional
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk_imports(stmt.body, False, optional)
        elif isinstance(stmt, ast.ClassDef):
            yield from _walk_imports(stmt.body, module_level, optional)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            handles = any(handles_import_error(h) for h in stmt.handlers)
            yield from _walk_imports(stmt.body, module_level, optional or handles)
            for handler in stmt.handlers:
                yield from _walk_imports(handler.body, module_level, optional)
            yield from _walk_imports(stmt.orelse, module_level, optional)
            yield from _walk_imports(stmt.finalbody, module_level, optional)
        elif isinstance(stmt, ast.If) and _never_true_under_torch_hub(stmt.test):
            yield from _walk_imports(stmt.orelse, module_level, optional)
        else:
            for field_name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field_name, None)
                if isinstance(inner, list):
                    yield from _walk_imports(inner, module_level, optional)
            for case in getattr(stmt, "cases", ()) or ():
                yield from _walk_imports(case.body, module_level, optional)


def _docstring(node: ast.AST) -> str | None:
    if isinstance(node, ast.Lambda):
        return None
    return ast.get_docstring(node, clean=_COMPILER_CLEANS_DOCSTRINGS)


def _parameters(args: ast.arguments, drop_first: bool) -> tuple[Parameter, ...]:
    positional = list(args.posonlyargs) + list(args.args)
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[Parameter] = []
    for index, arg in enumerate(positional):
        kind = "positional_only" if index < len(args.posonlyargs) else "positional_or_keyword"
        params.append(_parameter(arg, kind, defaults[index]))
    if args.vararg is not None:
        params.append(_parameter(args.vararg, "var_positional", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        params.append(_parameter(arg, "keyword_only", default))
    if args.kwarg is not None:
        params.append(_parameter(args.kwarg, "var_keyword", None))
    if drop_first and params and params[0].kind in ("positional_only", "positional_or_keyword"):
        params = params[1:]
    return tuple(params)


def _parameter(arg: ast.arg, kind: str, default: ast.expr | None) -> Parameter:
    return Parameter(
        name=arg.arg,
        kind=kind,
        default=ast.unparse(default) if default is not None else None,
        annotation=ast.unparse(arg.annotation) if arg.annotation is not None else None,
    )


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for item in cls.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
            return item
    return None


def _class_parameters(cls: ast.ClassDef) -> tuple[Parameter, ...] | None:
    init = _method(cls, "__init__")
    if init is None:
        return () if not cls.bases else None
    return _parameters(init.args, drop_first=True)


def _call_parameters(cls: ast.ClassDef) -> tuple[Parameter, ...] | None:
    call = _method(cls, "__call__") or _method(cls, "forward")
    return _parameters(call.args, drop_first=True) if call is not None else None
