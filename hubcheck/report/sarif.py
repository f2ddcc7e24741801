"""SARIF 2.1.0, the format GitHub code scanning uploads (``github/codeql-action/upload-sarif``)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from hubcheck import __version__
from hubcheck.baseline import fingerprint_of
from hubcheck.findings import Severity
from hubcheck.results import Report, Status
from hubcheck.rules import ALL_RULES
from hubcheck.rules.base import RuleDoc

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/hubcheck/hubcheck"
RULES_URI = f"{INFORMATION_URI}#rules"
"""The README's rules table; `hubcheck rules CODE` prints the same documentation as the help text."""
FINGERPRINT_KEY = "hubcheck/v2"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


class Documented(Protocol):
    """What SARIF describes of a finding's code: a lint rule, or a kind of API change (``hubcheck diff``)."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def fix(self) -> str: ...
    @property
    def doc(self) -> RuleDoc: ...
    @property
    def summary(self) -> str: ...


def _rule_descriptor(rule: Documented) -> dict[str, Any]:
    markdown = "\n\n".join(f"## {title}\n{text}" for title, text in rule.doc.sections())
    text = "\n\n".join(f"{title}\n{text}" for title, text in rule.doc.sections())
    return {
        "id": rule.code,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc.why_is_this_bad.replace("\n", " ")},
        "helpUri": RULES_URI,
        "help": {"text": f"{text}\n\nFix: {rule.fix}", "markdown": f"{markdown}\n\n**Fix:** {rule.fix}"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["pytorch-hub", rule.name], "precision": "high"},
    }


def _check_descriptor(check: str) -> dict[str, Any]:
    return {
        "id": f"check/{check}",
        "name": "".join(part.capitalize() for part in check.split("-")) + "Check",
        "shortDescription": {"text": f"hubcheck's {check} check of an entry point failed"},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["pytorch-hub", "validate"]},
    }


def _location(uri: str, line: int | None, column: int | None) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": line or 1}
    if column:
        region["startColumn"] = column
    return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}, "region": region}}


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:32]


def format_sarif(report: Report, path_prefix: str = "", catalogue: Sequence[Documented] = ALL_RULES) -> str:
    """The report as SARIF; ``catalogue`` declares the codes its findings carry (lint's rules by default)."""
    rules = list(catalogue)
    index = {rule.code: position for position, rule in enumerate(rules)}
    descriptors = [_rule_descriptor(rule) for rule in rules]
    results: list[dict[str, Any]] = []
    occurrences: Counter[str] = Counter()
    for finding in report.findings:
        # Identical lines share a content fingerprint; the occurrence keeps their alerts apart.
        fingerprint = fingerprint_of(finding)
        occurrences[fingerprint] += 1
        message = f"{finding.message}. Fix: {finding.fix}" if finding.fix else finding.message
        results.append({
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _LEVEL[finding.severity],
            "message": {"text": message},
            "locations": [_location(f"{path_prefix}{finding.path}", finding.line, finding.column)],
            "partialFingerprints": {FINGERPRINT_KEY: f"{fingerprint}:{occurrences[fingerprint]}"},
        })
    for check in report.checks:
        if not report.fails(check) and check.status is not Status.NOT_VERIFIED:
            continue
        rule_id = f"check/{check.check}"
        if rule_id not in index:
            index[rule_id] = len(descriptors)
            descriptors.append(_check_descriptor(check.check))
        results.append({
            "ruleId": rule_id,
            "ruleIndex": index[rule_id],
            # Not verified is a warning, and an error under --strict.
            "level": "error" if report.fails(check) else "warning",
            "message": {"text": f"{check.id}: {'not verified: ' if check.status is Status.NOT_VERIFIED else ''}"
                                f"{check.message}"},
            "locations": [_location(f"{path_prefix}hubconf.py", check.line, None)],
            "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(check.id)},
        })
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "hubcheck",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": descriptors,
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True}],
    }
    repo = report.repo
    if repo.get("commit"):
        provenance: dict[str, Any] = {"repositoryUri": repo.get("url") or f"file://{repo.get('path')}",
                                      "revisionId": repo["commit"]}
        if repo.get("ref"):
            provenance["branch"] = repo["ref"]
        run["versionControlProvenance"] = [provenance]
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"
