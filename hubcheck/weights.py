"""Every weight file a hub repo's entry points reach, found statically.

The calls looked for are torch.hub's downloads (``load_state_dict_from_url``, also as
``torch.utils.model_zoo.load_url``, and ``download_url_to_file``), hand-written downloads
(``urllib.request.urlretrieve``, ``requests.get``, ``wget.download``, ``gdown.download``) and
``torch.load`` of a path in the repo. Their URL or path is resolved through the static model:
literals, f-strings, ``+`` and ``os.path.join`` chains, names bound once (``URL = "..."``) and
dicts of URLs (``model_urls[arch]`` gives every value). Each entry point's code is walked on
its own, so a weight lists every entry point that reaches it.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from hubcheck.static.model import HubconfModel
from hubcheck.static.modules import ModuleIndex
from hubcheck.static.names import DOWNLOAD_URL_TO_FILE, LOAD_STATE_DICT_FROM_URL, MAYBE, TORCH_LOAD, argument
from hubcheck.static.reach import Reach
from hubcheck.static.syntax import enclosing_functions, short_source

IMPORT_TIME = "(import)"
"""The entry point name given to code that runs when hubconf.py is imported."""
_HAND_WRITTEN = frozenset({"urllib.request.urlretrieve", "requests.get", "wget.download", "gdown.download",
                           "urllib.request.urlopen"})
# torch/hub.py: the hash prefix is what sits between the last '-' and the first '.' after it.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")


@dataclass(frozen=True)
class WeightSite:
    """One call that fetches or opens a weight file."""

    path: str
    """File, relative to the repo root."""
    line: int
    loader: str
    """The function called, e.g. ``torch.hub.load_state_dict_from_url``."""


@dataclass(frozen=True)
class WeightRef:
    """One weight URL or local path and everything that uses it."""

    location: str
    """The URL, the path, or (``kind == "unresolved"``) the source text of the expression."""
    kind: str
    """``url``, ``path`` or ``unresolved``."""
    file_name: str | None
    """The name torch.hub caches it under (``<hub>/checkpoints/<file_name>``), for URLs."""
    hash_prefix: str | None
    """The hex digits the file's sha256 must start with: from the file name (what ``check_hash=True`` reads),
    or ``download_url_to_file``'s ``hash_prefix``; None when there are none."""
    hash_checked: bool | None
    """Whether the call checks the hash (``check_hash=True``, ``hash_prefix=``); None when that is decided at run time."""
    entrypoints: tuple[str, ...]
    """Entry points whose code reaches it (:data:`IMPORT_TIME` for hubconf's import)."""
    sites: tuple[WeightSite, ...]

    def to_json(self) -> dict[str, object]:
        return {"location": self.location, "kind": self.kind, "file_name": self.file_name,
                "hash_prefix": self.hash_prefix, "hash_checked": self.hash_checked,
                "entrypoints": list(self.entrypoints),
                "sites": [{"path": s.path, "line": s.line, "loader": s.loader} for s in self.sites]}


def hash_prefix(file_name: str) -> str | None:
    """The hash prefix torch.hub reads from a checkpoint's file name (``resnet18-f37072fd.pth``), or None."""
    match = _HASH_IN_NAME.search(file_name)
    return match.group(1) if match else None


def list_weights(repo_root: Path, model: HubconfModel, index: ModuleIndex | None = None) -> tuple[WeightRef, ...]:
    """Every weight the entry points of ``model`` reach, sorted by location; nothing of the repo runs."""
    from hubcheck.static.names import FileNames

    repo_root = repo_root.resolve()
    index = index or ModuleIndex(repo_root)
    found: dict[tuple[str, str], dict] = {}
    names: dict[Path, FileNames] = {}
    imported: dict[Path, dict[str, str]] = {}

    def names_of(path: Path) -> FileNames:
        if path not in names:
            names[path] = FileNames(model.tree if path == model.path else index.tree(path))
        return names[path]

    public = tuple(entry for entry in model.entrypoints if not entry.leaked)
    if not _reaches_a_loader(Reach(dataclasses.replace(model, entrypoints=public), index), names_of):
        return ()  # one walk of everything says no entry point loads weights: no walk per entry point needed
    for entry in public:
        reach = Reach(dataclasses.replace(model, entrypoints=(entry,)), index)
        for unit, call in reach.nodes_of(ast.Call):
            file_names = names_of(unit.path)
            callee = file_names.qualified(call.func)
            if callee is None or not _is_loader(callee):
                continue
            chain = enclosing_functions(reach.ancestors(unit, call))
            user = IMPORT_TIME if unit.import_time and unit.entrypoint is None else entry.name
            site = WeightSite(_relative(unit.path, repo_root), call.lineno, callee)
            constants = _imported_constants(unit.path, unit.module, file_names.tree, index, imported)
            here = _relative(unit.path, repo_root)
            locations = _locations(_substituted(call, constants), callee, file_names, chain, here)
            if callee == TORCH_LOAD and all(kind == "unresolved" for _, kind in locations):
                locations = _through_callers(call, chain, reach, unit, file_names, here) or locations
            for location, kind in locations:
                file_name = _file_name(call, callee, file_names, chain, location, kind)
                record = found.setdefault((location, kind), {
                    "checked": _hash_checked(call, callee), "file_name": file_name,
                    "hash": _given_hash(call, callee, file_names, chain) or (hash_prefix(file_name) if file_name else None),
                    "users": set(), "sites": set()})
                record["users"].add(user)
                record["sites"].add(site)
    refs = []
    for (location, kind), record in sorted(found.items()):
        refs.append(WeightRef(location, kind, record["file_name"], record["hash"], record["checked"],
                              tuple(sorted(record["users"])), tuple(sorted(record["sites"], key=lambda s: (s.path, s.line)))))
    return tuple(refs)


