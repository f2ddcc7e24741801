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
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.errors import ExitCode, HubcheckError
from hubcheck.static.closure_defaults import with_closure_defaults
from hubcheck.static.decorators import FunctionNode, replacing_wrapper
from hubcheck.static.exports import with_intended_reexports
from hubcheck.static.loops import loop_element
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
from hubcheck.static.module_all import literal_all
from hubcheck.static.modules import (
    Callability,
    ModuleIndex,
    NameInfo,
    builtin_callability,
    statement_bound_names,
    target_names,
)
from hubcheck.static.namespace_loops import NamespaceLoop, namespace_loop
from hubcheck.static.returns import is_generator, local_names, returned_values
from hubcheck.static.source import (
    SourceProblem,
    SourceProblemKind,
    UnreadableSource,
    parse_source,
)
from hubcheck.static.syntax import (
    dotted_name,
    handles_import_error,
    live_statements,
    never_true_under_torch_hub,
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
# pathlib: the classes, the members of a path that give another path, and those that give a string
# or a tuple of strings; enough to follow `Path(__file__).resolve().parents[0]` to a value that is not callable.
_PATH_CLASSES = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath",
                           "pathlib.PurePosixPath", "pathlib.PureWindowsPath"})
_PATH_METHODS = frozenset({"absolute", "resolve", "expanduser", "with_name", "with_suffix", "with_stem",
                           "joinpath", "relative_to", "with_segments"})
_PATH_CLASS_METHODS = frozenset({"home", "cwd"})
_PATH_ATTRIBUTES = frozenset({"parent", "name", "stem", "suffix", "suffixes", "parts", "anchor", "drive", "root"})

# How many names to follow through `a = b` and `x += 1` before calling a value unknown: real hubconfs
# chain one or two, and each name followed costs stack frames, so a generated chain of thousands
# would otherwise overflow the recursion limit.
_MAX_NAME_HOPS = 64


class HubconfUnreadable(HubcheckError):
    """hubconf.py cannot be read, parsed or analysed; carries the problem and its position for HUB002/HUB011."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, problem: SourceProblem) -> None:
        self.problem = problem
        self.path = problem.path
        # The compiler's message for a parse error (HUB002 quotes it); otherwise a sentence that stands alone.
        self.reason = problem.reason if problem.kind is SourceProblemKind.DOES_NOT_PARSE else f"hubconf.py {problem.reason}"
        self.line = problem.line or 1
        self.column = problem.column or 1
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        if self.problem.kind is SourceProblemKind.DOES_NOT_PARSE:
            return f"{where}: hubconf.py does not parse: {self.reason}"
        if self.problem.python_runs_it:
            return (f"{where}: hubconf.py cannot be analysed: it {self.problem.reason} "
                    "(`hubcheck list --dynamic` imports it instead)")
        return f"{self.path}: cannot read hubconf.py: it {self.problem.reason}"


@dataclass(frozen=True, eq=False)
class _Binding:
    """One way a name may be bound once the module has run (compared by identity)."""

    name: str
    kind: str
    node: ast.stmt | ast.expr | ast.alias
    value: ast.expr | None = None
    env: Mapping[str, frozenset] = field(default_factory=dict)
    """What each name the value mentions was bound to when the statement ran."""
    import_source: tuple[str, str] = ("", "")
    """(module, name) an import binds from; the name is empty for ``import module``."""
    reexport: bool = False
    unpacked: tuple[ast.expr, int] | None = None
    """For a name bound by unpacking (``a, b = build()``): the value unpacked and the name's position in it."""


_UNBOUND = _Binding("", "unbound", ast.Pass())

# `try:` blocks, with `except*` on Python 3.11 and later (the same fields).
if sys.version_info >= (3, 11):
    _TRY_NODES = (ast.Try, ast.TryStar)
else:
    _TRY_NODES = (ast.Try,)

_State = dict[str, frozenset]


