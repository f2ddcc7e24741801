"""JUnit XML, which every CI system renders as a test report."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from hubcheck.report.text import finding_location
from hubcheck.results import Report, Status

# Characters XML 1.0 cannot hold at all; repo output (a NUL, an ANSI escape) holds them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def format_junit(report: Report, path_prefix: str = "") -> str:
    failing_findings = report.failing_findings
    total_time = sum(check.duration_s for check in report.checks)
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(suites, "testsuite", {
        "name": f"hubcheck {report.repo.get('spec') or report.repo.get('path')}",
        "tests": str(len(report.checks) + len(report.findings)),
        "failures": str(sum(map(report.fails, report.checks)) + len(failing_findings)),
        "errors": "0",
        "skipped": str(sum(not report.fails(c) and c.status is not Status.PASSED for c in report.checks)),
        "time": f"{total_time:.3f}",
    })
    for check in report.checks:
        case = ElementTree.SubElement(suite, "testcase", {
            "classname": f"hubcheck.{check.entrypoint or 'repo'}",
            "name": check.id.split("::", 1)[-1] if check.entrypoint else check.id,
            "time": f"{check.duration_s:.3f}",
            "file": f"{path_prefix}hubconf.py",
            **({"line": str(check.line)} if check.line else {}),
        })
        # JUnit has no "not verified": a skip saying so, or a failure under --strict.
        message = f"not verified: {check.message}" if check.status is Status.NOT_VERIFIED else check.message
        if report.fails(check):
            failure = ElementTree.SubElement(case, "failure", {"message": message.splitlines()[0] if message else ""})
            failure.text = message
        elif check.status is not Status.PASSED:
            ElementTree.SubElement(case, "skipped", {"message": message})
    for finding in report.findings:
        case = ElementTree.SubElement(suite, "testcase", {
            "classname": "hubcheck.lint",
            "name": f"{finding.code} {finding.name} {finding_location(finding, path_prefix)}",
            "time": "0",
        })
        if finding in failing_findings:
            failure = ElementTree.SubElement(case, "failure", {"message": finding.message, "type": finding.severity.value})
            failure.text = f"{finding.message}\nfix: {finding.fix}" if finding.fix else finding.message
    for element in suites.iter():
        element.attrib = {key: _xml(value) for key, value in element.attrib.items()}
        if element.text:
            element.text = _xml(element.text)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
