"""The pytest plugin against the CLI on the real-world corpus, and how often inferred inputs fit image models.

For every repo in ``repos.toml`` with ``validate_flags`` whose tree exists under ``trees/``, this runs

    hubcheck validate TREE --device cpu --format json FLAGS
    python -m pytest --hubcheck-repo TREE --hubcheck-device cpu TWINS -p no:cacheprovider --junitxml FILE

(``TWINS`` being ``FLAGS`` as their ``--hubcheck-…`` twins) and compares the verdict of every
(entry point, check, device). It also counts the image-model entry points whose ``forward`` ran on an
inferred input: every repo's flags are entry point selection and ``--no-pretrained`` (``pretrained=False``
wherever the signature names it) or a ``pretrained`` kwarg, never an input, except the repos in
:data:`NOT_IMAGE_MODELS` (noise-driven GANs, a loss), which are left out of that count. Issue 13's target is 90%.

    python benchmarks/realworld/validate_parity.py                 # every repo with validate_flags
    python benchmarks/realworld/validate_parity.py --repo facebookresearch/dino --repo XingangPan/IBN-Net
    python benchmarks/realworld/validate_parity.py --json parity.json
    python benchmarks/realworld/validate_parity.py --extra=--check --extra=none   # without the model checks

Nothing is written into the trees: references are never recorded, and the worker keeps the repo unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import tomllib

HERE = Path(__file__).resolve().parent
TREES = HERE / "trees"
NOT_IMAGE_MODELS = frozenset({"facebookresearch/pytorch_GAN_zoo", "AdeelH/pytorch-multi-class-focal-loss"})
"""Repos whose entry points take no image: GANs driven by noise, a loss taking logits and targets."""
CLI_ONLY_FLAGS = frozenset({"--block-network"})
"""validate flags without a plugin twin (the plugin's default is the blocked network)."""
TARGET = 0.9

Key = tuple["str | None", str, "str | None"]
"""(entry point, check, device) of one verdict."""


@dataclass(frozen=True)
class Repo:
    name: str
    tree: Path
    flags: tuple[str, ...]


@dataclass
class Comparison:
    """The verdicts of one repo under the CLI and the plugin."""

    repo: str
    cli: dict[Key, str]
    plugin: dict[Key, str]
    cli_exit: int
    plugin_exit: int
    seconds: float
    forward: dict[str, str] = field(default_factory=dict)
    """Entry point -> the CLI's forward status on the CPU."""

    @property
    def differences(self) -> list[tuple[Key, str | None, str | None]]:
        keys = sorted(set(self.cli) | set(self.plugin), key=lambda k: tuple(str(part) for part in k))
        return [(k, self.cli.get(k), self.plugin.get(k)) for k in keys if self.cli.get(k) != self.plugin.get(k)]


def corpus_repos(names: Iterable[str] = ()) -> list[Repo]:
    """The repos of repos.toml with validate_flags whose tree exists locally (only ``names``, when given)."""
    wanted = set(names)
    listed = tomllib.loads((HERE / "repos.toml").read_text())["repo"]
    found = []
    for entry in listed:
        tree = TREES / entry["name"].replace("/", "__")
        if entry.get("validate_flags") and (tree / "hubconf.py").is_file() and (not wanted or entry["name"] in wanted):
            found.append(Repo(entry["name"], tree, tuple(entry["validate_flags"])))
    return found


def plugin_twins(flags: Iterable[str]) -> list[str]:
    """validate's flags as the plugin's: ``--kwarg`` is ``--hubcheck-kwarg``, and so on."""
    twins: list[str] = []
    for word in flags:
        if word in CLI_ONLY_FLAGS:
            continue
        twins.append(f"--hubcheck-{word[2:]}" if word.startswith("--") else word)
    return twins


def cli_verdicts(report: dict) -> dict[Key, str]:
    """The status of every check in a ``hubcheck validate --format json`` report."""
    return {(c["entrypoint"], c["check"], c["device"]): c["status"] for c in report["checks"]}


def junit_verdicts(xml_text: str, hubconf_classname: str) -> dict[Key, str]:
    """The status of every hubcheck item in pytest's junit XML, keyed as the CLI keys its checks.

    ``hubconf_classname`` is the classname pytest gives the repo's hubconf.py (``trees.x__y.hubconf``): an
    entry point's item is ``<that>.<entry point>`` named ``check[device]``; a repo item is named ``check``
    under it. Lint items have no CLI check (lint's findings are compared by the corpus' own run) and are
    left out; a skip whose message begins ``not verified:`` (a failure, under ``--hubcheck-strict``) is
    ``not-verified``.
    """
    verdicts: dict[Key, str] = {}
    for case in ElementTree.fromstring(xml_text).iter("testcase"):  # noqa: S314 - pytest's own report
        classname, name = case.get("classname", ""), case.get("name", "")
        if classname == hubconf_classname:
            entrypoint = None
        elif classname.startswith(hubconf_classname + "."):
            entrypoint = classname[len(hubconf_classname) + 1:]
        else:
            continue  # not a hubcheck item
        check, _, device = name.partition("[")
        if check == "lint":
            continue
        verdicts[(entrypoint, check, device.rstrip("]") or None)] = _junit_status(case)
    return verdicts


def _junit_status(case: ElementTree.Element) -> str:
    failure = case.find("failure")
    if failure is not None:
        # Under --hubcheck-strict a check that was not verified fails its item, saying so.
        return "not-verified" if "not verified (--hubcheck-strict)" in failure.get("message", "") else "failed"
    if case.find("error") is not None:
        return "error"
    skipped = case.find("skipped")
    if skipped is None:
        return "passed"
    message = skipped.get("message", "")
    # pytest writes a skip's message as "<reason>" (or "Skipped: <reason>" on older releases).
    return "not-verified" if message.removeprefix("Skipped: ").startswith("not verified:") else "skipped"


def hubconf_classname(tree: Path, rootdir: Path) -> str:
    """The junit classname pytest gives ``tree/hubconf.py`` (a node id's path, dots for slashes, no ``.py``)."""
    hubconf = (tree / "hubconf.py").resolve()
    try:
        nodeid = hubconf.relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        nodeid = hubconf.as_posix()  # the plugin names a repo outside the rootdir by its absolute path
    return nodeid.removesuffix(".py").replace("/", ".")


def compare(repo: Repo, timeout: float) -> Comparison:
    """Run both on one repo and collect their verdicts.

    pytest runs in an empty scratch directory with an empty configuration, so that it collects nothing
    but the repo's hubcheck items (neither the tree's own tests nor this project's).
    """
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cli = subprocess.run([sys.executable, "-m", "hubcheck", "validate", str(repo.tree), "--device", "cpu",
                          "--format", "json", *repo.flags], capture_output=True, text=True, timeout=timeout,
                         env=env, stdin=subprocess.DEVNULL)
    if cli.returncode not in (0, 1):
        raise RuntimeError(f"{repo.name}: hubcheck validate exited {cli.returncode}: {cli.stderr.strip()[-500:]}")
    report = json.loads(cli.stdout)
    with tempfile.TemporaryDirectory(prefix="hubcheck-parity-") as scratch:
        rootdir = Path(scratch)
        (rootdir / "pytest.ini").write_text("[pytest]\n")
        junit = rootdir / "junit.xml"
        plugin = subprocess.run(
            [sys.executable, "-m", "pytest", "--hubcheck-repo", str(repo.tree), "--hubcheck-device", "cpu",
             *plugin_twins(repo.flags), "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
             "-c", str(rootdir / "pytest.ini"), f"--rootdir={rootdir}"],
            capture_output=True, text=True, timeout=timeout, cwd=rootdir, env=env, stdin=subprocess.DEVNULL)
        if not junit.is_file():
            raise RuntimeError(f"{repo.name}: pytest exited {plugin.returncode} without a report: "
                               f"{(plugin.stdout + plugin.stderr).strip()[-500:]}")
        items = junit_verdicts(junit.read_text(), hubconf_classname(repo.tree, rootdir))
    forward = {c["entrypoint"]: c["status"] for c in report["checks"] if c["check"] == "forward"
               and c["device"] == "cpu"}
    return Comparison(repo.name, cli_verdicts(report), items, cli.returncode, plugin.returncode,
                      time.monotonic() - started, forward)


def summary(comparisons: list[Comparison]) -> dict:
    """The figures: verdicts compared and differing, and forward on image-model entry points (of all, and of those
    that load offline: an entry point that always downloads its weights cannot run forward without them)."""
    image = [(c.repo, name, status) for c in comparisons if c.repo not in NOT_IMAGE_MODELS
             for name, status in c.forward.items()]
    loaded = [(repo, name, status) for repo, name, status in image
              if next(c for c in comparisons if c.repo == repo).cli.get((name, "load", "cpu")) == "passed"]
    ran = sum(status == "passed" for _, _, status in image)
    return {
        "repos": len(comparisons),
        "verdicts_compared": sum(len(set(c.cli) | set(c.plugin)) for c in comparisons),
        "differences": sum(len(c.differences) for c in comparisons),
        "exit_codes_agree": sum(c.cli_exit == c.plugin_exit for c in comparisons),
        "image_entrypoints": len(image),
        "image_forward_passed": ran,
        "image_forward_share": round(ran / len(image), 3) if image else None,
        "image_entrypoints_loaded": len(loaded),
        "image_forward_share_of_loaded": round(ran / len(loaded), 3) if loaded else None,
        "image_forward_not_passed": [f"{repo}:{name} {status}" for repo, name, status in image if status != "passed"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", default=[], help="only this repo (owner/name); repeatable")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per command (default 1800)")
    parser.add_argument("--json", type=Path, help="also write every verdict and the figures to this file")
    parser.add_argument("--extra", action="append", default=[], help="a validate flag added to every repo's "
                        "flags (and its twin to the plugin's); repeatable, e.g. --extra=--check --extra=none")
    args = parser.parse_args(argv)
    repos = [Repo(r.name, r.tree, (*r.flags, *args.extra)) for r in corpus_repos(args.repo)]
    if not repos:
        print("no repo with validate_flags has a tree under benchmarks/realworld/trees (run fetch.py)", file=sys.stderr)
        return 2
    comparisons = []
    for repo in repos:
        comparison = compare(repo, args.timeout)
        comparisons.append(comparison)
        forward = sum(s == "passed" for s in comparison.forward.values())
        print(f"{repo.name}: {len(comparison.cli)} verdicts, {len(comparison.differences)} differ; exit "
              f"{comparison.cli_exit}/{comparison.plugin_exit}; forward passed {forward}/{len(comparison.forward)} "
              f"({comparison.seconds:.0f} s)", flush=True)
        for key, cli, plugin in comparison.differences:
            print(f"    {key}: cli {cli}, plugin {plugin}")
    figures = summary(comparisons)
    share = figures["image_forward_share"]
    print(f"{figures['verdicts_compared']} verdicts on {figures['repos']} repos, {figures['differences']} differ; "
          f"exit codes agree on {figures['exit_codes_agree']}/{figures['repos']}")
    if share is not None:
        print(f"forward ran on {figures['image_forward_passed']}/{figures['image_entrypoints']} image-model entry "
              f"points ({share:.0%}; target {TARGET:.0%}), {figures['image_forward_passed']}/"
              f"{figures['image_entrypoints_loaded']} of those that load offline")
    if args.json is not None:
        verdicts = {c.repo: [{"key": list(k), "cli": c.cli.get(k), "plugin": c.plugin.get(k)}
                             for k in sorted(set(c.cli) | set(c.plugin), key=lambda k: tuple(map(str, k)))]
                    for c in comparisons}
        args.json.write_text(json.dumps({"figures": figures, "verdicts": verdicts}, indent=2) + "\n")
    return 1 if figures["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
