"""Run ``hubcheck lint`` and ``hubcheck list`` on every corpus tree present and score the findings.

For each tree under ``trees/`` (see ``fetch.py``) this runs, through the project's interpreter,

    python -m hubcheck lint --format json --exit-zero TREE
    python -m hubcheck list --format json TREE

records exit codes, crashes (exit 3 or a traceback) and wall times, compares the findings and listed
names with ``expected/<owner>__<name>.json``, and prints a per-rule table scored against the hand
labels in ``labels.toml``. Missing trees are reported and skipped.

    python benchmarks/realworld/run.py              # report; exit 1 when something differs from expected
    python benchmarks/realworld/run.py --update     # rewrite expected/ from this run
    python benchmarks/realworld/run.py --only facebookresearch/dino --show unlabelled
    python benchmarks/realworld/run.py --json results.json
    python benchmarks/realworld/run.py --repeat 3           # timings: fastest of 3 runs
    PYTHONPATH=DEPS python benchmarks/realworld/run.py --dynamic   # also compare with list --dynamic
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from fetch import TREES, CorpusRepo, load_corpus

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"
LABELS = HERE / "labels.toml"
COMMAND_TIMEOUT_S = 600
BACKTICKED = re.compile(r"`([^`]+)`")
QUOTED = re.compile(r"'([^'\s]+)'")
SUBJECT_CHARS = 60


@dataclass(frozen=True)
class FindingKey:
    """A finding as labels and expectations name it: stable across message rewording."""

    path: str
    line: int
    code: str
    subject: str
    """The first quoted name in the finding's message, else its entry point."""

    @classmethod
    def of(cls, finding: dict) -> FindingKey:
        # The name a message quotes is steadier than the entry point a finding is attributed to,
        # which changes whenever reachability is computed differently.
        message = finding.get("message", "")
        quoted = QUOTED.search(message) or BACKTICKED.search(message)
        subject = (
            quoted.group(1)[:SUBJECT_CHARS]
            if quoted
            else finding.get("entrypoint") or ""
        )
        return cls(finding["path"], finding.get("line") or 0, finding["code"], subject)

    @classmethod
    def parse(cls, text: str) -> FindingKey:
        path, line, code, subject = text.split(":", 3)
        return cls(path, int(line), code, subject)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.code}:{self.subject}"


@dataclass(frozen=True)
class Label:
    real: bool
    why: str


@dataclass(frozen=True)
class CommandRun:
    exit_code: int
    seconds: float
    crashed: bool
    stderr_tail: str
    output: dict | None


@dataclass
class RepoResult:
    repo: CorpusRepo
    lint: CommandRun
    listing: CommandRun
    findings: list[tuple[FindingKey, str]] = field(default_factory=list)
    """Each finding's key and message."""
    names: list[str] = field(default_factory=list)
    dynamic_names: list[str] | None = None
    """What `list --dynamic` (hubconf really imported) shows, when --dynamic ran and the import worked."""
    dynamic_error: str = ""


def hubcheck(args: list[str]) -> CommandRun:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hubcheck", *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT_S,
            cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        return CommandRun(
            -1,
            time.perf_counter() - started,
            True,
            f"timed out after {COMMAND_TIMEOUT_S}s",
            None,
        )
    seconds = time.perf_counter() - started
    try:
        output = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        output = None
    crashed = done.returncode == 3 or "Traceback (most recent call last)" in done.stderr
    tail = "\n".join(done.stderr.strip().splitlines()[-4:])
    return CommandRun(done.returncode, seconds, crashed, tail, output)


def fastest(args: list[str], repeat: int) -> CommandRun:
    """The quickest of ``repeat`` runs: on a shared machine the minimum is the least noisy time."""
    return min((hubcheck(args) for _ in range(repeat)), key=lambda run: run.seconds)


def run_repo(repo: CorpusRepo, repeat: int = 1) -> RepoResult:
    tree = str(TREES / repo.tree_name)
    result = RepoResult(
        repo,
        fastest(["lint", "--format", "json", "--exit-zero", tree], repeat),
        fastest(["list", "--format", "json", tree], repeat),
    )
    if result.lint.output:
        result.findings = [
            (FindingKey.of(f), f["message"])
            for f in result.lint.output.get("findings", [])
        ]
    if result.listing.output:
        result.names = sorted(
            e["name"] for e in result.listing.output.get("entrypoints", [])
        )
    return result


def run_dynamic_list(result: RepoResult) -> None:
    """Import hubconf the torch.hub way, in a throwaway copy of the tree, and keep the names it lists.

    This runs repo code (in hubcheck's separate import process): import-time side effects, such as
    fairseq building its C extensions, land in the copy, never in trees/. It needs the repo's own
    dependencies; PYTHONPATH reaches the import process, so extra packages can come from a
    `pip install --target DIR` directory instead of the project venv.
    """
    with tempfile.TemporaryDirectory(prefix="hubcheck-realworld-") as scratch:
        copy = Path(scratch) / result.repo.tree_name
        shutil.copytree(TREES / result.repo.tree_name, copy, symlinks=True)
        run = hubcheck(["list", "--dynamic", "--format", "json", str(copy)])
    if run.output and run.exit_code == 0:
        result.dynamic_names = sorted(
            e["name"] for e in run.output.get("entrypoints", [])
        )
    else:
        result.dynamic_error = (
            run.stderr_tail.splitlines() or [f"exit {run.exit_code}"]
        )[-1]


