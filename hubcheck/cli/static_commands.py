"""``list``, ``help``, ``lint`` and ``rules``: the commands that never run repo code."""

from __future__ import annotations

import difflib
import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hubcheck.cli.common import (
    OutputOption,
    RefreshOption,
    ReposArgument,
    console,
    emit,
    fail,
    handles_errors,
    one_document_per_run,
    path_prefix,
    per_repo,
    quiet,
    resolve_repo,
    split_codes,
)
from hubcheck.errors import ExitCode, UsageError
from hubcheck.report import LintFormat

if TYPE_CHECKING:
    from hubcheck.report.sarif import Documented


class ListFormat(str, enum.Enum):
    TABLE = "table"
    JSON = "json"


class RulesFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


PythonOption = Annotated[
    str | None,
    typer.Option("--python", help="Interpreter that imports hubconf for --dynamic (default: this one)."),
]


def register(app: typer.Typer) -> None:
    app.command("list")(list_command)
    app.command("help")(help_command)
    app.command("lint")(lint_command)
    app.command("rules")(rules_command)


def _listing(repo: str, refresh: bool, dynamic: bool, python: str | None):
    """The repo's entry points: read statically, or imported in a worker with ``dynamic``."""
    from hubcheck.listing import dynamic_listing, static_listing
    from hubcheck.resolve import require_hubconf

    resolved = resolve_repo(repo, refresh)
    require_hubconf(resolved)
    return dynamic_listing(resolved, python=python) if dynamic else static_listing(resolved)


@handles_errors
def list_command(
    repos: ReposArgument = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
    dynamic: Annotated[bool, typer.Option(
        "--dynamic", help="Import hubconf the torch.hub way, in a separate process, and list what it really holds."
    )] = False,
    python: PythonOption = None,
    refresh: RefreshOption = False,
) -> None:
    """List the entry points torch.hub.list would return, read statically (no repo code runs)."""
    specs = repos or ["."]
    if format is ListFormat.JSON:
        one_document_per_run(specs, format.value, None)

    def list_one(spec: str) -> ExitCode:
        _print_listing(_listing(spec, refresh, dynamic, python), format)
        return ExitCode.OK

    worst = per_repo(specs, list_one)
    if worst:
        raise typer.Exit(int(worst))


def _print_listing(listing, format: ListFormat) -> None:
    if format is ListFormat.JSON:
        emit(json.dumps(listing.to_json(), indent=2) + "\n", None)
        return
    if quiet():
        emit("".join(f"{entry.name}\n" for entry in listing.entrypoints), None)
        return
    from hubcheck.report.table import listing_table
    from hubcheck.report.text import describe_repo

    out = console()
    out.print(listing_table(listing))
    for note in listing.notes:
        out.print(f"incomplete: {note}", markup=False, highlight=False)
    if not listing.complete:
        out.print("The static list may be incomplete: `hubcheck list --dynamic` imports hubconf "
                  "the torch.hub way in a separate process.", markup=False, highlight=False)
    out.print(f"Read {describe_repo(listing.repo.to_json())}.", markup=False, highlight=False)


