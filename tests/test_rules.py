"""Every rule: documented in every section, and proven on its fixture repos.

Each rule CODE has two fixture repos, ``fixtures/rules/CODE/violations`` and
``fixtures/rules/CODE/non_violations``. Each holds an ``expected.json`` listing
every finding ``hubcheck lint`` must report there, as ``"path:line:CODE"``
strings; the comparison is exact, so a rule that fires too often or too
rarely on any fixture fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubcheck.lint import lint_repo
from hubcheck.rules import ALL_RULES
from hubcheck.rules.base import DOC_SECTIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
RULE_FIXTURES = sorted(p.parent for p in FIXTURES.glob("*/*/expected.json"))


def _findings(repo: Path) -> list[str]:
    return sorted(f"{f.path}:{f.line or 0}:{f.code}" for f in lint_repo(repo).findings)


def _expected(repo: Path) -> list[str]:
    return sorted(json.loads((repo / "expected.json").read_text())["findings"])


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_has_violation_and_non_violation_fixtures(rule):
    violations = FIXTURES / rule.code / "violations"
    non_violations = FIXTURES / rule.code / "non_violations"
    assert (violations / "expected.json").is_file(), f"{rule.code} needs {violations}/expected.json"
    assert (non_violations / "expected.json").is_file(), f"{rule.code} needs {non_violations}/expected.json"
    assert any(item.endswith(f":{rule.code}") for item in _expected(violations))
    assert not any(item.endswith(f":{rule.code}") for item in _expected(non_violations))


@pytest.mark.parametrize("repo", RULE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_findings_are_exactly_the_expected_ones(repo):
    assert _findings(repo) == _expected(repo)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_is_fully_documented(rule):
    sections = dict(rule.doc.sections())
    assert list(sections) == list(DOC_SECTIONS)
    for title, text in sections.items():
        assert len(text.strip()) >= 10, f"{rule.code}: section {title!r} is too thin"
    assert rule.name == rule.name.lower() and " " not in rule.name
    assert rule.message and rule.fix


def test_rule_codes_and_names_are_unique():
    assert len({r.code for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