def print_dynamic_comparison(results: list[RepoResult]) -> None:
    print(
        "\nstatic list against `list --dynamic` (names torch.hub.list really returns):"
    )
    for result in results:
        if result.dynamic_names is None:
            print(
                f"  {result.repo.name:50} not importable here: {result.dynamic_error[:120]}"
            )
            continue
        static, dynamic = set(result.names), set(result.dynamic_names)
        verdict = (
            "same"
            if static == dynamic
            else f"static {len(static)}, dynamic {len(dynamic)}"
        )
        print(f"  {result.repo.name:50} {verdict}")
        for title, names in (
            ("missing statically", dynamic - static),
            ("only static", static - dynamic),
        ):
            if names:
                shown = ", ".join(sorted(names)[:10])
                more = f" ... and {len(names) - 10} more" if len(names) > 10 else ""
                print(f"      {title}: {shown}{more}")


def load_labels() -> tuple[dict[tuple[str, FindingKey], Label], list[dict]]:
    """Labels keyed by (repo, finding key), and the recorded false negatives."""
    if not LABELS.is_file():
        return {}, []
    with LABELS.open("rb") as handle:
        table = tomllib.load(handle)
    labels: dict[tuple[str, FindingKey], Label] = {}
    for entry in table.get("label", []):
        key = FindingKey.parse(entry["finding"])
        labels[(entry["repo"], key)] = Label(entry["real"], entry["why"])
    return labels, table.get("missed", [])


def find_label(
    labels: dict[tuple[str, FindingKey], Label], repo: str, key: FindingKey
) -> Label | None:
    """The label for this finding; a label whose subject differs still counts when it is the only one there."""
    exact = labels.get((repo, key))
    if exact is not None:
        return exact
    near = [
        label
        for (labelled_repo, other), label in labels.items()
        if labelled_repo == repo
        and (other.path, other.line, other.code) == (key.path, key.line, key.code)
    ]
    return near[0] if len(near) == 1 else None


def expected_path(repo: CorpusRepo) -> Path:
    return EXPECTED / f"{repo.tree_name}.json"


def compare_expected(result: RepoResult) -> list[str]:
    path = expected_path(result.repo)
    if not path.is_file():
        return ["no expectations recorded (run with --update)"]
    expected = json.loads(path.read_text())
    differences = []
    now = {str(key) for key, _ in result.findings}
    before = set(expected["findings"])
    differences += [f"new finding {k}" for k in sorted(now - before)]
    differences += [f"finding gone {k}" for k in sorted(before - now)]
    names_now, names_before = set(result.names), set(expected["list"])
    if names_now - names_before:
        differences.append(
            f"newly listed: {', '.join(sorted(names_now - names_before)[:10])}"
        )
    if names_before - names_now:
        differences.append(
            f"no longer listed: {', '.join(sorted(names_before - names_now)[:10])}"
        )
    if expected.get("crashed", False) != (
        result.lint.crashed or result.listing.crashed
    ):
        differences.append("crash status changed")
    return differences


def write_expected(result: RepoResult) -> None:
    EXPECTED.mkdir(exist_ok=True)
    payload = {
        "repo": result.repo.name,
        "commit": result.repo.commit,
        "crashed": result.lint.crashed or result.listing.crashed,
        "findings": sorted({str(key) for key, _ in result.findings}),
        "list": result.names,
    }
    if result.dynamic_names is not None:
        payload["dynamic_list"] = result.dynamic_names
    elif expected_path(result.repo).is_file():
        # A run without --dynamic keeps what the last --dynamic run saw.
        previous = json.loads(expected_path(result.repo).read_text()).get(
            "dynamic_list"
        )
        if previous is not None:
            payload["dynamic_list"] = previous
    expected_path(result.repo).write_text(json.dumps(payload, indent=1) + "\n")


def rule_table(
    results: list[RepoResult], labels: dict[tuple[str, FindingKey], Label]
) -> list[tuple[str, int, int, int, int]]:
    """Per rule: findings, labelled true positives, labelled false positives, unlabelled."""
    counts: dict[str, Counter[str]] = {}
    for result in results:
        for key, _ in result.findings:
            label = find_label(labels, result.repo.name, key)
            verdict = "unlabelled" if label is None else ("tp" if label.real else "fp")
            counts.setdefault(key.code, Counter())[verdict] += 1
    return [
        (code, sum(c.values()), c["tp"], c["fp"], c["unlabelled"])
        for code, c in sorted(counts.items())
    ]


