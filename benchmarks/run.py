"""Measure hubcheck against what users would run instead, side by side, and check the targets.

USAGE
    python benchmarks/run.py [--quick] [--json FILE] [--case NAME ...]

Every figure is a ratio of two commands measured in this run, alternating,
several rounds, median reported (see benchmarks/README.md). The generated repos
are written to a temporary directory, removed at the end. The exit code is 0
whether or not targets are met (CI only checks that the run completes); it is 1
when a case could not be measured at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from cases import CASES, FULL, QUICK, CaseResult, Context
from measure import CommandFailed, machine


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small repos and 2 rounds: CI's smoke run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results and the machine to FILE")
    parser.add_argument("--case", action="append", choices=list(CASES), metavar="NAME",
                        help=f"run only this case; repeatable ({', '.join(CASES)})")
    return parser.parse_args(argv)


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} MB" if unit == "MB" else f"{value:.3f} s"


def format_table(results: list[CaseResult]) -> str:
    """The results as a plain-text table, then the notes."""
    header = ("case", "hubcheck", "baseline", "ratio", "target", "result")
    rows = [header] + [
        (r.case, _figure(r.hubcheck, r.unit), _figure(r.baseline, r.unit),
         "-" if r.ratio is None else f"{r.ratio:.3f}x", r.target_text, r.status)
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for result in results:
        lines += [f"{result.case}: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _compile_hubcheck() -> None:
    """Fresh bytecode for hubcheck's modules, as ``pip install`` leaves for users.

    torch's bytecode was compiled when it was installed; a checkout's may be stale or
    missing, and with PYTHONDONTWRITEBYTECODE set (as it is on some machines) every
    hubcheck command would then compile its modules again, which is not what users pay.
    """
    import compileall

    import hubcheck

    compileall.compile_dir(str(Path(hubcheck.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    settings = QUICK if args.quick else FULL
    names = args.case or list(CASES)
    started = time.perf_counter()
    _compile_hubcheck()
    where = machine()
    print(f"hubcheck benchmarks ({'quick' if args.quick else 'full'}, {settings.rounds} rounds) on "
          f"{where['cpu']}, {where['cores']} cores, Python {where['python']}, torch {where['torch']}", flush=True)
    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="hubcheck-bench-") as workdir:
        # Every hubcheck command keeps its cache in here, never in the user's; cold cases empty their own.
        os.environ["HUBCHECK_CACHE"] = str(Path(workdir) / "hubcheck-cache")
        context = Context(settings, Path(workdir))
        for name in names:
            case_started = time.perf_counter()
            try:
                result = CASES[name](context)
            except Exception as error:  # noqa: BLE001 - one broken case must not hide the others
                result = CaseResult(name, "s", 0.0, "-", "-", "-", status="ERROR",
                                    notes=[f"{type(error).__name__}: {error}".strip()])
                if not isinstance(error, CommandFailed):
                    result.notes.append(traceback.format_exc(limit=3))
            print(f"  {result.case}: {result.status} ({time.perf_counter() - case_started:.0f} s)", flush=True)
            results.append(result)
    wall = time.perf_counter() - started
    where["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print()
    print(format_table(results), end="")
    print(f"total wall time {wall:.0f} s")
    if args.json:
        payload = {"mode": "quick" if args.quick else "full", "rounds": settings.rounds, "machine": where,
                   "wall_s": round(wall, 1), "cases": [r.to_json() for r in results]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if any(r.status == "ERROR" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
