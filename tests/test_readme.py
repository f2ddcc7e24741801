"""The README documents every command, option, rule and exit code, and CI runs its test command."""

from __future__ import annotations

import re

import pytest
import typer.main

from hubcheck.cli.app import app
from hubcheck.errors import ExitCode
from hubcheck.rules import ALL_RULES
from tests.helpers import PROJECT

README = (PROJECT / "README.md").read_text()
COMMANDS = typer.main.get_command(app).commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_documented(name):
    assert f"### `hubcheck {name}" in README, name
    for param in COMMANDS[name].params:
        for option in param.opts + param.secondary_opts:
            if option.startswith("--") and option != "--help":
                assert option in README, f"{name} {option}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_is_in_the_rules_table(rule):
    assert re.search(rf"\| {rule.code} \| {rule.name} \| {rule.severity.value} \|", README), rule.code


@pytest.mark.parametrize("code", list(ExitCode))
def test_every_exit_code_is_documented(code):
    assert f"| {int(code)} |" in README


def test_ci_runs_the_readme_test_command():
    quickstart = README.split("Run the test suite", 1)[1].split("```bash", 1)[1].split("```", 1)[0].strip()
    install, test = [part.strip() for part in quickstart.split("&&")]
    ci = (PROJECT / ".ci" / "run").read_text()
    assert install in ci and test in ci


def test_every_plugin_option_is_documented():
    source = (PROJECT / "hubcheck" / "plugin.py").read_text()
    options = re.findall(r'addoption\("(--[a-z-]+)"', source) + re.findall(r'addini\("([a-z_]+)"', source)
    assert options
    for option in options:
        assert f"`{option}" in README, option
