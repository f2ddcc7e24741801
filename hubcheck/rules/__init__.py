"""The rule set: every rule module is imported here, so the registry is complete."""

from __future__ import annotations

from hubcheck.rules import (  # noqa: F401
    code_patterns,
    dependencies,
    docs_snippets,
    entrypoints,
    hubconf_file,
    import_time,
    package_installs,
    repo_paths,
    suppression,
    weights_flags,
)
from hubcheck.rules.base import Rule, registered_rules, retired_rules

ALL_RULES: tuple[Rule, ...] = registered_rules()
_BY_CODE = {r.code: r for r in ALL_RULES}

# Codes of rules that no longer run -> where their check went (see rules.base.retire).
RETIRED_RULES: dict[str, str] = retired_rules()


def get_rule(code: str) -> Rule | None:
    """The rule with this code (case-insensitive), or None."""
    return _BY_CODE.get(code.upper())


API_CODE_PREFIX = "API"
"""What begins the codes of ``hubcheck diff``'s API changes, which ``--select``, ``--ignore`` and ``[lint] ignore``
take beside rule codes (:mod:`hubcheck.api_lint`)."""


def is_api_selector(selector: str) -> bool:
    """Whether a ``--select``/``--ignore`` value names API changes rather than lint rules."""
    return selector.upper().startswith(API_CODE_PREFIX)


def validate_code_selector(selector: str) -> str | None:
    """None when ``selector`` (a code, a prefix such as ``HUB2``, or ``ALL``) selects some rule; else why not."""
    upper = selector.upper()
    if upper == "ALL" or (any(code.startswith(upper) for code in _BY_CODE) and upper.startswith("HUB")):
        return None
    if upper in RETIRED_RULES:
        return None
    import difflib

    close = difflib.get_close_matches(upper, list(_BY_CODE), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown rule code {selector!r}{hint}; `hubcheck rules` lists them"


def select_rules(select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> tuple[Rule, ...]:
    """The rules chosen by code prefixes: all when ``select`` is empty, minus ``ignore``."""

    def matches(code: str, selectors: tuple[str, ...]) -> bool:
        return any(s.upper() == "ALL" or code.startswith(s.upper()) for s in selectors)

    chosen = [r for r in ALL_RULES if not select or matches(r.code, select)]
    return tuple(r for r in chosen if not matches(r.code, ignore))


__all__ = ["ALL_RULES", "API_CODE_PREFIX", "RETIRED_RULES", "Rule", "get_rule", "is_api_selector", "select_rules",
           "validate_code_selector"]
