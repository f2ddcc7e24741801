"""``hubcheck index --format html``: one self-contained page (inline CSS, JS and SVG; nothing fetched).

A sortable table of repos by checks, a summary chart, and per repo its findings and failed checks, each linked
to its line on the forge at the commit that was checked (see :mod:`hubcheck.index.forge`). Everything that
came from a repo or a page is escaped: entry point names, messages and paths are the repo's text.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from hubcheck.index.cells import Cell, cell, columns
from hubcheck.index.forge import blob_base, line_url
from hubcheck.index.results import IndexReport, RepoRow, RowStatus
from hubcheck.report.text import describe_repo, finding_location
from hubcheck.results import Status

_STATUS_CLASS = {Status.PASSED: "pass", Status.FAILED: "fail", Status.SKIPPED: "skip", None: "none"}
_ROW_COLOURS = {RowStatus.PASSED: "#2e7d32", RowStatus.FAILED: "#c62828", RowStatus.ERROR: "#ef6c00"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#59636e;margin-bottom:16px}
.summary{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap;margin-bottom:12px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d1d9e0;padding:5px 8px;text-align:left;vertical-align:top}
p,li,td.text{overflow-wrap:anywhere}
th{background:#f6f8fa;position:sticky;top:0}
#repos th{cursor:pointer;user-select:none;white-space:nowrap}
#repos th[aria-sort=ascending]::after{content:" ▲"}#repos th[aria-sort=descending]::after{content:" ▼"}
td.pass{background:#dafbe1}td.fail{background:#ffebe9}td.skip{background:#fff8c5}td.none{color:#8c959f}
.badge{display:inline-block;padding:0 6px;border-radius:10px;color:#fff;font-size:12px}
.badge.passed{background:#2e7d32}.badge.failed{background:#c62828}.badge.error{background:#ef6c00}
details{border:1px solid #d1d9e0;border-radius:6px;padding:6px 10px;margin:8px 0}
summary{cursor:pointer;font-weight:600}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.sev-error{color:#c62828;font-weight:600}.sev-warning{color:#9a6700;font-weight:600}.sev-info{color:#59636e}
"""

_JS = """
(function(){
  var table=document.getElementById('repos');
  var heads=table.tHead.rows[0].cells;
  function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-sort');
    var n=parseFloat(v);return isNaN(n)?v.toLowerCase():n;}
  function sortBy(i){
    var th=heads[i];var dir=th.getAttribute('aria-sort')==='descending'?'ascending':'descending';
    for(var k=0;k<heads.length;k++){heads[k].removeAttribute('aria-sort');}
    th.setAttribute('aria-sort',dir);
    var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
      var r=(typeof x===typeof y)?(x<y?-1:x>y?1:0):(typeof x==='number'?-1:1);
      return dir==='ascending'?r:-r;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  for(var i=0;i<heads.length;i++){(function(i){
    heads[i].addEventListener('click',function(){sortBy(i);});
    heads[i].addEventListener('keydown',function(e){if(e.key==='Enter'){sortBy(i);}});
  })(i);}
})();
"""


