"""How the benchmarks measure: whole commands as subprocesses, alternating, median of several rounds.

A shared two-core machine makes every absolute time noise; what survives is the
ratio of two commands measured in the same run, interleaved so that a burst of
load from elsewhere hits both sides alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BENCHMARKS_DIR = Path(__file__).resolve().parent
_STDERR_TAIL = 2000


class CommandFailed(Exception):
    """A measured command exited with an unexpected code; the message carries its stderr."""


@dataclass(frozen=True)
class Command:
    """One side of a comparison: an argv, where to run it, and which exit codes are normal."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    env: dict[str, str] | None = None
    """Variables added to this process's environment."""
    ok_codes: tuple[int, ...] = (0,)
    emptied: Path | None = None
    """A directory removed before every run, untimed: hubcheck's cache, for a cold run."""

    def run(self) -> subprocess.CompletedProcess:
        environment = {**os.environ, **(self.env or {})}
        completed = subprocess.run(
            self.argv, cwd=self.cwd, env=environment, stdin=subprocess.DEVNULL,
            capture_output=True, text=True,
        )
        if completed.returncode not in self.ok_codes:
            raise CommandFailed(
                f"{' '.join(self.argv)} exited with {completed.returncode}:\n"
                f"{(completed.stderr or completed.stdout)[-_STDERR_TAIL:]}"
            )
        return completed

    def wall_time(self) -> float:
        """Seconds from start to exit, as the user waits for it."""
        return self.timed()[0]

    def timed(self) -> tuple[float, float]:
        """``(wall seconds, CPU seconds)``: the CPU time (user + system) of the command and every
        process it waited for, which tells "did more work" from "waited for a busy machine"."""
        if self.emptied is not None:
            shutil.rmtree(self.emptied, ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        self.run()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def hubcheck_command(*args: str) -> tuple[str, ...]:
    """``hubcheck ARGS``: the console script next to this interpreter, as users run it."""
    script = Path(sys.executable).parent / "hubcheck"
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script), *args)
    return (sys.executable, "-m", "hubcheck", *args)


def alternate(first: Callable[[], T], second: Callable[[], T], rounds: int, warmup: bool = True) -> tuple[list[T], list[T]]:
    """Run ``first`` then ``second`` in each round; one unrecorded warm-up of each fills the page cache."""
    if warmup:
        first()
        second()
    firsts, seconds = [], []
    for _ in range(rounds):
        firsts.append(first())
        seconds.append(second())
    return firsts, seconds


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def peak_rss_mb(command: Command) -> float:
    """Peak resident memory of ``command`` and every process it waited for, in MB (``peak_rss.py``)."""
    driver = Command((sys.executable, str(BENCHMARKS_DIR / "peak_rss.py"), *command.argv),
                     cwd=command.cwd, env=command.env, ok_codes=command.ok_codes)
    completed = driver.run()
    return int(completed.stdout.strip().splitlines()[-1]) / 1024


def machine() -> dict[str, object]:
    """Where the figures came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    torch_version = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True,
    ).stdout.strip() or None
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch_version,
        "load_average_at_start": load,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