@handles_errors
def help_command(
    repo: Annotated[str, typer.Argument(metavar="REPO", help="A local directory, `owner/name[:ref]` or `git+URL[@REF]`.")],
    entrypoint: Annotated[str, typer.Argument(metavar="ENTRYPOINT", help="The entry point's name.")],
    dynamic: Annotated[bool, typer.Option(
        "--dynamic", help="Import hubconf in a separate process and print the real __doc__."
    )] = False,
    python: PythonOption = None,
    refresh: RefreshOption = False,
) -> None:
    """Print an entry point's docstring, as torch.hub.help would return it."""
    listing = _listing(repo, refresh, dynamic, python)
    entry = listing.get(entrypoint)
    if entry is None:
        names = [e.name for e in listing.entrypoints]
        close = difflib.get_close_matches(entrypoint, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        if not listing.complete and not dynamic:
            hint += " (the static list is incomplete: try --dynamic)"
        raise UsageError(f"no entry point {entrypoint!r} in {repo}{hint} (`hubcheck list {repo}` shows them all)")
    if entry.doc is None:
        raise fail(f"entry point {entrypoint!r} has no docstring{entry.missing_doc_detail}", ExitCode.PROBLEMS)
    typer.echo(entry.doc)


@handles_errors
def lint_command(
    repos: ReposArgument = None,
    select: Annotated[list[str] | None, typer.Option(
        "--select", help="Rule codes or prefixes to run, comma-separated or repeated (replaces [lint] select)."
    )] = None,
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", help="Rule codes or prefixes to skip (added to [lint] ignore)."
    )] = None,
    format: Annotated[LintFormat, typer.Option("--format", "-f", help="Output format.")] = LintFormat.TEXT,
    output: OutputOption = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when problems are found.")] = False,
    refresh: RefreshOption = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Lint from scratch: neither read nor keep findings in the hubcheck cache."
    )] = False,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", metavar="FILE", help="Report only findings not in this baseline (see --write-baseline)."
    )] = None,
    write_baseline: Annotated[Path | None, typer.Option(
        "--write-baseline", metavar="FILE", help="Write every current finding to FILE as the baseline, and exit 0."
    )] = None,
    statistics: Annotated[bool, typer.Option(
        "--statistics", help="Print how many findings each rule has instead of the findings."
    )] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Apply the safe fixes (HUB003, HUB201, HUB202) to the repo's files, then report what is left."
    )] = False,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Print the fixes --fix would apply as a unified diff, and write nothing."
    )] = False,
    api_base: Annotated[str | None, typer.Option(
        "--api-base", metavar="REF",
        help="Also report the API changes (as `hubcheck diff --base REF`) from REF to REPO as linted.",
    )] = None,
) -> None:
    """Check hubconf.py against the rule set, without running any repo code."""
    from hubcheck.baseline import read_baseline
    from hubcheck.rules import is_api_selector, validate_code_selector

    selected = split_codes(select)
    ignored = split_codes(ignore)
    for code in selected + ignored:
        if is_api_selector(code):
            from hubcheck.api_lint import api_selector_problem  # the comparison's modules, only when asked

            problem = api_selector_problem(code, api_base)
        else:
            problem = validate_code_selector(code)
        if problem:
            raise UsageError(problem)
    if baseline is not None and write_baseline is not None:
        raise UsageError("pass --baseline or --write-baseline, not both (--write-baseline replaces the file)")
    if fix and diff:
        raise UsageError("pass --fix (write the fixes) or --diff (print them), not both")
    accepted = read_baseline(baseline) if baseline is not None else None
    specs = repos or ["."]
    if len(specs) > 1 and (baseline is not None or write_baseline is not None):
        raise UsageError("--baseline and --write-baseline take one REPO per run (a baseline is one repo's)")
    one_document_per_run(specs, "statistics" if statistics else format.value, output)
    texts: list[str] = []

    def lint_one(spec: str) -> ExitCode:
        text, code = _lint_one(spec, refresh, selected, ignored, no_cache, accepted, write_baseline, statistics,
                               format, fix, diff, api_base)
        texts.append(text)
        return code

    worst = per_repo(specs, lint_one)
    if write_baseline is not None:
        return
    emit("".join(texts), output)
    if worst is ExitCode.USAGE or (worst and not exit_zero):
        raise typer.Exit(int(worst))