def format_html(report: IndexReport) -> str:
    names = columns(report)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>hubcheck index: {escape(report.source)}</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>hubcheck index <small>({escape(report.command)})</small></h1>",
        (f'<div class="meta">{escape(report.source)} ({escape(report.source_kind)}) · {len(report.rows)} repos · '
        f"{report.wall_s:.1f} s with {report.jobs} job(s) · {sum(r.cached for r in report.rows)} from the cache · "
        f"hubcheck {escape(report.hubcheck_version)}</div>"),
        '<div class="summary">', _status_chart(report), _rules_chart(report), "</div>",
        _table(report, names), "<h2>Repos</h2>",
        *(_detail(number, row) for number, row in enumerate(report.rows)),
        *_orphans(report),
        f"<script>{_JS}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _table(report: IndexReport, names: tuple[str, ...]) -> str:
    heads = ["repo", "status", *names, "findings", "time (s)"]
    out = ['<table id="repos"><thead><tr>']
    out += [f'<th tabindex="0" data-column="{escape(name)}">{escape(name)}</th>' for name in heads]
    out.append("</tr></thead><tbody>")
    order = {RowStatus.ERROR: 2, RowStatus.FAILED: 1, RowStatus.PASSED: 0}
    for number, row in enumerate(report.rows):
        findings = len(row.report.findings) if row.report is not None else -1
        time = "cached" if row.cached else f"{row.timing.total_s:.2f}"
        out.append(f'<tr data-repo="{escape(row.spec)}">')
        out.append(f'<td class="text" data-sort="{escape(row.spec.lower())}"><a href="#repo-{number}">'
                   f"{escape(row.spec)}</a></td>")
        out.append(f'<td data-sort="{order[row.status]}"><span class="badge {row.status.value}">'
                   f"{row.status.value}</span></td>")
        out += [_cell(cell(row, name)) for name in names]
        out.append(f'<td data-sort="{findings}">{findings if findings >= 0 else "—"}</td>')
        out.append(f'<td data-sort="{row.timing.total_s:.4f}">{time}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _cell(shown: Cell) -> str:
    return f'<td class="{_STATUS_CLASS[shown.status]}" data-sort="{shown.sort}">{escape(shown.text)}</td>'


def _detail(number: int, row: RepoRow) -> str:
    out = [f'<details id="repo-{number}"{" open" if row.status is not RowStatus.PASSED else ""}>',
           f'<summary><span class="badge {row.status.value}">{row.status.value}</span> {escape(row.spec)}</summary>',
           f"<p>Named by {escape(', '.join(row.origins))}.</p>"]
    if row.report is None:
        out.append(f"<p>Not checked: {escape(row.error or '')}</p>")
    else:
        base = blob_base(row.report.repo)
        out.append(f"<p>{escape(describe_repo(row.report.repo))}</p>")
        if row.report.findings:
            out.append("<table><tr><th>code</th><th>severity</th><th>where</th><th>message</th></tr>")
            for finding in row.report.findings:
                where = _linked(finding_location(finding), line_url(base, finding.path, finding.line))
                out.append(f"<tr><td><code>{escape(finding.code)}</code> {escape(finding.name)}</td>"
                           f'<td class="sev-{finding.severity.value}">{finding.severity.value}</td>'
                           f'<td>{where}</td><td class="text">{escape(finding.message)}</td></tr>')
            out.append("</table>")
        failed = [check for check in row.report.checks if check.status is Status.FAILED]
        if failed:
            out.append("<p>Failed checks:</p><ul>")
            for check in failed:
                where = _linked("hubconf.py" + (f":{check.line}" if check.line else ""),
                                line_url(base, "hubconf.py", check.line))
                out.append(f"<li><code>{escape(check.id)}</code> ({where}): {escape(check.message)}</li>")
            out.append("</ul>")
    for page in row.pages:
        out.append(f"<p>Page <code>{escape(page.path)}</code>:</p><ul>")
        out += [f'<li class="{_STATUS_CLASS[check.status]}">{escape(check.check)}: {check.status.value}: '
                f"{escape(check.message)}</li>" for check in page.checks]
        out.append("</ul>")
    out.append("</details>")
    return "".join(out)


def _orphans(report: IndexReport) -> list[str]:
    if not report.orphan_pages:
        return []
    out = ["<h2>Pages naming no repo</h2><ul>"]
    out += [f"<li><code>{escape(page.path)}</code>: {escape(check.message)}</li>"
            for page in report.orphan_pages for check in page.checks]
    return [*out, "</ul>"]


def _linked(text: str, url: str | None) -> str:
    if url is None:
        return f"<code>{escape(text)}</code>"
    return f'<a href="{escape(url)}"><code>{escape(text)}</code></a>'


def _status_chart(report: IndexReport) -> str:
    """Repos by status, as one stacked bar with its legend."""
    total = max(1, len(report.rows))
    width, x = 360, 0.0
    bars, legend = [], []
    for index, status in enumerate(RowStatus):
        count = report.count(status)
        share = width * count / total
        if count:
            bars.append(f'<rect x="{x:.1f}" y="24" width="{share:.1f}" height="22" fill="{_ROW_COLOURS[status]}">'
                        f"<title>{status.value}: {count}</title></rect>")
        legend.append(f'<rect x="{index * 120}" y="58" width="10" height="10" fill="{_ROW_COLOURS[status]}"/>'
                      f'<text x="{index * 120 + 14}" y="67" font-size="12">{status.value} {count}</text>')
        x += share
    return (f'<svg id="status-chart" role="img" aria-label="repos by status" width="{width}" height="76" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" font-size="13" font-weight="600">Repos by '
            f'status</text>{"".join(bars)}{"".join(legend)}</svg>')


def _rules_chart(report: IndexReport) -> str:
    """The rules with the most findings over every repo, as horizontal bars."""
    counts = Counter(finding.code for row in report.rows if row.report is not None for finding in row.report.findings)
    top = counts.most_common(8)
    if not top:
        return ""
    most = top[0][1]
    rows = [f'<text x="0" y="{30 + i * 18}" font-size="12">{escape(code)}</text>'
            f'<rect x="60" y="{20 + i * 18}" width="{240 * count / most:.1f}" height="13" fill="#0969da">'
            f"<title>{escape(code)}: {count}</title></rect>"
            f'<text x="{66 + 240 * count / most:.1f}" y="{30 + i * 18}" font-size="11">{count}</text>'
            for i, (code, count) in enumerate(top)]
    return (f'<svg id="rules-chart" role="img" aria-label="findings by rule" width="360" height="{26 + 18 * len(top)}" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" font-size="13" font-weight="600">Findings by '
            f'rule</text>{"".join(rows)}</svg>')
