"""Split a hub's entry points into N shards for CI matrices: ``--hubcheck-shard K/N``.

An entry point's shard depends on its name alone (a hash, not its position in
the list), so that every machine computes the same split without talking to
the others, and adding or removing an entry point moves no other one to
another shard: a CI job keeps checking the entry points it checked yesterday.
The repo-level items (import, dependencies, config, lint...) belong to shard 1,
so that the shards are disjoint and together hold every item exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hubcheck.errors import UsageError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, counted from 1 as CI matrices count (``1/4`` ... ``4/4``)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def holds_repo_items(self) -> bool:
        """Whether this shard checks the repo as a whole (import, dependencies, config, references, lint)."""
        return self.index == 1

    def holds(self, entrypoint: str) -> bool:
        """Whether ``entrypoint`` is checked in this shard."""
        return shard_of(entrypoint, self.count) == self.index


def shard_of(entrypoint: str, count: int) -> int:
    """The shard (1..count) of an entry point: the same on every machine, Python and run."""
    # Not hash(): it is salted per process unless PYTHONHASHSEED is set.
    digest = hashlib.sha256(entrypoint.encode("utf-8", errors="surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str, flag: str = "--hubcheck-shard") -> Shard:
    """``"2/4"`` -> ``Shard(2, 4)``.

    Raises:
        UsageError: not ``K/N`` with 1 <= K <= N.
    """
    match = _SHARD.match(text)
    if match is None:
        raise UsageError(f"{flag} {text!r}: write K/N, the shard to check and how many there are, e.g. {flag} 1/4")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"{flag} {text!r}: K must be between 1 and N (shards count from 1), e.g. {flag} 1/{max(count, 1)}")
    return Shard(index, count)
