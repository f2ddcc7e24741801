"""The ``torch.hub`` calls in a page's Python snippets, read with ``ast`` (nothing is run).

This is a small adapter until the docs-snippet rule family (issue 16) lands in ``hubcheck/static/``: callers
use :func:`hub_calls` and :class:`HubCall` only, so switching to that reader changes this module alone.

Commented-out calls count too: index pages list a model's variants as ``# model = torch.hub.load(...)``
lines, which readers uncomment.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

HUB_FUNCTIONS = ("load", "help", "list")
HUB_KEYWORDS = frozenset({"source", "trust_repo", "force_reload", "verbose", "skip_validation"})
"""torch.hub.load's own keywords: they never reach the entry point."""

_FENCE_RE = re.compile(r"\s*(```+|~~~+)\s*(?P<lang>[\w+-]*)")
_PYTHON_LANGS = frozenset({"python", "py", "python3"})


@dataclass(frozen=True)
class HubCall:
    """One ``torch.hub.load``, ``help`` or ``list`` call with a literal repo."""

    function: str
    """``load``, ``help`` or ``list``."""
    repo: str
    """The repo as written, e.g. ``pytorch/vision:v0.10.0``."""
    entrypoint: str | None
    """The literal entry point name; None for ``list`` or a name that is not a string literal."""
    keywords: tuple[str, ...]
    """The keyword arguments that reach the entry point (torch.hub's own left out)."""
    splat: bool
    """A ``**kwargs`` splat is passed: the keywords are not all known."""
    line: int
    """1-based line in the page."""
    commented: bool

    @property
    def repo_id(self) -> str:
        """``owner/name`` in lower case, the ref left out."""
        return self.repo.split(":", 1)[0].strip().lower()


def hub_calls(text: str, first_line: int = 1) -> tuple[HubCall, ...]:
    """Every hub call in the fenced Python blocks of markdown ``text`` whose line 1 is page line ``first_line``."""
    calls: list[HubCall] = []
    for start, block in _python_blocks(text):
        calls += _block_calls(block, first_line + start)
    return tuple(calls)


def _python_blocks(text: str) -> Iterator[tuple[int, str]]:
    """``(offset of the block's first line, source)`` for every ```` ```python ```` block."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE_RE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group(1)
        end = next((n for n in range(index + 1, len(lines)) if lines[n].strip().startswith(fence)), len(lines))
        if opening["lang"].lower() in _PYTHON_LANGS:
            yield index + 1, "\n".join(lines[index + 1:end])
        index = end + 1


def _block_calls(block: str, first_line: int) -> list[HubCall]:
    lines = block.splitlines()
    try:
        trees = [(0, ast.parse(block), False)]
    except SyntaxError:
        # Notebook-style blocks (`!pip install`) do not parse whole: read the lines that name torch.hub alone.
        trees = [(number, tree, False) for number, tree in _line_trees(lines, commented=False)]
    trees += [(number, tree, True) for number, tree in _line_trees(lines, commented=True)]
    calls = []
    for offset, tree, commented in trees:
        for node in ast.walk(tree):
            call = _hub_call(node, first_line + offset, commented)
            if call is not None:
                calls.append(call)
    return sorted(calls, key=lambda call: call.line)


def _line_trees(lines: list[str], commented: bool) -> Iterator[tuple[int, ast.Module]]:
    for number, line in enumerate(lines):
        stripped = line.strip()
        if "hub." not in stripped or stripped.startswith("#") is not commented:
            continue
        source = stripped.lstrip("#").strip() if commented else stripped
        try:
            yield number, ast.parse(source)
        except SyntaxError:
            continue


def _hub_call(node: ast.AST, line_of_tree: int, commented: bool) -> HubCall | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    if node.func.attr not in HUB_FUNCTIONS or not _names_hub(node.func.value):
        return None
    arguments = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg is not None}
    positional = list(node.args)
    repo = positional[0] if positional else arguments.get("repo_or_dir", arguments.get("github"))
    if not (isinstance(repo, ast.Constant) and isinstance(repo.value, str)):
        return None
    entrypoint = None
    if node.func.attr != "list":
        model = positional[1] if len(positional) > 1 else arguments.get("model")
        if isinstance(model, ast.Constant) and isinstance(model.value, str):
            entrypoint = model.value
    keywords: tuple[str, ...] = ()
    if node.func.attr == "load":
        keywords = tuple(name for name in arguments if name not in HUB_KEYWORDS | {"repo_or_dir", "model"})
    return HubCall(
        function=node.func.attr, repo=repo.value, entrypoint=entrypoint, keywords=keywords,
        splat=any(keyword.arg is None for keyword in node.keywords), line=line_of_tree + node.lineno - 1,
        commented=commented,
    )


def _names_hub(node: ast.expr) -> bool:
    """``torch.hub`` or a bare ``hub`` (``from torch import hub``)."""
    if isinstance(node, ast.Name):
        return node.id == "hub"
    return isinstance(node, ast.Attribute) and node.attr == "hub" and isinstance(node.value, ast.Name) \
        and node.value.id == "torch"