def _lint_one(repo: str, refresh: bool, selected: tuple[str, ...], ignored: tuple[str, ...], no_cache: bool,
              accepted, write_baseline: Path | None, statistics: bool, format: LintFormat,
              fix: bool = False, diff: bool = False, api_base: str | None = None) -> tuple[str, ExitCode]:
    """One repo's lint report, as text in ``format``, and the exit code it calls for; with ``api_base``,
    the API changes from that ref are findings of the same report."""
    from hubcheck.baseline import write_baseline as write_baseline_file
    from hubcheck.lint import lint_repo
    from hubcheck.lint_cache import LintCache
    from hubcheck.report.rendering import render_report
    from hubcheck.resolve import SourceKind
    from hubcheck.results import Report

    resolved = resolve_repo(repo, refresh)
    if (fix or diff) and resolved.spec.kind is not SourceKind.LOCAL:
        raise UsageError(f"--fix and --diff change a local checkout; clone {repo} and pass its directory")

    def lint():
        linted = lint_repo(resolved.path, select=selected or None, ignore=ignored,
                           cache=None if no_cache else LintCache.default())
        if linted.cache_problem:
            typer.echo(f"hubcheck: {linted.cache_problem}; pass --no-cache or set HUBCHECK_CACHE", err=True)
        return linted

    result = lint()
    if fix and api_base is not None:
        from hubcheck.api_lint import lint_api

        lint_api(resolved.spec, api_base, refresh=refresh)  # a bad REF is exit 2 before the fixes write anything
    if fix or diff:
        from hubcheck.fixes import apply_fixes, plan_fixes

        reported = result.findings if accepted is None else accepted.new_findings(result.findings)
        fixes = plan_fixes(resolved.path, reported)
        if diff:
            return "".join(planned.diff() for planned in fixes), ExitCode.PROBLEMS if fixes else ExitCode.OK
        try:
            apply_fixes(resolved.path, fixes)
        except OSError as error:
            raise UsageError(f"cannot write the fixes: {error.strerror or error} ({error.filename})") from None
        fixed = sum(len(planned.fixed) for planned in fixes)
        typer.echo(f"hubcheck: fixed {fixed} finding(s) in {len(fixes)} file(s)", err=True)
        result = lint()
    repo_json = resolved.to_json()
    every = result.findings
    catalogue: tuple[Documented, ...] | None = None
    if api_base is not None:
        from hubcheck.api_diff import CHANGE_KINDS
        from hubcheck.api_lint import lint_api
        from hubcheck.findings import Finding
        from hubcheck.rules import ALL_RULES

        api = lint_api(resolved.spec, api_base, select=selected, ignore=result.ignored, refresh=refresh)
        every = tuple(sorted((*result.findings, *api.findings), key=Finding.sort_key))
        repo_json = {**repo_json, "base": api.base.to_json()}  # as `hubcheck diff` reports it
        catalogue = (*ALL_RULES, *CHANGE_KINDS)
    if write_baseline is not None:
        write_baseline_file(write_baseline, every)
        typer.echo(f"hubcheck: wrote {write_baseline}, accepting {len(every)} finding(s)", err=True)
        return "", ExitCode.OK
    findings = every if accepted is None else accepted.new_findings(every)
    if len(findings) < len(every) and not quiet():
        typer.echo(f"hubcheck: {len(every) - len(findings)} finding(s) in the baseline not shown", err=True)
    report = Report(command="lint", repo=repo_json, findings=findings)
    if statistics:
        from hubcheck.report.statistics import format_statistics, format_statistics_json

        text = format_statistics_json(report) if format is LintFormat.JSON else format_statistics(report)
    else:
        text = render_report(report, format.value, path_prefix(resolved.path), summary=not quiet(),
                             catalogue=catalogue)
    return text, report.exit_code


@handles_errors
def rules_command(
    code: Annotated[str | None, typer.Argument(metavar="[CODE]", help="Explain one rule, e.g. HUB203.")] = None,
    format: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] = RulesFormat.TEXT,
) -> None:
    """List the lint rules, or explain one: what it does, why, an example and the fix."""
    from hubcheck.report.rules_text import (
        format_rule,
        format_rule_json,
        format_rules_table,
    )
    from hubcheck.rules import ALL_RULES, RETIRED_RULES, get_rule

    if code is None:
        if format is RulesFormat.JSON:
            emit(json.dumps([format_rule_json(r) for r in ALL_RULES], indent=2) + "\n", None)
        else:
            emit(format_rules_table(ALL_RULES), None)
        return
    rule = get_rule(code)
    if rule is None and code.upper() in RETIRED_RULES:
        note = RETIRED_RULES[code.upper()]
        retired = {"code": code.upper(), "retired": note}
        emit((json.dumps(retired, indent=2) if format is RulesFormat.JSON else note) + "\n", None)
        return
    if rule is None:
        close = difflib.get_close_matches(code.upper(), [r.code for r in ALL_RULES], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"unknown rule code {code!r}{hint} (`hubcheck rules` lists them)")
    if format is RulesFormat.JSON:
        emit(json.dumps(format_rule_json(rule), indent=2) + "\n", None)
    else:
        emit(format_rule(rule), None)
