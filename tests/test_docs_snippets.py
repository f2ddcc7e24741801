"""The documentation rules (HUB401-HUB404) on repos the tests build: which snippets name this repo, how
snippets are cut out of each kind of document, and the bounds on what is read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import git
import pytest

from hubcheck.lint import lint_repo
from hubcheck.report.rendering import render_report
from hubcheck.results import Report
from hubcheck.static import snippets
from hubcheck.static.snippets import hub_calls
from tests.helpers import write_repo

HUBCONF = '''
dependencies = ["torch"]


def resnet(pretrained=False):
    """A model.

    Args:
        pretrained: handed back as the model, a stand-in.
    """
    return pretrained
'''


def _codes(repo: Path) -> list[str]:
    return sorted(f"{f.path}:{f.line or 0}:{f.code}" for f in lint_repo(repo, select=("HUB4",)).findings)


def _readme(*lines: str) -> str:
    return "```python\nimport torch\n" + "\n".join(lines) + "\n```\n"


def test_a_github_snippet_names_this_repo_through_its_git_remote(tmp_path):
    repo = write_repo(tmp_path / "checkout", {"hubconf.py": HUBCONF, "README.md": _readme(
        'a = torch.hub.load("acme/zoo", "resnt", trust_repo=True)',
        'b = torch.hub.load("acme/zoo:main", "resnet", trust_repo=True, pretrained=True, width=3)',
        'c = torch.hub.load("someone/else", "resnt", trust_repo=True)',
    )})
    assert _codes(repo) == []  # the directory is `checkout`, and no remote names it yet
    git.Repo.init(repo).create_remote("origin", "git@github.com:acme/zoo.git")
    assert _codes(repo) == ["README.md:3:HUB401", "README.md:4:HUB402"]


@pytest.mark.parametrize("folder", ["zoo", "acme__zoo", "acme_zoo_main", "ACME_Zoo_v1.2"])
def test_a_github_snippet_names_this_repo_through_its_directory(tmp_path, folder):
    repo = write_repo(tmp_path / folder, {"hubconf.py": HUBCONF, "README.md": _readme(
        'model = torch.hub.load("acme/zoo", "resnt", trust_repo=True)')})
    assert _codes(repo) == ["README.md:3:HUB401"]


def test_a_fork_naming_its_upstream_counts(tmp_path):
    repo = write_repo(tmp_path / "checkout", {"hubconf.py": HUBCONF, "README.md": _readme(
        'model = torch.hub.load("upstream/zoo", "resnt", trust_repo=True)')})
    git.Repo.init(repo).create_remote("origin", "https://github.com/me/zoo")
    assert _codes(repo) == ["README.md:3:HUB401"]


def test_snippets_are_read_from_every_kind_of_document(tmp_path):
    notebook = ('{"cells": [{"cell_type": "code", "source": ["!pip install x\\n", '
                '"m = torch.hub.load(\\".\\", \\"nb\\", source=\\"local\\")"]}]}')
    repo = write_repo(tmp_path / "zoo", {
        "hubconf.py": HUBCONF.replace('"""A model.', '"""A model.\n\n    >>> torch.hub.load(".", "doc", source="local")'),
        "README.md": "Inline: `m = torch.hub.load('.', 'inline', source='local')`.\n",
        "docs/guide/usage.md": _readme('from torch import hub', 'm = hub.load(".", "aliased", source="local")'),
        "docs/api.rst": "Load it::\n\n    m = torch.hub.load('.', 'literal', source='local')\n",
        "examples/deep/demo.ipynb": notebook,
        "src/not_docs.md": _readme('m = torch.hub.load(".", "not_read", source="local")'),
    })
    found = {(call.path.relative_to(repo).as_posix(), call.line, call.column, call.entrypoint)
             for call in hub_calls(repo, None)}
    assert found == {("README.md", 1, 14, "inline"), ("docs/guide/usage.md", 4, 5, "aliased"),
                     ("docs/api.rst", 3, 9, "literal"), ("examples/deep/demo.ipynb", None, None, "nb")}
    assert "hubconf.py:7:HUB401" in _codes(repo)  # the docstring's doctest line


def test_a_notebook_call_is_placed_by_its_cell_and_markdown_cells_are_read(tmp_path):
    cells = [
        {"cell_type": "markdown", "source": ["Prose naming torch.hub.load('acme/zoo', 'resnet') is no code.\n"]},
        {"cell_type": "code", "source": ["import torch\n", "m = torch.hub.load('acme/zoo', 'resnet')\n"]},
        {"cell_type": "markdown", "source": ["Or:\n", "```python\n", "m = torch.hub.load('acme/zoo', 'vgg')\n",
                                             "```\n"]},
        {"cell_type": "raw", "source": ["m = torch.hub.load('acme/zoo', 'raw')\n"]},
    ]
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF,
                                         "demo.ipynb": json.dumps({"cells": cells, "nbformat": 4})})
    assert [(call.entrypoint, call.line, call.cell) for call in hub_calls(repo, None)] == [
        ("resnet", None, 2), ("vgg", None, 3)]
    messages = sorted(f.message for f in lint_repo(repo, select=("HUB403",)).findings)
    # The line within the cell: the code cell's second line, the markdown cell's third (after "Or:" and the fence).
    assert [message.split(" call ")[0] for message in messages] == ["the docs (cell 2, line 2)",
                                                                     "the docs (cell 3, line 3)"]
    readme = write_repo(tmp_path / "plain", {"hubconf.py": HUBCONF, "README.md": _readme(
        'm = torch.hub.load("acme/zoo", "resnet")')})
    [finding] = lint_repo(readme, select=("HUB403",)).findings
    assert finding.message.startswith("the docs call torch.hub.load('acme/zoo')")


def test_what_reaches_the_entry_point(tmp_path):
    repo = write_repo(tmp_path / "zoo", {"README.md": _readme(
        'repo = "acme/zoo"',
        'm = torch.hub.load(repo, "resnet", 1, 2, source="github", trust_repo=True, verbose=False, width=3)',
        'n = torch.hub.load(repo, "resnet", **options)',
    )})
    first, second = hub_calls(repo, None)
    assert (first.repo, first.entrypoint, first.positional, first.keywords, first.splat, first.trust_repo) == (
        "acme/zoo", "resnet", 2, ("width",), False, "True")
    assert second.splat and second.trust_repo is None


def test_documents_past_the_bounds_are_not_read(tmp_path, monkeypatch):
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF,
                                         "BIG.md": _readme('m = torch.hub.load(".", "big", source="local")')})
    os.mkfifo(repo / "README.md")
    monkeypatch.setattr(snippets, "MAX_DOC_BYTES", 40)
    assert hub_calls(repo, None) == ()
    monkeypatch.undo()
    assert [call.entrypoint for call in hub_calls(repo, None)] == ["big"]


def test_documents_are_read_only_when_a_docs_rule_runs(tmp_path, monkeypatch):
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF, "README.md": _readme(
        'torch.hub.load("acme/zoo", "resnet")')})

    def refuse(*args):
        raise AssertionError("documentation read although no docs rule runs")

    monkeypatch.setattr(snippets, "hub_calls", refuse)
    assert lint_repo(repo, select=("HUB1", "HUB2", "HUB3")).findings == ()


def test_a_snippet_pinned_to_another_release_is_not_judged(tmp_path):
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF, "README.md": _readme(
        'old = torch.hub.load("acme/zoo:v1.0", "resnet_v1", trust_repo=True)',
        'new = torch.hub.load("acme/zoo:main", "resnet_v1", trust_repo=True)',
    )})
    assert _codes(repo) == ["README.md:4:HUB401"]


def test_a_function_named_in_prose_is_no_snippet(tmp_path):
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF, "README.md":
                      "Without a docstring `torch.hub.help()` returns None; see `torch.hub.list`.\n"})
    assert hub_calls(repo, None) == ()


def test_commented_out_calls_and_placeholder_repos_are_not_flagged(tmp_path):
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF, "README.md": _readme(
        "this block does not parse",
        '# model = torch.hub.load("acme/zoo", "resnet")',
        'model = torch.hub.load("repo", "model")',
        'model = torch.hub.load("acme/zoo", "resnet")',
    )})
    assert _codes(repo) == ["README.md:6:HUB403"]


def test_notebook_findings_come_in_the_notebooks_order_in_every_format(tmp_path):
    # Cell 12 holds an unknown entry point (HUB401) on its line 3 and a prompting load on its line 1; cell 2 a
    # prompting load: as text "cell 12" sorts before "cell 2", and HUB401 before HUB403 whatever the cell.
    cells: list[dict] = [{"cell_type": "markdown", "source": [f"Step {number}\n"]} for number in range(1, 13)]
    cells[1] = {"cell_type": "code", "source": ["m = torch.hub.load('acme/zoo', 'resnet')\n"]}
    cells[11] = {"cell_type": "code", "source": ["m = torch.hub.load('acme/zoo', 'resnet')\n", "\n",
                                                  "m = torch.hub.load('acme/zoo', 'resnt', trust_repo=True)\n"]}
    repo = write_repo(tmp_path / "zoo", {"hubconf.py": HUBCONF,
                                         "demo.ipynb": json.dumps({"cells": cells, "nbformat": 4})})
    findings = lint_repo(repo, select=("HUB401", "HUB403")).findings
    places = ["(cell 2, line 1)", "(cell 12, line 1)", "(cell 12, line 3)"]
    assert [(f.code, next(p for p in places if p in f.message)) for f in findings] == [
        ("HUB403", places[0]), ("HUB403", places[1]), ("HUB401", places[2])]
    report = Report("lint", {"spec": str(repo)}, findings)
    for format_name in ("text", "json", "github", "markdown", "sarif", "junit"):
        rendered = render_report(report, format_name)
        positions = [rendered.find(place) for place in places]
        assert -1 not in positions and positions == sorted(positions), format_name
