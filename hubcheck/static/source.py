"""Read and parse one Python source file of a hub repo, within bounds.

The static commands read files the repo controls, and a repo can hold anything:
a hubconf.py that is a FIFO (reading it blocks forever), a link to itself, a
10 MB generated module (``ast.parse`` takes tens of seconds over it), an
expression nested thousands of levels deep (every recursive walk over it raises
RecursionError). Every read of repo source goes through here, so each of those
becomes a :class:`SourceProblem`, one sentence saying why, never a hang or a crash.

The bounds, documented in the README's lint section:

- :data:`MAX_SOURCE_BYTES`: larger files are not parsed;
- :data:`MAX_NESTING`: a tree nested deeper is not analysed. CPython itself
  compiles up to about 3,000 levels, but hubcheck's walks (and ``ast.unparse``)
  recurse two or three frames per level, and Python's default recursion limit is
  1,000 frames: 200 levels leave room for the caller's stack (pytest's included).
"""

from __future__ import annotations

import ast
import enum
import errno
import gc
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 1_000_000
"""Files larger than this are not parsed: about a second of ``ast.parse``, five times timm's largest module."""

MAX_NESTING = 200
"""Trees nested deeper than this many AST levels are not analysed."""


class SourceProblemKind(enum.Enum):
    """Why a source file was not read."""

    MISSING = "missing"
    NOT_A_FILE = "not a regular file"
    """A directory, FIFO, device or socket, or a link that is broken or loops."""
    UNREADABLE = "unreadable"
    TOO_LARGE = "too large"
    DOES_NOT_PARSE = "does not parse"
    """Python itself refuses it: a syntax error, null bytes, an undecodable byte, nesting past the compiler's limit."""
    TOO_DEEP = "too deep"


@dataclass(frozen=True)
class SourceProblem:
    """Why one file could not be read or analysed."""

    path: Path
    kind: SourceProblemKind
    reason: str
    """What is wrong, to follow the file's name (``is a FIFO, not a regular file``); for
    :attr:`SourceProblemKind.DOES_NOT_PARSE`, the compiler's message (``invalid syntax``)."""
    line: int | None = None
    column: int | None = None

    @property
    def sentence(self) -> str:
        """What follows the file's name in a message: ``is a FIFO, ...``, ``does not parse: invalid syntax``."""
        return f"does not parse: {self.reason}" if self.kind is SourceProblemKind.DOES_NOT_PARSE else self.reason

    @property
    def python_runs_it(self) -> bool:
        """True when Python would import the file fine and only hubcheck's bounds stop it."""
        return self.kind in (SourceProblemKind.TOO_LARGE, SourceProblemKind.TOO_DEEP)


class UnreadableSource(Exception):
    """A source file cannot be read or analysed; :attr:`problem` says why."""

    def __init__(self, problem: SourceProblem) -> None:
        super().__init__(f"{problem.path} {problem.sentence}")
        self.problem = problem


@dataclass(frozen=True)
class ParsedSource:
    """A source file's text and its tree, both within the bounds."""

    path: Path
    text: str
    tree: ast.Module


_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_problem(path: Path) -> SourceProblem | None:
    """Why ``path`` is not a regular file (following links), or None when it is one; reads nothing."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return _stat_problem(path, error)
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _FILE_TYPES if test(mode)), "not a file")
    target = f" ({os.readlink(path)})" if os.path.islink(path) else ""
    return SourceProblem(path, SourceProblemKind.NOT_A_FILE, f"is {kind}{target}, not a regular file")


def read_source(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Never blocks: a FIFO or device is refused before anything is read.

    Raises:
        UnreadableSource: not a regular file, unreadable, or larger than ``limit``.
    """
    problem = file_problem(path)
    if problem is not None:
        # Refused before opening: opening some devices has effects, and a FIFO waits for a writer.
        raise UnreadableSource(problem)
    try:
        # O_NONBLOCK too, should the file be swapped for a FIFO after the check.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise UnreadableSource(_stat_problem(path, error)) from None
    try:
        mode = os.fstat(descriptor)
        if not stat.S_ISREG(mode.st_mode):
            problem = file_problem(path) or SourceProblem(path, SourceProblemKind.NOT_A_FILE, "is not a regular file")
            raise UnreadableSource(problem)
        if mode.st_size > limit:
            raise UnreadableSource(_too_large(path, mode.st_size, limit))
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            # One byte past the limit tells a file that grew since fstat from one that did not.
            raw = handle.read(limit + 1)
    except OSError as error:
        raise UnreadableSource(_stat_problem(path, error)) from None
    finally:
        os.close(descriptor)
    if len(raw) > limit:
        raise UnreadableSource(_too_large(path, len(raw), limit))
    return raw


