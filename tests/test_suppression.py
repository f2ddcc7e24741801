"""HUB012 judges only the rules that ran: a narrowed rule set never calls other suppressions unused."""

from __future__ import annotations

from hubcheck.lint import lint_repo
from tests.helpers import FIXTURES

UNUSED = FIXTURES / "rules" / "HUB012" / "violations"


def _unused(**options) -> list[str]:
    return sorted(f"{f.path}:{f.line}:{f.message}" for f in lint_repo(UNUSED, **options).findings
                  if f.code == "HUB012")


def test_only_codes_of_rules_that_ran_are_judged():
    assert _unused(select=("HUB012", "HUB2")) == [
        "hubconf.py:27:suppression of HUB202 is unused: no such finding on this line",
        "tinyzoo/blocks.py:8:suppression of HUB204 is unused: no such finding on this line",
    ]
    assert _unused(select=("HUB012", "HUB101")) == [
        "hubconf.py:14:suppression of HUB101 is unused: no such finding on this line",
    ]


def test_ignoring_hub012_reports_no_unused_suppression():
    assert _unused(ignore=("HUB012",)) == []
