"""What a rule is: its code, name, severity, message, fix and documentation, declared once.

A rule's check only *reports* :class:`Violation` records; turning them into
:class:`~hubcheck.findings.Finding` records, filtering and printing happen elsewhere.
Documentation lives in the check's docstring, in ruff's fixed sections.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubcheck.findings import Severity

if TYPE_CHECKING:
    from hubcheck.rules.context import LintContext

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "References")


@dataclass(frozen=True)
class Violation:
    """One place where a rule's check found its problem."""

    path: Path
    """Absolute path of the file."""
    line: int | None
    column: int | None
    args: Mapping[str, Any] = field(default_factory=dict)
    """Values for the rule's message and fix templates."""
    entrypoint: str | None = None


@dataclass(frozen=True)
class RuleDoc:
    """A rule's documentation, in the sections ``hubcheck rules CODE`` prints."""

    what_it_does: str
    why_is_this_bad: str
    example: str
    use_instead: str
    references: str

    def sections(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(DOC_SECTIONS, (
            self.what_it_does, self.why_is_this_bad, self.example, self.use_instead, self.references
        ), strict=True))


@dataclass(frozen=True)
class Rule:
    """One lint rule."""

    code: str
    name: str
    severity: Severity
    message: str
    """``str.format`` template filled from :attr:`Violation.args`."""
    fix: str
    """``str.format`` template of the fix hint."""
    doc: RuleDoc
    check: Callable[[LintContext], Iterable[Violation]] = field(compare=False, repr=False)

    @property
    def summary(self) -> str:
        """The first sentence of "What it does"."""
        return self.doc.what_it_does.split("\n\n")[0].replace("\n", " ")

    def format_message(self, args: Mapping[str, Any]) -> str:
        return self.message.format(**args)

    def format_fix(self, args: Mapping[str, Any]) -> str:
        return self.fix.format(**args)


_REGISTRY: list[Rule] = []


def rule(*, code: str, name: str, severity: Severity, message: str, fix: str):
    """Declare a rule: decorate its check function, whose docstring is the documentation."""

    def register(check: Callable[[LintContext], Iterable[Violation]]):
        declared = Rule(code, name, severity, message, fix, parse_doc(check.__doc__ or "", code), check)
        if any(existing.code == code for existing in _REGISTRY):
            raise ValueError(f"rule {code} declared twice")
        _REGISTRY.append(declared)
        return check

    return register


def registered_rules() -> tuple[Rule, ...]:
    return tuple(sorted(_REGISTRY, key=lambda r: r.code))


_RETIRED: dict[str, str] = {}


def retire(code: str, note: str) -> None:
    """Record that the rule ``code`` no longer runs; ``note`` says where its check went.

    Suppressions and ``ignore`` lists naming it stay valid, and ``hubcheck rules CODE`` shows the note.
    """
    _RETIRED[code] = note


def retired_rules() -> dict[str, str]:
    return dict(_RETIRED)


def is_rule_code(code: str) -> bool:
    """Whether ``code`` (any case) names a rule, running or retired."""
    upper = code.upper()
    return upper in _RETIRED or any(declared.code == upper for declared in _REGISTRY)


_SECTION_HEADER = re.compile(r"^## (.+?)\s*$", re.MULTILINE)


def parse_doc(docstring: str, code: str) -> RuleDoc:
    """Split a check's docstring into the fixed documentation sections."""
    import inspect

    text = inspect.cleandoc(docstring)
    parts = _SECTION_HEADER.split(text)
    sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    missing = [title for title in DOC_SECTIONS if not sections.get(title)]
    if missing:
        raise ValueError(f"rule {code} documentation lacks section(s): {', '.join(missing)}")
    return RuleDoc(*(sections[title] for title in DOC_SECTIONS))
