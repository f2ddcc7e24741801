"""Rules about the ``dependencies`` list and what hubconf imports."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, retire, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.modules import is_stdlib
from hubcheck.static.names import FileNames
from hubcheck.static.optional_imports import (
    HelperResolver,
    checked_before_import,
    in_alternative_branch,
    in_suppressing_with,
)
from hubcheck.static.reach import CodeUnit
from hubcheck.static.search_path import SYS_PATH_EDIT_NODES, edits_sys_path
from hubcheck.static.syntax import in_import_fallback, in_try_body_handling_import_error

# Distributions whose import name differs from the name pip installs them by;
# listing the pip name makes torch.hub's find_spec check fail for everyone.
PIP_TO_MODULE = {
    "pillow": "PIL",
    "pyyaml": "yaml",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "opencv-contrib-python": "cv2",
    "scikit-learn": "sklearn",
    "scikit-image": "skimage",
    "beautifulsoup4": "bs4",
    "protobuf": "google.protobuf",
    "python-dateutil": "dateutil",
    "pytorch": "torch",
    "pytorch-lightning": "pytorch_lightning",
    "tensorflow-gpu": "tensorflow",
    "msgpack-python": "msgpack",
    "timm-pytorch": "timm",
    "huggingface-hub": "huggingface_hub",
    "sentencepiece-python": "sentencepiece",
    "ftfy-python": "ftfy",
}

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_VERSION_SPECIFIER = re.compile(r"[<>=!~]")

# torch.hub itself runs on torch, so a missing `torch` can never be what fails.
_ALWAYS_PRESENT = frozenset({"torch"})


# HUB006 (dependency-not-installed) looked dependencies up where hubcheck ran, so the same repo
# linted differently with and without its dependencies installed; lint's findings no longer
# depend on the environment, and validate runs torch.hub's own check where entry points run.
HUB006_RETIRED = (
    "HUB006 (dependency-not-installed) no longer runs in `hubcheck lint`: lint reports the same findings "
    "whatever is installed. `hubcheck validate` checks that every module in `dependencies` is installed: "
    "its `dependencies` check runs torch.hub's own check (\"Missing dependencies: ...\") in the environment "
    "the entry points run in."
)
retire("HUB006", HUB006_RETIRED)


def why_not_module_name(entry: str) -> str | None:
    """Why torch.hub's ``importlib.util.find_spec(entry)`` can never succeed, or None."""
    if _VERSION_SPECIFIER.search(entry):
        return "a version specifier (torch.hub checks module names with find_spec, it does not install)"
    if "[" in entry:
        return "a pip requirement with extras, not a module name"
    if entry.strip() != entry or " " in entry:
        return "a name with whitespace in it"
    if entry.lower() in PIP_TO_MODULE:
        return f"a pip distribution name; the module it installs is {PIP_TO_MODULE[entry.lower()]!r}"
    if "-" in entry:
        return "a pip distribution name (module names cannot contain '-')"
    if not _MODULE_NAME.match(entry):
        return "not a valid module name"
    return None


def _suggested_module(entry: str) -> str:
    known = PIP_TO_MODULE.get(entry.lower())
    if known:
        return known
    base = re.split(r"[<>=!~\[ ;]", entry, maxsplit=1)[0].strip()
    return base.replace("-", "_") or entry


@rule(
    code="HUB003",
    name="dependencies-missing",
    severity=Severity.WARNING,
    message="hubconf.py has no module-level `dependencies` list",
    fix="add `dependencies = [...]` with the modules hubconf needs, e.g. `dependencies = [\"torch\"]`",
)
def dependencies_missing(ctx: LintContext):
    """
    ## What it does
    Checks that hubconf.py defines a module-level `dependencies` variable.

    ## Why is this bad?
    torch.hub checks `dependencies` before help() and load() and tells users
    in one line which packages to install ("Missing dependencies: timm, scipy").
    Without it, a missing package surfaces as an ImportError deep inside the
    repo's code, or not at all until the entry point runs.

    ## Example
    ```python
    import torch

    def model(pretrained=True):
        ...
    ```

    ## Use instead
    ```python
    dependencies = ["torch", "scipy"]

    import torch
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#how-to-implement-an-entrypoint
    """
    model = ctx.model
    if model is not None and not model.dependencies.declared:
        yield Violation(model.path, 1, 1)


