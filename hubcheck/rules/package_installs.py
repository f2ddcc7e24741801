"""HUB305: package installs that run when torch.hub.load calls an entry point.

HUB301 reports an install in the code that runs when hubconf is imported. Most
repos that install packages do it later, on the way through an entry point:
yolov5's ``_create`` imports ``models.common``, whose top level runs
``os.system("pip install -U ultralytics")`` when the package is missing, and
calls ``check_requirements``, which pip-installs whatever is missing. This rule
follows an entry point's call into the repo's own code, as the user's
``torch.hub.load`` does: the calls it makes by name, the classes it builds, the
methods it calls on ``self`` and the repo modules it imports (whose top level
then runs), each step resolved statically to its definition, and reports the
install at the call that runs it, with the chain from the entry point.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.names import FileNames, argument
from hubcheck.static.reach import CodeUnit
from hubcheck.static.syntax import FUNCTION_NODES, enclosing_functions, live_statements, short_source, span

# -- what installs a package -----------------------------------------------------------------

# Calls that run a command line: every positional argument is part of it (``os.execv(path, args)``).
_COMMAND_RUNNERS = frozenset({
    "os.system", "os.popen", "os.posix_spawn", "os.posix_spawnp",
    "os.execl", "os.execle", "os.execlp", "os.execlpe", "os.execv", "os.execve", "os.execvp", "os.execvpe",
    "os.spawnl", "os.spawnle", "os.spawnlp", "os.spawnlpe", "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnvpe",
    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.Popen",
    "subprocess.getoutput", "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell", "asyncio.create_subprocess_exec",
})
# pip's own entry points, called in-process with pip's arguments (``pip.main(["install", name])``).
_PIP_FUNCTIONS = frozenset({"pip.main", "pip._internal.main", "pip._internal.main.main", "pip._internal.cli.main.main"})
_ENSUREPIP = frozenset({"ensurepip.bootstrap", "ensurepip._main"})
# Other packages' helpers that pip-install what is missing unless their ``install`` parameter is false:
# callee -> (position, keyword) of that parameter.
_INSTALLING_HELPERS = {
    "ultralytics.utils.checks.check_requirements": (2, "install"),
    "ultralytics.yolo.utils.checks.check_requirements": (2, "install"),
}
_CALLEES = _COMMAND_RUNNERS | _PIP_FUNCTIONS | _ENSUREPIP | frozenset(_INSTALLING_HELPERS)

_UNKNOWN = "{}"
"""What a part of a command that is decided at run time is rendered as."""
_SEGMENT_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")
_INSTALLERS = re.compile(r"^(pip\d*(\.\d+)?|conda|mamba|micromamba|apt|apt-get|yum|dnf|brew)(\.exe)?$")
_INSTALL_VERBS = frozenset({"install", "uninstall", "remove", "upgrade"})
_MAX_RENDER_DEPTH = 8


def _render(expr: ast.expr, names: FileNames, chain: tuple[ast.AST, ...], depth: int = 0) -> str:
    """The command line an expression builds, with ``{}`` for each part decided at run time.

    Follows strings, f-strings, ``+``, lists and tuples (their items joined by spaces, as the
    shell would see them), ``sys.executable``, ``.split()``, ``.format()``, ``" ".join(...)``,
    ``shlex.split`` and names bound once to such an expression.
    """
    if depth > _MAX_RENDER_DEPTH:
        return _UNKNOWN
    deeper = depth + 1
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else _UNKNOWN
    if isinstance(expr, ast.JoinedStr):
        return "".join(_render(part.value if isinstance(part, ast.FormattedValue) else part, names, chain, deeper)
                       for part in expr.values)
    if isinstance(expr, (ast.List, ast.Tuple)):
        return " ".join(_render(item.value if isinstance(item, ast.Starred) else item, names, chain, deeper)
                        for item in expr.elts)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left, right = _render(expr.left, names, chain, deeper), _render(expr.right, names, chain, deeper)
        sequences = isinstance(expr.left, (ast.List, ast.Tuple)) or isinstance(expr.right, (ast.List, ast.Tuple))
        return f"{left} {right}" if sequences else left + right
    if isinstance(expr, ast.IfExp):
        return _render(expr.body, names, chain, deeper)
    if isinstance(expr, (ast.Name, ast.Attribute)) and names.qualified(expr) == "sys.executable":
        return "python"
    if isinstance(expr, ast.Name):
        found = names.single_value(expr.id, chain, expr.lineno)
        return _render(found[0], names, found[1], deeper) if found else _UNKNOWN
    if isinstance(expr, ast.Call):
        func = expr.func
        if names.qualified(func) in ("shlex.split", "str") and expr.args:
            return _render(expr.args[0], names, chain, deeper)
        if isinstance(func, ast.Attribute) and func.attr in ("split", "format", "strip"):
            return _render(func.value, names, chain, deeper)
        if isinstance(func, ast.Attribute) and func.attr == "join" and expr.args:
            return _render(expr.args[0], names, chain, deeper)
    return _UNKNOWN


def _install_command(command: str) -> str | None:
    """The part of a command line that installs or removes packages, or None.

    Each shell segment (split at ``&&``, ``;``, ``|``) is read from its start, past
    ``sudo``, variable assignments and a Python interpreter (or the unknown executable
    a list command starts with): an installer (pip, conda, mamba, apt, brew...) or
    ``-m pip`` followed, after its options, by ``install``/``uninstall``; ``-m ensurepip``;
    ``setup.py install``/``develop``. A command that only mentions pip
    (``echo "pip install x"``) does not start with it, and is no install.
    """
    for segment in _SEGMENT_SEPARATORS.split(command):
        words = [word.strip("'\"") for word in segment.split()]
        start = 0
        while start < len(words) and _launcher(words[start]):
            start += 1
        if start == len(words):
            continue
        tool = posixpath.basename(words[start].replace("\\", "/"))
        verbs: frozenset[str] = _INSTALL_VERBS
        if tool == "-m" and start + 1 < len(words):
            module = words[start + 1]
            if module == "ensurepip":
                return _shown(words)
            rest = words[start + 2:] if module in ("pip", "pip3") else []
        elif tool == "uv" and words[start + 1:start + 2] == ["pip"]:
            rest = words[start + 2:]
        elif tool == "setup.py":
            rest, verbs = words[start + 1:], frozenset({"install", "develop"})
        elif _INSTALLERS.match(tool):
            rest = words[start + 1:]
        else:
            continue
        verb = next((word for word in rest if not word.startswith("-") and word != _UNKNOWN), None)
        if verb in verbs:
            return _shown(words)
    return None


def _launcher(word: str) -> bool:
    """Whether a command's word only starts what follows: sudo, an assignment, Python, its options, or unknown."""
    if word in (_UNKNOWN, "sudo", "env") or _PYTHON.match(posixpath.basename(word.replace("\\", "/"))):
        return True
    if word.startswith("-"):
        return word != "-m"
    return "=" in word


