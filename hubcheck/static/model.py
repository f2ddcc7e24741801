"""The static model of a hubconf.py: what torch.hub would see, read without running it."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field
from pathlib import Path


class EntryPointKind(str, enum.Enum):
    """How an entry point came to be in hubconf's namespace."""

    FUNCTION = "function"
    CLASS = "class"
    IMPORTED = "imported"
    ALIAS = "alias"
    PARTIAL = "partial"
    LAMBDA = "lambda"
    OBJECT = "object"
    """A callable instance built at import time (an ``nn.Module`` at module level, say)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of an entry point's signature."""

    name: str
    kind: str
    """One of ``inspect.Parameter.kind`` names, lower case: ``positional_or_keyword``, ``var_keyword``..."""
    default: str | None
    """The default's source text, or None when there is none."""
    annotation: str | None = None
    """The annotation's source text, or None."""

    @property
    def is_variadic(self) -> bool:
        return self.kind in ("var_positional", "var_keyword")


@dataclass(frozen=True)
class Definition:
    """Where the code behind an entry point is written (possibly in another module)."""

    path: Path
    """Absolute path of the file holding the definition."""
    module: str | None
    """Dotted module name, or None for hubconf.py itself."""
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda = field(compare=False, repr=False)
    """The AST node of the ``def``, ``class`` or ``lambda``."""
    local: bool
    """True when the file is inside the hub repo (its code runs as part of the repo)."""


@dataclass(frozen=True)
class EntryPoint:
    """One name that ``torch.hub.list`` returns for this hubconf."""

    name: str
    kind: EntryPointKind
    line: int
    """1-based line of the statement that binds the name in hubconf.py."""
    column: int
    """1-based column of that binding."""
    doc: str | None
    """What ``torch.hub.help`` returns, when it is the entry point's own docstring; None otherwise."""
    parameters: tuple[Parameter, ...] | None
    """The signature's parameters, or None when it cannot be read statically."""
    leaked: bool
    """An imported callable that is listed only because it was imported (not deliberately re-exported)."""
    origin: str | None = None
    """For imported names the dotted source (``torchvision.models.resnet50``); for aliases and partials the target."""
    definition: Definition | None = field(default=None, compare=False, repr=False)
    """The code behind the entry point, when it could be found statically."""

    @property
    def signature(self) -> str | None:
        """The signature as Python would print it, e.g. ``(pretrained=True, **kwargs)``."""
        if self.parameters is None:
            return None
        return format_signature(self.parameters)

    @property
    def summary(self) -> str | None:
        """The first non-empty line of the docstring."""
        if not self.doc:
            return None
        for line in self.doc.strip().splitlines():
            if line.strip():
                return line.strip()
        return None


@dataclass(frozen=True)
class DynamicConstruct:
    """A statement that changes the module namespace in a way static reading cannot follow."""

    line: int
    column: int
    description: str
    """What was found, e.g. ``globals().update(...)``."""


@dataclass(frozen=True)
class DependencyEntry:
    """One element of the ``dependencies`` list."""

    value: str
    line: int
    column: int


@dataclass(frozen=True)
class Dependencies:
    """The module-level ``dependencies`` variable, as written."""

    declared: bool
    line: int = 0
    column: int = 0
    entries: tuple[DependencyEntry, ...] = ()
    """The string elements, when the value is a literal list or tuple of strings."""
    problem: str | None = None
    """None when usable; otherwise ``bare-string``, ``not-literal`` or ``non-string-element``."""
    source: str | None = None
    """The source text of the value, for messages."""
    problem_at: tuple[int, int] | None = None
    """Line and column of what the problem is: the value, or its first element that is not a string."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(entry.value for entry in self.entries)


@dataclass(frozen=True)
class Uncertain:
    """A public name whose callability, and so whether it is an entry point, static reading cannot decide."""

    name: str
    line: int
    column: int
    reason: str


@dataclass(frozen=True)
class ImportedModule:
    """A module that hubconf.py imports, with where it was found (nothing was executed to find it)."""

    name: str
    """The dotted name as written (absolute; relative imports are resolved against the repo root)."""
    line: int
    column: int
    local: bool
    """Found inside the hub repo."""
    path: Path | None
    """The file or package directory found, or None when not found."""
    module_level: bool
    """Imported when hubconf is imported (not inside a function)."""
    optional: bool
    """Inside ``try: ... except ImportError``: a missing module is handled."""
    relative: bool
    """Written as a relative import (``from . import x``)."""


@dataclass(frozen=True)
class HubconfModel:
    """Everything hubcheck reads statically from one hubconf.py."""

    repo_root: Path
    path: Path
    source: str = field(repr=False)
    tree: ast.Module = field(compare=False, repr=False)
    dependencies: Dependencies
    entrypoints: tuple[EntryPoint, ...]
    """Sorted by name, as ``dir()`` and so ``torch.hub.list`` sort them."""
    dynamic: tuple[DynamicConstruct, ...]
    uncertain: tuple[Uncertain, ...]
    imports: tuple[ImportedModule, ...]
    all_names: tuple[str, ...] | None
    """``__all__`` when it is a literal list of strings (torch.hub ignores it; hubcheck reads intent from it)."""

    @property
    def complete(self) -> bool:
        """True when ``entrypoints`` is exactly what ``torch.hub.list`` returns."""
        return not self.dynamic and not self.uncertain

    def entrypoint(self, name: str) -> EntryPoint | None:
        for entry in self.entrypoints:
            if entry.name == name:
                return entry
        return None


def format_signature(parameters: tuple[Parameter, ...]) -> str:
    """Render parameters the way ``inspect.signature`` prints them."""
    parts: list[str] = []
    seen_keyword_only_marker = False
    for index, param in enumerate(parameters):
        if param.kind == "keyword_only" and not seen_keyword_only_marker:
            parts.append("*")
            seen_keyword_only_marker = True
        if param.kind == "var_positional":
            seen_keyword_only_marker = True
            text = "*" + param.name
        elif param.kind == "var_keyword":
            text = "**" + param.name
        else:
            text = param.name
        if param.annotation is not None:
            text += f": {param.annotation}"
        if param.default is not None:
            text += f" = {param.default}" if param.annotation is not None else f"={param.default}"
        parts.append(text)
        is_last_positional_only = param.kind == "positional_only" and (
            index + 1 == len(parameters) or parameters[index + 1].kind != "positional_only"
        )
        if is_last_positional_only:
            parts.append("/")
    return "(" + ", ".join(parts) + ")"
