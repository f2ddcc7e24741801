"""`hubcheck index` over a small hub index built here: pages with front matter, and git repos good and broken."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import git
import pytest

from hubcheck.index.forge import blob_base, line_url
from hubcheck.index.frontmatter import read_front_matter
from hubcheck.index.snippets import page_calls
from tests.helpers import file_digests, hubcheck, write_repo

ACTOR = git.Actor("Hub Check", "hubcheck@example.com")

GOOD_HUBCONF = '''
dependencies = ["torch"]

import torch


def mlp(pretrained=False, width=8):
    """A two-layer perceptron on 4 features.

    pretrained: unused, kept for the torch.hub convention.
    width: hidden units.
    """
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))
'''
BROKEN_HUBCONF = '''
import torch


def resnet18(pretrained=False):
    model = torch.nn.Linear(4, 2)
    if pretrained:
        model.load_state_dict(torch.load("weights.pth"))
    return model
'''
PAGE = '''
---
layout: hub_detail
background-class: hub-background
body-class: hub
title: {title}
summary: {title} for tests
category: {category}
image: logo.png
author: Hub Check
tags: [vision]
github-link: https://github.com/{repo}
github-id: {repo}
featured_image_1: no-image
accelerator: cpu
---

```python
import torch
{snippet}
```

### Model Description

A model.
'''


@dataclass(frozen=True)
class IndexFixture:
    index: Path
    env: dict[str, str]
    commits: dict[str, str]
    work: Path


def _publish(tmp_path: Path, name: str, files: dict[str, str]) -> str:
    work = git.Repo.init(tmp_path / "work" / name, initial_branch="main")
    write_repo(Path(work.working_tree_dir), files)
    work.index.add(list(files))
    commit = work.index.commit("initial", author=ACTOR, committer=ACTOR).hexsha
    git.Repo.clone_from(str(tmp_path / "work" / name), str(tmp_path / "forge" / "acme" / f"{name}.git"), bare=True)
    return commit


def _page(repo: str, snippet: str, title: str = "Model", category: str = "researchers") -> str:
    return PAGE.format(repo=repo, snippet=textwrap.dedent(snippet).strip(), title=title, category=category).lstrip()


def build_index(tmp_path: Path) -> IndexFixture:
    """An index of six pages: a clean repo (two pages), a broken one (lint findings, a bad snippet, bad front matter), a
    repo without hubconf.py, a repo that does not exist, and a page with no front matter."""
    commits = {
        "good": _publish(tmp_path, "good", {"hubconf.py": GOOD_HUBCONF}),
        "broken": _publish(tmp_path, "broken", {"hubconf.py": BROKEN_HUBCONF}),
        "nohub": _publish(tmp_path, "nohub", {"README.md": "Not a hub repo.\n"}),
    }
    index = write_repo(tmp_path / "index", {
        "README.md": "# The index\n",
        "scripts/tags.py": "valid_tags = ['vision', 'nlp']\n",
        "acme_good_mlp.md": _page("acme/good", """
            model = torch.hub.load('acme/good:main', 'mlp', pretrained=True, width=16, trust_repo=True)
            # model = torch.hub.load('acme/good', 'mlp', width=32)
        """, title="MLP"),
        "acme_good_wide.md": _page("Acme/good", "model = torch.hub.load('Acme/Good', 'mlp', width=64)", title="Wide"),
        "acme_broken_resnet.md": _page("acme/broken", """
            model = torch.hub.load('acme/broken', 'resnet18', pretrained=True)
            # model = torch.hub.load('acme/broken', 'resnet19', pretrained=True)
            other = torch.hub.load('pytorch/vision', 'resnet50')
        """, title="ResNet", category="users"),
        "acme_nohub_x.md": _page("acme/nohub", "model = torch.hub.load('acme/nohub', 'x')", title="X"),
        "acme_missing_y.md": _page("acme/missing", "model = torch.hub.load('acme/missing', 'y')", title="Y"),
        "notes.md": "No front matter here.\n",
    })
    (index / "images").mkdir()
    (index / "images" / "logo.png").write_bytes(b"\x89PNG\r\n")
    env = {"HUBCHECK_CACHE": str(tmp_path / "cache"), "HUBCHECK_GITHUB_URL": f"file://{tmp_path / 'forge'}"}
    return IndexFixture(index, env, commits, tmp_path / "work")


@pytest.fixture
def hub_index(tmp_path: Path) -> IndexFixture:
    return build_index(tmp_path)


def _json_run(fixture: IndexFixture, *args: str, source: Path | None = None) -> tuple[int, dict]:
    run = hubcheck("index", str(source or fixture.index), "--format", "json", *args, env=fixture.env)
    assert run.stdout, run.stderr
    assert run.stderr == "", "off a terminal nothing but the report is printed (no progress, no notes)"
    return run.code, json.loads(run.stdout)


def _rows(report: dict) -> dict[str, dict]:
    return {record["repo"]["spec"]: record for record in report["repos"]}


def _page_check(record: dict, check: str) -> dict:
    return next(c for page in record["pages"] for c in page["checks"] if c["check"] == check)


def test_json_has_one_record_per_repo_in_the_lint_schema_with_page_checks(hub_index):
    code, report = _json_run(hub_index)
    assert code == 2, "a repo that does not resolve is exit 2, after every other repo was checked"
    assert report["command"] == "index" and report["checks"] == "lint"
    assert report["summary"] | {"wall_s": 0} == {"repos": 4, "passed": 1, "failed": 2, "error": 1, "cached": 0,
                                                 "wall_s": 0, "jobs": 1}
    rows = _rows(report)
    assert list(rows) == ["acme/broken", "acme/good", "acme/missing", "acme/nohub"]

    good = rows["acme/good"]
    assert good["status"] == "passed" and good["findings"] == [] and good["command"] == "lint"
    assert good["repo"]["kind"] == "github" and good["repo"]["commit"] == hub_index.commits["good"]
    assert set(good["timing"]) == {"resolve_s", "check_s", "pages_s", "total_s"} and not good["cached"]
    assert good["origins"] == ["acme_good_mlp.md", "acme_good_wide.md"], "GitHub names are case-insensitive"
    assert [c["status"] for c in good["pages"][0]["checks"]] == ["passed", "passed", "passed"]
    assert "2 call(s)" in _page_check(good, "page-snippets")["message"]

    broken = rows["acme/broken"]
    assert broken["status"] == "failed"
    assert {f["code"] for f in broken["findings"]} >= {"HUB003", "HUB101", "HUB201", "HUB202", "HUB203"}
    assert broken["summary"]["error"] >= 1
    snippets = _page_check(broken, "page-snippets")
    assert snippets["status"] == "failed" and snippets["line"] == 20
    assert "a commented-out torch.hub.load names 'resnet19'" in snippets["message"]
    assert "did you mean 'resnet18'?" in snippets["message"] and "resnet50" not in snippets["message"]
    front = _page_check(broken, "page-front-matter")
    assert front["status"] == "failed" and front["line"] == 7 and "category 'users'" in front["message"]

    nohub = rows["acme/nohub"]
    assert nohub["status"] == "failed" and [f["code"] for f in nohub["findings"]] == ["HUB001"]
    assert _page_check(nohub, "page-repo")["status"] == "failed"
    assert _page_check(nohub, "page-snippets")["status"] == "skipped"

    missing = rows["acme/missing"]
    assert missing["status"] == "error" and "acme/missing" in missing["error"] and "findings" not in missing
    assert _page_check(missing, "page-repo")["status"] == "failed"
    assert [page["path"] for page in report["orphan_pages"]] == ["notes.md"]


def test_markdown_is_a_table_for_a_pull_request_comment(hub_index):
    run = hubcheck("index", str(hub_index.index), "--format", "markdown", env=hub_index.env)
    assert run.code == 2
    lines = run.stdout.splitlines()
    assert lines[0] == "## hubcheck index (lint): 1 passed, 2 failed, 1 not checked"
    header = next(line for line in lines if line.startswith("| | repo |"))
    assert header == "| | repo | resolve | lint | page-front-matter | page-repo | page-snippets | time |"
    good = next(line for line in lines if "`acme/good`" in line)
    assert good.startswith("| ✅ | `acme/good` | ✅ ok | ✅ clean | ✅ ok | ✅ ok | ✅ ok |")
    missing = next(line for line in lines if "`acme/missing`" in line)
    assert missing.startswith("| ⚠️ | `acme/missing` | ❌ failed | — | ✅ ok | ❌ 1 of 1 page(s) failed | — |"), \
        "a repo that does not resolve still has its front matter judged"
    assert "<details><summary>❌ acme/broken</summary>" in run.stdout
    assert "| HUB203 | `hubconf.py:7:" in run.stdout
    assert "<details><summary>❌ acme/good" not in run.stdout


class _Page(HTMLParser):
    """What a browser would fetch and what the table holds."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.rows: list[str] = []
        self.headers: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "link", "image", "use") and (values.get("src") or values.get("href")):
            self.fetched.append(values.get("src") or values.get("href") or "")
        if tag == "a":
            self.links.append(values.get("href") or "")
        if tag == "tr" and "data-repo" in values:
            self.rows.append(values["data-repo"] or "")
        if tag == "th" and "data-column" in values:
            self.headers.append(values["data-column"] or "")
        self.svgs += tag == "svg"


