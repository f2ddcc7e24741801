"""The static commands on hostile trees: a finding or one line, bounded time, never exit 3 or a traceback.

``lint``, ``list``, ``help`` and the plugin's collection read whatever a repo
holds. Each case here is a tree real repos have, or one that crashed or hung
hubcheck before: namespace packages, nesting deeper than any walk can recurse,
symlinks to themselves or each other, FIFOs and devices as hubconf.py, a 10 MB
``__init__.py``, rich markup in docstrings, undecodable bytes. What git cannot
store (FIFOs, device links, symlink loops) is built here in tmp_path; the rest
are fixtures. Commands that could block run as real processes under a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hubcheck.cli.app import app
from hubcheck.lint import lint_repo
from hubcheck.static.source import (
    MAX_NESTING,
    MAX_SOURCE_BYTES,
    SourceProblemKind,
    UnreadableSource,
    parse_source,
)
from tests.helpers import FIXTURES, write_repo

BLOCKING_TIMEOUT_S = 60
"""Limit of a command that would block forever if it opened a FIFO."""

HUBCONF_HEAD = '''
"""A hub repo with something hostile in it."""
import torch

dependencies = ["torch"]


def model(width=4):
    """A linear layer.

    Args:
        width: its number of inputs.
    """
    return torch.nn.Linear(width, 2)
'''

NAMESPACE = FIXTURES / "static" / "namespace_relative_imports"
MARKUP = FIXTURES / "static" / "markup_in_docstrings"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """The lint cache of these runs stays in tmp_path."""
    monkeypatch.setenv("HUBCHECK_CACHE", str(tmp_path / "hubcheck-cache"))


def _cli(*args: str):
    """Run the CLI in this process, as `hubcheck ARGS` would; the result has exit_code and output."""
    # Wide enough that rich never wraps a table cell.
    result = CliRunner().invoke(app, list(args), catch_exceptions=True, env={"COLUMNS": "400"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m hubcheck ARGS`` as a real process that must end within BLOCKING_TIMEOUT_S."""
    return subprocess.run([sys.executable, "-m", "hubcheck", *args], check=False, capture_output=True, text=True, cwd=cwd,
                          timeout=BLOCKING_TIMEOUT_S, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def _codes(repo: Path) -> dict[str, list[str]]:
    """Finding code -> the messages of its findings."""
    found: dict[str, list[str]] = {}
    for finding in lint_repo(repo).findings:
        found.setdefault(finding.code, []).append(f"{finding.path}: {finding.message}")
    return found


def _assert_clean_exit(result, allowed=(0, 1, 2)) -> None:
    output = getattr(result, "output", None) or (result.stdout + result.stderr)
    code = getattr(result, "exit_code", None)
    code = result.returncode if code is None else code
    assert code in allowed, output
    assert "Traceback" not in output and "internal error" not in output, output


def _repo(root: Path, extra: dict[str, str] | None = None, hubconf_tail: str = "") -> Path:
    return write_repo(root, {"hubconf.py": HUBCONF_HEAD + hubconf_tail, **(extra or {})})


# -- namespace packages ----------------------------------------------------------------------------


def test_namespace_package_is_followed_directly_and_through_relative_imports():
    codes = _codes(NAMESPACE)
    # layers.py is reached only through nets.py's `from .layers` and builders.py's `from ..layers`.
    assert any(message.startswith("nszoo/layers.py:") for message in codes.get("HUB203", [])), codes
    assert "HUB011" not in codes and "HUB007" not in codes, codes
    for args in (["lint", str(NAMESPACE), "--no-cache"], ["list", str(NAMESPACE)], ["help", str(NAMESPACE), "wide"]):
        _assert_clean_exit(_cli(*args))
    assert "A wide linear block." in _cli("help", str(NAMESPACE), "wide").output


def test_namespace_package_imported_by_name_only(tmp_path):
    repo = _repo(tmp_path, {"spaced/inner/tool.py": "def tool():\n    return 1\n"},
                 "\nimport spaced.inner.tool as _tool\nfrom spaced import inner as _inner\n")
    for args in (["lint", str(repo), "--no-cache"], ["list", str(repo)]):
        _assert_clean_exit(_cli(*args), allowed=(0,))


# -- nesting -------------------------------------------------------------------------------------

_DEEP_SOURCES = {
    "parentheses": "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n",
    "sum_of_100000_terms": "x = " + "+".join(["1"] * 100_000) + "\n",
    "elif_chain": "def pick(n):\n    if n == 0:\n        return 0\n"
                  + "".join(f"    elif n == {i}:\n        return {i}\n" for i in range(1, MAX_NESTING + 50)),
    "attribute_chain": "x = torch" + ".nn" * (MAX_NESTING + 50) + "\n",
    "conditional_chain": "x = " + " if torch else ".join(["1"] * (MAX_NESTING + 50)) + "\n",
}


@pytest.mark.parametrize("name", sorted(_DEEP_SOURCES))
def test_deep_nesting_in_hubconf_is_one_finding(tmp_path, name):
    repo = _repo(tmp_path, hubconf_tail="\n" + _DEEP_SOURCES[name])
    codes = _codes(repo)
    assert set(codes) & {"HUB002", "HUB011"}, codes
    lint = _cli("lint", str(repo), "--no-cache")
    _assert_clean_exit(lint, allowed=(1,))
    listing = _cli("list", str(repo))
    _assert_clean_exit(listing, allowed=(1,))
    assert len(listing.output.strip().splitlines()) == 1, listing.output
    _assert_clean_exit(_cli("help", str(repo), "model"), allowed=(1,))


@pytest.mark.parametrize("name", sorted(_DEEP_SOURCES))
def test_deep_nesting_in_a_reached_module_is_hub011_and_the_rest_is_checked(tmp_path, name):
    repo = _repo(tmp_path, {"deepzoo/__init__.py": "", "deepzoo/table.py": _DEEP_SOURCES[name]},
                 "\nimport deepzoo.table as _table\n")
    codes = _codes(repo)
    assert [m for m in codes.get("HUB011", []) if m.startswith("deepzoo/table.py:")], codes
    listing = _cli("list", str(repo), "--format", "json")
    _assert_clean_exit(listing, allowed=(0,))
    assert [e["name"] for e in json.loads(listing.output)["entrypoints"]] == ["model"]


def test_nesting_just_within_the_bound_is_analysed(tmp_path):
    """Every construct at the deepest nesting hubcheck accepts, in hubconf and in a module: no RecursionError
    in the reader, the rules or the walk over reached code, with pytest's stack below."""
    depth = MAX_NESTING - 12
    within = {
        "elif": "def pick(n):\n    if n == 0:\n        return torch.load('w.pth')\n"
                + "".join(f"    elif n == {i}:\n        return {i}\n" for i in range(1, depth - 4)),
        "sum": "TOTAL = " + "+".join(["1"] * (depth - 4)) + "\n",
        "attribute": "LAYER = torch" + ".nn" * (depth - 4) + "\n",
        "conditional": "CHOSEN = " + " if torch else ".join(["1"] * (depth - 4)) + "\n",
        "call": "BUILT = torch.nn.Identity" + "()" * (depth - 4) + "\n",
        "unary": "NEGATIVE = " + "-" * (depth - 4) + "1\n",
        "lambda": "FACTORY = " + "lambda: " * (depth - 4) + "1\n",
    }
    body = "\n".join(within.values())
    repo = _repo(tmp_path, {"deepzoo/__init__.py": "", "deepzoo/table.py": "import torch\n" + body},
                 "\nfrom deepzoo import table as _table\n" + body
                 + "\n\ndef picked(n=0):\n    \"\"\"A pick.\n\n    Args:\n        n: which.\n    \"\"\"\n"
                   "    return _table.pick(n) + pick(n)\n")
    codes = _codes(repo)
    assert "HUB011" not in codes and "HUB002" not in codes, codes
    assert [m for m in codes.get("HUB203", []) if m.startswith("deepzoo/table.py:")], codes
    for args in (["lint", str(repo), "--no-cache"], ["list", str(repo)], ["help", str(repo), "picked"]):
        _assert_clean_exit(_cli(*args))


def test_thousands_of_chained_names_do_not_overflow_the_stack(tmp_path):
    """Shallow trees, long chains: aliases of aliases, augmented assignments, subclasses, partials of partials."""
    chains = "\n".join([
        *(f"a{i} = {'model' if i == 0 else f'a{i - 1}'}" for i in range(2000)),
        "x = model", *("x += 1" for _ in range(2000)),
        "class C0(torch.nn.Module):\n    pass", *(f"class C{i}(C{i - 1}):\n    pass" for i in range(1, 1000)),
        "from functools import partial", "p0 = partial(model, width=2)",
        *(f"p{i} = partial(p{i - 1})" for i in range(1, 1000)),
    ])
    repo = _repo(tmp_path, hubconf_tail="\n" + chains + "\n")
    for args in (["lint", str(repo), "--no-cache"], ["list", str(repo)], ["help", str(repo), "model"]):
        _assert_clean_exit(_cli(*args))


def test_a_50000_element_list_is_flat_and_fine(tmp_path):
    repo = _repo(tmp_path, hubconf_tail="\nTABLE = [" + ", ".join(["1"] * 50_000) + "]\n")
    assert _codes(repo) == {}
    _assert_clean_exit(_cli("list", str(repo)), allowed=(0,))


# -- symlinks, FIFOs, devices, directories -------------------------------------------------------------


def _hubconf_that_is(kind: str, repo: Path) -> None:
    repo.mkdir(parents=True)
    hubconf = repo / "hubconf.py"
    if kind == "self_link":
        hubconf.symlink_to("hubconf.py")
    elif kind == "dangling_link":
        hubconf.symlink_to("nowhere.py")
    elif kind == "fifo":
        os.mkfifo(hubconf)
    elif kind == "dev_null_link":
        hubconf.symlink_to(os.devnull)
    elif kind == "directory":
        hubconf.mkdir()


@pytest.mark.parametrize(("kind", "words"), [
    ("self_link", "is a symlink loop"),
    ("dangling_link", "is a broken symlink"),
    ("fifo", "is a FIFO"),
    ("dev_null_link", "is a character device"),
    ("directory", "is a directory"),
])
def test_a_hubconf_that_is_not_a_regular_file_gets_the_same_words_from_lint_and_list(tmp_path, kind, words):
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    repo = tmp_path / "repo"
    _hubconf_that_is(kind, repo)
    lint = _process("lint", str(repo), "--format", "json", "--no-cache")
    _assert_clean_exit(lint, allowed=(1,))
    findings = json.loads(lint.stdout)["findings"]
    assert [f["code"] for f in findings] == ["HUB001"] and words in findings[0]["message"], findings
    assert findings[0]["path"] == "hubconf.py"
    for args in (["list", str(repo)], ["help", str(repo), "model"]):
        run = _process(*args)
        _assert_clean_exit(run, allowed=(2,))
        assert run.stderr.count("\n") == 1 and words in run.stderr, run.stderr


def test_a_symlink_loop_among_modules_is_one_finding(tmp_path):
    repo = _repo(tmp_path / "repo", hubconf_tail="\nimport zoo_models as _zoo_models\n")
    (repo / "zoo_models.py").symlink_to("zoo_utils.py")
    (repo / "zoo_utils.py").symlink_to("zoo_models.py")
    (repo / "dangling.py").symlink_to("nowhere.py")
    codes = _codes(repo)
    loop = "zoo_models.py: zoo_models.py is a symlink loop, not a regular file, so hubcheck checked nothing in it"
    assert codes.get("HUB011") == [loop], codes
    for args in (["lint", str(repo), "--no-cache"], ["list", str(repo)], ["help", str(repo), "model"]):
        _assert_clean_exit(_process(*args))


def test_a_fifo_module_never_blocks(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    repo = _repo(tmp_path / "repo", {"zoo_pipe/__init__.py": ""},
                 "\nimport zoo_fifo as _zoo_fifo\nfrom zoo_pipe import layers as _layers\n")
    os.mkfifo(repo / "zoo_fifo.py")
    os.mkfifo(repo / "zoo_pipe" / "layers.py")
    for args in (["lint", str(repo), "--no-cache"], ["list", str(repo)], ["help", str(repo), "model"]):
        _assert_clean_exit(_process(*args))
    assert "zoo_fifo.py is a FIFO" in _process("lint", str(repo), "--no-cache").stdout


# -- size ------------------------------------------------------------------------------------------


def test_a_10_mb_init_is_skipped_with_a_finding_naming_file_and_bound(tmp_path):
    repo = _repo(tmp_path, hubconf_tail="\nimport zoo_big as _zoo_big\n")
    (repo / "zoo_big").mkdir()
    chunk = "".join(f"def f{i}(a, b):\n    return a + b * {i}\n" for i in range(1000))
    (repo / "zoo_big" / "__init__.py").write_text(chunk * (10_000_000 // len(chunk) + 1))
    messages = _codes(repo).get("HUB011", [])
    assert len(messages) == 1 and messages[0].startswith("zoo_big/__init__.py:"), messages
    assert "10." in messages[0] and "MB" in messages[0] and f"{MAX_SOURCE_BYTES / 1e6:.1f} MB" in messages[0]
    _assert_clean_exit(_cli("list", str(repo)), allowed=(0,))


def test_a_file_over_the_bound_is_refused_before_parsing(tmp_path):
    path = tmp_path / "grown.py"
    path.write_text("x = 1\n" * 100)
    with pytest.raises(UnreadableSource) as raised:
        parse_source(path, limit=100)
    assert raised.value.problem.kind is SourceProblemKind.TOO_LARGE


# -- encodings, bytes, permissions ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [
    (b'def model():\n    """Caf\xe9."""\n    return 1\n', "HUB002"),
    (b'dependencies = ["torch"]\x00\n', "HUB002"),
    (b"# -*- coding: no-such-codec -*-\ndependencies = []\n", "HUB002"),
])
def test_undecodable_hubconf_is_hub002_in_lint_and_one_line_in_list(tmp_path, raw, code):
    (tmp_path / "hubconf.py").write_bytes(raw)
    assert code in _codes(tmp_path)
    listing = _cli("list", str(tmp_path))
    _assert_clean_exit(listing, allowed=(1,))
    assert len(listing.output.strip().splitlines()) == 1


def test_a_bom_hubconf_and_module_read_as_utf8(tmp_path):
    repo = tmp_path
    (repo / "hubconf.py").write_bytes(b"\xef\xbb\xbf" + HUBCONF_HEAD.encode() + b"\nimport zoo_bom as _zoo_bom\n")
    (repo / "zoo_bom.py").write_bytes(b'\xef\xbb\xbf"""Caf\xc3\xa9."""\nimport torch\nW = torch.load("w.pth")\n')
    codes = _codes(repo)
    assert "HUB002" not in codes and "HUB011" not in codes
    assert any(m.startswith("zoo_bom.py:") for m in codes.get("HUB203", [])), codes


def test_bad_bytes_in_a_reached_module_are_hub011(tmp_path):
    repo = _repo(tmp_path, {"zoo_nul.py": "x = 1\0\n", "zoo_latin.py": "# caf\xe9\n"},
                 "\nimport zoo_nul as _zoo_nul\nimport zoo_latin as _zoo_latin\n")
    (repo / "zoo_latin.py").write_bytes(b"x = 'caf\xe9'\n")
    messages = _codes(repo).get("HUB011", [])
    assert [m.split(":")[0] for m in messages] == ["zoo_latin.py", "zoo_nul.py"], messages


def test_an_unreadable_module_is_hub011(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file whatever its mode")
    repo = _repo(tmp_path, {"zoo_secret.py": "x = 1\n"}, "\nimport zoo_secret as _zoo_secret\n")
    (repo / "zoo_secret.py").chmod(0)
    assert any("cannot be read" in m for m in _codes(repo).get("HUB011", []))


# -- markup ------------------------------------------------------------------------------------------


def test_markup_in_repo_strings_is_printed_as_written():
    table = _cli("list", str(MARKUP))
    _assert_clean_exit(table, allowed=(0,))
    for text in ("(tag='[/bogus]')", "[bold]Bold[/bold] and [link=https://example.com]linked[/link]", "coloured[/]."):
        assert text in table.output, table.output
    as_json = json.loads(_cli("list", str(MARKUP), "--format", "json").output)
    assert as_json["entrypoints"][0]["signature"] == "(tag='[/bogus]')"
    helped = _cli("help", str(MARKUP), "styled")
    _assert_clean_exit(helped, allowed=(0,))
    assert "[bold]Bold[/bold] and [link=https://example.com]linked[/link]" in helped.output
    for format_name in ("text", "github", "sarif", "json"):
        lint = _cli("lint", str(MARKUP), "--format", format_name, "--no-cache")
        _assert_clean_exit(lint, allowed=(1,))
        assert "[/bogus]" in lint.output, (format_name, lint.output)


# -- the plugin's collection ---------------------------------------------------------------------------


@pytest.mark.slow
def test_plugin_collection_on_hostile_trees_has_no_internal_error(pytester):
    pytester.makeini("[pytest]\n")
    trees = {
        "fifo": lambda root: _hubconf_that_is("fifo", root),
        "self_link": lambda root: _hubconf_that_is("self_link", root),
        "deep": lambda root: _repo(root, hubconf_tail="\n" + _DEEP_SOURCES["elif_chain"]),
        "loops": lambda root: (_repo(root, hubconf_tail="\nimport zoo_a as _zoo_a\n"),
                               (root / "zoo_a.py").symlink_to("zoo_b.py"), (root / "zoo_b.py").symlink_to("zoo_a.py")),
    }
    for name, build in trees.items():
        build(pytester.path / name)
    run = pytester.runpytest_subprocess("--hubcheck", *trees, "--collect-only", "-q", "-p", "no:cacheprovider",
                                        timeout=BLOCKING_TIMEOUT_S * 2)
    output = run.stdout.str() + run.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output, output
    assert run.ret == pytest.ExitCode.INTERRUPTED, output  # pytest's code for errors during collection
    assert "fifo/hubconf.py is a FIFO, not a regular file" in output
    assert "self_link/hubconf.py is a symlink loop, not a regular file" in output
    assert "deep/hubconf.py::lint[HUB011]" in output and "loops/hubconf.py::lint[HUB011]" in output, output
    for copied in (NAMESPACE, MARKUP):
        run = pytester.runpytest_subprocess("--hubcheck", str(copied), "--collect-only", "-q", "-p",
                                            "no:cacheprovider", timeout=BLOCKING_TIMEOUT_S * 2)
        output = run.stdout.str() + run.stderr.str()
        assert "INTERNALERROR" not in output and run.ret == 0, output
        assert "::lint[" in output, output


# -- every fixture -------------------------------------------------------------------------------------

# Every directory holding a hubconf.py (a file or not) or an expected outcome: each fixture repo, and the
# templates the git fixtures are built from.
_EVERY_FIXTURE = sorted({path.parent for name in ("hubconf.py", "expected.json") for path in FIXTURES.glob(f"*/**/{name}")})


@pytest.mark.parametrize("repo", _EVERY_FIXTURE, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_static_commands_never_crash_on_any_fixture(repo):
    listing = _cli("list", str(repo), "--format", "json")
    _assert_clean_exit(listing)
    names = [e["name"] for e in json.loads(listing.output)["entrypoints"]] if listing.exit_code == 0 else []
    _assert_clean_exit(_cli("help", str(repo), names[0] if names else "model"))
    _assert_clean_exit(_cli("lint", str(repo), "--no-cache"))


def test_the_sweep_covers_every_fixture_kind():
    kinds = {repo.relative_to(FIXTURES).parts[0] for repo in _EVERY_FIXTURE}
    assert {"rules", "static", "corpus", "plugin"} <= kinds