def _shown(words: list[str]) -> str:
    return " ".join(words).replace(_UNKNOWN, "...")


@dataclass(frozen=True)
class _Install:
    """A call that installs packages, and what it does, in the message's words."""

    call: ast.Call
    action: str


def _install(call: ast.Call, callee: str, names: FileNames, ancestors: tuple[ast.AST, ...]) -> _Install | None:
    """What ``call`` (to ``callee``) installs, or None when it installs nothing."""
    if callee in _ENSUREPIP:
        return _Install(call, "installs pip into the running Python (`ensurepip`)")
    if callee in _INSTALLING_HELPERS:
        position, keyword = _INSTALLING_HELPERS[callee]
        install = argument(call, position, keyword)
        if isinstance(install, ast.Constant) and not install.value:
            return None
        return _Install(call, "pip-installs every requirement that is missing (its `install` argument is not false)")
    chain = enclosing_functions(ancestors)
    command = " ".join(_render(arg.value if isinstance(arg, ast.Starred) else arg, names, chain)
                       for arg in call.args)
    given = argument(call, None, "args") or argument(call, None, "command") or argument(call, None, "cmd")
    if not command and given is not None:
        command = _render(given, names, chain)
    if callee in _PIP_FUNCTIONS:
        command = f"pip {command}"
    shown = _install_command(command)
    return _Install(call, f"runs `{shown}`") if shown is not None else None


# -- what an entry point's call runs -----------------------------------------------------------

_Place = tuple[Path, int, int]
"""A definition (or, with line 0, a module's top level) by where it is written: hubconf is parsed twice."""


