"""Code scanning: SARIF fingerprints that survive line moves, rule help, and rule names in annotations and JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from hubcheck.lint import lint_repo
from hubcheck.report.github import format_github
from hubcheck.report.junit import format_junit
from hubcheck.report.sarif import FINGERPRINT_KEY, RULES_URI, format_sarif
from hubcheck.results import Report
from hubcheck.rules import get_rule
from tests.helpers import write_repo

TWO_LOADS = '''
"""Two identical weight loads in one entry point."""
dependencies = ["torch"]

import torch


def model(weights=None):
    """A model, from the checkpoint file ``weights``."""
    state = torch.load(weights, map_location="cpu")
    state = torch.load(weights, map_location="cpu")
    return state
'''


def _sarif(repo) -> dict:
    report = Report(command="lint", repo={"path": str(repo)}, findings=lint_repo(repo).findings)
    return json.loads(format_sarif(report))["runs"][0]


def _fingerprints(run: dict) -> list[tuple[str, int, str]]:
    return [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["partialFingerprints"][FINGERPRINT_KEY]) for r in run["results"]]


def test_partial_fingerprints_survive_line_moves_and_tell_duplicates_apart(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": TWO_LOADS})
    before = _fingerprints(_sarif(repo))
    assert [(code, line) for code, line, _ in before] == [("HUB202", 9), ("HUB202", 10)]
    assert before[0][2] != before[1][2]
    (repo / "hubconf.py").write_text(TWO_LOADS.replace("import torch\n", "import torch\n\n_WIDTH = 4\n").lstrip())
    after = _fingerprints(_sarif(repo))
    assert [line for _, line, _ in after] == [11, 12]
    assert [fingerprint for _, _, fingerprint in after] == [fingerprint for _, _, fingerprint in before]


def test_every_rule_has_a_help_uri_and_its_full_documentation(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": TWO_LOADS})
    descriptors = _sarif(repo)["tool"]["driver"]["rules"]
    hub202 = next(d for d in descriptors if d["id"] == "HUB202")
    assert all(d["helpUri"] == RULES_URI for d in descriptors)
    rule = get_rule("HUB202")
    for title, text in rule.doc.sections():
        assert f"{title}\n{text}" in hub202["help"]["text"]
        assert f"## {title}\n{text}" in hub202["help"]["markdown"]


def test_github_annotations_and_junit_name_the_rule(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": TWO_LOADS})
    report = Report(command="lint", repo={"path": str(repo)}, findings=lint_repo(repo).findings)
    annotations = [line for line in format_github(report).splitlines() if line.startswith("::")]
    assert len(annotations) == 2
    assert all("title=HUB202 torch-load-without-weights-only::" in line for line in annotations)
    cases = ElementTree.fromstring(format_junit(report)).iter("testcase")  # hubcheck's own output
    assert [case.get("name") for case in cases] == [
        "HUB202 torch-load-without-weights-only hubconf.py:9:13",
        "HUB202 torch-load-without-weights-only hubconf.py:10:13",
    ]
