"""Inline suppression comments: ``# hubcheck: ignore[HUB203]`` on the offending line."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hubcheck.static.source import UnreadableSource, read_source

_COMMENT = re.compile(r"#\s*hubcheck:\s*ignore\[([^\]]*)\]", re.IGNORECASE)
_COMMENT_BYTES = re.compile(rb"hubcheck:\s*ignore", re.IGNORECASE)


@dataclass(frozen=True)
class Suppression:
    """One suppression comment."""

    line: int
    column: int
    codes: tuple[str, ...]


@lru_cache(maxsize=256)
def suppressions_in(path: Path) -> tuple[Suppression, ...]:
    """Every suppression comment in a Python file (read with tokenize, so strings never count)."""
    try:
        source = read_source(path)
    except UnreadableSource:
        return ()
    if not _COMMENT_BYTES.search(source):
        # Tokenizing a large hubconf costs more than a whole rule; most files have no such comment.
        return ()
    found: list[Suppression] = []
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                match = _COMMENT.search(token.string)
                if match:
                    codes = tuple(c.strip().upper() for c in match.group(1).split(",") if c.strip())
                    found.append(Suppression(token.start[0], token.start[1] + match.start() + 1, codes))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return tuple(found)
    return tuple(found)


def suppressed_codes(path: Path) -> dict[int, frozenset[str]]:
    """Line -> codes suppressed on it."""
    lines: dict[int, set[str]] = {}
    for suppression in suppressions_in(path):
        lines.setdefault(suppression.line, set()).update(suppression.codes)
    return {line: frozenset(codes) for line, codes in lines.items()}