def _place(path: Path, node: ast.AST) -> _Place:
    return (path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


@dataclass
class _Body:
    """The reached code that runs when one function (or one module's top level) runs."""

    unit: CodeUnit
    """A unit holding it (for resolving its names)."""
    node: ast.AST = field(repr=False)
    """The function, or the module."""
    calls: dict[int, ast.Call] = field(default_factory=dict)
    imports: dict[int, ast.Import | ast.ImportFrom] = field(default_factory=dict)


_SWEPT = (ast.Call, ast.Import, ast.ImportFrom, *FUNCTION_NODES)


def _bodies(ctx: LintContext) -> tuple[dict[_Place, _Body], dict[tuple, _Place]]:
    """Every reached function's and module's body by place, and the body each reached call is in, by
    its file and span (a call inside a nested def runs when that def is called, not its parent).

    One pass over the walk's nodes: they come depth first, so the functions holding a node are
    the ones whose span holds it, still on a stack.
    """
    bodies: dict[_Place, _Body] = {}
    owner_of: dict[tuple, _Place] = {}
    by_unit: dict[tuple[int, bool], tuple[CodeUnit, list[ast.AST]]] = {}
    for unit, node in ctx.nodes_of(*_SWEPT):
        by_unit.setdefault((id(unit.node), unit.import_time), (unit, []))[1].append(node)
    for unit, nodes in by_unit.values():
        stack: list[ast.AST] = [unit.node]
        for node in nodes:
            while len(stack) > 1 and not _holds(stack[-1], node):
                stack.pop()
            if isinstance(node, FUNCTION_NODES):
                stack.append(node)
                continue
            owner = stack[-1]
            # A class walked whole (one an entry point returns) runs its class body at import, not now.
            if not isinstance(owner, (*FUNCTION_NODES, ast.Module)):
                continue
            place = _place(unit.path, owner)
            body = bodies.get(place)
            if body is None:
                body = bodies[place] = _Body(unit, owner)
            if isinstance(node, ast.Call):
                body.calls.setdefault(id(node), node)
                owner_of.setdefault((unit.path, *span(node)), place)
            else:
                body.imports.setdefault(id(node), node)  # type: ignore[arg-type]  # the other swept kinds
    return bodies, owner_of


def _holds(outer: ast.AST, node: ast.AST) -> bool:
    start = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
    return (outer.lineno, outer.col_offset) <= start <= (outer.end_lineno, outer.end_col_offset)  # type: ignore[attr-defined]


class _EntryPaths:
    """Which bodies each entry point's call runs, found breadth first: each with the shortest chain."""

    def __init__(self, ctx: LintContext, bodies: dict[_Place, _Body]) -> None:
        self.ctx = ctx
        self.bodies = bodies
        self.module_units = {unit.path: unit for unit in ctx.units if isinstance(unit.node, ast.Module)}
        self._methods: dict[Path, dict[_Place, ast.ClassDef]] = {}

    def chains(self, wanted: set[_Place]) -> dict[_Place, tuple[str, ...]]:
        """The chain (the entry point, then each body on the way) to each of the ``wanted`` bodies reached."""
        chains: dict[_Place, tuple[str, ...]] = {}
        pending: deque[_Place] = deque()
        model = self.ctx.model
        for entry in sorted(model.entrypoints, key=lambda e: e.name) if model is not None else ():
            definition = entry.definition
            if definition is not None and definition.local:
                target = self._callable_body(definition.path, definition.node)
                if target is not None and target not in chains:
                    name = self._name(target)
                    chains[target] = (entry.name,) if name == entry.name else (entry.name, name)
                    pending.append(target)
        found: dict[_Place, tuple[str, ...]] = {}
        while pending and len(found) < len(wanted):
            current = pending.popleft()
            if current in wanted:
                found[current] = chains[current]
            for target in self._runs(current):
                if target not in chains:
                    chains[target] = (*chains[current], self._name(target))
                    pending.append(target)
        return found

    def _runs(self, place: _Place) -> Iterator[_Place]:
        """The bodies that running the body at ``place`` runs in turn: what it calls, then what it imports."""
        body = self.bodies[place]
        local_imports = _local_import_bindings(body, self.ctx) if place[1] else {}
        for call in body.calls.values():
            target = self._call_target(body, call, local_imports)
            if target is not None:
                yield target
        for statement in body.imports.values():
            for module in _imported_modules(self.ctx, body.unit, statement):
                unit = self._module_unit(module)
                # A module that importing hubconf already ran is in sys.modules: an entry point's import runs nothing.
                if unit is not None and unit.entrypoint is not None:
                    target = _place(unit.path, unit.node)
                    if target in self.bodies:
                        yield target

    def _call_target(self, body: _Body, call: ast.Call,
                     local_imports: dict[str, tuple[str, str | None]]) -> _Place | None:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            owner_class = self._class_of(_place(body.unit.path, body.node))
            method = next((item for item in owner_class.body if isinstance(item, FUNCTION_NODES)
                           and item.name == func.attr), None) if owner_class is not None else None
            return self._callable_body(body.unit.path, method) if method is not None else None
        definition = self.ctx.callee_definition(body.unit, func)
        if definition is None:
            definition = self._locally_imported(func, local_imports)
        return self._callable_body(*definition) if definition is not None else None

    def _locally_imported(self, func: ast.expr, local_imports: dict[str, tuple[str, str | None]],
                          ) -> tuple[Path, ast.AST] | None:
        """The definition a call names through an import inside the calling function (``_create``'s
        ``from utils.general import check_requirements``), which module-level resolution does not see."""
        if isinstance(func, ast.Name) and func.id in local_imports:
            module, name = local_imports[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in local_imports:
            module, imported = local_imports[func.value.id]
            module, name = (f"{module}.{imported}" if imported else module), func.attr
        else:
            return None
        if name is None:
            return None
        info = self.ctx.index.lookup(module, name)
        if info.definition is None or not info.local or info.path is None:
            return None
        return info.path, info.definition

    def _callable_body(self, path: Path, node: ast.AST) -> _Place | None:
        """The body a call of the definition ``node`` runs: a function's own, a class's ``__init__``
        (a class without one runs no body of the repo's: only bodies of functions and modules are kept)."""
        if isinstance(node, ast.ClassDef):
            node = next((item for item in node.body if isinstance(item, FUNCTION_NODES) and item.name == "__init__"),
                        node)
        place = _place(path, node)
        return place if place in self.bodies else None

    def _name(self, place: _Place) -> str:
        """How a chain names a body: ``_create``, ``DetectBackend`` (its ``__init__``), ``Model.fuse``, ``utils.general``."""
        body = self.bodies[place]
        if isinstance(body.node, ast.Module):
            return body.unit.module or "hubconf"
        name = getattr(body.node, "name", "<lambda>")
        owner_class = self._class_of(place)
        if owner_class is None:
            return name
        return owner_class.name if name == "__init__" else f"{owner_class.name}.{name}"

    def _class_of(self, place: _Place) -> ast.ClassDef | None:
        """The class a function at ``place`` is a method of, or None."""
        path = place[0]
        methods = self._methods.get(path)
        if methods is None:
            model = self.ctx.model
            tree = model.tree if model is not None and path == model.path else self.ctx.index.tree(path)
            methods = self._methods[path] = {
                _place(path, item): statement
                for statement in live_statements(tree.body if tree is not None else [], into_definitions=True)
                if isinstance(statement, ast.ClassDef)
                for item in statement.body if isinstance(item, FUNCTION_NODES)}
        return methods.get(place)

    def _module_unit(self, module: str) -> CodeUnit | None:
        found = self.ctx.index.find(module)
        if found is None or not found.local or found.path is None:
            return None
        return self.module_units.get(found.path)


def _local_import_bindings(body: _Body, ctx: LintContext) -> dict[str, tuple[str, str | None]]:
    """Name -> (module, name in it, or None for the module itself) for the imports in a function's body."""
    bindings: dict[str, tuple[str, str | None]] = {}
    for statement in body.imports.values():
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    bindings[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.partition(".")[0]
                    bindings[top] = (top, None)
        else:
            source = ctx.import_source(body.unit, statement)
            for alias in statement.names:
                if source and alias.name != "*":
                    bindings[alias.asname or alias.name] = (source, alias.name)
    return bindings


def _imported_modules(ctx: LintContext, unit: CodeUnit, statement: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import runs, packages first (``a``, ``a.b``), and the submodules a ``from`` import takes."""
    found: list[str] = []
    for module in ctx.imported_modules(unit, statement):
        parts = module.split(".")
        found += [".".join(parts[:end]) for end in range(1, len(parts) + 1)]
    return list(dict.fromkeys(found))


# -- the rule -----------------------------------------------------------------------------------


def _at_import(ctx: LintContext) -> tuple[set[int], set[_Place]]:
    """What HUB301 reports already: the import-time units that run when hubconf is imported (by node),
    and the function bodies its import-time code calls (by place)."""
    units = {id(unit.node) for unit in ctx.units if unit.import_time and unit.entrypoint is None}
    return units, {_place(called.unit.path, called.unit.node) for called in ctx.called_at_import}


@rule(
    code="HUB305",
    name="package-install-on-call",
    severity=Severity.WARNING,
    message="`{code}` {action} when `{entrypoint}` is called ({chain}): torch.hub.load changes the packages of "
            "the user's environment, without asking, and fails offline or without write access",
    fix="declare the package in hubconf's `dependencies` and the repo's requirements instead; where it is "
        "optional, raise an ImportError that names what to install",
)
def package_install_on_call(ctx: LintContext):
    """
    ## What it does
    Checks the code an entry point's call runs for package installs.

    Follows each entry point into the repo's own code, as `torch.hub.load`
    runs it: the repo functions it calls by name (also through imports inside
    the function, as yolov5's `_create` does), the classes it builds (their
    `__init__`), the methods called on `self`, and the repo modules it imports,
    whose top level runs then; and so on from each of those. It reports a
    command that installs or removes packages (`pip install`, `python -m pip
    install`, `conda`/`mamba install`, `apt-get install`, `setup.py install`,
    `python -m ensurepip`) run by `os.system`, `os.popen`, `subprocess` or
    `os.exec*`/`os.spawn*`, written as a string, an f-string or a list
    (`[sys.executable, "-m", "pip", "install", name]`), also through a name
    bound once to one;
    `pip.main(["install", ...])`; `ensurepip.bootstrap()`; and ultralytics'
    `check_requirements` unless it passes `install=False`. The finding is at
    the install, with the chain of calls and imports from the entry point in
    the message (the shortest, entry points in alphabetical order).

    Code that runs when hubconf is imported is HUB301's, and reported there
    only. Strings that only mention pip (an error message, `echo "pip install
    x"`) are not commands that install. Methods of the returned model that the
    user calls later, and code no entry point reaches (training scripts), are
    not followed.

    ## Why is this bad?
    `torch.hub.load` is expected to build a model, not to change the user's
    environment: an install upgrades or replaces packages the user's own code
    depends on (`pip install -U ultralytics` pulls a new torch in some
    environments), writes into a virtualenv the user may not own, needs the
    network, and makes the first load slow and the result depend on what PyPI
    serves that day. In a sandbox or offline it fails with a pip error, far
    from the missing package it was about. `dependencies` in hubconf lets
    torch.hub say what is missing before anything runs.

    ## Example
    ```python
    def _create(name):
        from yolo_utils.general import check_requirements
        check_requirements(["thop"])  # os.system(f"pip install {r}") for each one missing
        ...

    def yolov5s():
        \"\"\"YOLOv5s.\"\"\"
        return _create("yolov5s")
    ```

    ## Use instead
    ```python
    dependencies = ["torch", "thop"]


    def yolov5s():
        \"\"\"YOLOv5s; needs `thop` (listed in `dependencies`).\"\"\"
        try:
            import thop  # noqa: F401
        except ImportError as missing:
            raise ImportError("yolov5s needs thop: pip install thop") from missing
        return _build("yolov5s")


    def _build(name):
        import torch

        return torch.nn.Identity()
    ```

    ## References
    - torch/hub.py `_check_dependencies`: torch.hub checks `dependencies` before it runs an entry point
    - https://pip.pypa.io/en/stable/user_guide/#using-pip-from-your-program
    """
    found: list[tuple[CodeUnit, _Install]] = []
    for unit, call, callee in ctx.calls_to(*_CALLEES):
        install = _install(call, callee, ctx.names(unit.path), ctx.ancestors(unit, call))
        if install is not None:
            found.append((unit, install))
    if not found:
        return
    bodies, owner_of = _bodies(ctx)
    imported_units, called_at_import = _at_import(ctx)
    pending: list[tuple[_Place, _Install]] = []
    for unit, install in found:
        owner = owner_of.get((unit.path, *span(install.call)))
        if owner is None or owner in called_at_import or (owner[1] == 0 and id(unit.node) in imported_units):
            continue
        pending.append((owner, install))
    chains = _EntryPaths(ctx, bodies).chains({owner for owner, _ in pending})
    reported: set[tuple] = set()
    for owner, install in pending:
        chain = chains.get(owner)
        call = install.call
        key = (owner[0], *span(call))
        if chain is None or key in reported:
            continue
        reported.add(key)
        yield Violation(owner[0], call.lineno, call.col_offset + 1,
                        {"code": short_source(call.func), "action": install.action, "entrypoint": chain[0],
                         "chain": " -> ".join(chain)}, chain[0])
