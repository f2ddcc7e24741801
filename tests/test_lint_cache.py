"""The lint cache: a repeat run gives the same findings, any edit invalidates, bad entries are rebuilt."""

from __future__ import annotations

import json
import os
import pickle

from hubcheck.findings import Finding, Severity
from hubcheck.lint import lint_repo
from hubcheck.lint_cache import LintCache
from tests.helpers import file_digests, hubcheck, write_repo

HUBCONF = '''
"""A small hub repo whose entry point lives in its own package."""
dependencies = ["torch"]

from mypkg.models import tiny


def net(pretrained=False):
    return torch.load("weights.pth")
'''

MODELS = '''
"""Models."""
import torch


def tiny(pretrained: bool = False):
    """A tiny model.

    Args:
        pretrained: unused.
    """
    return torch.nn.Linear(2, 2)
'''


def _repo(tmp_path):
    return write_repo(tmp_path / "repo", {
        "hubconf.py": HUBCONF, "mypkg/__init__.py": "", "mypkg/models.py": MODELS,
    })


def _entries(cache: LintCache) -> list[str]:
    return sorted(p.name for p in cache.directory.glob("*.json")) if cache.directory.is_dir() else []


def test_a_repeat_run_reads_the_same_findings_back_and_writes_nothing_into_the_repo(tmp_path):
    repo = _repo(tmp_path)
    before = file_digests(repo)
    cache = LintCache(tmp_path / "cache")
    first = lint_repo(repo, cache=cache)
    assert first.model is not None and first.findings
    assert len(_entries(cache)) == 1
    second = lint_repo(repo, cache=cache)
    assert second.model is None, "the second run should have come from the cache"
    assert second.findings == first.findings == lint_repo(repo).findings
    assert file_digests(repo) == before


def test_editing_any_file_invalidates(tmp_path):
    repo = _repo(tmp_path)
    cache = LintCache(tmp_path / "cache")
    first = lint_repo(repo, cache=cache)
    # A module the entry point comes from, not hubconf: its docstring goes away.
    models = repo / "mypkg" / "models.py"
    models.write_text(MODELS.replace('"""A tiny model.', '"""A tiny model, renamed.'))
    edited = lint_repo(repo, cache=cache)
    assert edited.model is not None, "an edited repo must be linted again"
    assert len(_entries(cache)) == 2
    # A file lint does not read still counts: any change anywhere is a new key.
    (repo / "notes.md").write_text("notes\n")
    assert lint_repo(repo, cache=cache).model is not None
    assert first.findings == edited.findings  # same problems, read afresh each time


def test_the_selected_rules_are_part_of_the_key(tmp_path):
    repo = _repo(tmp_path)
    cache = LintCache(tmp_path / "cache")
    everything = lint_repo(repo, cache=cache)
    only_hub201 = lint_repo(repo, cache=cache, select=("HUB201",))
    assert only_hub201.model is not None
    assert {f.code for f in only_hub201.findings} == {"HUB201"} < {f.code for f in everything.findings}
    assert lint_repo(repo, cache=cache).findings == everything.findings


def _altered(entry: str, **changes: object) -> bytes:
    data = json.loads(entry)
    data["findings"][0].update(changes)
    return json.dumps(data).encode()


def test_corrupt_or_foreign_entries_are_ignored_and_rebuilt(tmp_path):
    repo = _repo(tmp_path)
    cache = LintCache(tmp_path / "cache")
    expected = lint_repo(repo, cache=cache).findings
    [name] = _entries(cache)
    entry = cache.directory / name
    good = entry.read_text()
    poisoned = pickle.dumps(Finding("HUB999", "x", Severity.ERROR, "m", "hubconf.py", 1, 1))
    for bad in (b"", b"{not json", b"\xff\xfe", poisoned, b'{"format": 1}', json.dumps([1, 2]).encode(),
                good.replace('"format":1', '"format":0').encode(),
                _altered(good, severity="fatal"), _altered(good, line="1"), _altered(good, line=True),
                _altered(good, extra=1), _altered(good, code=None)):
        entry.write_bytes(bad)
        result = lint_repo(repo, cache=cache)
        assert result.model is not None, bad[:40]
        assert result.findings == expected
        assert entry.read_text() == good, "the entry is rebuilt"
    entry.unlink()
    entry.mkdir()  # Not even a file: still linted, and the write failure is reported, not raised.
    result = lint_repo(repo, cache=cache)
    assert result.findings == expected and "cannot write the lint cache" in (result.cache_problem or "")


def test_an_entry_is_what_the_findings_are_read_from(tmp_path):
    repo = _repo(tmp_path)
    cache = LintCache(tmp_path / "cache")
    lint_repo(repo, cache=cache)
    [name] = _entries(cache)
    entry = cache.directory / name
    data = json.loads(entry.read_text())
    data["findings"] = data["findings"][:1]
    entry.write_text(json.dumps(data))
    assert len(lint_repo(repo, cache=cache).findings) == 1


def test_the_least_recently_used_entries_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr("hubcheck.lint_cache.MAX_ENTRIES", 2)
    cache = LintCache(tmp_path / "cache")
    repo = _repo(tmp_path)
    created: list[str] = []
    for round_ in range(4):
        (repo / "hubcheck.toml").write_text(f"# round {round_}\n")
        lint_repo(repo, cache=cache)
        created += sorted(set(_entries(cache)) - set(created))
        for age, name in enumerate(created):
            if (cache.directory / name).exists():
                os.utime(cache.directory / name, ns=(age * 10**9, age * 10**9))
    assert len(created) == 4
    assert _entries(cache) == sorted(created[-2:])


def test_the_cli_keeps_its_cache_under_hubcheck_cache_and_no_cache_keeps_none(tmp_path):
    repo = _repo(tmp_path)
    before = file_digests(repo)
    cache_dir = tmp_path / "hubcache"
    env = {"HUBCHECK_CACHE": str(cache_dir)}
    cold = hubcheck("lint", str(repo), "--format", "json", env=env)
    assert cold.code == 1, cold.stderr
    assert len(list((cache_dir / "lint").glob("*.json"))) == 1
    warm = hubcheck("lint", str(repo), "--format", "json", env=env)
    assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr)
    other = tmp_path / "other"
    uncached = hubcheck("lint", str(repo), "--format", "json", "--no-cache", env={"HUBCHECK_CACHE": str(other)})
    assert (uncached.code, uncached.stdout) == (cold.code, cold.stdout)
    assert not other.exists()
    assert file_digests(repo) == before


def test_an_unwritable_cache_costs_only_a_warning(tmp_path):
    repo = _repo(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    run = hubcheck("lint", str(repo), "--format", "json", env={"HUBCHECK_CACHE": str(blocker)})
    assert run.code == 1
    assert json.loads(run.stdout)["findings"]
    assert run.stderr.count("\n") == 1 and "cannot write the lint cache" in run.stderr and "--no-cache" in run.stderr