def test_html_is_one_self_contained_page_linking_findings_to_the_forge(hub_index, tmp_path):
    out = tmp_path / "report.html"
    run = hubcheck("index", str(hub_index.index), "--format", "html", "--output", str(out), env=hub_index.env)
    assert run.code == 2 and run.stdout == ""
    text = out.read_text()
    page = _Page()
    page.feed(text)
    assert page.fetched == [] and "@import" not in text and "url(" not in text
    assert page.rows == ["acme/broken", "acme/good", "acme/missing", "acme/nohub"]
    assert page.headers == ["repo", "status", "resolve", "lint", "page-front-matter", "page-repo", "page-snippets",
                            "findings", "time (s)"]
    assert page.svgs == 2
    blob = f"https://github.com/acme/broken/blob/{hub_index.commits['broken']}/hubconf.py"
    assert f"{blob}#L7" in page.links, "HUB203's torch.load line, at the commit checked"
    assert not any("/acme/good/blob/" in link for link in page.links), "a clean repo has nothing to link"
    assert "<script>" in text and "aria-sort" in text


def test_a_rerun_reuses_unchanged_repos_and_refresh_checks_again(hub_index):
    before = {name: file_digests(hub_index.work / name) for name in hub_index.commits}
    _json_run(hub_index)
    _, again = _json_run(hub_index)
    cached = {spec: record["cached"] for spec, record in _rows(again).items()}
    assert cached == {"acme/broken": True, "acme/good": True, "acme/nohub": True, "acme/missing": False}
    assert _rows(again)["acme/broken"]["findings"] == _rows(_json_run(hub_index, "--no-cache")[1])["acme/broken"][
        "findings"]

    work = git.Repo(hub_index.work / "broken")
    (hub_index.work / "broken" / "hubconf.py").write_text('dependencies = []\n\n\ndef resnet18():\n    """R."""\n')
    work.index.add(["hubconf.py"])
    fixed = work.index.commit("fix", author=ACTOR, committer=ACTOR).hexsha
    work.git.push(str(hub_index.index.parent / "forge" / "acme" / "broken.git"), "main")
    _, stale = _json_run(hub_index)
    assert _rows(stale)["acme/broken"]["cached"], "without --refresh the clone is not fetched: same commit"
    _, refreshed = _json_run(hub_index, "--refresh")
    broken = _rows(refreshed)["acme/broken"]
    assert not broken["cached"] and broken["repo"]["commit"] == fixed and broken["findings"] == []
    assert not any(record["cached"] for record in refreshed["repos"])
    assert {name: file_digests(hub_index.work / name) for name in hub_index.commits} != before  # the fix itself
    assert not list((hub_index.work / "good").glob("**/__pycache__")), "the checked repos are never written"


