"""Crash sweep: every sampled Python file on this machine, read as a hubconf.py.

USAGE
    python benchmarks/realworld/sweep.py [--limit N] [--seed S] [--root DIR ...] [--json FILE]

The corpus has 70-odd real hub repos; the standard library and site-packages hold
tens of thousands of real Python files, with every syntax and import shape the
language allows. Each sampled file becomes the hubconf.py of a throwaway repo whose
other entries are links to the file's siblings (so its imports reach its package, as
a repo's do), and ``lint --no-cache``, ``list`` and ``help`` (of its first two entry
points) run on it through the CLI, in this process: static commands run no repo code.
A crash is exit 3 or an exception out of the command; a command over ``--slow``
seconds is listed too. Nothing is written outside the temporary directory.
Exit 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import sysconfig
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from typer.testing import CliRunner

from hubcheck.cli.app import app


@dataclass(frozen=True)
class Problem:
    file: str
    command: str
    exit_code: int
    seconds: float
    detail: str


def _default_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    return sorted({Path(paths["stdlib"]), Path(paths["purelib"])})


def _sample(roots: list[Path], limit: int, seed: int) -> list[Path]:
    files = sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    random.Random(seed).shuffle(files)  # noqa: S311 (a reproducible sample, not a secret)
    return files[:limit]


def _as_repo(source: Path, repo: Path) -> bool:
    repo.mkdir()
    try:
        shutil.copyfile(source, repo / "hubconf.py")
    except OSError:
        return False
    for sibling in source.parent.iterdir():
        if sibling.name != "hubconf.py":
            with contextlib.suppress(OSError):  # a name the temporary directory cannot hold
                os.symlink(sibling, repo / sibling.name)
    return True


def _run(runner: CliRunner, args: list[str]) -> tuple[int, float, str | None, str]:
    started = time.perf_counter()
    result = runner.invoke(app, args, catch_exceptions=True)
    seconds = time.perf_counter() - started
    error = result.exception
    crashed = None
    if error is not None and not isinstance(error, SystemExit):
        crashed = "".join(traceback.format_exception(error))[-2000:]
    elif result.exit_code == 3:
        crashed = (result.output or "")[-2000:]
    return result.exit_code, seconds, crashed, result.stdout


def sweep(files: list[Path], slow: float) -> tuple[list[Problem], list[Problem], int]:
    """(crashes, slow commands, commands run) over ``files``."""
    runner = CliRunner()
    crashes: list[Problem] = []
    slow_runs: list[Problem] = []
    commands = 0
    with tempfile.TemporaryDirectory(prefix="hubcheck-sweep-") as work:
        for number, source in enumerate(files):
            repo = Path(work) / f"r{number}"
            if not _as_repo(source, repo):
                continue
            runs = [["lint", str(repo), "--no-cache", "--format", "json", "--exit-zero"],
                    ["list", str(repo), "--format", "json"]]
            while runs:
                args = runs.pop(0)
                code, seconds, crashed, stdout = _run(runner, args)
                commands += 1
                name = " ".join(args[:1] + args[2:3]) if args[0] == "help" else args[0]
                if crashed is not None:
                    crashes.append(Problem(str(source), name, code, round(seconds, 2), crashed))
                elif seconds > slow:
                    slow_runs.append(Problem(str(source), name, code, round(seconds, 2), ""))
                if args[0] == "list" and code == 0 and crashed is None:
                    try:
                        names = [entry["name"] for entry in json.loads(stdout)["entrypoints"]][:2]
                    except (ValueError, KeyError, TypeError):
                        names = []
                    runs += [["help", str(repo), name] for name in names]
            shutil.rmtree(repo, ignore_errors=True)
            if number % 250 == 0:
                print(f"{number} files, {len(crashes)} crashes", file=sys.stderr, flush=True)
    return crashes, slow_runs, commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=3000, help="files to sample (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--root", type=Path, action="append", help="where to sample (default: stdlib, site-packages)")
    parser.add_argument("--slow", type=float, default=5.0, help="list commands slower than this many seconds")
    parser.add_argument("--json", type=Path, help="also write every problem to FILE")
    args = parser.parse_args(argv)
    files = _sample(args.root or _default_roots(), args.limit, args.seed)
    started = time.perf_counter()
    crashes, slow_runs, commands = sweep(files, args.slow)
    print(f"{len(files)} files, {commands} commands in {time.perf_counter() - started:.0f} s: "
          f"{len(crashes)} crashed, {len(slow_runs)} over {args.slow:g} s")
    for problem in crashes:
        print(f"CRASH {problem.command} {problem.file} (exit {problem.exit_code})\n{problem.detail}")
    for problem in sorted(slow_runs, key=lambda p: -p.seconds):
        print(f"slow  {problem.command} {problem.file}: {problem.seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"crashes": [asdict(p) for p in crashes],
                                         "slow": [asdict(p) for p in slow_runs]}, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
