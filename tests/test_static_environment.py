"""lint and list say the same with and without torch, torchvision and a repo's dependencies installed.

The torch-free side is a real interpreter whose import path holds hubcheck and only the
distributions its base install requires (what ``pip install hubcheck`` brings), linked
from this environment: torch and torchvision are neither importable nor on disk where
it looks. Every fixture repo goes through ``lint --format json`` and ``list --format
json`` on both sides (``tests/static_snapshot.py``), and the outputs must be equal.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hubcheck.rules import RETIRED_RULES
from tests.helpers import PROJECT

# -S: no site-packages; -I: no PYTHONPATH, no user site, no working directory on the path.
_BOOTSTRAP = """
import importlib.util, sys
sys.path[:0] = {path!r}
for name in ("torch", "torchvision"):
    if importlib.util.find_spec(name) is not None:
        raise SystemExit(f"{{name}} is importable: the environment is not torch-free")
from tests.static_snapshot import main
main()
"""


def _base_distributions() -> list[metadata.Distribution]:
    """hubcheck's distribution and everything its base install (no extras) requires, transitively."""
    found: dict[str, metadata.Distribution] = {}
    pending = ["hubcheck"]
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        distribution = metadata.distribution(name)
        found[key] = distribution
        for line in distribution.requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return [d for key, d in found.items() if key != "hubcheck"]


def _lint_only_site(directory: Path) -> Path:
    """A directory of links to the top-level files of hubcheck's base requirements only."""
    directory.mkdir()
    for distribution in _base_distributions():
        site = Path(str(distribution.locate_file("")))
        for top in sorted({Path(str(f)).parts[0] for f in distribution.files or ()}):
            if top == ".." or top.endswith(".pth") or (directory / top).exists():
                continue
            (directory / top).symlink_to(site / top)
    return directory


