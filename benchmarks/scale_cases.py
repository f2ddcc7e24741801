"""The pytest plugin's scale cases: collecting a 1,500-entry-point dynamic hub, and items per second under -n 2.

``collection`` times ``pytest --hubcheck REPO --collect-only`` on a hub whose
entry points exist only once hubconf has run (``generate.dynamic_hub``), against
the torch.hub import and list of the same repo, which collection cannot do
without; the notes give the pytest process's own peak memory (from
collection_probe.py), a control of pytest collecting as many plain items, and
an ``-n 2`` collection whose two workers must collect the same ids in the same
order. ``throughput`` times the full run of a hub of small MLPs (``generate.lint_repo``) under
``-n 2`` against ``-n 0``, and derives the cost of one entry point from two hub sizes.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import generate
from measure import BENCHMARKS_DIR, Command, median

if TYPE_CHECKING:
    from cases import CaseResult, Context

# The plain cost of an entry point: torch.hub.load and one forward, in one process, averaged over the hub.
_LOAD_AND_FORWARD = (
    "import os, sys, time, torch, torch.hub\n"
    "repo = sys.argv[1]\n"
    "with torch.hub._add_to_sys_path(repo):\n"
    "    module = torch.hub._import_module('hubconf.py', os.path.join(repo, 'hubconf.py'))\n"
    "names = [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith('_')]\n"
    "started = time.perf_counter()\n"
    "for name in names:\n"
    "    model = torch.hub.load(repo, name, source='local').eval()\n"
    "    with torch.inference_mode():\n"
    "        model(torch.randn(2, 16))\n"
    "print((time.perf_counter() - started) / len(names))\n"
)


def _probe_env(context: Context) -> dict[str, str]:
    probe = context.workdir / "probe"
    probe.mkdir(exist_ok=True)
    return {"PYTHONPATH": str(BENCHMARKS_DIR), "HUBCHECK_BENCH_PROBE": str(probe)}


def _pytest(context: Context, *args: str, ok_codes: tuple[int, ...] = (0,)) -> Command:
    """``python -m pytest ARGS`` with collection_probe.py writing each pytest process's figures to ``probe/``."""
    return Command((sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "collection_probe", *args),
                   cwd=context.workdir, ok_codes=ok_codes, env=_probe_env(context))


def _probed(context: Context, command: Command) -> dict[str, dict[str, Any]]:
    """Run ``command`` and read what each of its pytest processes wrote (process name -> figures)."""
    probe = context.workdir / "probe"
    for old in probe.glob("*.json"):
        old.unlink()
    command.run()
    return {path.stem: json.loads(path.read_text()) for path in sorted(probe.glob("*.json"))}


def collection(context: Context) -> CaseResult:
    from cases import HUB_LIST, CaseResult, _plugin_missing, _shown

    count = context.settings.collection_entrypoints
    repo = generate.dynamic_hub(context.workdir / f"dynamic_{count}", count)
    hubcheck = _pytest(context, "--hubcheck", str(repo), "--collect-only")
    baseline = Command((sys.executable, "-c", HUB_LIST, str(repo)))
    result = CaseResult(f"collection, dynamic hub of {count} entry points", "s", 2.0, "<= 2x, same ids on 2 workers",
                        "pytest --hubcheck REPO --collect-only", _shown(baseline))
    missing = _plugin_missing()
    if missing:
        result.notes.append(f"not run: {missing}")
        return result
    context.timed(result, hubcheck, baseline, context.settings.scale_rounds, warmup=context.settings.scale_warmup)
    alone = _probed(context, hubcheck)["main"]
    result.notes.append(f"{alone['items']} items; the pytest process: {alone['seconds']:.2f} s from start to the end "
                        f"of collection, peak RSS {alone['peak_rss_mb']:.0f} MB (hubcheck's worker, which imports "
                        "hubconf, is another process)")
    plain = context.workdir / f"plain_{alone['items']}"
    plain.mkdir(exist_ok=True)
    (plain / "test_plain.py").write_text(f"import pytest\n\n\n@pytest.mark.parametrize('index', range({alone['items']}))\n"
                                         "def test_plain(index):\n    pass\n")
    control = _probed(context, _pytest(context, str(plain), "--collect-only"))["main"]
    result.notes.append(f"control: pytest collecting {control['items']} plain parametrized items: "
                        f"{control['seconds']:.2f} s, peak RSS {control['peak_rss_mb']:.0f} MB")
    # Collected in every worker, then all deselected so that nothing runs (pytest's exit 5).
    workers = _probed(context, _pytest(context, "--hubcheck", str(repo), "-n", "2", "-m", "not hubcheck", ok_codes=(5,)))
    same = len(workers) == 2 and len({figures["digest"] for figures in workers.values()}) == 1
    result.notes.append(
        "-n 2: " + ", ".join(f"{name} {f['items']} items at {f['seconds']:.2f} s, peak RSS {f['peak_rss_mb']:.0f} MB"
                             for name, f in workers.items())
        + ("; both collected the same ids in the same order" if same else "; the workers' ids DIFFER"))
    result.extra_ok = same
    result.judge()
    return result


