"""What ``pip install hubcheck`` (no extras, no torch) gives: every static command works and never reaches for torch.

The torch-free side is a real interpreter whose import path holds hubcheck and only the distributions its base
install requires, linked from this environment (as in ``test_static_environment``), so torch is neither importable
nor on disk. An import hook there records every attempt to find torch, torchvision or safetensors: the static
commands must make none, and the commands that need torch must say in one line what to install and exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT, write_repo
from tests.test_static_environment import _lint_only_site

# Runs each command of argv_lists in this one interpreter (a fresh process per command would cost seconds), with the
# hook installed first: it finds nothing, so torch stays as absent as in a lint-only install, and it remembers who asked.
_BOOTSTRAP = """
import contextlib, importlib.abc, importlib.util, io, json, sys
sys.path[:0] = {path!r}
asked = []
class Recorder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "safetensors"):
            asked.append(name)
        return None
sys.meta_path.insert(0, Recorder())
if importlib.util.find_spec("torch") is not None:
    raise SystemExit("torch is importable: the environment is not torch-free")
asked.clear()
from hubcheck.cli import main
results = []
for argv in {argv_lists!r}:
    sys.argv = ["hubcheck", *argv]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    results.append({{"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                     "asked": sorted(set(asked))}})
    asked.clear()
print(json.dumps(results))
"""


def _torch_free_run(site: Path, argv_lists: list[list[str]], cwd: Path, cache: Path) -> list[dict]:
    script = _BOOTSTRAP.format(path=[str(PROJECT), str(site)], argv_lists=argv_lists)
    env = {**os.environ, "HUBCHECK_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-S", "-I", "-B", "-c", script], check=False, capture_output=True,
                         text=True, env=env, cwd=cwd, timeout=120)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.splitlines()[-1])


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture(scope="module")
def lint_only_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _lint_only_site(tmp_path_factory.mktemp("install") / "site")


def test_static_commands_work_without_torch_and_never_look_for_it(lint_only_site, tmp_path):
    tagged = write_repo(tmp_path / "tagged", {"hubconf.py": (
        'dependencies = ["torch"]\n\n\ndef net(pretrained=False, width=64):\n'
        '    """A net.\n\n    Args:\n        pretrained: load weights.\n        width: its width.\n    """\n'
        "    return (pretrained, width)\n")})
    _git(tagged, "init", "-q")
    _git(tagged, "add", "hubconf.py")
    _git(tagged, "commit", "-qm", "v1")
    _git(tagged, "tag", "v1")
    hubconf = tagged / "hubconf.py"
    hubconf.write_text(hubconf.read_text().replace("pretrained=False", "pretrained=True"), encoding="utf-8")
    _git(tagged, "commit", "-qam", "v2")
    _git(tagged, "tag", "v2")
    repos = tmp_path / "repos.txt"
    repos.write_text(f"# the reference repo and the tagged one\n{PROJECT / 'reference_repo'}\n{tagged}\n",
                     encoding="utf-8")
    static = {"--help": ["--help"], "lint": ["lint", "reference_repo"], "list": ["list", "reference_repo"],
              "help": ["help", "reference_repo", "DCGAN"], "rules": ["rules"], "rules HUB401": ["rules", "HUB401"],
              "weights": ["weights", "reference_repo"], "diff": ["diff", str(tagged), "--base", "v1", "--head", "v2"],
              "lint --api-base": ["lint", str(tagged), "--api-base", "v1"],
              "index": ["index", str(repos), "--format", "markdown"]}
    results = dict(zip(static, _torch_free_run(lint_only_site, list(static.values()), PROJECT, tmp_path / "cache"),
                       strict=True))
    assert {name: r["asked"] for name, r in results.items() if r["asked"]} == {}
    # diff and lint --api-base find the flipped default (an error); both repos of the index lint clean.
    expected = {name: 1 if name in ("diff", "lint --api-base") else 0 for name in static}
    assert {name: r["code"] for name, r in results.items()} == expected, {n: r["stderr"] for n, r in results.items()}
    assert "No problems found." in results["lint"]["stdout"]
    assert "DCGAN" in results["list"]["stdout"] and "custom_model" in results["list"]["stdout"]
    assert "API007" in results["diff"]["stdout"] and "API007" in results["lint --api-base"]["stdout"]
    assert "reference_repo" in results["index"]["stdout"]


def test_commands_that_need_torch_say_what_to_install(lint_only_site, tmp_path):
    weights = write_repo(tmp_path / "weights", {"hubconf.py": (
        'import torch\n\ndependencies = ["torch"]\n\n\ndef net():\n    """A net."""\n'
        '    return torch.load("net.pth", map_location="cpu", weights_only=True)\n')})
    (weights / "net.pth").write_bytes(b"not a checkpoint")
    needing = [["validate", "reference_repo"], ["record", "reference_repo"], ["list", "reference_repo", "--dynamic"],
               ["weights", str(weights), "--load"]]
    results = _torch_free_run(lint_only_site, needing, PROJECT, tmp_path / "cache")
    # These look for torch before saying it is missing: the hook sees it, so its silence for static commands counts.
    assert all("torch" in result["asked"] for result in results), [r["asked"] for r in results]
    for result in results:
        assert result["code"] == 2, result
        assert result["stdout"] == "", result
        lines = result["stderr"].splitlines()
        assert len(lines) == 1 and "pip install 'hubcheck[run]'" in lines[0], result
        assert "Traceback" not in result["stderr"]
