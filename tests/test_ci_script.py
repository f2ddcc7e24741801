"""CI checks the codebase itself: ruff and mypy run from `.ci/run`, installed by the dev extra, for the Python floor."""

from __future__ import annotations

import ast
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


def _imports_that_run(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, but those under ``if TYPE_CHECKING:``, which never run."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return found


def _imports() -> dict[str, set[str]]:
    """hubcheck module -> the hubcheck modules it imports, at its top or inside functions (not for type checking)."""
    package = PROJECT / "hubcheck"
    names = {".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
             for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
        targets: set[str] = set()
        for node in _imports_that_run(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from package import submodule` imports the submodule; `from module import name`, the module.
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & names
                targets |= submodules or {node.module}
        graph[module] = {target for target in targets if target in names and target != module}
    return graph


def test_no_hubcheck_module_imports_one_that_imports_it_back():
    graph = _imports()
    assert graph["hubcheck.pytest_items"], "the import graph was read"

    def reaches(start: str, goal: str) -> bool:
        seen, pending = set(), [start]
        while pending:
            module = pending.pop()
            if module == goal:
                return True
            if module not in seen:
                seen.add(module)
                pending.extend(graph[module])
        return False

    cycles = sorted((a, b) for a in graph for b in graph[a] if a < b and reaches(b, a))
    assert cycles == []
