"""Inline suppression comments: ``# hubcheck: ignore[HUB203]`` on the offending line, and the rule
reporting the ones that suppress nothing."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hubcheck.findings import Severity
from hubcheck.rules.base import Violation, rule
from hubcheck.rules.context import LintContext
from hubcheck.static.source import UnreadableSource, read_source

UNUSED_SUPPRESSION = "HUB012"

_COMMENT = re.compile(r"#\s*hubcheck:\s*ignore\[([^\]]*)\]", re.IGNORECASE)
_COMMENT_BYTES = re.compile(rb"hubcheck:\s*ignore", re.IGNORECASE)


@dataclass(frozen=True)
class Suppression:
    """One suppression comment."""

    line: int
    column: int
    codes: tuple[str, ...]


# HUB010, HUB012 and the filter each scan every reached file: a timm-sized repo reaches ~300.
@lru_cache(maxsize=4096)
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


def suppression_paths(ctx: LintContext) -> list[Path]:
    """The files whose suppression comments count: hubconf.py and the repo modules it reaches."""
    paths = {ctx.hubconf_path} if ctx.hubconf_path.is_file() else set()
    paths |= {unit.path for unit in ctx.units}
    return sorted(paths)


@rule(
    code=UNUSED_SUPPRESSION,
    name="unused-suppression",
    severity=Severity.WARNING,
    message="suppression of {codes} is unused: no such finding on this line",
    fix="remove {codes} from the comment (the whole comment if nothing is left)",
)
def unused_suppression(ctx: LintContext):
    """
    ## What it does
    Reports each code in a `# hubcheck: ignore[...]` comment, in hubconf.py or
    the repo modules it reaches, whose rule ran and found nothing on that line,
    as ruff's RUF100 does for `# noqa`. Codes of rules that did not run
    (`--select`, `--ignore`, `[lint] ignore`) are not judged; unknown codes are
    HUB010's.

    ## Why is this bad?
    A suppression that suppresses nothing is left over from code that was
    fixed or moved. It tells readers the line has a problem it does not
    have, and it silently hides the next real finding of that rule there.

    ## Example
    ```python
    state = torch.load(path, map_location="cpu", weights_only=True)  # hubcheck: ignore[HUB201]
    ```

    ## Use instead
    ```python
    state = torch.load(path, map_location="cpu", weights_only=True)
    ```

    ## References
    - https://docs.astral.sh/ruff/rules/unused-noqa/
    """
    # Whether a suppression is used is known only once every other rule has run, so
    # lint reports this rule's findings through unused_suppressions, not here.
    return ()


def unused_suppressions(
    paths: list[Path], fired: set[tuple[Path, int, str]], ran: frozenset[str], known: frozenset[str]
) -> Iterator[Violation]:
    """HUB012's violations: suppressed codes in ``paths`` that are ``known``, whose rule ``ran``, and
    that ``fired`` (path, line, code) holds no finding for."""
    judged = (ran & known) - {UNUSED_SUPPRESSION}
    for path in paths:
        for suppression in suppressions_in(path):
            unused = [code for code in suppression.codes
                      if code in judged and (path, suppression.line, code) not in fired]
            if unused:
                yield Violation(path, suppression.line, suppression.column, {"codes": ", ".join(unused)})
