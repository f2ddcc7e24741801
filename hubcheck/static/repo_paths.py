"""Paths written relative to a repo file's own folder (``Path(__file__).parent / "models" / f"{name}.yaml"``).

torch.hub runs the repo from its cache folder, so these are the paths that do follow the
repo; what they name must then be in the repo. Only what is written literally is read:
the anchor (``Path(__file__)``, ``.resolve()``/``.absolute()``, then ``.parent`` or
``.parents[n]``; ``os.path.dirname(__file__)``, through ``abspath``/``realpath``; or a
module-level name bound once to one of these) and the string parts joined to it, up to the
first part that is not a string.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from hubcheck.static.names import FileNames

_RESOLVING_METHODS = frozenset({"resolve", "absolute"})
_RESOLVING_CALLS = frozenset({"os.path.abspath", "os.path.realpath"})
_JOINS = frozenset({"os.path.join", "posixpath.join"})
_CALLED_LAST = frozenset({"join", "dirname"})
"""The last words of the only attribute calls that build an anchored path (``os.path.join``, ``os.path.dirname``)."""


@dataclass(frozen=True)
class AnchoredPath:
    """A path built from a file's folder and literal parts."""

    levels_up: int
    """How many folders above the file's own folder the anchor is (``.parents[1]``: 1)."""
    parts: tuple[str, ...]
    """The literal parts after the anchor, split on ``/``, in order."""
    complete: bool
    """Whether every part is literal; otherwise a part built at run time follows ``parts``."""
    suffix: str = ""
    """The file name's suffix when it is written (``.yaml`` of ``"a.yaml"`` or of ``f"{name}.yaml"``), else ``""``."""

    def literal_folder(self, file: Path) -> Path | None:
        """The folder the literal parts name for code in ``file``: every part when more follows, else all but the
        file name itself; None when no folder is named."""
        folder = self.parts[:-1] if self.complete else self.parts
        if not folder:
            return None
        base = file.parent
        for _ in range(self.levels_up):
            base = base.parent
        return base.joinpath(*folder)


class RepoPathReader:
    """Reads the anchored paths of one file, knowing its module-level names bound once to an anchor."""

    def __init__(self, names: FileNames) -> None:
        self.names = names
        self._anchors = self._module_anchors(names.tree) if names.tree is not None else {}

    def anchored(self, node: ast.expr) -> AnchoredPath | None:
        """The anchored path ``node`` builds with at least one literal part, or None."""
        found = self._path(node)
        return found if found is not None and found.parts else None

    def _path(self, node: ast.expr) -> AnchoredPath | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr not in _CALLED_LAST:
            return None  # most calls of reached code (self.conv(x), nn.Linear(...)): no name to resolve
        up = self._anchor(node)
        if up is not None:
            return AnchoredPath(up, (), True)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self._path(node.left)
            if left is None or not left.complete:
                return left
            return _joined(left, [node.right])
        if isinstance(node, ast.Call) and self.names.qualified(node.func) in _JOINS and node.args:
            up = self._anchor(node.args[0])
            return _joined(AnchoredPath(up, (), True), node.args[1:]) if up is not None else None
        return None

    def _anchor(self, node: ast.expr) -> int | None:
        """How many levels above the file's folder ``node`` names, when it names the folder of ``__file__``."""
        if isinstance(node, ast.Name):
            return self._anchors.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return 0 if self._is_file(node.value) else None
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
                and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int and node.slice.value >= 0):
            return node.slice.value if self._is_file(node.value.value) else None
        if isinstance(node, ast.Call) and self.names.qualified(node.func) == "os.path.dirname" and len(node.args) == 1:
            return 0 if self._is_file(node.args[0]) else None
        return None

    def _is_file(self, node: ast.expr) -> bool:
        """Whether ``node`` is ``__file__`` (as a Path, resolved or made absolute, or not)."""
        while isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _RESOLVING_METHODS and not node.args:
                node = func.value
            elif self.names.qualified(func) in (*_RESOLVING_CALLS, "pathlib.Path") and len(node.args) == 1:
                node = node.args[0]
            else:
                return False
        return isinstance(node, ast.Name) and node.id == "__file__"

    def _module_anchors(self, tree: ast.Module) -> dict[str, int]:
        bound: dict[str, list[ast.expr]] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        bound.setdefault(target.id, []).append(stmt.value)
        anchors: dict[str, int] = {}
        for name, values in bound.items():
            up = self._anchor(values[0]) if len(values) == 1 and not isinstance(values[0], ast.Name) else None
            if up is not None:
                anchors[name] = up
        return anchors


def _joined(path: AnchoredPath, pieces: list[ast.expr]) -> AnchoredPath:
    parts = list(path.parts)
    for piece in pieces:
        if not (isinstance(piece, ast.Constant) and isinstance(piece.value, str)):
            return AnchoredPath(path.levels_up, tuple(parts), False, _written_suffix(pieces[-1]))
        parts += [part for part in piece.value.split("/") if part not in ("", ".")]
    return AnchoredPath(path.levels_up, tuple(parts), True, _written_suffix(pieces[-1]) if pieces else "")


def _written_suffix(last: ast.expr) -> str:
    """The suffix the last piece of a path ends with when its end is written: a string, or an f-string's tail."""
    if isinstance(last, ast.JoinedStr) and last.values:
        last = last.values[-1]
    if not (isinstance(last, ast.Constant) and isinstance(last.value, str)):
        return ""
    name = last.value.rpartition("/")[2]
    return name[name.rfind("."):].lower() if "." in name else ""