def test_a_list_file_with_comments_relative_paths_and_jobs(hub_index, tmp_path):
    listing = tmp_path / "repos.txt"
    listing.write_text(
        "# repos to check\n"
        "work/good   # a local work tree, relative to this file\n"
        "acme/broken\n"
        f"git+file://{tmp_path / 'forge' / 'acme' / 'nohub.git'}@main\n"
        "\n"
        "acme/broken\n"
        "no such dir/x/y\n"
    )
    code, serial = _json_run(hub_index, source=listing)
    assert code == 2
    rows = _rows(serial)
    assert list(rows) == ["work/good", "acme/broken", f"git+file://{tmp_path / 'forge' / 'acme' / 'nohub.git'}@main",
                          "no such dir/x/y"]
    assert rows["work/good"]["status"] == "passed" and rows["work/good"]["repo"]["kind"] == "local"
    assert rows["work/good"]["pages"] == []
    assert rows["acme/broken"]["origins"] == ["repos.txt:3", "repos.txt:6"]
    assert rows["no such dir/x/y"]["status"] == "error"
    _, parallel = _json_run(hub_index, "-j", "2", "--no-cache", source=listing)
    assert parallel["summary"]["jobs"] == 2
    assert [(r["repo"]["spec"], r["status"], r.get("findings")) for r in parallel["repos"]] == \
        [(r["repo"]["spec"], r["status"], r.get("findings")) for r in serial["repos"]]


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/index"], "no such file or directory: /no/such/index"),
    (["{repo}"], "is a hub repo, not an index"),
    (["{listing}", "--kwarg", "width=3"], "--kwarg is a validate option: pass --validate too"),
    (["{empty}"], "names no REPO"),
])
def test_bad_sources_and_options_are_one_line_and_exit_2(hub_index, tmp_path, args, message):
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    (tmp_path / "one.txt").write_text("acme/good\n")
    values = {"repo": str(hub_index.work / "good"), "listing": str(tmp_path / "one.txt"),
              "empty": str(tmp_path / "empty.txt")}
    run = hubcheck("index", *(arg.format(**values) for arg in args), env=hub_index.env)
    assert run.code == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and message in run.stderr, run.stderr