@rule(
    code="HUB004",
    name="dependencies-not-list",
    severity=Severity.ERROR,
    message="`dependencies = {value}` {problem}",
    fix="write a literal list of module-name strings, e.g. `dependencies = [\"torch\", \"scipy\"]`",
)
def dependencies_not_list(ctx: LintContext):
    """
    ## What it does
    Checks that `dependencies` is a literal list or tuple of strings.

    ## Why is this bad?
    torch.hub iterates over `dependencies` and calls `find_spec` on each item.
    A bare string is iterated character by character, so `dependencies = "torch"`
    asks for modules named `t`, `o`, `r`... and fails with "Missing
    dependencies: t, o, r, c, h". A value computed at run time cannot be
    checked by anyone before users run it.

    ## Example
    ```python
    dependencies = "torch"
    ```

    ## Use instead
    ```python
    dependencies = ["torch"]
    ```

    ## References
    - torch/hub.py `_check_dependencies`
    """
    model = ctx.model
    problem = model.dependencies.problem if model is not None else None
    if model is None or problem is None:
        return
    deps = model.dependencies
    problems = {
        "bare-string": "is a bare string: torch.hub iterates it character by character",
        "not-literal": "is not a literal list or tuple, so nobody can check it before users run it",
        "non-string-element": "holds something other than strings; torch.hub passes each item to find_spec",
    }
    value = deps.source if deps.source is not None and len(deps.source) <= 60 else "..."
    line, column = deps.problem_at or (deps.line, deps.column)
    yield Violation(model.path, line, column, {"value": value, "problem": problems[problem]})


@rule(
    code="HUB005",
    name="dependency-not-module-name",
    severity=Severity.ERROR,
    message="dependency {entry!r} can never satisfy torch.hub's check: it is {reason}",
    fix="list the importable module name instead: {module!r}",
)
def dependency_not_module_name(ctx: LintContext):
    """
    ## What it does
    Checks that every entry of `dependencies` is a module name, as torch.hub
    checks each one with `importlib.util.find_spec`.

    ## Why is this bad?
    pip distribution names (`opencv-python`, `scikit-learn`, `pillow`) and
    requirement strings (`torch>=1.7`) are not module names. `find_spec` never
    finds them, so torch.hub reports them missing even when they are
    installed (and `torch>=1.7` raises ModuleNotFoundError outright): every
    user's help() and load() fail.

    ## Example
    ```python
    dependencies = ["torch>=1.7", "opencv-python", "scikit-learn"]
    ```

    ## Use instead
    ```python
    dependencies = ["torch", "cv2", "sklearn"]
    ```

    ## References
    - https://docs.python.org/3/library/importlib.html#importlib.util.find_spec
    """
    model = ctx.model
    if model is None:
        return
    for entry in model.dependencies.entries:
        reason = why_not_module_name(entry.value)
        if reason:
            yield Violation(model.path, entry.line, entry.column,
                            {"entry": entry.value, "reason": reason, "module": _suggested_module(entry.value)})


@rule(
    code="HUB007",
    name="undeclared-import",
    severity=Severity.WARNING,
    message="{module!r} is imported by the repo but missing from `dependencies`",
    fix="add {module!r} to `dependencies`",
)
def undeclared_import(ctx: LintContext):
    """
    ## What it does
    Checks that every third-party package that hubconf.py imports, and that the
    repo's own modules import when hubconf or an entry point runs them, is
    listed in `dependencies`. Standard-library modules, the repo's own modules,
    `torch` (torch.hub cannot run without it), imports guarded by
    `except ImportError` or `with contextlib.suppress(ImportError)`, the
    fallback imported in such a handler after another package was tried
    (`except ImportError: from mmengine import Config` after mmcv), imports
    in a branch that runs only when a check found the module (an
    `importlib.util.find_spec` test in the `if`, or a repo function the `if`
    calls that makes it or tries the import), and imports in the later
    branches of a dispatch on flags (`if pt: ... elif onnx: import onnxruntime
    ... elif paddle: ...`, at least three branches, one backend per weights
    format) are exempt.

    ## Why is this bad?
    torch.hub's dependency check is the one place users learn what to install.
    An undeclared package fails later, with an ImportError from a file they
    have never seen, often only after a download has finished.

    ## Example
    ```python
    dependencies = ["torch"]

    import timm
    ```

    ## Use instead
    ```python
    dependencies = ["torch", "timm"]

    import timm
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#how-to-implement-an-entrypoint
    """
    model = ctx.model
    if model is None or model.dependencies.problem is not None:
        return
    declared = {name.partition(".")[0] for name in model.dependencies.names}
    reported: set[str] = set()
    for unit, where, top in _outside_imports(ctx):
        if top in declared or top in reported or ctx.index.beside(unit.path, top) is not None:
            continue
        reported.add(top)
        yield Violation(unit.path, where.lineno, where.col_offset + 1, {"module": top}, unit.entrypoint)


