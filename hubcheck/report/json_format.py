"""The stable JSON report that CI systems and the pytest plugin read."""

from __future__ import annotations

import json

from hubcheck.results import Report


def format_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
