"""Entry point listings for ``hubcheck list`` and ``hubcheck help``: static, or imported in a worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubcheck.resolve import ResolvedRepo


@dataclass(frozen=True)
class ListedEntrypoint:
    """One row of ``hubcheck list``."""

    name: str
    kind: str
    signature: str | None
    doc: str | None
    """The docstring torch.hub.help returns, when it is the entry point's own."""
    line: int | None
    leaked: bool | None
    """An import that torch.hub.list shows by accident; None when unknown (dynamic-only names)."""
    dynamic: bool = False
    """Found only by importing hubconf."""
    generic_doc: bool = False
    """help() returns functools.partial's generic docstring."""

    @property
    def summary(self) -> str | None:
        if not self.doc:
            return None
        return next((line.strip() for line in self.doc.strip().splitlines() if line.strip()), None)

    @property
    def missing_doc_detail(self) -> str:
        if self.generic_doc or self.kind == "partial":
            return " of its own: torch.hub.help returns functools.partial's generic docstring"
        return ": torch.hub.help returns None"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "signature": self.signature, "doc": self.doc,
                "line": self.line, "leaked": self.leaked, "dynamic": self.dynamic}


@dataclass(frozen=True)
class Listing:
    """What ``hubcheck list`` prints."""

    repo: ResolvedRepo
    source: str
    """``static`` (read without running anything) or ``dynamic`` (imported in a worker)."""
    complete: bool
    entrypoints: tuple[ListedEntrypoint, ...]
    notes: tuple[str, ...] = ()
    """Why the static list may be incomplete."""

    def get(self, name: str) -> ListedEntrypoint | None:
        return next((e for e in self.entrypoints if e.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo.to_json(),
            "source": self.source,
            "complete": self.complete,
            "entrypoints": [e.to_json() for e in self.entrypoints],
            "notes": list(self.notes),
        }


def static_listing(repo: ResolvedRepo) -> Listing:
    """The entry points read from hubconf.py's source; no repo code runs."""
    from hubcheck.process_end import keep_until_exit
    from hubcheck.static import read_hubconf
    from hubcheck.static.modules import ModuleIndex

    index = ModuleIndex(repo.path)
    model = read_hubconf(repo.path, index)
    keep_until_exit(index)
    entries = tuple(
        ListedEntrypoint(e.name, e.kind.value, e.signature, e.doc, e.line, e.leaked)
        for e in model.entrypoints
    )
    notes = tuple(
        [f"line {d.line}: {d.description}" for d in model.dynamic]
        + [f"line {u.line}: {u.reason}" for u in model.uncertain]
    )
    return Listing(repo, "static", model.complete, entries, notes)


def dynamic_listing(repo: ResolvedRepo, python: str | None = None) -> Listing:
    """The entry points torch.hub.list returns, by importing hubconf the torch.hub way in a worker.

    Raises:
        HubcheckError: hubconf cannot be imported (the message says why), or torch is missing.
    """
    from hubcheck.errors import RepoCodeFailed
    from hubcheck.validate import ValidateOptions, ValidationSession

    # The same import as validate's: the repo's [validate] timeout bounds it, and the
    # worker is isolated the same way.
    with ValidationSession(repo, ValidateOptions(python=python, lint=False)) as session:
        outcome = session.import_hubconf()
        model = session.static_model
    # torch.hub.list does not check dependencies: only a failed import stops the listing.
    import_failure = next((r for r in outcome.results if r.check == "import" and r.status.value == "failed"), None)
    if import_failure is not None:
        raise RepoCodeFailed(import_failure.message.splitlines()[0])
    static = {e.name: e for e in model.entrypoints} if model is not None else {}
    entries = []
    for item in outcome.entries.values():
        known = static.get(item.name)
        entries.append(ListedEntrypoint(
            name=item.name, kind=known.kind.value if known else item.kind, signature=item.signature,
            doc=None if item.generic_doc else item.doc, line=known.line if known else item.line,
            leaked=known.leaked if known else None, dynamic=known is None, generic_doc=item.generic_doc,
        ))
    return Listing(repo, "dynamic", True, tuple(entries))
