"""lint, list and help import nothing from the repo or the standard library to decide anything.

A hubconf imports every standard-library module that does something when imported
(``this`` prints, ``antigravity`` opens a browser, ``venv.__main__`` builds a
virtualenv, ``idlelib.idle`` opens a window, every ``X.__main__`` runs its program).
The real CLI runs on it in a subprocess under an audit hook: no process starts, no
file is opened for writing outside hubcheck's cache, none of those modules is
imported, nothing is printed beyond the report, and no file appears in the repo, the
working directory, the temporary directory or the home directory. A repo holding
``typing.py``, ``rich.py``, ``json.py``... shows that ``python -m hubcheck`` run inside
it imports none of them either.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import PROJECT

# Modules whose import itself does something visible, beyond the `__main__` modules found below.
_KNOWN_ACTIVE = ("this", "antigravity", "__hello__", "__phello__", "idlelib.idle", "idlelib.pyshell", "pydoc",
                 "turtle", "webbrowser")

# Runs the CLI in this interpreter with an audit hook; what it saw goes to fd RECORD_FD as JSON.
_WRAPPER = r'''
import json, os, sys

record_fd = int(os.environ.pop("HUBCHECK_TEST_RECORD_FD"))
allowed = os.environ["HUBCHECK_CACHE"]
seen = {"processes": [], "writes": [], "imports": []}
_PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.forkpty", "pty.spawn", "webbrowser.open", "os.startfile")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def hook(event, args):
    if event in _PROCESS_EVENTS:
        seen["processes"].append([event, repr(args)[:200]])
    elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode, flags = os.fsdecode(args[0]), args[1] or "", args[2] or 0
        writing = any(c in mode for c in "wax+") or flags & _WRITE_FLAGS
        if writing and not os.path.abspath(path).startswith(allowed):
            seen["writes"].append(path)
    elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.symlink", "shutil.rmtree"):
        if not os.path.abspath(os.fsdecode(args[0])).startswith(allowed):
            seen["writes"].append(f"{event} {args[0]}")
    elif event == "import":
        seen["imports"].append(args[0])


sys.addaudithook(hook)
sys.argv = ["hubcheck", *sys.argv[1:]]
try:
    from hubcheck.cli import main
    main()
except SystemExit as exit:
    seen["exit_code"] = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
else:
    seen["exit_code"] = 0
seen["modules"] = sorted(sys.modules)
os.write(record_fd, json.dumps(seen).encode())
os.close(record_fd)
'''


def _active_stdlib_modules() -> list[str]:
    """Every standard-library module with import-time behaviour this interpreter has: the known
    ones and every ``X.__main__`` (a program that runs when its module is imported)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = [name for name in _KNOWN_ACTIVE if name.partition(".")[0] in sys.stdlib_module_names]
    for main in sorted(stdlib.rglob("__main__.py")):
        package = main.parent.relative_to(stdlib).as_posix().replace("/", ".")
        if package.partition(".")[0] in sys.stdlib_module_names and "site-packages" not in package:
            found.append(f"{package}.__main__")
    return found


def _hostile_repo(root: Path) -> tuple[Path, list[str]]:
    modules = _active_stdlib_modules()
    lines = ['"""Imports every standard-library module that acts when imported."""', "",
             'dependencies = ["torch"]', ""]
    for position, module in enumerate(modules):
        lines.append(f"import {module}")
        if module.endswith(".__main__"):
            lines.append(f"from {module} import main as main_{position}")
    lines += ["", "", "def model(width=4):", '    """A model.', "", "    Args:", "        width: its width.",
              '    """', "    return width", ""]
    root.mkdir()
    (root / "hubconf.py").write_text("\n".join(lines), encoding="utf-8")
    return root, modules


def _files_under(*roots: Path) -> set[Path]:
    return {path for root in roots for path in root.rglob("*")}


