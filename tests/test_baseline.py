"""Baselines and --statistics: adopting lint in a repo that already has findings."""

from __future__ import annotations

import json

from hubcheck.baseline import Baseline
from hubcheck.lint import lint_repo
from tests.helpers import hubcheck, write_repo

LEGACY = '''
"""A legacy repo: two weight loads that predate map_location and weights_only."""
dependencies = ["torch"]

import torch


def small(weights=None):
    """A small model, from the checkpoint file ``weights``."""
    return torch.load(weights)


def large(checkpoint=None):
    """A large model, from the checkpoint file ``checkpoint``."""
    return torch.load(checkpoint)
'''


def _codes(findings) -> list[str]:
    return sorted(f"{f.line}:{f.code}" for f in findings)


def test_write_baseline_then_lint_with_it_reports_nothing(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": LEGACY})
    baseline = tmp_path / "baseline.json"
    written = hubcheck("lint", str(repo), "--no-cache", "--write-baseline", str(baseline))
    assert written.code == 0, written.stderr
    entries = json.loads(baseline.read_text())["findings"]
    assert sorted(e["code"] for e in entries) == ["HUB201", "HUB201", "HUB202", "HUB202"]
    run = hubcheck("lint", str(repo), "--no-cache", "--baseline", str(baseline))
    assert run.code == 0, run.stdout
    assert "No problems found." in run.stdout
    assert "4 finding(s) in the baseline not shown" in run.stderr


def test_fingerprints_survive_line_moves_and_new_lines_are_reported(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": LEGACY})
    accepted = Baseline.of(lint_repo(repo).findings)
    moved = LEGACY.replace("import torch\n", "import torch\n\n_WIDTH = 4\n\n\n")
    (repo / "hubconf.py").write_text(moved.lstrip("\n"))
    assert accepted.new_findings(lint_repo(repo).findings) == ()
    grown = moved + '''

def tiny(weights=None):
    """A tiny model, from the checkpoint file ``weights``."""
    return torch.load(weights)
'''
    (repo / "hubconf.py").write_text(grown.lstrip("\n"))
    new = accepted.new_findings(lint_repo(repo).findings)
    assert _codes(new) == ["23:HUB201", "23:HUB202"]


def test_identical_lines_are_counted(tmp_path):
    twice = "    state = torch.load(weights)\n    state = torch.load(weights)\n    return state\n"
    source = LEGACY.replace("    return torch.load(weights)\n", twice)
    repo = write_repo(tmp_path / "repo", {"hubconf.py": source})
    accepted = Baseline.of(lint_repo(repo).findings)
    assert sorted(accepted.counts.values()) == [1, 1, 2, 2]
    thrice = source.replace(twice, "    state = torch.load(weights)\n" + twice)
    (repo / "hubconf.py").write_text(thrice.lstrip("\n"))
    assert _codes(accepted.new_findings(lint_repo(repo).findings)) == ["11:HUB201", "11:HUB202"]


def test_a_corrupt_or_foreign_baseline_is_one_line_and_exit_2(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": LEGACY})
    for name, text in (("broken.json", "{not json"), ("foreign.json", '{"version": 3}'),
                       ("bad-entry.json", '{"hubcheck_baseline": 1, "findings": [{"count": 1}]}')):
        path = tmp_path / name
        path.write_text(text)
        run = hubcheck("lint", str(repo), "--no-cache", "--baseline", str(path))
        assert run.code == 2, (name, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
        assert "--write-baseline" in run.stderr
    missing = hubcheck("lint", str(repo), "--baseline", str(tmp_path / "missing.json"))
    assert missing.code == 2 and "cannot read baseline" in missing.stderr


def test_statistics_counts_findings_per_rule(tmp_path):
    repo = write_repo(tmp_path / "repo", {"hubconf.py": LEGACY.replace('dependencies = ["torch"]\n', "")})
    run = hubcheck("lint", str(repo), "--no-cache", "--statistics")
    assert run.code == 1
    rows = run.stdout.splitlines()
    assert rows[:3] == ["2  HUB201  [warning] torch-load-without-map-location",
                        "2  HUB202  [warning] torch-load-without-weights-only",
                        "1  HUB003  [warning] dependencies-missing"]
    as_json = json.loads(hubcheck("lint", str(repo), "--no-cache", "--statistics", "-f", "json").stdout)
    assert as_json[0] == {"code": "HUB201", "name": "torch-load-without-map-location", "severity": "warning",
                          "count": 2}
