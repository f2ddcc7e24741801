"""``torch.hub`` calls in a repo's documentation, read with ``ast`` and never run.

Where documentation is looked for (bounded: at most :data:`MAX_DOC_FILES` files, each a
regular file of at most :data:`MAX_DOC_BYTES`, notebooks :data:`MAX_NOTEBOOK_BYTES`):

* ``*.md``, ``*.rst`` and ``*.ipynb`` at the repo root, and anywhere under ``docs/`` or ``doc/``;
* ``*.ipynb`` up to :data:`NOTEBOOK_DEPTH` directories down (hidden directories, virtualenvs,
  ``node_modules`` and ``site-packages`` left out);
* the docstrings of hubconf.py and of every entry point hubcheck can find the code of.

Code is what a reader would copy: Markdown fenced blocks in Python (or no language) and
inline code spans, reST ``code-block`` / ``code`` / ``sourcecode`` / ``doctest`` / ``ipython``
directives and ``::`` literal blocks, doctest lines (``>>>``) of docstrings, notebook
code cells (IPython ``%magics`` and ``!shell`` lines dropped) and the Markdown of notebook
markdown cells. A block that does not parse whole is read line by line from each line that
mentions ``torch.hub``. A notebook's calls are placed by cell, not by line of the file.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from hubcheck.static.model import HubconfModel
from hubcheck.static.names import FileNames
from hubcheck.static.source import UnreadableSource, decode_source, read_source

MAX_DOC_FILES = 200
MAX_DOC_BYTES = 1_000_000
MAX_NOTEBOOK_BYTES = 8_000_000
"""Notebooks carry their outputs (plots as base64), so they get a larger bound."""
NOTEBOOK_DEPTH = 3
DOC_DIRECTORIES = ("docs", "doc")
HUB_FUNCTIONS = {"torch.hub.load": "load", "torch.hub.help": "help", "torch.hub.list": "list"}
HUB_KEYWORDS = frozenset({"source", "trust_repo", "force_reload", "verbose", "skip_validation"})
"""torch.hub.load's own keywords: they never reach the entry point."""