@pytest.mark.slow
def test_validate_runs_the_repo_in_a_worker_and_caches_the_report(hub_index, tmp_path):
    listing = tmp_path / "repos.txt"
    listing.write_text("acme/good\n")
    code, report = _json_run(hub_index, "--validate", "--timeout", "120", "--no-pretrained", source=listing)
    assert code == 0 and report["checks"] == "validate"
    good = _rows(report)["acme/good"]
    assert good["command"] == "validate" and good["status"] == "passed" and good["summary"]["failed"] == 0
    statuses = {(c["entrypoint"], c["check"], c["device"]): c["status"] for c in good["checks"]}
    assert statuses[("mlp", "load", "cpu")] == "passed" and statuses[("mlp", "forward", "cpu")] == "passed"
    assert good["environment"]["torch"] and good["timing"]["check_s"] > 0
    _, again = _json_run(hub_index, "--validate", "--timeout", "120", "--no-pretrained", source=listing)
    assert again["repos"][0]["cached"]
    assert again["repos"][0]["checks"] == good["checks"], "a cached row reads back as it was written"


def test_the_cache_key_changes_with_what_is_run():
    from hubcheck.index.runner import IndexSettings
    from hubcheck.run_options import build_overrides
    from hubcheck.validate import ValidateOptions

    keys = {IndexSettings().identity(), IndexSettings(validate=ValidateOptions()).identity(),
            IndexSettings(validate=ValidateOptions(overrides=build_overrides(no_pretrained=True))).identity(),
            IndexSettings(validate=ValidateOptions(timeout=5)).identity()}
    assert len(keys) == 4
    assert IndexSettings(validate=ValidateOptions(spec_for_commands="a")).identity() == \
        IndexSettings(validate=ValidateOptions()).identity()