def _snapshot(command: list[str], cache: Path) -> dict:
    env = {**os.environ, "HUBCHECK_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout)


@pytest.mark.slow
def test_fixture_findings_are_the_same_without_torch(tmp_path):
    site = _lint_only_site(tmp_path / "site")
    assert not (site / "torch").exists() and not (site / "torchvision").exists()
    torch_free = [sys.executable, "-S", "-I", "-B", "-c", _BOOTSTRAP.format(path=[str(PROJECT), str(site)])]
    with_torch = [sys.executable, str(PROJECT / "tests" / "static_snapshot.py")]
    pytest.importorskip("torch")
    without = _snapshot(torch_free, tmp_path / "cache-without")
    with_ = _snapshot(with_torch, tmp_path / "cache-with")
    assert sorted(without) == sorted(with_)
    assert len(with_) >= 40
    for fixture in with_:
        assert without[fixture] == with_[fixture], fixture


def test_leaked_torch_hub_helper_is_reported_whatever_is_installed(tmp_path):
    """The table, not torch on disk, says ``load_state_dict_from_url`` is callable."""
    from hubcheck.lint import lint_repo

    (tmp_path / "hubconf.py").write_text(
        'dependencies = ["torch"]\n\nfrom torch.hub import load_state_dict_from_url\n', encoding="utf-8")
    codes = [(f.code, f.line) for f in lint_repo(tmp_path).findings]
    assert ("HUB103", 3) in codes


def test_installed_packages_are_never_searched(tmp_path):
    """A package importable here but unknown to hubcheck's table is judged by spelling only."""
    from hubcheck.static.modules import Callability, ModuleIndex

    index = ModuleIndex(tmp_path)
    # pytest is installed here, and `main` is a function in it; hubcheck must not look.
    assert index.find("pytest") is None
    assert index.lookup("pytest", "main").callability is Callability.UNKNOWN
    assert index.lookup("pytest", "Pytester").callability is Callability.CALLABLE
    assert index.lookup("pytest", "HIDDEN_PARAM").callability is Callability.NOT_CALLABLE


def test_the_table_describes_the_standard_library_and_common_packages(tmp_path):
    from hubcheck.static.modules import Callability, ModuleIndex

    index = ModuleIndex(tmp_path)
    for module, name, callability in [
        ("typing", "Optional", Callability.CALLABLE),
        ("math", "pi", Callability.NOT_CALLABLE),
        ("math", "sqrt", Callability.CALLABLE),
        ("os.path", "join", Callability.CALLABLE),
        ("torch.hub", "load_state_dict_from_url", Callability.CALLABLE),
        ("torchvision", "models", Callability.NOT_CALLABLE),
        ("torchvision.models", "resnet18", Callability.CALLABLE),
    ]:
        assert index.lookup(module, name).callability is callability, (module, name)
    assert index.lookup("torch.nn", "Linear").instances is Callability.CALLABLE
    assert index.lookup("collections", "OrderedDict").instances is Callability.NOT_CALLABLE


def test_the_shipped_table_is_what_the_generator_writes():
    """Spot checks against this interpreter: the table is generated, not edited by hand."""
    table = json.loads((PROJECT / "hubcheck" / "static" / "known_modules.json").read_text(encoding="utf-8"))
    if table["python"] != f"{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"the table describes Python {table['python']}'s standard library")
    generator = runpy.run_path(str(PROJECT / "tools" / "generate_static_knowledge.py"))
    for name in ("json", "typing", "collections", "functools", "os.path", "pathlib"):
        assert generator["_describe"](importlib.import_module(name)) == table["modules"][name], name
    torch = pytest.importorskip("torch")
    if torch.__version__ != table["third_party"]["torch"]:
        pytest.skip(f"the table describes torch {table['third_party']['torch']}, this is {torch.__version__}")
    for name in ("torch.hub", "torch.nn"):
        assert generator["_describe"](importlib.import_module(name)) == table["modules"][name], name


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_modules_are_found_in_the_import_systems_order(tmp_path):
    from hubcheck.static.modules import ModuleIndex

    repo = _tree(tmp_path, {
        "both/__init__.py": "", "both.py": "",          # a package wins over a module of the same name
        "nspkg/inner/deep.py": "def f(): pass\n",        # namespace packages, two levels
        "json/helpers.py": "",                          # a namespace dir loses to the stdlib's json
        "ext/_ops.cpython-311-x86_64-linux-gnu.so": "",  # compiled, recognised by suffix only
        "ext/__init__.py": "", "ext/_plain.pyd": "",
    })
    index = ModuleIndex(repo)
    assert index.find("both").path == repo / "both" / "__init__.py"
    assert index.find("nspkg").path is None and index.find("nspkg").local
    assert index.find("nspkg.inner.deep").path == repo / "nspkg" / "inner" / "deep.py"
    assert index.lookup("nspkg.inner.deep", "f").definition is not None
    assert not index.find("json").local
    assert index.find("json.helpers") is None
    assert index.find("ext._ops").path.name.endswith(".so") and not index.find("ext._ops").has_source
    assert index.find("ext._plain").path.name == "_plain.pyd"


def test_symlink_loops_and_cycles_end(tmp_path):
    from hubcheck.static.modules import ModuleIndex

    repo = _tree(tmp_path, {"pkg/__init__.py": "from pkg.loop import x\n"})
    (repo / "pkg" / "loop").symlink_to(repo / "pkg")       # pkg.loop.loop.loop... is pkg again
    (repo / "selfloop.py").symlink_to(repo / "selfloop.py")  # a link to itself
    index = ModuleIndex(repo)
    assert index.find("pkg.loop.loop.loop.loop") is not None
    assert index.lookup("pkg", "x").callability.value == "unknown"
    found = index.find("selfloop")
    assert found is not None and index.tree(found.path) is None
    assert found.path in index.unreadable


@pytest.mark.parametrize("code", sorted(RETIRED_RULES))
def test_a_retired_rule_is_explained_and_still_accepted(tmp_path, code):
    from hubcheck.lint import lint_repo

    run = subprocess.run([sys.executable, "-m", "hubcheck", "rules", code], check=False, capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert run.returncode == 0 and "validate" in run.stdout, run.stderr
    as_json = subprocess.run([sys.executable, "-m", "hubcheck", "rules", code.lower(), "--format", "json"],
                             check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert json.loads(as_json.stdout) == {"code": code, "retired": run.stdout.strip()}
    (tmp_path / "hubconf.py").write_text(
        f'dependencies = ["torch", "not_installed_anywhere"]  # hubcheck: ignore[{code}]\n\n\n'
        'def model():\n    """A model."""\n', encoding="utf-8")
    (tmp_path / "hubcheck.toml").write_text(f'[lint]\nignore = ["{code}"]\n', encoding="utf-8")
    assert lint_repo(tmp_path).findings == ()
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert f"| {code} |" in readme and "| retired |" in readme