_SKIPPED_DIRECTORIES = frozenset({"node_modules", "site-packages", "__pycache__", "venv", "env"})
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_PYTHON_FENCES = frozenset({"", "python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "pytorch"})
_INLINE_CODE = re.compile(r"(`+)(?!`)(?P<code>.+?)(?<!`)\1(?!`)")
_RST_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\.\s+(code-block|code|sourcecode|doctest|ipython|testcode)::\s*(?P<lang>\S*)")
_RST_LANGUAGES = frozenset({"", "python", "py", "python3", "pycon", "ipython", "ipython3"})
_PROMPT = re.compile(r"^(\s*)(>>>|\.\.\.)( |$)")
_CONTINUATION_LINES = 10
_CALL_START = re.compile(r"\btorch\.hub\.(load|help|list)\s*\(")


@dataclass(frozen=True)
class HubCall:
    """One ``torch.hub.load``, ``help`` or ``list`` call written in the documentation."""

    path: Path
    line: int | None
    """1-based line in the file; None in a notebook, whose cells have no line of the file."""
    column: int | None
    cell: int | None
    """In a notebook, the 1-based position of the cell among all its cells (markdown ones too),
    as a notebook's reader counts them; None elsewhere."""
    cell_line: int | None
    """In a notebook, the 1-based line of the call within its cell's source, as Jupyter numbers them; None
    elsewhere."""
    function: str
    """``load``, ``help`` or ``list``."""
    repo: str | None
    """The repo argument (``repo_or_dir`` / ``github``) when it is a literal string."""
    source: str | None
    """``github`` (also when not passed) or ``local``; None when passed but not a literal."""
    entrypoint: str | None
    """The entry point named (``model``), when it is a literal string."""
    positional: int
    """How many positional arguments reach the entry point (``load``'s ``*args``)."""
    keywords: tuple[str, ...]
    """The keyword arguments that reach the entry point (torch.hub's own keywords left out)."""
    splat: bool
    """``*args`` or ``**kwargs`` in the call: what reaches the entry point is not known."""
    trust_repo: str | None
    """The ``trust_repo`` argument's source text, or None when it is not passed."""
    passes_source: bool
    """Whether ``source=`` is passed at all (``list`` and ``help`` take none)."""

    @property
    def github(self) -> tuple[str, str] | None:
        """(owner, name) of a GitHub-source call whose repo is a literal ``owner/name[:ref]``."""
        if self.source != "github" or self.repo is None:
            return None
        owner, slash, name = self.repo.split(":", 1)[0].partition("/")
        return (owner, name) if slash and owner and name and "/" not in name else None


@dataclass(frozen=True)
class _Block:
    """Python text cut out of a document: line ``i`` of ``lines`` is line ``first_line + i`` of ``path`` (of
    the cell's source, in a notebook, which has no line of the file), and starts at column ``offsets[i]`` there."""

    path: Path
    first_line: int
    lines: tuple[str, ...]
    offsets: tuple[int, ...]
    cell: int | None = None
    """The notebook cell it comes from (1-based, every cell counted), or None outside notebooks."""


def hub_calls(repo_root: Path, model: HubconfModel | None) -> tuple[HubCall, ...]:
    """Every torch.hub call in the repo's documentation (see the module docstring), in file order."""
    found: list[HubCall] = []
    for path in doc_files(repo_root):
        for block in _file_blocks(path):
            found += _calls_in(block)
    if model is not None:
        for block in _docstring_blocks(model):
            found += _calls_in(block)
    return tuple(found)


def markdown_calls(path: Path, text: str) -> tuple[HubCall, ...]:
    """Every torch.hub call in markdown ``text``, read as the file ``path`` (a hub index page, outside any repo)."""
    return tuple(call for block in _markdown_blocks(path, text.splitlines()) for call in _calls_in(block))


def doc_files(repo_root: Path) -> list[Path]:
    """The documentation files read, sorted, at most :data:`MAX_DOC_FILES`."""
    found: set[Path] = set()
    for entry in _entries(repo_root):
        if entry.suffix.lower() in (".md", ".rst", ".ipynb"):
            found.add(entry)
    for directory in DOC_DIRECTORIES:
        found.update(_walk(repo_root / directory, (".md", ".rst", ".ipynb"), depth=8))
    found.update(_walk(repo_root, (".ipynb",), depth=NOTEBOOK_DEPTH))
    return sorted(found)[:MAX_DOC_FILES]


def repo_names(repo_root: Path) -> frozenset[str]:
    """The lower-cased GitHub repository names this checkout goes by (see :func:`names_this_repo`)."""
    names = {repo_root.name.lower()}
    try:
        config = decode_source(read_source(repo_root / ".git" / "config", MAX_DOC_BYTES))
    except UnreadableSource:
        return frozenset(names)
    for url in re.findall(r"^\s*url\s*=\s*(\S+)", config, re.MULTILINE):
        tail = re.split(r"[/:]", url.rstrip("/"))[-1]
        names.add(tail.removesuffix(".git").lower())
    return frozenset(names)


def names_this_repo(call: HubCall, repo_root: Path, names: frozenset[str]) -> bool:
    """Whether a documented call loads this repo.

    GitHub form: the repository name of ``owner/name`` (the owner is not compared, so a fork's
    README naming its upstream counts) is the name of one of the checkout's git remotes or
    of its directory, or the directory is torch.hub's cache folder for it (``owner_name_ref``)
    or a folder named ``owner__name``. Local form: ``source="local"`` with the literal path
    ``.`` or one whose last part is the directory's name.
    """
    if call.source == "local" and call.repo is not None:
        last = call.repo.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return last in ("", ".") or last.lower() == repo_root.name.lower()
    github = call.github
    if github is None:
        return False
    owner, name = github[0].lower(), github[1].lower()
    folder = repo_root.name.lower()
    return name in names or folder.startswith(f"{owner}_{name}_") or folder == f"{owner}__{name}"


# -- finding the documents --------------------------------------------------------------------

def _entries(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as scan:
            return [Path(entry.path) for entry in scan if entry.is_file(follow_symlinks=False)]
    except OSError:
        return []


def _walk(directory: Path, suffixes: tuple[str, ...], depth: int) -> Iterator[Path]:
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError:
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and entry.name.lower().endswith(suffixes):
            yield Path(entry.path)
        elif (entry.is_dir(follow_symlinks=False) and depth > 0 and not entry.name.startswith(".")
              and entry.name not in _SKIPPED_DIRECTORIES):
            yield from _walk(Path(entry.path), suffixes, depth - 1)


def _file_blocks(path: Path) -> list[_Block]:
    notebook = path.suffix.lower() == ".ipynb"
    try:
        text = decode_source(read_source(path, MAX_NOTEBOOK_BYTES if notebook else MAX_DOC_BYTES))
    except UnreadableSource:
        return []
    if "torch.hub" not in text and "hub." not in text:
        return []
    if notebook:
        return _notebook_blocks(path, text)
    lines = text.splitlines()
    return _rst_blocks(path, lines) if path.suffix.lower() == ".rst" else _markdown_blocks(path, lines)


# -- cutting Python out of them ---------------------------------------------------------------

def _markdown_blocks(path: Path, lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            blocks += _inline_blocks(path, index, lines[index])
            index += 1
            continue
        fence = opening["fence"]
        end = index + 1
        while end < len(lines) and not lines[end].lstrip().startswith(fence):
            end += 1
        if opening["info"].lower() in _PYTHON_FENCES:
            blocks.append(_block(path, index + 1, lines[index + 1:end]))
        index = end + 1
    return blocks


def _inline_blocks(path: Path, index: int, line: str) -> list[_Block]:
    return [_Block(path, index + 1, (match["code"],), (match.start("code"),))
            for match in _INLINE_CODE.finditer(line) if "hub." in match["code"]]


def _rst_blocks(path: Path, lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    for index, line in enumerate(lines):
        directive = _RST_DIRECTIVE.match(line)
        literal = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if directive is not None and directive["lang"].lower() not in _RST_LANGUAGES:
            continue
        if directive is None and not literal:
            blocks += _inline_blocks(path, index, line)
            continue
        base = len(line) - len(line.lstrip())
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > base):
            end += 1
        body = [text if not text.lstrip().startswith(":") or directive is None else "" for text in lines[index + 1:end]]
        blocks.append(_block(path, index + 1, body))
    return blocks


def _notebook_blocks(path: Path, text: str) -> list[_Block]:
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    blocks = []
    for number, cell in enumerate(cells if isinstance(cells, list) else [], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown"):
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""
        if cell["cell_type"] == "markdown":
            # A fenced block in a markdown cell is documentation to copy, like the README's.
            blocks += [replace(block, cell=number) for block in _markdown_blocks(path, text.splitlines())]
            continue
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]
        blocks.append(replace(_block(path, 0, lines), cell=number))
    return blocks


def _docstring_blocks(model: HubconfModel) -> Iterator[_Block]:
    nodes: list[tuple[Path, ast.AST]] = [(model.path, model.tree)]
    nodes += [(entry.definition.path, entry.definition.node) for entry in model.entrypoints
              if entry.definition is not None]
    seen: set[tuple[Path, int]] = set()
    for path, node in nodes:
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)) or (path, first.lineno) in seen:
            continue
        seen.add((path, first.lineno))
        if "hub." in first.value.value:
            yield _block(path, first.lineno - 1, first.value.value.splitlines())


def _block(path: Path, line_before: int, lines: list[str]) -> _Block:
    """Python text from document lines: doctest prompts stripped (their output dropped), then dedented."""
    if any(_PROMPT.match(line) for line in lines):
        kept = []
        for line in lines:
            prompt = _PROMPT.match(line)
            kept.append((line[prompt.end():], prompt.end()) if prompt else ("", 0))
    else:
        kept = [(line, 0) for line in lines]
    margin = min((len(text) - len(text.lstrip()) for text, _ in kept if text.strip()), default=0)
    return _Block(path, line_before + 1, tuple(text[margin:] for text, _ in kept),
                  tuple(offset + margin for _, offset in kept))


# -- reading the calls ------------------------------------------------------------------------

def _calls_in(block: _Block) -> list[HubCall]:
    if not any("hub." in line for line in block.lines):
        return []
    tree = _parse("\n".join(block.lines))
    if tree is not None:
        return _hub_calls(tree, block, 0)
    calls = []
    for index, line in enumerate(block.lines):
        for start in _CALL_START.finditer(line):
            if "#" in line[:start.start()]:
                continue  # commented out: not what the document asks users to run
            text = "\n".join([line[start.start():], *block.lines[index + 1:index + _CONTINUATION_LINES]])
            call = _first_call(text)
            if call is not None:
                calls += _hub_calls(call, block, index, stripped=start.start())
    return calls


def _first_call(text: str) -> ast.Module | None:
    """The shortest prefix of ``text`` that parses as one call, as a module."""
    for close in (position for position, character in enumerate(text) if character == ")"):
        tree = _parse(text[:close + 1])
        if tree is not None:
            return tree
    return None


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _hub_calls(tree: ast.Module, block: _Block, first: int, stripped: int = 0) -> list[HubCall]:
    names = FileNames(tree)
    strings = _module_strings(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = HUB_FUNCTIONS.get(names.qualified(node.func) or "")
        # `torch.hub.help()` with no repo is prose naming the function, not a call to copy.
        if function is None or not (node.args or any(k.arg in ("repo_or_dir", "github") for k in node.keywords)):
            continue
        index = first + node.lineno - 1
        offset = block.offsets[index] if index < len(block.offsets) else 0
        column = offset + node.col_offset + (stripped if node.lineno == 1 else 0) + 1
        line = block.first_line + index
        # A notebook's calls are placed by cell and line within it; the file's own lines mean nothing there.
        place = (None, None, block.cell, line) if block.cell is not None else (line, column, None, None)
        found.append(_hub_call(node, function, block.path, place, strings))
    return sorted(found, key=lambda call: (call.cell or 0, call.cell_line or 0, call.line or 0, call.column or 0))


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Names bound once, at the snippet's top level, to a string (``repo = "owner/name"``)."""
    bound: dict[str, list[ast.expr]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            bound.setdefault(stmt.targets[0].id, []).append(stmt.value)
    return {name: values[0].value for name, values in bound.items()
            if len(values) == 1 and isinstance(values[0], ast.Constant) and isinstance(values[0].value, str)}


def _hub_call(call: ast.Call, function: str, path: Path,
              place: tuple[int | None, int | None, int | None, int | None], strings: dict[str, str]) -> HubCall:
    """``place`` is (line, column) of the file, or (cell, line within it) in a notebook; the other two None."""
    line, column, cell, cell_line = place
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg is not None}
    positional = list(call.args)
    repo_arg = positional[0] if positional else keywords.get("repo_or_dir" if function == "load" else "github")
    model_arg = positional[1] if len(positional) > 1 else keywords.get("model")
    source_arg = keywords.get("source")
    trust = keywords.get("trust_repo")
    extra = positional[2:] if function == "load" else []
    return HubCall(
        path=path, line=line, column=column, cell=cell, cell_line=cell_line, function=function,
        repo=_string(repo_arg, strings), entrypoint=_string(model_arg, strings),
        source="github" if source_arg is None else _string(source_arg, strings),
        positional=len(extra),
        keywords=tuple(name for name in keywords if name not in HUB_KEYWORDS and name not in ("repo_or_dir", "model")),
        splat=any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords),
        trust_repo=ast.unparse(trust) if trust is not None else None,
        passes_source=source_arg is not None,
    )


def _string(node: ast.expr | None, strings: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    return None