def test_front_matter_reads_pytorch_hubs_subset_and_reports_what_it_cannot():
    front = read_front_matter("---\ntitle: 'A: b'\ntags: [vision, nlp]\nauthors:\n  - one\n  - two\nwhat\n---\nbody\n")
    assert front is not None
    assert front.fields == {"title": "A: b", "tags": ("vision", "nlp"), "authors": ("one", "two")}
    assert front.lines == {"title": 2, "tags": 3, "authors": 4} and front.body_line == 9
    assert front.problems == ((7, "not a `key: value` line: what"),)
    assert read_front_matter("no front matter\n") is None
    assert read_front_matter("---\ntitle: never closed\n") is None


def test_page_calls_read_python_blocks_and_commented_out_variants():
    text = textwrap.dedent('''
        Prose that mentions torch.hub.load without code.

        ```python
        !pip install thing
        model = torch.hub.load(repo_or_dir='a/b:v1', model='m', pretrained=True, trust_repo=True)
        #   model = torch.hub.load('A/B', 'm2', depth=3)
        names = torch.hub.list('a/b')
        ```

        ```bash
        python -c "torch.hub.load('a/b', 'shell')"
        ```
    ''')
    calls = page_calls(Path("page.md"), text)
    assert [(c.call.function, c.repo_id, c.call.entrypoint, c.call.keywords, c.line, c.commented) for c in calls] == [
        ("load", "a/b", "m", ("pretrained",), 6, False),
        ("load", "a/b", "m2", ("depth",), 7, True),
        ("list", "a/b", None, (), 8, False),
    ]


def test_forge_links_go_to_github_at_the_commit(monkeypatch):
    monkeypatch.delenv("HUBCHECK_GITHUB_URL", raising=False)
    github = {"kind": "github", "url": "https://github.com/o/n.git", "commit": "abc"}
    assert line_url(blob_base(github), "pkg/a b.py", 7) == "https://github.com/o/n/blob/abc/pkg/a%20b.py#L7"
    monkeypatch.setenv("HUBCHECK_GITHUB_URL", "https://ghe.example.com")
    assert blob_base(github) == "https://ghe.example.com/o/n/blob/abc"
    assert blob_base({"kind": "git", "url": "https://github.com/o/n.git", "commit": "abc"}) == \
        "https://github.com/o/n/blob/abc"
    assert blob_base({"kind": "git", "url": "https://gitlab.com/o/n.git", "commit": "abc"}) is None
    assert blob_base({"kind": "local", "url": None, "commit": "abc"}) is None
    assert blob_base({**github, "dirty": True}) is None


def test_on_a_terminal_progress_goes_to_stderr_with_each_failure(hub_index):
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "hubcheck", "index", str(hub_index.index)], stdout=subprocess.PIPE,
            stderr=slave, stdin=subprocess.DEVNULL, env={**os.environ, **hub_index.env, "COLUMNS": "200"}, timeout=120,
        )
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))  # rich's colours and cursor moves
    assert process.returncode == 2 and json.loads(process.stdout)["summary"]["repos"] == 4
    assert "FAILED acme/broken: " in text and "ERROR acme/missing: could not clone" in text
    assert "acme/good" not in text.replace("acme/good:", ""), "passing repos print no line of their own"


def test_lint_only_runs_no_repo_code(hub_index, tmp_path):
    marker = tmp_path / "imported"
    repo = write_repo(tmp_path / "trap", {"hubconf.py": f'''
        """Writes a marker when anything imports or runs it."""
        from pathlib import Path
        Path({str(marker)!r}).write_text("ran")
        dependencies = []


        def model():
            """A model."""
            return None
    '''})
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{repo}\n")
    code, report = _json_run(hub_index, source=listing)
    assert code == 1 and "HUB301" in {f["code"] for f in report["repos"][0]["findings"]}
    assert not marker.exists()


def test_a_cache_that_cannot_be_written_costs_one_line_not_the_run(hub_index, tmp_path):
    (tmp_path / "cache").mkdir(exist_ok=True)
    (tmp_path / "cache" / "index").write_text("a file where the index cache directory belongs\n")
    run = hubcheck("index", str(hub_index.index), env=hub_index.env)
    assert run.code == 2 and json.loads(run.stdout)["summary"]["failed"] == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("hubcheck: cannot write the index cache at ")
    assert run.stderr.rstrip().endswith("; pass --no-cache or set HUBCHECK_CACHE")
