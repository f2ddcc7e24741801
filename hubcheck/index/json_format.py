"""``hubcheck index --format json``: the run, and one record per repo in lint/validate's report schema."""

from __future__ import annotations

import json

from hubcheck.index.results import IndexReport, page_json


def format_json(report: IndexReport) -> str:
    data = {
        "hubcheck_version": report.hubcheck_version,
        "command": "index",
        "checks": report.command,
        "source": {"path": report.source, "kind": report.source_kind},
        "summary": report.summary_json(),
        "repos": [row.to_json() for row in report.rows],
        "orphan_pages": [page_json(page) for page in report.orphan_pages],
    }
    return json.dumps(data, indent=2) + "\n"