def parse_source(path: Path, limit: int = MAX_SOURCE_BYTES, max_nesting: int = MAX_NESTING) -> ParsedSource:
    """Read, decode (PEP 263 cookie or BOM, else UTF-8) and parse a Python file, within the bounds.

    Raises:
        UnreadableSource: the file cannot be read, is too large, does not parse or nests too deeply.
    """
    raw = read_source(path, limit)
    tree = _parse(path, raw)
    text = decode_source(raw)
    too_deep = _node_deeper_than(tree, text, max_nesting)
    if too_deep is not None:
        raise UnreadableSource(SourceProblem(
            path, SourceProblemKind.TOO_DEEP,
            f"is nested deeper than {max_nesting} levels, hubcheck's bound",
            getattr(too_deep, "lineno", None), _column(too_deep),
        ))
    return ParsedSource(path, text, tree)


def decode_source(raw: bytes) -> str:
    """The text of source bytes as Python decodes them; bytes invalid in the encoding become U+FFFD."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError:
        encoding = "utf-8"
    return raw.decode(encoding, errors="replace")


def _parse(path: Path, raw: bytes) -> ast.Module:
    # The cyclic collector would re-walk every node already allocated, over and over while the
    # tree grows; nothing ast.parse builds is cyclic, so reference counting frees it all.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(raw, filename=str(path))
    except SyntaxError as error:
        raise UnreadableSource(SourceProblem(
            path, SourceProblemKind.DOES_NOT_PARSE, error.msg,
            error.lineno or 1, error.offset or 1,
        )) from None
    except ValueError as error:  # null bytes, on Python < 3.12
        raise UnreadableSource(SourceProblem(path, SourceProblemKind.DOES_NOT_PARSE, str(error), 1, 1)) from None
    except (RecursionError, MemoryError):
        # Python's own compiler fails the same way, so torch.hub could not import the file either.
        raise UnreadableSource(SourceProblem(
            path, SourceProblemKind.DOES_NOT_PARSE, "nested too deeply (or too large) for Python's parser", 1, 1,
        )) from None
    finally:
        if collecting:
            gc.enable()


def _node_deeper_than(tree: ast.Module, text: str, limit: int) -> ast.AST | None:
    """A node (or its nearest ancestor with a position) more than ``limit`` levels below the module, or None.

    Every level of a tree spends at least one character of source, or alternates
    with a level that does, so a node spanning fewer bytes than half the levels
    left cannot reach the limit and is not walked: most of a file is never
    visited below its statements. Inside f-strings, whose inner positions Python
    versions disagree on, every node is walked.
    """
    starts = _line_starts(text)

    def span(node: ast.AST) -> int | None:
        try:
            return (starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
                    - starts[node.lineno - 1] - node.col_offset)  # type: ignore[attr-defined]
        except (AttributeError, IndexError, TypeError):
            return None

    # (node, its depth, walk every node below, the nearest node with a position: the node or an ancestor)
    pending: list[tuple[ast.AST, int, bool, ast.AST]] = [(tree, 1, False, tree)]
    while pending:
        node, depth, exact, positioned = pending.pop()
        if depth > limit:
            return positioned
        budget = (limit - depth) // 2 - 1
        for name in node._fields:
            value = getattr(node, name, None)
            for child in value if isinstance(value, list) else (value,):
                if not isinstance(child, ast.AST):
                    continue
                if not exact:
                    width = span(child)
                    if width is not None and 0 <= width < budget:
                        continue
                pending.append((child, depth + 1, exact or isinstance(child, ast.JoinedStr),
                                child if hasattr(child, "lineno") else positioned))
    return None


def _line_starts(text: str) -> list[int]:
    """The UTF-8 byte offset of each line's start, lines ending as Python's tokenizer ends them."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return [0] + [match.end() for match in re.finditer(b"\n", normalised)]


def _column(node: ast.AST) -> int | None:
    offset = getattr(node, "col_offset", None)
    return offset + 1 if offset is not None else None


def _too_large(path: Path, size: int, limit: int) -> SourceProblem:
    return SourceProblem(
        path, SourceProblemKind.TOO_LARGE,
        f"is {_megabytes(size)}, over hubcheck's bound of {_megabytes(limit)}",
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _stat_problem(path: Path, error: OSError) -> SourceProblem:
    """What an OSError from opening or stat-ing ``path`` means for its user."""
    if error.errno == errno.ELOOP:
        return SourceProblem(path, SourceProblemKind.NOT_A_FILE, "is a symlink loop, not a regular file")
    if error.errno == errno.ENOENT:
        if os.path.islink(path):
            return SourceProblem(path, SourceProblemKind.NOT_A_FILE, f"is a broken symlink (to {os.readlink(path)})")
        return SourceProblem(path, SourceProblemKind.MISSING, "is missing")
    if error.errno == errno.EISDIR:
        return SourceProblem(path, SourceProblemKind.NOT_A_FILE, "is a directory, not a regular file")
    if error.errno in (errno.ENOTDIR,):
        return SourceProblem(path, SourceProblemKind.MISSING, "is missing (a parent is not a directory)")
    return SourceProblem(path, SourceProblemKind.UNREADABLE, f"cannot be read ({error.strerror or error})")
