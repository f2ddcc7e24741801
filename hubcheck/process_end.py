"""Ending a one-command process without freeing what it built.

A lint of a timm-sized repo holds millions of syntax-tree nodes; freeing them one by
one, and then tearing the interpreter down, costs a tenth of a second or more after
the answer is printed. The ``hubcheck`` command runs one command and exits, so it
declares that (:func:`process_ends_after_command`); code that built something large
then hands it to :func:`keep_until_exit` instead of dropping it, and the command ends
with :func:`exit_without_teardown`: the exit handlers still run (temporary
directories are removed, logs flushed), the standard streams are flushed, and the
heap is left to the operating system, as mypy does. Library callers (the Python API,
the pytest plugin, tests calling the CLI in their own process) never declare it, so
for them everything is freed as usual.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from dataclasses import dataclass
from typing import NoReturn


@dataclass
class _ThisProcess:
    ends_after_command: bool = False
    kept: object | None = None
    """The last value kept: only the last is worth not freeing (``hubcheck index`` lints repo after repo in one
    process, and keeping every model would grow its memory with each)."""


_THIS_PROCESS = _ThisProcess()


def process_ends_after_command() -> None:
    """Declare that this process exits once the current command returns (the console script only)."""
    _THIS_PROCESS.ends_after_command = True


def keep_until_exit(value: object) -> None:
    """Keep ``value`` alive until the process ends, when it is about to end; else do nothing (it is freed).

    The value kept before it is let go (freed now, as usual). Everything the cyclic collector tracks is
    frozen with it, so that later collections do not walk it.
    """
    if _THIS_PROCESS.ends_after_command:
        if _THIS_PROCESS.kept is not None:
            gc.unfreeze()  # what the earlier freeze held (cycles among it included) can be collected again
        _THIS_PROCESS.kept = value
        gc.freeze()


def worth_skipping_teardown() -> bool:
    """Whether something was kept, and no profiler or tracer is watching: ``python -m cProfile -m hubcheck``
    writes its statistics after the command returns, which a skipped teardown would lose."""
    return _THIS_PROCESS.kept is not None and sys.getprofile() is None and sys.gettrace() is None


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with ``code`` after the exit handlers and a flush of stdout and stderr, freeing nothing."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, or a stream the command closed
            stream.flush()
    os._exit(code)
