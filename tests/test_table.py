"""Reports of repo text: names, docstrings and messages show as written, never as rich markup, HTML or broken XML."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from hubcheck.cli.progress import Progress, print_summary
from hubcheck.listing import ListedEntrypoint, Listing
from hubcheck.report.table import checks_table, listing_table
from hubcheck.results import CheckResult, Report, Status
from tests.helpers import FIXTURES, hubcheck

MARKUP_NAMES = ("c[d]", "[/bogus]", "[bold red]loud", "x[/]", "[link=file:///etc/passwd]y")


def _render(renderable) -> str:
    console = Console(file=io.StringIO(), width=300, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def _report() -> Report:
    checks = tuple(CheckResult(name, "forward", "cpu", Status.FAILED, f"{name} said [red]no[/red]") for name in MARKUP_NAMES)
    return Report("validate", {"spec": "repo", "path": "/repo"}, checks=checks)


def test_the_checks_table_shows_entrypoint_names_as_written():
    output = _render(checks_table(_report()))
    for name in MARKUP_NAMES:
        assert name in output, output


def test_the_listing_table_shows_names_signatures_and_docstrings_as_written():
    entries = tuple(ListedEntrypoint(name, "function", "(x=[1])", f"Makes [bold]{name}[/bold].", 1, False)
                    for name in MARKUP_NAMES)
    output = _render(listing_table(Listing(None, "static", True, entries)))  # type: ignore[arg-type]
    for name in MARKUP_NAMES:
        assert name in output and f"Makes [bold]{name}[/bold]." in output, output
    assert "(x=[1])" in output


def test_the_summary_shows_names_and_messages_as_written():
    console = Console(file=io.StringIO(), width=300, color_system=None)
    print_summary(_report(), "", console)
    output = console.file.getvalue()
    for name in MARKUP_NAMES:
        assert f"{name}::forward[cpu]: {name} said [red]no[/red]" in output, output


def test_live_progress_shows_names_as_written():
    console = Console(file=io.StringIO(), width=300, force_terminal=True, color_system=None)
    with Progress(enabled=True, console=console) as progress:
        progress.start(list(MARKUP_NAMES))
        for check in _report().checks:
            progress.entrypoint(check.entrypoint)
            progress._progress.refresh()
            progress.result(check)
    output = console.file.getvalue()
    for name in MARKUP_NAMES:
        assert f"{name}: running" in output, output
        assert f"FAILED {name}::forward[cpu]: {name} said [red]no[/red]" in output, output


@pytest.mark.slow
def test_validate_table_of_a_repo_whose_names_are_markup(tmp_path: Path):
    repo = shutil.copytree(FIXTURES / "corpus" / "entry_rich_markup_names", tmp_path / "repo", symlinks=True)
    run = hubcheck("validate", str(repo), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert run.code == 0, run.stderr
    for name in ("c[d]", "[/bogus]", "[bold red]loud"):
        assert f"│ {name} " in run.stdout, run.stdout


def test_markdown_keeps_repo_text_inside_its_cell():
    from hubcheck.report.markdown import format_markdown

    checks = (CheckResult("a`b", "load", "cpu", Status.FAILED, "</details><img src=x> | and\na new line"),)
    text = format_markdown(Report("validate", {"spec": "repo", "path": "/repo"}, checks=checks))
    row = next(line for line in text.splitlines() if line.startswith("| ❌"))
    assert row == "| ❌ | ``a`b::load[cpu]`` | &lt;/details&gt;&lt;img src=x&gt; \\| and<br>a new line |", row
    assert text.count("</details>") == 1


def test_junit_of_repo_output_with_control_characters_is_well_formed_xml():
    from xml.etree import ElementTree

    from hubcheck.report.junit import format_junit

    checks = (CheckResult("a\x00b", "load", "cpu", Status.FAILED, "crashed: \x1b[31mred\x1b[0m \x00 <tag> & more"),)
    text = format_junit(Report("validate", {"spec": "repo", "path": "/repo"}, checks=checks))
    failure = ElementTree.fromstring(text.split("\n", 1)[1]).find(".//failure")
    assert failure is not None and failure.text == "crashed: \ufffd[31mred\ufffd[0m \ufffd <tag> & more"