def _reaches_a_loader(reach: Reach, names_of) -> bool:
    for unit, call in reach.nodes_of(ast.Call):
        callee = names_of(unit.path).qualified(call.func)
        if callee is not None and _is_loader(callee):
            return True
    return False


def _imported_constants(path: Path, module: str | None, tree: ast.Module | None, index: ModuleIndex,
                        cache: dict[Path, dict[str, str]]) -> dict[str, str]:
    """Strings a file imports from the repo's own modules (``from .utils import BASE_URL``), by local name."""
    from hubcheck.static.names import FileNames

    if path in cache:
        return cache[path]
    found: dict[str, str] = {}
    for stmt in tree.body if tree is not None else ():
        if not isinstance(stmt, ast.ImportFrom):
            continue
        package = (module or "").split(".")[:-stmt.level] if stmt.level else []
        source = ".".join([*package, stmt.module] if stmt.module else package)
        target = index.find(source) if source else None
        other = index.tree(target.path) if target is not None and target.local and target.path else None
        if other is None:
            continue
        other_names = FileNames(other)
        for alias in stmt.names:
            value = other_names.literal(ast.Name(alias.name, ast.Load(), lineno=10**9, col_offset=0), ())
            if value is not None:
                found[alias.asname or alias.name] = value
    cache[path] = found
    return found


class _Constants(ast.NodeTransformer):
    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.constants:
            return ast.copy_location(ast.Constant(self.constants[node.id]), node)
        return node


def _substituted(call: ast.Call, constants: dict[str, str]) -> ast.Call:
    """``call`` with imported string constants written in, so the literal resolver sees them."""
    if not constants or not any(isinstance(n, ast.Name) and n.id in constants for n in ast.walk(call)):
        return call
    import copy

    replaced = _Constants(constants).visit(copy.deepcopy(call))
    return replaced if isinstance(replaced, ast.Call) else call


def _is_loader(callee: str) -> bool:
    return callee in (LOAD_STATE_DICT_FROM_URL, DOWNLOAD_URL_TO_FILE, TORCH_LOAD) or callee in _HAND_WRITTEN


def _locations(call: ast.Call, callee: str, names, chain, here: str) -> list[tuple[str, str]]:
    """(location, kind) for each value the call's URL or path may be; ``here`` is the call's file in the repo."""
    passed = argument(call, 0, "f" if callee == TORCH_LOAD else "url")
    if passed is None or passed is MAYBE:
        return []
    values = names.literal_candidates(passed, chain)
    if callee == TORCH_LOAD:
        if values:
            return [(value, "url" if "://" in value else "path") for value in values]
        anchored = _anchored(passed, names, chain, here)
        if anchored is not None and anchored[1]:
            return [(anchored[0], "path")]
        # A buffer or a file this process made is no weight; a path anchored to the repo is.
        return [(short_source(passed, 120), "unresolved")] if "__file__" in ast.unparse(passed) else []
    urls = [value for value in values if "://" in value]
    if urls:
        return [(url, "url") for url in urls]
    if callee in _HAND_WRITTEN and not values:
        return []  # requests.get(some_url) of anything: only literal weight URLs are weights
    return [(short_source(passed, 120), "unresolved")]


