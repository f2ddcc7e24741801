"""The front matter of a hub index page: the ``---`` block of ``key: value`` lines that Jekyll reads.

pytorch/hub's pages use a small, flat subset of YAML (``key: value``, ``tags: [a, b]``, quoted strings,
``- item`` lists); that subset is read here rather than adding a YAML dependency, and a line outside it is
reported with its number instead of guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FieldValue = str | tuple[str, ...]

_KEY_RE = re.compile(r"(?P<key>[A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:(?:\s+(?P<value>.*?))?\s*$")
_ITEM_RE = re.compile(r"\s*-\s+(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class FrontMatter:
    """The fields of one page's front matter, with where each was written."""

    fields: dict[str, FieldValue]
    lines: dict[str, int]
    """1-based page line of each key."""
    problems: tuple[tuple[int, str], ...]
    """``(line, what is wrong)`` for lines that are not ``key: value``, ``- item`` or a comment."""
    body_line: int
    """The 1-based page line where the markdown after the closing ``---`` starts."""

    def text(self, key: str) -> str | None:
        value = self.fields.get(key)
        return value if isinstance(value, str) else None


def read_front_matter(text: str) -> FrontMatter | None:
    """The page's front matter, or None when the page does not start with a ``---`` line or never closes it."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    end = next((number for number in range(1, len(lines)) if lines[number].strip() == "---"), None)
    if end is None:
        return None
    fields: dict[str, FieldValue] = {}
    where: dict[str, int] = {}
    problems: list[tuple[int, str]] = []
    last_key: str | None = None
    for index in range(1, end):
        line, number = lines[index], index + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM_RE.fullmatch(line)
        current = fields[last_key] if last_key is not None else None
        if item is not None and last_key is not None and (current == "" or isinstance(current, tuple)):
            # `key:` followed by `- item` lines: a block list.
            fields[last_key] = (*(current if isinstance(current, tuple) else ()), _unquote(item["value"]))
            continue
        match = _KEY_RE.fullmatch(line)
        if match is None:
            problems.append((number, f"not a `key: value` line: {line.strip()[:80]}"))
            continue
        key = match["key"]
        if key in fields:
            problems.append((number, f"`{key}` is set twice (first on line {where[key]})"))
            continue
        fields[key] = _value(match["value"] or "")
        where[key] = number
        last_key = key
    return FrontMatter(fields, where, tuple(problems), end + 2)


def _value(text: str) -> FieldValue:
    if text.startswith("[") and text.endswith("]"):
        return tuple(_unquote(part) for part in text[1:-1].split(",") if part.strip())
    return _unquote(text)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