def read_hubconf(repo_root: Path, index: ModuleIndex | None = None) -> HubconfModel:
    """Read ``repo_root/hubconf.py`` statically, within the bounds of :mod:`hubcheck.static.source`.

    Raises:
        HubconfUnreadable: the file cannot be read, decoded or parsed, or is too large or too deep to analyse.
    """
    path = repo_root / HUBCONF
    try:
        parsed = parse_source(path)
    except UnreadableSource as error:
        raise HubconfUnreadable(error.problem) from None
    index = index or ModuleIndex(repo_root)
    index.remember_tree(path, parsed.tree)
    return _Reader(repo_root.resolve(), path, parsed.text, parsed.tree, index).build()


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
        self.read_namespace_writes: set[int] = set()
        """ids of the ``globals()[name] = value`` statements whose names the replay bound (not dynamic)."""

    # -- namespace replay ----------------------------------------------------------

    def build(self) -> HubconfModel:
        state = self._run(self.tree.body, {})
        self._find_dynamic_constructs()
        for binding in state.get("__dir__", frozenset()) - {_UNBOUND}:
            self.dynamic.append(DynamicConstruct(binding.node.lineno, binding.node.col_offset + 1,
                                                 "a module-level __dir__, which decides what dir() returns"))
        self.dynamic.sort(key=lambda d: (d.line, d.column))
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
            # Where branches bind a name differently, the first one in the source (the
            # `if` body, the `try` body) is usually the path users take.
            chosen = min(bound, key=lambda b: (b.node.lineno, b.node.col_offset))
            if verdicts == {Callability.NOT_CALLABLE}:
                continue
            if verdicts == {Callability.CALLABLE} and _UNBOUND not in bindings:
                entrypoints.append(self._entrypoint(name, chosen, all_names))
                continue
            uncertain.append(Uncertain(name, chosen.node.lineno, chosen.node.col_offset + 1,
                                       self._uncertainty_reason(name, bindings)))
        return HubconfModel(
            repo_root=self.repo_root,
            path=self.path,
            source=self.source,
            tree=self.tree,
            dependencies=self._dependencies(state),
            entrypoints=tuple(with_intended_reexports(entrypoints, self.tree, self.index, self.path)),
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
        for walrus in _walruses(stmt):
            state = self._bind_targets(walrus.target, walrus.value, state, "assign")
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
            if never_true_under_torch_hub(stmt.test):
                return self._run(stmt.orelse, state)
            return _merge(self._run(stmt.body, dict(state)), self._run(stmt.orelse, dict(state)))
        if isinstance(stmt, _TRY_NODES):
            after_body = self._run(stmt.orelse, self._run(stmt.body, dict(state)))
            entering_handler = _merge(state, after_body)
            outcomes = [after_body] + [self._run(h.body, dict(entering_handler)) for h in stmt.handlers]
            return self._run(stmt.finalbody, _merge(*outcomes))
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            looped = dict(state)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                element = loop_element(stmt.iter, lambda name: _assigned_value(state, name))
                looped = self._bind_targets(stmt.target, element, looped, "loop" if element is None else "assign")
                literal = namespace_loop(stmt, self.tree, lambda name: _assigned_value(state, name))
                if literal is not None:
                    return self._namespace_loop(literal, state, self._run(stmt.body, looped))
            looped = self._run(stmt.body, looped)
            return self._run(stmt.orelse, _merge(state, looped))
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    state = self._bind_targets(item.optional_vars, item.context_expr, state, "with")
            return self._run(stmt.body, state)
        if isinstance(stmt, ast.Match):
            return _merge(state, *[self._run(case.body, dict(state)) for case in stmt.cases])
        return state

    def _namespace_loop(self, loop: NamespaceLoop, before: _State, after_body: _State) -> _State:
        """The state after a loop that binds each name of its literal table through ``globals()[name]``."""
        self.read_namespace_writes.update(id(stmt) for stmt in loop.assignments)
        if not loop.names:
            return before  # an empty table: the body never runs
        # The table is not empty, so the body ran: its names are bound for certain, each to the
        # value of the body's last assignment, read with the loop variables an iteration bound.
        last = loop.assignments[-1]
        env = {name: after_body.get(name, frozenset()) for name in _loaded_names(last.value)}
        state = dict(after_body)
        for name in loop.names:
            state[name] = frozenset({_Binding(name, "assign", last.targets[0], last.value, env)})
        return state

    def _import_from(self, stmt: ast.ImportFrom, state: _State) -> _State:
        # hubconf has no package, so torch.hub fails on relative imports (HUB304); reading
        # `from .m import x` as `from m import x` (the repo root) still shows what the author meant.
        source = stmt.module
        state = dict(state)
        for alias in stmt.names:
            if alias.name == "*":
                # A repo module's literal `__all__` says what the star import binds: an export list.
                # Without one, its public top-level names come along, helpers and imports included.
                exported, deliberate = self._star_exports(stmt) or ((), False)
                for name in exported:
                    state[name] = frozenset({_Binding(
                        name, "from", alias, import_source=(source or "", name), reexport=deliberate)})
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

    def _star_exports(self, stmt: ast.ImportFrom) -> tuple[tuple[str, ...], bool] | None:
        """The names ``from m import *`` binds when m is a repo module whose names are known, else None.

        With a literal ``__all__`` those names, an export list (True); otherwise its public
        top-level names (False), unless it has star imports or edits its namespace itself.
        """
        source = stmt.module  # a relative import read against the repo root, as in _import_from
        found = self.index.find(source) if source else None
        if found is None or not found.local or found.path is None:
            return None
        tree = self.index.tree(found.path)
        if tree is None:
            return None
        exported = self.index.top_level(found, tree).exported
        if exported is not None:
            return exported, True
        names: set[str] = set()
        for inner in live_statements(tree.body, into_definitions=False):
            star = isinstance(inner, ast.ImportFrom) and any(a.name == "*" for a in inner.names)
            dynamic_call = isinstance(inner, ast.Expr) and _dynamic_description(inner.value) is not None
            if star or dynamic_call or _dynamic_description(inner) is not None:
                return None
            names |= {name for name in statement_bound_names(inner) if not name.startswith("_")}
        if any(name == "__all__" for inner in tree.body for name in statement_bound_names(inner)):
            return None  # an __all__ that is not a literal list: the names are decided at run time
        return tuple(sorted(names)), False

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
            mentioned = {target.id} if kind == "augassign" else _loaded_names(value)
            env = {name: state.get(name, frozenset()) for name in mentioned}
            state[target.id] = frozenset({_Binding(target.id, kind, target, value, env)})
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
            if values is None and value is not None and kind == "assign" \
                    and not any(isinstance(element, ast.Starred) for element in target.elts):
                return self._bind_unpacked(target.elts, value, state)
            for position, element in enumerate(target.elts):
                element_value = values[position] if values is not None else None
                element_kind = kind if values is not None else "unpack"
                state = self._bind_targets(element, element_value, state, element_kind)
        elif isinstance(target, ast.Starred):
            state = self._bind_targets(target.value, None, state, "unpack")
        return state

    def _bind_unpacked(self, elements: list[ast.expr], value: ast.expr, state: _State) -> _State:
        """``a, b = build()``: each name remembers the value and its position in it, with what the names
        ``build``'s body reads were bound to, since a hubconf function called here sees them as they are now."""
        mentioned = _loaded_names(value)
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            called = self._local_function(value.func.id, state)
            if called is not None:
                mentioned |= _loaded_names(called)
        env = {name: state.get(name, frozenset()) for name in mentioned}
        for position, element in enumerate(elements):
            if isinstance(element, ast.Name):
                state[element.id] = frozenset({_Binding(element.id, "unpack", element, None, env,
                                                        unpacked=(value, position))})
            else:
                state = self._bind_targets(element, None, state, "unpack")
        return state

    @staticmethod
    def _local_function(name: str, env: Mapping[str, frozenset]) -> ast.FunctionDef | None:
        """The undecorated hubconf def ``name`` is certainly bound to, or None."""
        refs = env.get(name, frozenset())
        binding = next(iter(refs)) if len(refs) == 1 else None
        if binding is None or binding.kind != "def" or not isinstance(binding.node, ast.FunctionDef) \
                or binding.node.decorator_list:
            return None
        return binding.node

    # -- deciding callability ------------------------------------------------------------

    def _callability(self, binding: _Binding, hops: int = 0) -> Callability:
        return self._describe(binding, hops)[0]

    def _describe(self, binding: _Binding, hops: int = 0,
                  ) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        """What a binding holds; ``hops`` counts the names followed to get here (``a = b``, ``x += 1``)."""
        if hops > _MAX_NAME_HOPS:
            return Callability.UNKNOWN, None, None
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
            if self.index.find(f"{module}.{name}") is not None and not self.index.may_define(module, name):
                return Callability.NOT_CALLABLE, None, None
            info = self.index.lookup(module, name)
            return info.callability, EntryPointKind.IMPORTED, info
        if kind == "augassign":
            refs = binding.env.get(binding.name, frozenset())
            verdicts = {self._callability(ref, hops + 1) for ref in refs if ref is not _UNBOUND}
            return (verdicts.pop() if len(verdicts) == 1 else Callability.UNKNOWN), None, None
        if kind in ("assign", "with") and binding.value is not None:
            return self._describe_expression(binding.value, binding.env, hops)
        if kind == "unpack" and binding.unpacked is not None:
            return self._unpacked_callability(*binding.unpacked, binding.env, hops), None, None
        return Callability.UNKNOWN, None, None

    def _unpacked_callability(self, value: ast.expr, position: int, env: Mapping[str, frozenset],
                              hops: int) -> Callability:
        """What the name at ``position`` of ``a, b = value`` holds, when ``value`` calls a hubconf function
        whose every ``return`` is a tuple or list display (``return training_data, test_data``): the
        element there, each local name followed to the one value the function assigns it."""
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name):
            return Callability.UNKNOWN
        function = self._local_function(value.func.id, env)
        if function is None or is_generator(function):
            return Callability.UNKNOWN
        local = local_names(function)
        scope = {name: refs for name, refs in env.items() if name not in local}
        verdicts: set[Callability] = set()
        for returned in returned_values(function):
            if not isinstance(returned, (ast.Tuple, ast.List)) or position >= len(returned.elts) \
                    or any(isinstance(element, ast.Starred) for element in returned.elts):
                return Callability.UNKNOWN
            element: ast.expr | None = returned.elts[position]
            if isinstance(element, ast.Name) and element.id in local:
                values = local[element.id]
                element = values[0] if len(values) == 1 and values[0] is not None else None
            if element is None or _deciding_names(element) & local.keys():
                return Callability.UNKNOWN
            verdicts.add(self._describe_expression(element, scope, hops + 1)[0])
        return verdicts.pop() if len(verdicts) == 1 else Callability.UNKNOWN

    def _describe_expression(self, value: ast.expr, env: Mapping[str, frozenset], hops: int = 0,
                             ) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        if isinstance(value, ast.Lambda):
            return Callability.CALLABLE, EntryPointKind.LAMBDA, None
        if isinstance(value, ast.Name):
            refs = env.get(value.id, frozenset())
            bound = [ref for ref in refs if ref is not _UNBOUND]
            if not bound:
                builtin = builtin_callability(value.id)
                return (builtin or Callability.UNKNOWN), EntryPointKind.ALIAS, None
            verdicts = {self._callability(ref, hops + 1) for ref in bound}
            verdict = verdicts.pop() if len(verdicts) == 1 and _UNBOUND not in refs else Callability.UNKNOWN
            return verdict, EntryPointKind.ALIAS, None
        if self._is_path_member(value, env, hops):
            return Callability.NOT_CALLABLE, None, None
        if isinstance(value, ast.Attribute):
            _, info, _ = self._resolve(value, env)
            return (info.callability if info else Callability.UNKNOWN), EntryPointKind.ALIAS, info
        if isinstance(value, ast.Call):
            return self._describe_call(value, env)
        if isinstance(value, (ast.IfExp, ast.BoolOp)):
            operands = (value.body, value.orelse) if isinstance(value, ast.IfExp) else value.values
            verdicts = {self._describe_expression(v, env, hops)[0] for v in operands}
            verdict = verdicts.pop() if len(verdicts) == 1 else Callability.UNKNOWN
            return verdict, (EntryPointKind.ALIAS if verdict is Callability.CALLABLE else None), None
        if isinstance(value, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr,
                              ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.BinOp,
                              ast.Compare, ast.UnaryOp)):
            return Callability.NOT_CALLABLE, None, None
        return Callability.UNKNOWN, None, None

    def _is_path_member(self, value: ast.expr, env: Mapping[str, frozenset], hops: int) -> bool:
        """Whether ``value`` is a path, or a part of one, reached from a pathlib path through members that
        give paths (``Path(__file__).absolute().parents[0]``, ``Path.home() / "x"``, ``WEIGHTS.parent.name``)."""
        steps = 0
        while True:
            if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Attribute) \
                    and value.value.attr == "parents":
                value = value.value.value
            elif isinstance(value, ast.Attribute) and value.attr in _PATH_ATTRIBUTES:
                value = value.value
            elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                    and value.func.attr in _PATH_METHODS:
                value = value.func.value
            elif isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
                value = value.left
            else:
                break
            steps += 1
        return steps > 0 and self._is_path(value, env, hops)

    def _is_path(self, value: ast.expr, env: Mapping[str, frozenset], hops: int) -> bool:
        """Whether ``value`` is a pathlib path: a call of the class (``Path.home()`` too), a path member,
        or a name bound once to one of those."""
        if hops > _MAX_NAME_HOPS:
            return False
        if isinstance(value, ast.Name):
            refs = env.get(value.id, frozenset())
            ref = next(iter(refs)) if len(refs) == 1 else None
            return ref is not None and ref.kind == "assign" and ref.value is not None \
                and self._is_path(ref.value, ref.env, hops + 1)
        if not isinstance(value, ast.Call):
            return self._is_path_member(value, env, hops + 1)
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in _PATH_CLASS_METHODS:
            func = func.value
        return self._resolve(func, env)[0] in _PATH_CLASSES or self._is_path_member(value, env, hops + 1)

    def _describe_call(self, call: ast.Call, env: Mapping[str, frozenset],
                       ) -> tuple[Callability, EntryPointKind | None, NameInfo | None]:
        qualified, info, local_class = self._resolve(call.func, env)
        # Unresolved callees (`URLS.get(...)`) are judged by their last name.
        last = (qualified or dotted_name(call.func) or "").rpartition(".")[2]
        if last == "partial":
            return Callability.CALLABLE, EntryPointKind.PARTIAL, None
        if last in _CALLABLE_FACTORIES:
            return Callability.CALLABLE, None, None
        if last in _NON_CALLABLE_FACTORIES:
            return Callability.NOT_CALLABLE, None, None
        if local_class is not None:
            return self._instance_callability(local_class, None), EntryPointKind.OBJECT, None
        if info is not None and isinstance(info.definition, ast.ClassDef):
            return self._instance_callability(info.definition, info.module), EntryPointKind.OBJECT, info
        if info is not None and info.instances is not None:
            return info.instances, EntryPointKind.OBJECT, info
        return Callability.UNKNOWN, None, None

    def _resolve(self, expr: ast.expr, env: Mapping[str, frozenset],
                 ) -> tuple[str | None, NameInfo | None, ast.ClassDef | None]:
        """What a name or attribute chain refers to: its dotted source, what is known of it, or a hubconf class.

        ``nn.Identity`` after ``from torch import nn`` is ``torch.nn.Identity``;
        ``_partial`` after ``from functools import partial as _partial`` is ``functools.partial``.
        """
        dotted = dotted_name(expr)
        if dotted is None:
            return None, None, None
        root, _, rest = dotted.partition(".")
        refs = env.get(root, frozenset())
        bound = [ref for ref in refs if ref is not _UNBOUND]
        if not bound:
            return (dotted if not rest else None), None, None
        if len(bound) > 1 or _UNBOUND in refs:
            return None, None, None
        binding = bound[0]
        if binding.kind == "class":
            return None, None, (binding.node if not rest else None)
        if binding.kind == "module":
            base = binding.import_source[0]
        elif binding.kind == "from" and binding.import_source[0]:
            base = ".".join(binding.import_source)
        else:
            return None, None, None
        qualified = f"{base}.{rest}" if rest else base
        module, _, name = qualified.rpartition(".")
        return qualified, (self.index.lookup(module, name) if module else None), None

    def _instance_callability(self, cls: ast.ClassDef, module: str | None, depth: int = 0) -> Callability:
        """Whether instances of ``cls`` (defined in ``module``, None for hubconf) are callable."""
        if any("__call__" in statement_bound_names(item) for item in cls.body):
            return Callability.CALLABLE
        verdicts: set[Callability] = set()
        for base in cls.bases:
            name = dotted_name(base)
            if name in _MODULE_BASE_NAMES:
                return Callability.CALLABLE
            if name == "object":
                continue
            parent = self._base_class(name, module) if name and depth < 8 else None
            if parent is None:
                verdicts.add(Callability.UNKNOWN)
            else:
                verdicts.add(self._instance_callability(*parent, depth + 1))
        if Callability.CALLABLE in verdicts:
            return Callability.CALLABLE
        return Callability.UNKNOWN if verdicts else Callability.NOT_CALLABLE

    def _base_class(self, name: str, module: str | None) -> tuple[ast.ClassDef, str | None] | None:
        if "." in name:
            return None
        if module is None:
            local = self.local_classes.get(name)
            return (local, None) if local is not None else None
        info = self.index.lookup(module, name)
        return (info.definition, info.module) if isinstance(info.definition, ast.ClassDef) else None

    def _uncertainty_reason(self, name: str, bindings: frozenset) -> str:
        bound = [b for b in bindings if b is not _UNBOUND]
        if any(b.kind == "loop" for b in bound):
            return f"{name} is bound by a for loop, so its value is decided at run time"
        undecided = [b for b in bound if self._callability(b) is not Callability.NOT_CALLABLE]
        if len(undecided) == 1 and (len(bound) > 1 or _UNBOUND in bindings) \
                and self._callability(undecided[0]) is Callability.UNKNOWN:
            # The other paths leave it unbound or not callable: only this binding's value decides.
            return self._uncertainty_reason(name, frozenset(undecided))
        if len(bound) > 1 or _UNBOUND in bindings:
            return f"{name} is bound conditionally, so whether torch.hub.list shows it depends on run time"
        binding = bound[0]
        if binding.kind == "from":
            module, original = binding.import_source
            info = self._describe(binding)[2]
            note = f" ({info.note})" if info and info.note else ""
            return f"cannot tell statically whether {original} imported from {module} is callable{note}"
        if binding.unpacked is not None:
            return f"{name} is unpacked from {_shortened(binding.unpacked[0])}, whose items are decided at run time"
        value = _shortened(binding.value) if binding.value is not None else "..."
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
        elif kind is EntryPointKind.ALIAS and binding.value is not None:
            origin = ast.unparse(binding.value)
        elif kind is EntryPointKind.PARTIAL and isinstance(binding.value, ast.Call) and binding.value.args:
            origin = ast.unparse(binding.value.args[0])
        node = definition.node if definition else None
        doc = None
        parameters = None
        if kind is EntryPointKind.LAMBDA and isinstance(binding.value, ast.Lambda):
            parameters = _parameters(binding.value.args, drop_first=False)
        elif kind is EntryPointKind.PARTIAL and isinstance(binding.value, ast.Call):
            parameters = _partial_parameters(binding.value, self._called_parameters(node, definition, kind))
        elif node is not None:
            runs = self._wrapper_called(node, definition) or node
            doc = _docstring(runs)
            parameters = self._called_parameters(node, definition, kind)
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

    def _called_parameters(self, node: ast.AST | None, definition: Definition | None,
                           kind: EntryPointKind) -> tuple[Parameter, ...] | None:
        """The parameters of what calling ``node`` runs: its own, or those of the wrapper a repo decorator
        puts in its place, with defaults that name the decorator factory's parameters given their values."""
        wrapper = self._wrapper_called(node, definition)
        if wrapper is None or definition is None or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return _node_parameters(node, kind)
        parameters = _node_parameters(wrapper, kind) or ()
        module = definition.module
        return with_closure_defaults(parameters, node, wrapper, lambda expr: self._repo_function(expr, module))

    def _wrapper_called(self, node: ast.AST | None, definition: Definition | None) -> FunctionNode | None:
        """The wrapper a repo decorator puts in place of the function ``node`` defines, if it does."""
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.decorator_list \
                or definition is None or not definition.local:
            return None
        module = definition.module
        return replacing_wrapper(node, lambda expr: self._repo_function(expr, module))

    def _repo_function(self, expr: ast.expr, module: str | None) -> FunctionNode | None:
        """The repo function a bare name refers to at the top level of ``module`` (None: hubconf)."""
        if not isinstance(expr, ast.Name):
            return None
        if module is not None:
            found = self.index.lookup(module, expr.id).definition
            return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        for stmt in reversed(self.tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == expr.id:
                return stmt
            if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                alias = next((a for a in stmt.names if (a.asname or a.name) == expr.id), None)
                if alias is not None:
                    found = self.index.lookup(stmt.module, alias.name).definition
                    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        return None

    def _definition(self, binding: _Binding, info: NameInfo | None) -> Definition | None:
        if isinstance(binding.node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return Definition(self.path, None, binding.node, local=True)
        if info is not None and info.definition is not None and info.path is not None:
            return Definition(info.path, info.module, info.definition, local=info.local)
        if binding.kind in ("assign", "with") and binding.value is not None:
            return self._target_definition(binding.value, binding.env, 0)
        return None

    def _target_definition(self, value: ast.expr, env: Mapping[str, frozenset], depth: int) -> Definition | None:
        """The code a value runs when called: a lambda, an aliased function, a partial's function, an instance's class."""
        if depth > 8:
            return None
        if isinstance(value, ast.Lambda):
            return Definition(self.path, None, value, local=True)
        if isinstance(value, ast.Call):
            qualified, info, local_class = self._resolve(value.func, env)
            if local_class is not None:
                return Definition(self.path, None, local_class, local=True)
            last = (qualified or dotted_name(value.func) or "").rpartition(".")[2]
            if last == "partial" and value.args:
                return self._target_definition(value.args[0], env, depth + 1)
            if info is not None and isinstance(info.definition, ast.ClassDef) and info.path is not None:
                return Definition(info.path, info.module, info.definition, local=info.local)
            return None
        if isinstance(value, ast.Name):
            refs = [ref for ref in env.get(value.id, frozenset()) if ref is not _UNBOUND]
            if len(refs) == 1:
                ref = refs[0]
                if ref.kind in ("assign", "with") and ref.value is not None:
                    return self._target_definition(ref.value, ref.env, depth + 1)
                return self._definition(ref, self._describe(ref)[2])
            return None
        if isinstance(value, ast.Attribute):
            _, info, _ = self._resolve(value, env)
            if info is not None and info.definition is not None and info.path is not None:
                return Definition(info.path, info.module, info.definition, local=info.local)
        return None

    # -- dependencies and imports ----------------------------------------------------------

    def _dependencies(self, state: _State) -> Dependencies:
        bindings = [b for b in state.get("dependencies", frozenset()) if b is not _UNBOUND]
        if not bindings:
            return Dependencies(declared=False)
        binding = max(bindings, key=lambda b: b.node.lineno)
        value = binding.value
        line, column = binding.node.lineno, binding.node.col_offset + 1
        if value is None:
            return Dependencies(True, line, column, problem="not-literal", problem_at=(line, column))
        source = ast.unparse(value)
        at = (value.lineno, value.col_offset + 1)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return Dependencies(True, line, column, problem="bare-string", source=source, problem_at=at)
        if not isinstance(value, (ast.List, ast.Tuple)):
            return Dependencies(True, line, column, problem="not-literal", source=source, problem_at=at)
        entries = []
        for element in value.elts:
            if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
                return Dependencies(True, line, column, problem="non-string-element", source=source,
                                    problem_at=(element.lineno, element.col_offset + 1))
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
        # Every construct described below names one of these words; without them there is nothing to walk for.
        if not any(word in self.source for word in _DYNAMIC_WORDS) and not _STAR_IMPORT.search(self.source):
            return
        # One pass over the tree: the candidates, and the blocks torch.hub never runs to drop them from.
        candidates: list[ast.ImportFrom | ast.Call | ast.Assign | ast.AugAssign | ast.Delete | ast.Global] = []
        dead: list[tuple[int, int]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, _MAYBE_DYNAMIC):
                candidates.append(node)
            if isinstance(node, ast.If) and node.body and never_true_under_torch_hub(node.test):
                dead.append((node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno))
        for node in candidates:
            if id(node) in self.read_namespace_writes or any(first <= node.lineno <= last for first, last in dead):
                continue
            description = _dynamic_description(node)
            if description and isinstance(node, ast.ImportFrom) and self._star_exports(node) is not None:
                continue
            if description:
                self.dynamic.append(DynamicConstruct(node.lineno, node.col_offset + 1, description))


def _assigned_value(state: _State, name: str) -> ast.expr | None:
    """The value of a name bound by exactly one plain assignment so far, else None."""
    bound = [b for b in state.get(name, frozenset()) if b is not _UNBOUND]
    return bound[0].value if len(bound) == 1 and bound[0].kind == "assign" else None


def _shortened(value: ast.expr) -> str:
    text = ast.unparse(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _deciding_names(value: ast.expr) -> set[str]:
    """The names whose bindings decide whether ``value`` is callable (a call's callee, an alias's root):
    a container display or a comprehension is never callable, whatever names it holds."""
    if isinstance(value, ast.Call):
        return _deciding_names(value.func)
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)):
        root: ast.expr = value
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        return _deciding_names(root) if not isinstance(root, ast.Name) else {root.id}
    if isinstance(value, ast.IfExp):
        return _deciding_names(value.body) | _deciding_names(value.orelse)
    if isinstance(value, ast.BoolOp):
        return set().union(*(_deciding_names(operand) for operand in value.values))
    return set()


def _loaded_names(value: ast.AST | None) -> set[str]:
    if value is None:
        return set()
    return {node.id for node in ast.walk(value) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _merge(*states: _State) -> _State:
    merged: dict[str, frozenset] = {}
    names = set().union(*states)
    for name in names:
        union: frozenset = frozenset()
        for state in states:
            union |= state.get(name, frozenset({_UNBOUND}))
        merged[name] = union
    return merged


_DYNAMIC_WORDS = ("global", "vars", "locals", "exec", "setattr", "delattr", "modules")
_STAR_IMPORT = re.compile(r"import\s*\*")

# The only node types _dynamic_description can describe; checked first because most nodes are not.
_MAYBE_DYNAMIC = (ast.ImportFrom, ast.Call, ast.Assign, ast.AugAssign, ast.Delete, ast.Global)


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
    if isinstance(node, ast.Global):
        public = [name for name in node.names if not name.startswith("_")]
        if public:
            return f"`global {', '.join(public)}` in a function"
    return None


def _walruses(stmt: ast.stmt) -> list[ast.NamedExpr]:
    """``name := value`` in what the statement itself evaluates at module level (not in the blocks it holds)."""
    roots: Sequence[ast.AST]
    if isinstance(stmt, (ast.If, ast.While)):
        roots = [stmt.test]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        roots = [stmt.iter]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        roots = [item.context_expr for item in stmt.items]
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        roots = stmt.decorator_list + stmt.args.defaults + [d for d in stmt.args.kw_defaults if d is not None]
    elif isinstance(stmt, ast.ClassDef):
        roots = stmt.decorator_list + stmt.bases + [k.value for k in stmt.keywords]
    elif isinstance(stmt, ast.Match):
        roots = [stmt.subject]
    elif isinstance(stmt, _TRY_NODES):
        roots = []
    else:
        roots = [stmt]
    found: list[ast.NamedExpr] = []
    pending = list(reversed(roots))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.NamedExpr):
            found.append(node)
        if not isinstance(node, ast.Lambda):  # a lambda's walrus binds in the lambda
            pending.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


def _is_namespace_call(node: ast.expr) -> bool:
    """``globals()``, or ``vars()``/``locals()`` at module level; ``vars(obj)`` is obj's namespace."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("globals", "vars", "locals")
        and not node.args
        and not node.keywords
    )


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
        elif isinstance(stmt, _TRY_NODES):
            handles = any(handles_import_error(h) for h in stmt.handlers)
            yield from _walk_imports(stmt.body, module_level, optional or handles)
            for handler in stmt.handlers:
                yield from _walk_imports(handler.body, module_level, optional)
            yield from _walk_imports(stmt.orelse, module_level, optional)
            yield from _walk_imports(stmt.finalbody, module_level, optional)
        elif isinstance(stmt, ast.If) and never_true_under_torch_hub(stmt.test):
            yield from _walk_imports(stmt.orelse, module_level, optional)
        else:
            for field_name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field_name, None)
                if isinstance(inner, list):
                    yield from _walk_imports(inner, module_level, optional)
            for case in getattr(stmt, "cases", ()) or ():
                yield from _walk_imports(case.body, module_level, optional)


def _docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda) -> str | None:
    """``__doc__`` as the running interpreter's compiler sets it."""
    if isinstance(node, ast.Lambda):
        return None
    doc = ast.get_docstring(node, clean=False)
    return _clean_like_compiler(doc) if doc is not None and _COMPILER_CLEANS_DOCSTRINGS else doc


def _clean_like_compiler(doc: str) -> str:
    """What Python 3.13+ compilers store: tabs expanded, the first line's leading spaces and the
    common indentation of the other lines removed; unlike ``inspect.cleandoc``, blank lines stay."""
    lines = doc.expandtabs().split("\n")
    margin = min((len(line) - len(line.lstrip(" ")) for line in lines[1:] if line.strip(" ")), default=0)
    return "\n".join([lines[0].lstrip(" ")] + [line[margin:] for line in lines[1:]])


def _parameters(args: ast.arguments, drop_first: bool) -> tuple[Parameter, ...]:
    positional = list(args.posonlyargs) + list(args.args)
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[Parameter] = []
    for index, arg in enumerate(positional):
        kind = "positional_only" if index < len(args.posonlyargs) else "positional_or_keyword"
        params.append(_parameter(arg, kind, defaults[index]))
    if args.vararg is not None:
        params.append(_parameter(args.vararg, "var_positional", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
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
        default=_source_text(default) if default is not None else None,
        annotation=_source_text(arg.annotation) if arg.annotation is not None else None,
    )


def _source_text(node: ast.expr) -> str:
    """``ast.unparse(node)``, with the common defaults and annotations (``True``, ``64``, ``int``)
    spelled directly: unparse builds a visitor per call, and a large hub has thousands."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and type(node.value) in (bool, int, type(None)):
        return repr(node.value)
    return ast.unparse(node)


def _node_parameters(node: ast.AST | None, kind: EntryPointKind) -> tuple[Parameter, ...] | None:
    """The parameters of calling what ``node`` defines (an instance of it, for objects)."""
    if isinstance(node, ast.ClassDef):
        return _call_parameters(node) if kind is EntryPointKind.OBJECT else _class_parameters(node)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return _parameters(node.args, drop_first=False)
    return None


def _partial_parameters(call: ast.Call, target: tuple[Parameter, ...] | None) -> tuple[Parameter, ...] | None:
    """What ``inspect.signature`` shows for ``partial(f, *args, **keywords)`` given f's parameters.

    Positionally bound parameters disappear; a keyword-bound one takes the new
    default and becomes keyword-only, and so do the positional ones after it.
    """
    bound_args = call.args[1:]
    if target is None or any(isinstance(a, ast.Starred) for a in bound_args) or any(k.arg is None for k in call.keywords):
        return None
    keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
    positional = [p for p in target if p.kind in ("positional_only", "positional_or_keyword")]
    if len(bound_args) > len(positional) and not any(p.kind == "var_positional" for p in target):
        return None
    dropped = {p.name for p in positional[:len(bound_args)]}
    leading: list[Parameter] = []
    keyword_only: list[Parameter] = []
    to_keyword_only = False
    for original in target:
        if original.name in dropped:
            continue
        param = original
        if param.name in keywords and param.kind in ("positional_or_keyword", "keyword_only"):
            to_keyword_only = to_keyword_only or param.kind == "positional_or_keyword"
            param = Parameter(param.name, "keyword_only", keywords.pop(param.name), param.annotation)
        elif param.kind == "positional_only" and param.name in keywords and not any(p.kind == "var_keyword" for p in target):
            return None
        if to_keyword_only and param.kind == "positional_or_keyword":
            param = Parameter(param.name, "keyword_only", param.default, param.annotation)
        if to_keyword_only and param.kind == "var_positional":
            continue
        (keyword_only if to_keyword_only and param.kind != "var_keyword" else leading).append(param)
    if keywords and not any(p.kind == "var_keyword" for p in target):
        return None
    variadic = [p for p in leading if p.kind == "var_keyword"]
    return tuple([p for p in leading if p.kind != "var_keyword"] + keyword_only + variadic)


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
