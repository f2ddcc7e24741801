"""CI checks the codebase itself: ruff and mypy run from `.ci/run`, installed by the dev extra, for the Python floor."""

from __future__ import annotations

import re
import sys

from tests.helpers import PROJECT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CI = (PROJECT / ".ci" / "run").read_text().splitlines()
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())


def _line_of(command: str) -> int:
    found = [number for number, line in enumerate(CI) if line.strip() == command]
    assert len(found) == 1, f"{command!r} should be one line of .ci/run"
    return found[0]


def test_ci_runs_ruff_and_mypy_after_the_install_and_before_the_tests():
    install = _line_of("python -m pip install -e '.[dev]'")
    ruff = _line_of("python -m ruff check hubcheck tests benchmarks tools")
    mypy = _line_of("python -m mypy hubcheck")
    tests = _line_of("python -m pytest -n 2")
    assert install < ruff < tests
    assert install < mypy < tests


def test_the_dev_extra_installs_ruff_and_mypy():
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0] for requirement in dev}
    assert {"ruff", "mypy"} <= names, dev


def test_ruff_and_mypy_check_for_the_oldest_python_hubcheck_supports():
    floor = re.fullmatch(r">=\s*3\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert floor is not None
    minor = floor.group(1)
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py3{minor}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == f"3.{minor}"


def test_the_package_says_it_is_typed():
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["hubcheck"]
    assert (PROJECT / "hubcheck" / "py.typed").is_file()