def throughput(context: Context) -> CaseResult:
    from cases import CaseResult, _plugin_missing

    settings = context.settings
    count, small = settings.throughput_entrypoints, settings.throughput_small
    # Listed statically, as most hubs are: the measure is the items' spread, not the dynamic listing (see collection).
    repo = generate.lint_repo(context.workdir / f"throughput_{count}", count)
    small_repo = generate.lint_repo(context.workdir / f"throughput_{small}", small)

    def pytest(target: Path, workers: str) -> Command:
        return Command((sys.executable, "-m", "pytest", "--hubcheck", str(target), "-n", workers, "-q",
                        "-p", "no:cacheprovider"), cwd=context.workdir)

    result = CaseResult(f"throughput, {count} small entry points", "s", 1 / 1.7, "<= 0.588x (>= 1.7x items/s)",
                        "pytest --hubcheck REPO -n 2", "pytest --hubcheck REPO -n 0")
    missing = _plugin_missing()
    if missing:
        result.notes.append(f"not run: {missing}")
        return result
    rounds = settings.scale_rounds or settings.rounds
    busy_before = _machine_busy_s()
    context.timed(result, pytest(repo, "2"), pytest(repo, "0"), rounds, warmup=False)
    assert result.hubcheck is not None and result.baseline is not None
    busy_after = _machine_busy_s()
    if busy_before is not None and busy_after is not None:
        # Two workers only reach 2x on two free cores: how busy the rest of the machine was says whether they had them.
        others = busy_after - busy_before - sum(result.samples["hubcheck_cpu"]) - sum(result.samples["baseline_cpu"])
        result.notes.append(f"the rest of the machine used {max(others, 0.0):.1f} s of CPU while the timed runs ran "
                            "(/proc/stat's busy time less the runs' own; about 0 on an idle machine)")
    listed = Command((sys.executable, "-m", "pytest", "--hubcheck", str(repo), "--collect-only", "-q",
                      "-p", "no:cacheprovider"), cwd=context.workdir).run().stdout
    items = int(re.search(r"(\d+) tests? collected", listed)[1])  # type: ignore[index]
    result.notes.append(f"{items} items a run: -n 0 {items / result.baseline:.1f} items/s, -n 2 "
                        f"{items / result.hubcheck:.1f} items/s ({result.baseline / result.hubcheck:.2f}x)")
    small_time = median([pytest(small_repo, "0").wall_time() for _ in range(rounds)])
    per_entry = (result.baseline - small_time) / (count - small)
    plain = float(Command((sys.executable, "-c", _LOAD_AND_FORWARD, str(repo))).run().stdout.split()[-1])
    result.notes.append(
        f"one entry point, -n 0: {per_entry * 1000:.0f} ms ((time of {count} - time of {small}) / {count - small}); "
        f"torch.hub.load and one forward in one plain process: {plain * 1000:.1f} ms")
    result.notes.append(_breakdown(context, pytest(repo, "0"), repo))
    return result


def _machine_busy_s() -> float | None:
    """CPU seconds every process of this machine has used since it booted (Linux's /proc/stat), or None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(field) for field in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _breakdown(context: Context, command: Command, repo: Path) -> str:
    """Where an entry point's time goes under ``-n 0``: the worker's run (its first item's time in the junit
    report) split into the checks in the forked process (validate's per-check durations) and the rest (the fork of
    the run and of the judge, the judge, the protocol), and pytest's own cost per item."""
    from measure import hubcheck_command

    junit = context.workdir / "throughput.xml"
    wall = Command((*command.argv, f"--junitxml={junit}"), cwd=command.cwd).wall_time()
    tree = ElementTree.parse(junit)  # noqa: S314 - pytest's own report of the run just made
    cases = [(case.get("name", ""), float(case.get("time", 0))) for case in tree.iter("testcase")]
    runs = [seconds for name, seconds in cases if name == "docstring"]
    # The first repo item starts the worker (torch imported) and imports hubconf in it.
    started = next(seconds for name, seconds in cases if name == "import")
    outside = (wall - sum(seconds for _, seconds in cases)) / len(cases)
    repo_level = sum(1 for name, _ in cases if name in ("import", "dependencies", "entrypoints", "config", "references")
                     or name.startswith("lint"))
    items_per_entry = (len(cases) - repo_level) / max(len(runs), 1)
    report = json.loads(Command(hubcheck_command("validate", str(repo), "--device", "cpu", "--format", "json"),
                                ok_codes=(0, 1)).run().stdout)
    inside: dict[str, float] = {}
    loads: list[float] = []
    for check in report["checks"]:
        if check["entrypoint"]:
            inside[check["entrypoint"]] = inside.get(check["entrypoint"], 0.0) + (check["duration_s"] or 0.0)
            if check["check"] == "load":
                loads.append(check["duration_s"] or 0.0)
    run, checks = median(runs), median(list(inside.values()))
    return (f"breakdown, medians over {len(runs)} entry points: the worker's run {run * 1000:.0f} ms, of which the "
            f"checks in the forked process {checks * 1000:.0f} ms (load {median(loads) * 1000:.0f} ms) and the fork "
            f"of the run and of the judge, the judge and the protocol {(run - checks) * 1000:.0f} ms; pytest outside "
            f"the items (its start, collection, reporting) {outside * 1000:.1f} ms an item, {items_per_entry:.0f} "
            f"items an entry point; once a session: the worker's start and hubconf's import {started:.2f} s")
