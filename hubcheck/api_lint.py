"""API changes in a lint run (``hubcheck lint --api-base REF``): one pull-request job checks both.

The comparison is :func:`hubcheck.api_diff.diff_repo`'s, of REPO as lint reads it (a local
directory as it is on disk, else REPO's own ref) against REF. This module only decides which
of its findings a lint run reports: ``--select`` and ``--ignore`` take API codes and prefixes
as they take rule codes, so a run can leave out, say, the informational additions (``API1``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hubcheck.api_diff import CHANGE_KINDS, diff_repo
from hubcheck.findings import Finding
from hubcheck.rules import is_api_selector

if TYPE_CHECKING:
    from hubcheck.ref_trees import RefTree
    from hubcheck.resolve import RepoSpec

_CODES = tuple(kind.code for kind in CHANGE_KINDS)


def api_selector_problem(selector: str, api_base: str | None) -> str | None:
    """None when ``selector`` (an API code or prefix such as ``API1``) selects some change kind; else why not."""
    if api_base is None:
        return f"{selector!r} selects API changes, which lint reports only with --api-base REF (or run `hubcheck diff`)"
    return unknown_api_code(selector)


def unknown_api_code(selector: str) -> str | None:
    """None when ``selector`` (an API code or prefix) names some change kind; else why not. ``[lint]``
    configuration may name API codes without ``--api-base``: they apply to the runs that pass it."""
    upper = selector.upper()
    if any(code.startswith(upper) for code in _CODES):
        return None
    close = difflib.get_close_matches(upper, list(_CODES), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown API change code {selector!r}{hint}; the README's `hubcheck diff` section lists them"


@dataclass(frozen=True)
class ApiLint:
    """What ``--api-base`` adds to one repo's lint report."""

    base: RefTree
    findings: tuple[Finding, ...]
    """The selected API findings, sorted as lint sorts its own."""


def lint_api(spec: RepoSpec, api_base: str, *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
             refresh: bool = False) -> ApiLint:
    """The API changes from ``api_base`` to ``spec`` as lint reads it, chosen by ``select`` and ``ignore``.

    ``select`` narrows the API findings only when it names API codes (or ``ALL``): passing
    ``--api-base`` is what asks for them, so ``--select HUB2`` alone keeps them all.

    Raises:
        ResolutionError: ``api_base`` cannot be resolved, or has no readable hubconf.py.
    """
    compared = diff_repo(spec, api_base, None, refresh=refresh)
    narrowing = tuple(s for s in select if is_api_selector(s) or s.upper() == "ALL")
    chosen = tuple(
        finding for finding in compared.findings
        if (not narrowing or _matches(finding.code, narrowing)) and not _matches(finding.code, ignore)
    )
    return ApiLint(compared.base, chosen)


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s.upper() == "ALL" or code.startswith(s.upper()) for s in selectors)


__all__ = ["ApiLint", "api_selector_problem", "is_api_selector", "lint_api", "unknown_api_code"]
