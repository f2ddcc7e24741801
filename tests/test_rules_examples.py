"""What the rules tell users to write must itself lint clean.

Every rule's "Use instead" example is linted as the hubconf.py of a small
repo, and every import a fix text offers is applied to the rule's violations
fixture and linted again: neither may leave a warning or an error, from that
rule or any other. A rule that suggests what another rule flags (HUB304's fix
once produced HUB303's finding) fails here.

An example shows only the lines that matter, so it is completed the way every
hubconf is: a `dependencies` line when it has none, and a documented entry
point when it defines none. HUB006 (a declared module not installed here) is
about the machine, not the code, and is left out.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from hubcheck.errors import UsageError
from hubcheck.lint import lint_repo
from hubcheck.rules import ALL_RULES, get_rule
from hubcheck.scaffold import package_name
from hubcheck.static.collisions import GENERIC_MODULE_NAMES, SHADOWING_MODULE_NAMES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
_FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_LAYOUT = re.compile(r"^# repo layout: (.+)$", re.MULTILINE)
# Examples that are not hubconf code: a directory tree (HUB001) and a shell command (HUB006).
_NOT_PYTHON = {"HUB001", "HUB006"}
# The fix's own words for a move it asks for first: "after moving `models` into ... (`pkg/models`)".
_MOVE = re.compile(r"after moving `(\w+)` into [^(]*\(`(\w+)/\1`\)")


_DEPENDENCIES = 'dependencies = ["torch"]\n\n'
_ENTRY_POINT = '\n\ndef example_model():\n    """The entry point every hubconf has."""\n'


def _failing(repo: Path) -> list[str]:
    return sorted(f"{f.path}:{f.line}:{f.code} {f.message}" for f in lint_repo(repo, ignore=("HUB006",)).findings
                  if f.severity.fails)


def _completed(example: str) -> str:
    tree = ast.parse(example)
    declares = any(isinstance(t, ast.Name) and t.id == "dependencies"
                   for stmt in tree.body if isinstance(stmt, ast.Assign) for t in stmt.targets)
    defines = any(isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and not stmt.name.startswith("_")
                  for stmt in tree.body)
    return ("" if declares else _DEPENDENCIES) + example + ("" if defines else _ENTRY_POINT)


def _python_example(code: str) -> str | None:
    fences = _FENCE.findall(get_rule(code).doc.use_instead)
    return next((body for language, body in fences if language == "python"), None)


def _write_layout(repo: Path, example: str) -> None:
    """Create the modules a ``# repo layout: hubconf.py, pkg/, pkg/models.py`` comment names."""
    for layout in _LAYOUT.findall(example):
        for item in (part.strip() for part in layout.split(",")):
            if item == "hubconf.py":
                continue
            target = repo / item.rstrip("/")
            if item.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                (target / "__init__.py").write_text('"""A package of the example repo."""\n')
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text('"""A module of the example repo."""\n')
            for parent in target.relative_to(repo).parents:
                if parent != Path(".") and not (repo / parent / "__init__.py").exists():
                    (repo / parent / "__init__.py").write_text('"""A package of the example repo."""\n')


@pytest.mark.parametrize("code", [r.code for r in ALL_RULES])
def test_use_instead_example_lints_clean(tmp_path, code):
    example = _python_example(code)
    if example is None:
        assert code in _NOT_PYTHON, f"{code}'s Use instead has no ```python example to lint"
        return
    repo = tmp_path / "example_repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(_completed(example))
    _write_layout(repo, example)
    assert _failing(repo) == [], f"{code}'s Use instead example:\n{example}"


def _import_snippets(fix: str) -> list[str]:
    """The backticked parts of a fix text that are one import statement."""
    found = []
    for snippet in re.findall(r"`([^`]+)`", fix):
        try:
            tree = ast.parse(snippet)
        except SyntaxError:
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], (ast.Import, ast.ImportFrom)) and "..." not in snippet:
            found.append(snippet)
    return found


def _import_at(path: Path, line: int | None) -> ast.Import | ast.ImportFrom | None:
    return next((node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno == line), None)


def _fixable():
    """Findings on an import whose fix offers another import, to write in its place."""
    for repo in sorted(FIXTURES.glob("*/violations")):
        for finding in lint_repo(repo).findings:
            snippets = _import_snippets(finding.fix or "")
            if finding.code == repo.parent.name and snippets and _import_at(repo / finding.path, finding.line):
                yield pytest.param(repo, finding, snippets[0], id=f"{finding.code}:{finding.path}:{finding.line}")


@pytest.mark.parametrize(("fixture", "finding", "snippet"), list(_fixable()))
def test_import_a_fix_offers_lints_clean(tmp_path, fixture, finding, snippet):
    repo = tmp_path / fixture.parent.name
    shutil.copytree(fixture, repo)
    path = repo / finding.path
    lines = path.read_text().splitlines()
    statement = _import_at(path, finding.line)
    indent = lines[statement.lineno - 1][: statement.col_offset]
    # Blank lines keep every other finding on its line.
    replaced = [indent + snippet] + [""] * (statement.end_lineno - statement.lineno)
    lines[statement.lineno - 1: statement.end_lineno] = replaced
    path.write_text("\n".join(lines) + "\n")
    for moved, package in _MOVE.findall(finding.fix):
        (repo / package).mkdir(exist_ok=True)
        (repo / package / "__init__.py").touch()
        source = repo / moved if (repo / moved).is_dir() else repo / f"{moved}.py"
        shutil.move(source, repo / package / source.name)
    before = {item.split(" ")[0] for item in _failing(fixture)}
    after = [item for item in _failing(repo) if item.split(" ")[0] not in before
             or item.startswith(f"{finding.path}:{finding.line}:")]
    assert after == [], f"applying `{snippet}` ({finding.code})"


@pytest.mark.parametrize("name", sorted(GENERIC_MODULE_NAMES | SHADOWING_MODULE_NAMES))
def test_init_refuses_every_name_hub303_would_flag(name):
    with pytest.raises(UsageError, match="--name"):
        package_name(name)
