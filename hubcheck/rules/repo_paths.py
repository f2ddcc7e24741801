"""Paths anchored at a repo file's folder that name a folder the repo does not have."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.repo_paths import RepoPathReader
from hubcheck.static.syntax import short_source

# Calls that make, fetch or test for what a path names: code that calls one of these on the path (or
# the name it is bound to) expects the folder may be missing, and the rule leaves it alone.
_HANDLES_MISSING = frozenset({
    "mkdir", "makedirs", "exists", "is_dir", "isdir", "is_file", "isfile", "save", "download_url_to_file",
    "urlretrieve", "write_text", "write_bytes", "touch", "copy", "copyfile", "copytree", "move", "symlink_to",
    "attempt_download", "insert", "append",
})
_WRITING_MODES = frozenset("wax+")
# Weights and data are often kept out of git (LFS, releases, a download step in the README): a folder of
# them missing from a checkout says nothing about the path, unlike a missing config or code folder.
_NOT_ALWAYS_COMMITTED = frozenset({
    ".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".onnx", ".safetensors", ".npy", ".npz", ".h5", ".tar",
    ".zip", ".gz", ".tgz", ".engine", ".tflite", ".pb", ".mlmodel", ".wav", ".jpg", ".jpeg", ".png", ".mp4",
})


@rule(
    code="HUB206",
    name="repo-path-missing",
    severity=Severity.ERROR,
    message="{path} is built from the folder of {file} but the repo has no folder {folder!r}: "
            "reading it fails wherever torch.hub puts the repo",
    fix="point the path at the folder that holds the file ({folder!r} does not exist), or add the folder to the repo",
)
def repo_path_missing(ctx: LintContext) -> Iterator[Violation]:
    """
    ## What it does
    Checks paths in reached code that are built from a repo file's own folder
    (`Path(__file__).parent`, `.resolve()`/`.absolute()`, `.parents[n]`,
    `os.path.dirname(__file__)` through `abspath`/`realpath`, or a module-level
    name bound once to one of these) and literal parts (`/ "models" / f"{name}.yaml"`,
    `os.path.join(..., "models", name)`): the folder the literal parts name must
    exist in the repo. A path the same function creates, downloads to, writes or
    tests for (`mkdir`, `makedirs`, `exists`, `is_dir`, `torch.save`, `open(..., "w")`,
    `sys.path.insert`...) is left alone, as is one that leaves the repo, and one whose
    file name is weights or data (`.pth`, `.onnx`, `.npy`, `.png`...), which repos often
    keep out of git and have users download.

    ## Why is this bad?
    These paths are the right way to reach the repo's files from torch.hub's cache
    folder, so they are trusted: but a folder that is not in the repo (the files
    moved, or the hubconf was copied from a repo laid out differently) makes every
    entry point that reads them fail, for every user.

    ## Example
    ```python
    def create(name):
        config = Path(__file__).parent / "models" / f"{name}.yaml"  # models/ is under src/yolo/
        return Model(config)
    ```

    ## Use instead
    ```python
    def create(name):
        \"\"\"The model `name`, built from its config, which sits beside hubconf.py.\"\"\"
        config = Path(__file__).parent / f"{name}.yaml"
        return Model(config)
    ```

    ## References
    - https://pytorch.org/docs/stable/hub.html#publishing-models
    """
    repo_root = ctx.repo_root.resolve()
    readers: dict[object, RepoPathReader] = {}
    seen: set[tuple] = set()
    for unit, node in ctx.nodes_of(ast.BinOp, ast.Call):
        reader = readers.get(unit.path)
        if reader is None:
            reader = readers[unit.path] = RepoPathReader(ctx.names(unit.path))
        path = reader.anchored(node)
        if path is None:
            continue
        ancestors = ctx.ancestors(unit, node)
        parent = ancestors[-1] if ancestors else None
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div) and parent.left is node:
            continue  # the longer path it begins is judged instead
        folder = path.literal_folder(unit.path)
        if folder is None or path.suffix in _NOT_ALWAYS_COMMITTED:
            continue
        key = (unit.path, node.lineno, node.col_offset)
        if key in seen:
            continue
        seen.add(key)
        try:
            inside = folder.resolve().relative_to(repo_root)
        except ValueError:
            continue
        if folder.is_dir() or _handles_missing(node, ancestors):
            continue
        yield Violation(unit.path, node.lineno, node.col_offset + 1,
                        {"path": f"`{short_source(node)}`", "file": unit.path.name, "folder": inside.as_posix()},
                        unit.entrypoint)


def _handles_missing(node: ast.expr, ancestors: tuple[ast.AST, ...]) -> bool:
    """Whether the enclosing function (or module) creates, writes or tests the path, directly or by the name it is
    bound to."""
    parent = ancestors[-1] if ancestors else None
    bound = (parent.targets[0].id if isinstance(parent, ast.Assign) and len(parent.targets) == 1
             and isinstance(parent.targets[0], ast.Name) else None)
    scope = next((a for a in reversed(ancestors) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))),
                 ancestors[0] if ancestors else node)

    def is_path(expr: ast.AST) -> bool:
        return expr is node or (bound is not None and isinstance(expr, ast.Name) and expr.id == bound)

    for call in ast.walk(scope):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        subjects = [*call.args, *(k.value for k in call.keywords)]
        if isinstance(func, ast.Attribute):
            subjects.append(func.value)
        if not any(is_path(inner) for subject in subjects for inner in ast.walk(subject)):
            continue
        if name in _HANDLES_MISSING or (name == "open" and _writes(call)):
            return True
    return False


def _writes(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(_WRITING_MODES & set(mode.value))