@rule(
    code="HUB008",
    name="repo-module-off-path",
    severity=Severity.ERROR,
    message="{module!r} is imported as a top-level module, but the repo has it only at {location}: torch.hub "
            "puts the repo root on sys.path, not that folder, so the import fails (unless an installed "
            "package happens to be named {module!r})",
    fix="import it by its path from the repo root (as `{dotted}`), or relatively from inside its package",
)
def repo_module_off_path(ctx: LintContext):
    """
    ## What it does
    Checks the imports of hubconf.py and of the repo code it reaches for
    top-level modules that the repo holds only in a sub-folder: code written to
    run from its own folder (`cd yolo && python detect.py`) that says
    `from models.common import Conv` where `models/` sits beside it, not at the
    repo root. Each module is reported once. Folders that hubconf's own static
    `sys.path` edits add are searched as torch.hub would; imports guarded by
    `except ImportError`, imports in a file that edits `sys.path` itself
    (yolov5's `sys.path.append(str(ROOT))`), and every import when an edit
    that hubconf's import runs adds a folder hubcheck cannot work out, are exempt.

    ## Why is this bad?
    torch.hub puts only the repo root on `sys.path` while it imports hubconf and
    runs an entry point, so the import raises ModuleNotFoundError for every user
    (or, worse, picks up some installed package of the same name). Listing the
    module in `dependencies` cannot help: it is not a package anyone installs.

    ## Example
    ```python
    # hubconf.py
    from roboyolo.yolo.models.yolo import detector
    # roboyolo/yolo/models/yolo.py
    from models.common import Conv
    ```

    ## Use instead
    ```python
    # repo layout: hubconf.py, roboyolo/yolo/models/common.py
    # roboyolo/yolo/models/yolo.py, like hubconf.py, names it by its path from the repo root
    from roboyolo.yolo.models.common import Conv as _Conv
    ```

    ## References
    - torch/hub.py `_import_module` and `load`: the repo directory is inserted at `sys.path[0]`, nothing else
    """
    # A sys.path edit hubcheck cannot follow may be what makes the module importable: then say nothing.
    if ctx.index.search_path().unresolved:
        return
    reported: set[str] = set()
    editing: set[Path] | None = None
    for unit, where, top in _outside_imports(ctx):
        location = ctx.index.beside(unit.path, top)
        if location is None or top in reported:
            continue
        if editing is None:
            editing = _editing_sys_path(ctx)
        if unit.path in editing:
            continue
        reported.add(top)
        folder = location.parent.relative_to(ctx.index.repo_root)
        module = where.name if isinstance(where, ast.alias) else (where.module or top)
        dotted = ".".join((*folder.parts, module))
        shown = location.relative_to(ctx.index.repo_root).as_posix() + ("/" if location.is_dir() else "")
        yield Violation(unit.path, where.lineno, where.col_offset + 1,
                        {"module": top, "location": shown, "dotted": dotted}, unit.entrypoint)


def _editing_sys_path(ctx: LintContext) -> set[Path]:
    """The files whose reached code edits sys.path (yolov5's models/yolo.py appends its own parent folder)."""
    editing = {unit.path for unit in ctx.units if ctx.names(unit.path).imports_from("sys", "site")}
    return {unit.path for unit, node in ctx.nodes_of(*SYS_PATH_EDIT_NODES) if editing
            and unit.path in editing and edits_sys_path(node, ctx.names(unit.path))}


def _called_function(ctx: LintContext, path: Path, call: ast.Call
                     ) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, FileNames] | None:
    """The repo function a call in ``path`` calls by name (defined there or imported from the repo), with
    the names of its file; None for anything else."""
    tree = ctx.index.tree(path)
    if isinstance(call.func, ast.Name) and tree is not None:
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == call.func.id:
                return stmt, ctx.names(path)
    qualified = ctx.names(path).qualified(call.func) or ""
    module, _, name = qualified.rpartition(".")
    if not module or not ctx.index.is_local(module):
        return None
    info = ctx.index.lookup(module, name)
    if isinstance(info.definition, (ast.FunctionDef, ast.AsyncFunctionDef)) and info.path is not None:
        return info.definition, ctx.names(info.path)
    return None


def _outside_imports(ctx: LintContext) -> Iterator[tuple[CodeUnit, ast.alias | ast.ImportFrom, str]]:
    """Each absolute import in reached code of a top-level module that is neither the repo's (as torch.hub
    finds modules) nor the standard library nor torch, outside optional code: (unit, where, top-level name)."""
    # Repo modules imported only inside `try: ... except ImportError` are optional extras: their imports too.
    optional = ctx.optional_modules

    def helpers(path: Path) -> HelperResolver:
        return lambda call: _called_function(ctx, path, call)

    for unit, node in ctx.nodes_of(ast.Import, ast.ImportFrom):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or unit.module in optional:
            continue
        ancestors = ctx.ancestors(unit, node)
        if (in_try_body_handling_import_error(node, ancestors) or in_alternative_branch(node, ancestors)
                or in_suppressing_with(node, ancestors, ctx.names(unit.path))):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        # `import a, b` names each module in its own alias; `from a import b` names it once.
        modules: list[tuple[str, ast.alias | ast.ImportFrom]]
        if isinstance(node, ast.Import):
            modules = [(alias.name, alias) for alias in node.names]
        else:
            modules = [(node.module or "", node)]
        for module, where in modules:
            top = module.partition(".")[0]
            if (not top or top in _ALWAYS_PRESENT or is_stdlib(top) or ctx.index.is_local(top)
                    or in_import_fallback(node, ancestors, top)
                    or checked_before_import(top, ancestors, node, ctx.names(unit.path), helpers(unit.path))):
                continue
            yield unit, where, top