def _run_audited(tmp_path: Path, repo: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    wrapper = tmp_path / "audited_hubcheck.py"
    if not wrapper.exists():
        wrapper.write_text(_WRAPPER, encoding="utf-8")
    read_end, write_end = os.pipe()
    env = {
        **os.environ,
        "HUBCHECK_CACHE": str(tmp_path / "cache"),
        "HUBCHECK_TEST_RECORD_FD": str(write_end),
        "TMPDIR": str(tmp_path / "tmp"),
        "HOME": str(tmp_path / "home"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_COLOR": "1",
    }
    try:
        # -I: the repo (the working directory) is not on the path; -B: no bytecode written (-I ignores
        # PYTHONDONTWRITEBYTECODE), so only hubcheck itself could write.
        run = subprocess.run([sys.executable, "-I", "-B", str(wrapper), *args], check=False, cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    assert raw, f"the wrapper recorded nothing (exit {run.returncode}): {run.stderr[-3000:]}"
    return run, json.loads(raw)


@pytest.mark.slow
def test_lint_list_and_help_import_nothing_start_nothing_write_nothing(tmp_path):
    repo, modules = _hostile_repo(tmp_path / "repo")
    assert "this" in modules and "antigravity" in modules and "venv.__main__" in modules
    for directory in ("tmp", "home", "cache"):
        (tmp_path / directory).mkdir()
    watched = (repo, tmp_path / "tmp", tmp_path / "home")
    before = _files_under(*watched)
    outputs = {}
    for args in (["lint", ".", "--format", "json"], ["list", ".", "--format", "json"], ["help", ".", "model"]):
        run, seen = _run_audited(tmp_path, repo, args)
        command = args[0]
        assert run.stderr == "", f"{command} printed to stderr: {run.stderr[-2000:]}"
        assert seen["exit_code"] in (0, 1), f"{command} exited {seen['exit_code']}"
        assert seen["processes"] == [], f"{command} started processes: {seen['processes']}"
        assert seen["writes"] == [], f"{command} wrote files: {seen['writes']}"
        imported = set(seen["imports"]) | set(seen["modules"])
        assert not imported & set(modules), f"{command} imported {sorted(imported & set(modules))}"
        outputs[command] = run.stdout
    assert _files_under(*watched) == before
    # Nothing but the reports: two JSON documents, and help's docstring alone.
    lint_report = json.loads(outputs["lint"])
    assert {f["path"] for f in lint_report["findings"]} <= {"hubconf.py"}
    assert "model" in {e["name"] for e in json.loads(outputs["list"])["entrypoints"]}
    assert outputs["help"] == "A model.\n\n    Args:\n        width: its width.\n    \n"  # __doc__, as torch.hub.help


def test_linting_in_process_loads_no_standard_library_module(tmp_path):
    """After a warm-up on a plain repo, linting and listing the hostile one loads no new module at all."""
    from hubcheck.lint import lint_repo
    from hubcheck.listing import static_listing
    from hubcheck.resolve import resolve

    control = tmp_path / "control"
    control.mkdir()
    (control / "hubconf.py").write_text(
        'dependencies = ["torch"]\n\nimport json\nfrom os.path import join\nfrom typing import Optional\n\n\n'
        'def model(width: Optional[int] = 4):\n    """A model.\n\n    Args:\n        width: its width.\n    """\n'
        '    return json, join, width\n', encoding="utf-8")
    lint_repo(control)
    static_listing(resolve(str(control)))
    repo, modules = _hostile_repo(tmp_path / "repo")
    before = set(sys.modules)
    findings = lint_repo(repo).findings
    listing = static_listing(resolve(str(repo)))
    gained = set(sys.modules) - before
    assert findings and "model" in {e.name for e in listing.entrypoints}
    assert not gained & set(modules)
    assert {name for name in gained if name.partition(".")[0] != "hubcheck"} == set()


# Top-level modules hubcheck's own process loads for the static commands that a repo could shadow.
def _modules_hubcheck_imports(repo: Path) -> list[str]:
    # main(), not `python -m hubcheck`'s console_main(), which ends the process without returning here.
    code = ("import sys; sys.argv = ['hubcheck', 'lint', sys.argv[1]]\nfrom hubcheck.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted({m.partition('.')[0] for m in sys.modules})))")
    run = subprocess.run([sys.executable, "-I", "-B", "-c", code, str(repo)], check=False, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return run.stdout.split("\n")[-2].split()


def test_python_m_hubcheck_inside_a_repo_imports_nothing_from_it(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(
        'dependencies = ["torch"]\n\nimport json\nimport enum\n\n\n'
        'def model():\n    """A model."""\n    return json, enum\n', encoding="utf-8")
    shadowed = set(_modules_hubcheck_imports(repo)) | {"typer", "rich", "json", "enum", "typing", "ast", "git"}
    shadowed -= {"hubcheck", "sys", "builtins", "__main__"}
    assert {"typer", "json", "ast"} <= shadowed
    for name in sorted(shadowed):
        # Writes a marker and fails: imported, it would leave a trace and break hubcheck loudly.
        (repo / f"{name}.py").write_text(
            "open(__file__ + '.imported', 'w').close()\nraise ImportError('shadowed by the repo')\n", encoding="utf-8")
    env = {**os.environ, "HUBCHECK_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    for args in (["lint", "."], ["list", "."], ["help", ".", "model"]):
        run = subprocess.run([sys.executable, "-m", "hubcheck", *args], check=False, cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode in (0, 1), f"{args}: exit {run.returncode}\n{run.stderr[-3000:]}"
        assert sorted(p.name for p in repo.glob("*.imported")) == [], args


def test_hubcheck_sources_never_import_to_decide():
    """No import machinery on the static side: modules are found on the file system, names in the table."""
    static_side = [*sorted((PROJECT / "hubcheck" / "static").glob("*.py")),
                   *sorted((PROJECT / "hubcheck" / "rules").glob("*.py")),
                   PROJECT / "hubcheck" / "listing.py", PROJECT / "hubcheck" / "lint.py"]
    forbidden_calls = {"import_module", "find_spec", "__import__", "spec_from_file_location", "exec_module"}
    for path in static_side:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(PROJECT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                assert not any(a.name.partition(".")[0] == "importlib" for a in node.names), where
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").partition(".")[0] != "importlib", where
            elif isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                assert called not in forbidden_calls, where
