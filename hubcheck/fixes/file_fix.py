"""What a fix changes in one file: its content before and after, and the findings it repairs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hubcheck.findings import Finding


@dataclass(frozen=True)
class FileFix:
    """The new content of one repo file, and the findings it repairs."""

    path: str
    """Relative to the repo root, with forward slashes."""
    before: bytes
    after: bytes
    encoding: str
    fixed: tuple[Finding, ...]

    def diff(self) -> str:
        """A unified diff, ``a/PATH`` to ``b/PATH`` as git writes it."""
        lines = difflib.unified_diff(
            self.before.decode(self.encoding).splitlines(keepends=True),
            self.after.decode(self.encoding).splitlines(keepends=True),
            f"a/{self.path}", f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
