"""What ``hubcheck lint`` and ``hubcheck list`` say, as JSON, about every static fixture repo.

Run as a script with whatever Python and hubcheck install is to be compared (a lint-only
venv without torch, the development venv) and diff the outputs: findings must not depend
on what is installed. It imports nothing but hubcheck and its CLI's own dependencies,
so it also runs where pytest is not installed::

    python tests/static_snapshot.py > with-torch.json
    /tmp/lintonly/bin/python tests/static_snapshot.py | diff with-torch.json -

The CLI runs in this process (typer's runner), once per fixture and command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_repos() -> list[Path]:
    """Every lint fixture (``fixtures/rules/CODE/*``) and reader fixture (``fixtures/static/*``)."""
    rules = sorted(p.parent for p in FIXTURES.glob("rules/*/*/expected.json"))
    static = sorted(p.parent for p in FIXTURES.glob("static/*/expected.json"))
    return rules + static


def snapshot(repos: list[Path]) -> dict[str, dict[str, object]]:
    """Fixture path -> ``{"lint": <lint JSON report>, "list": <list JSON>}``, both with exit codes."""
    from typer.testing import CliRunner

    from hubcheck.cli.app import app

    runner = CliRunner()
    result: dict[str, dict[str, object]] = {}
    for repo in repos:
        key = repo.relative_to(FIXTURES).as_posix()
        entry: dict[str, object] = {}
        for command in ("lint", "list"):
            run = runner.invoke(app, [command, str(repo), "--format", "json"])
            if run.exception is not None and not isinstance(run.exception, SystemExit):
                raise RuntimeError(f"hubcheck {command} {key} raised {run.exception!r}") from run.exception
            entry[command] = {"exit_code": run.exit_code, "output": _stable(_json_or_text(run.stdout)),
                              "errors": _stable(run.stderr)}
        result[key] = entry
    return result


def _json_or_text(output: str) -> object:
    """The JSON report, or the text printed instead (a one-line error where there is nothing to list)."""
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output


def _stable(value: object) -> object:
    """The JSON with the checkout's location replaced, so that two checkouts compare equal."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str) and str(FIXTURES) in value:
        return value.replace(str(FIXTURES), "<fixtures>")
    return value


def main() -> None:
    json.dump(snapshot(fixture_repos()), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
