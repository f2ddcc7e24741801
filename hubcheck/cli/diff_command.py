"""``diff``: what changed in a repo's entry points between two refs, read statically."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from hubcheck.cli.common import OutputOption, RefreshOption, RepoArgument, emit, handles_errors, path_prefix, quiet
from hubcheck.errors import ExitCode


class DiffFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    MARKDOWN = "markdown"


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)


@handles_errors
def diff_command(
    base: Annotated[str, typer.Option(
        "--base", metavar="REF", help="The ref users have now: a tag, branch or commit (e.g. v1.0, origin/main)."
    )],
    repo: RepoArgument = ".",
    head: Annotated[str | None, typer.Option(
        "--head", metavar="REF",
        help="The ref to compare with it; default: REPO's own ref, or a local directory as it is on disk.",
    )] = None,
    format: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat.TEXT,
    output: OutputOption = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when breaking changes are found.")] = False,
    refresh: RefreshOption = False,
) -> None:
    """Compare the entry points of two refs statically: breaking changes are errors, additions info."""
    from hubcheck.api_diff import CHANGE_KINDS, diff_repo
    from hubcheck.report.rendering import render_report
    from hubcheck.resolve import SourceKind, parse_spec
    from hubcheck.results import Report

    candidate = Path(repo)
    spec = parse_spec(str(candidate.parent) if candidate.name == "hubconf.py" and candidate.is_file() else repo)
    compared = diff_repo(spec, base, head, refresh=refresh)
    local_head = spec.kind is SourceKind.LOCAL and head is None
    where = compared.head.path if local_head else spec.path
    repo_json = {"spec": spec.raw, "kind": spec.kind.value, "path": str(where) if where else None, "url": spec.url,
                 "ref": compared.head.ref, "commit": compared.head.commit, "dirty": compared.head.dirty,
                 "base": compared.base.to_json(), "head": compared.head.to_json()}
    report = Report(command="diff", repo=repo_json, findings=compared.findings)
    prefix = path_prefix(where) if local_head and where is not None else ""
    emit(render_report(report, format.value, prefix, summary=not quiet(), catalogue=CHANGE_KINDS), output)
    if report.exit_code is not ExitCode.OK and not exit_zero:
        raise typer.Exit(int(report.exit_code))
