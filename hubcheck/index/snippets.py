"""The ``torch.hub`` calls in an index page's snippets, through the docs-snippet reader of
:mod:`hubcheck.static.snippets` (read with ``ast``, nothing is run).

One thing is added for index pages: commented-out calls count. Pages list a model's variants as
``# model = torch.hub.load(...)`` lines, which readers uncomment, so those lines are read uncommented (and
marked, so messages can say so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hubcheck.static.snippets import HubCall, markdown_calls

_COMMENTED_CALL = re.compile(r"^(?P<indent>\s*)#\s*(?P<code>.*\btorch\.hub\.(?:load|help|list)\s*\(.*)$")


@dataclass(frozen=True)
class PageCall:
    """One hub call of a page, and whether the page has it commented out."""

    call: HubCall
    commented: bool

    @property
    def repo_id(self) -> str | None:
        """``owner/name`` in lower case for a GitHub-source call with a literal repo, the ref left out."""
        github = self.call.github
        return f"{github[0]}/{github[1]}".lower() if github is not None else None

    @property
    def line(self) -> int:
        return self.call.line or 1


def page_calls(path: Path, text: str) -> tuple[PageCall, ...]:
    """The hub calls in page ``text`` (markdown), commented-out ones included."""
    lines = text.splitlines()
    commented = set()
    for number, line in enumerate(lines):
        match = _COMMENTED_CALL.match(line)
        if match is not None:
            lines[number] = match["indent"] + match["code"]
            commented.add(number + 1)
    return tuple(PageCall(call, call.line in commented) for call in markdown_calls(path, "\n".join(lines)))