def _through_callers(call: ast.Call, chain, reach: Reach, unit, names, here: str) -> list[tuple[str, str]]:
    """A ``torch.load`` of a helper's parameter (``def _load(path): return torch.load(path)``): the paths the
    helper's callers in the same file pass, one level up, as ``reference_repo`` and many real repos load."""
    passed = argument(call, 0, "f")
    if not isinstance(passed, ast.Name) or not chain or not isinstance(chain[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    helper = chain[0]
    positional = [a.arg for a in (*helper.args.posonlyargs, *helper.args.args)]
    if passed.id not in positional and passed.id not in [a.arg for a in helper.args.kwonlyargs]:
        return []
    position = positional.index(passed.id) if passed.id in positional else None
    if position is not None and positional and positional[0] in ("self", "cls"):
        return []  # a method: its callers are reached through an instance, not by name
    found: list[tuple[str, str]] = []
    for other, caller in reach.nodes_of(ast.Call):
        if other.path != unit.path or not (isinstance(caller.func, ast.Name) and caller.func.id == helper.name):
            continue
        given = argument(caller, position, passed.id)
        if given is None or given is MAYBE:
            continue
        caller_chain = enclosing_functions(reach.ancestors(other, caller))
        for value in names.literal_candidates(given, caller_chain):
            found.append((value, "url" if "://" in value else "path"))
        anchored = _anchored(given, names, caller_chain, here)
        if anchored is not None and anchored[1]:
            found.append((anchored[0], "path"))
    return sorted(set(found))


def _anchored(expr: ast.expr, names, chain, here: str, depth: int = 0) -> tuple[str, bool] | None:
    """The repo-relative path of an expression built on its own file's location (``os.path.dirname(__file__)``,
    ``Path(__file__).parent``), and whether it is so anchored; None when it depends on anything else.

    Kept apart from the static model's literal strings, which must never treat such a path as a relative one.
    """
    if depth > 12:
        return None
    if isinstance(expr, ast.Constant):
        return (expr.value, False) if isinstance(expr.value, str) else None
    if isinstance(expr, ast.Name):
        if expr.id == "__file__":
            return here, True
        found = names.single_value(expr.id, chain, expr.lineno)
        return _anchored(found[0], names, found[1], here, depth + 1) if found else None
    if isinstance(expr, ast.Attribute) and expr.attr == "parent":
        inner = _anchored(expr.value, names, chain, here, depth + 1)
        return (posixpath.dirname(inner[0]), inner[1]) if inner else None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Div, ast.Add)):
        left = _anchored(expr.left, names, chain, here, depth + 1)
        right = _anchored(expr.right, names, chain, here, depth + 1)
        if left is None or right is None:
            return None
        joined = posixpath.join(left[0], right[0]) if isinstance(expr.op, ast.Div) else left[0] + right[0]
        return _inside_repo(joined, left[1] or right[1])
    if not isinstance(expr, ast.Call) or expr.keywords:
        return None
    if isinstance(expr.func, ast.Attribute) and expr.func.attr in ("resolve", "absolute") and not expr.args:
        return _anchored(expr.func.value, names, chain, here, depth + 1)
    name = names.qualified(expr.func)
    parts = [_anchored(arg, names, chain, here, depth + 1) for arg in expr.args]
    if not parts or any(part is None for part in parts):
        return None
    known = [part for part in parts if part is not None]
    anchored = any(part[1] for part in known)
    if name in ("os.path.abspath", "os.path.realpath", "os.path.normpath", "str", "os.fspath", "pathlib.Path") \
            and len(known) == 1:
        return _inside_repo(known[0][0], anchored)
    if name == "os.path.dirname" and len(known) == 1:
        return posixpath.dirname(known[0][0]), anchored
    if name in ("os.path.join", "pathlib.Path"):
        return _inside_repo(posixpath.join(*(part[0] for part in known)), anchored)
    return None


def _inside_repo(path: str, anchored: bool) -> tuple[str, bool] | None:
    normal = posixpath.normpath(path) if path else path
    if anchored and (normal == ".." or normal.startswith("../")):
        return None  # outside the repo: no weight of it
    return normal, anchored


def _file_name(call: ast.Call, callee: str, names, chain, location: str, kind: str) -> str | None:
    if kind != "url":
        return None
    if callee == LOAD_STATE_DICT_FROM_URL:
        given = argument(call, 5, "file_name")
        if given is not None and given is not MAYBE:
            return names.literal(given, chain)  # None when decided at run time
    if callee == DOWNLOAD_URL_TO_FILE:
        dst = argument(call, 1, "dst")
        literal = names.literal(dst, chain) if dst is not None and dst is not MAYBE else None
        if literal is not None:
            return os.path.basename(literal)
    return os.path.basename(urlparse(location).path) or None


def _given_hash(call: ast.Call, callee: str, names, chain) -> str | None:
    """``download_url_to_file``'s literal ``hash_prefix``, which it checks instead of a name's."""
    if callee != DOWNLOAD_URL_TO_FILE:
        return None
    given = argument(call, 2, "hash_prefix")
    return names.literal(given, chain) if given is not None and given is not MAYBE else None


def _hash_checked(call: ast.Call, callee: str) -> bool | None:
    if callee == LOAD_STATE_DICT_FROM_URL:
        check = argument(call, 4, "check_hash")
        return _constant_bool(check, default=False)
    if callee == DOWNLOAD_URL_TO_FILE:
        given = argument(call, 2, "hash_prefix")
        if given is None or (isinstance(given, ast.Constant) and given.value in (None, "")):
            return False
        return None if given is MAYBE else True
    return False if callee in _HAND_WRITTEN else None


def _constant_bool(node: ast.expr | None, default: bool) -> bool | None:
    if node is None:
        return default
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _relative(path: Path, root: Path) -> str:
    for candidate in (path, path.resolve()):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return path.as_posix()