def print_report(
    results: list[RepoResult],
    labels: dict,
    missed: list[dict],
    absent: list[CorpusRepo],
    show: str | None,
) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout.strip()
    print(f"hubcheck at {head}; {len(results)} trees run, {len(absent)} absent")
    for repo in absent:
        print(
            f"  absent: {repo.name} (python benchmarks/realworld/fetch.py --only {repo.name})"
        )
    print()
    print(f"{'rule':8} {'findings':>8} {'TP':>5} {'FP':>5} {'unlab':>6} {'FP rate':>8}")
    for code, total, tp, fp, unlabelled in rule_table(results, labels):
        rate = f"{100 * fp / (tp + fp):.0f}%" if tp + fp else "-"
        print(f"{code:8} {total:>8} {tp:>5} {fp:>5} {unlabelled:>6} {rate:>8}")
    present = {r.repo.name for r in results}
    recorded = [m for m in missed if m["repo"] in present]
    still_open = sum(m.get("status", "open").startswith("open") for m in recorded)
    print(
        f"\nfalse negatives recorded (lint missed): {len(recorded)}, still open: {still_open}"
    )
    crashes = [r for r in results if r.lint.crashed or r.listing.crashed]
    print(f"crashes: {len(crashes)}")
    for result in crashes:
        for command, run in (("lint", result.lint), ("list", result.listing)):
            if run.crashed:
                print(
                    f"  {result.repo.name} {command} exit {run.exit_code}: {run.stderr_tail.splitlines()[-1:]}"
                )
    print(
        "\nper repo (slowest lint first): lint s, list s, exit codes, findings, listed names"
    )
    for result in sorted(results, key=lambda r: -r.lint.seconds):
        print(
            f"  {result.repo.name:50} {result.lint.seconds:6.2f} {result.listing.seconds:6.2f}"
            f"  {result.lint.exit_code}/{result.listing.exit_code}  {len(result.findings):4} {len(result.names):5}"
        )
    if show:
        print(f"\n{show} findings:")
        for result in results:
            for key, message in result.findings:
                label = find_label(labels, result.repo.name, key)
                verdict = (
                    "unlabelled" if label is None else ("tp" if label.real else "fp")
                )
                if show in ("all", verdict):
                    print(f"  [{verdict}] {result.repo.name} {key}  {message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--update", action="store_true", help="rewrite expected/ from this run"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="owner/name to run (repeatable)"
    )
    parser.add_argument(
        "--show",
        choices=["all", "tp", "fp", "unlabelled"],
        help="print findings with this verdict",
    )
    parser.add_argument(
        "--json", type=Path, help="write every finding, verdict and timing to this file"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each command N times and keep the fastest time",
    )
    parser.add_argument(
        "--dynamic",
        action="store_true",
        help="also import each hubconf (in a copy of the tree; runs repo code) and compare lists",
    )
    args = parser.parse_args(argv)

    labels, missed = load_labels()
    results: list[RepoResult] = []
    absent: list[CorpusRepo] = []
    for repo in load_corpus():
        if args.only and repo.name not in args.only:
            continue
        if not (TREES / repo.tree_name / "hubconf.py").exists():
            absent.append(repo)
            continue
        results.append(run_repo(repo, args.repeat))
        if args.dynamic:
            run_dynamic_list(results[-1])
        print(f"ran {repo.name} ({results[-1].lint.seconds:.1f}s)", file=sys.stderr)
    print_report(results, labels, missed, absent, args.show)
    if args.dynamic:
        print_dynamic_comparison(results)

    differing = 0
    for result in results:
        if args.update:
            write_expected(result)
            continue
        differences = compare_expected(result)
        if differences:
            differing += 1
            print(
                f"\n{result.repo.name} differs from expected/{result.repo.tree_name}.json:"
            )
            for line in differences[:20]:
                print(f"  {line}")
            if len(differences) > 20:
                print(f"  ... and {len(differences) - 20} more")
    if args.json:
        args.json.write_text(
            json.dumps([_as_json(r, labels) for r in results], indent=1) + "\n"
        )
    return 1 if differing else 0


def _as_json(result: RepoResult, labels: dict[tuple[str, FindingKey], Label]) -> dict:
    def verdict(key: FindingKey) -> str:
        label = find_label(labels, result.repo.name, key)
        return "unlabelled" if label is None else ("tp" if label.real else "fp")

    return {
        "repo": result.repo.name,
        "commit": result.repo.commit,
        "lint": {
            "exit": result.lint.exit_code,
            "seconds": round(result.lint.seconds, 3),
            "crashed": result.lint.crashed,
            "stderr": result.lint.stderr_tail,
        },
        "list": {
            "exit": result.listing.exit_code,
            "seconds": round(result.listing.seconds, 3),
            "crashed": result.listing.crashed,
            "stderr": result.listing.stderr_tail,
        },
        "findings": [
            {"key": str(key), "message": message, "verdict": verdict(key)}
            for key, message in result.findings
        ],
        "names": result.names,
    }


if __name__ == "__main__":
    sys.exit(main())
