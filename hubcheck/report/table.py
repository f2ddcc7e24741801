"""Rich tables for terminals: the entry point listing, the rules, and validate's summary.

Every cell holding something the repo chose (an entry point name, a signature,
a docstring, a message) is a :class:`~rich.text.Text`, which rich never parses
as markup: a name such as ``c[d]`` or ``[/bogus]`` shows as written.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hubcheck.results import CheckResult, Report, Status

_STATUS_STYLE = {Status.PASSED: "green", Status.FAILED: "bold red", Status.SKIPPED: "yellow",
                 Status.NOT_VERIFIED: "bold magenta"}


def listing_table(listing) -> Table:
    table = Table(title=escape(f"{len(listing.entrypoints)} entry points ({listing.source})"), title_justify="left")
    for column in ("name", "kind", "signature", "summary", "flags"):
        table.add_column(column, overflow="fold")
    for entry in listing.entrypoints:
        flags = []
        if entry.leaked:
            flags.append("leaked import")
        if entry.dynamic:
            flags.append("dynamic")
        if entry.doc is None:
            flags.append("no docstring")
        table.add_row(*(Text(cell) for cell in (
            entry.name, entry.kind, entry.signature or "?", entry.summary or "", ", ".join(flags))))
    return table


def status_text(status: Status) -> Text:
    return Text(status.value, style=_STATUS_STYLE[status])


def checks_table(report: Report) -> Table:
    """One row per entry point and check, one column per device; device-free checks use the first column."""
    devices: list[str] = []
    for check in report.checks:
        if check.device and check.device not in devices:
            devices.append(check.device)
    columns = devices or ["result"]
    table = Table(title="hubcheck validate", title_justify="left")
    table.add_column("entry point")
    table.add_column("check")
    for device in columns:
        table.add_column(Text(device))
    rows: dict[tuple[str, str], dict[str, CheckResult]] = {}
    for check in report.checks:
        key = (check.entrypoint or "(repo)", check.check)
        rows.setdefault(key, {})[check.device or columns[0]] = check
    for (entrypoint, check_name), by_device in rows.items():
        cells = [status_text(by_device[d].status) if d in by_device else Text("-", style="dim") for d in columns]
        table.add_row(Text(entrypoint), Text(check_name), *cells)
    return table
