"""What every command shares: resolving REPO, writing output, and turning errors into exit codes."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from hubcheck.errors import ExitCode, HubcheckError, UsageError

F = TypeVar("F", bound=Callable[..., object])

RepoArgument = Annotated[
    str,
    typer.Argument(
        metavar="REPO",
        help="A local directory, GitHub `owner/name[:ref]`, or `git+URL[@REF]`.",
        show_default=True,
    ),
]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Fetch git sources again instead of reusing the cached clone.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to FILE (atomically) instead of standard output.",
                 dir_okay=False, writable=True),
]


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    typer.echo(f"hubcheck: error: {message}", err=True)
    return typer.Exit(int(code))


def handles_errors(command: F) -> F:
    """Turn user errors into one line and a documented exit code; never show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with _terminate_as_interrupt():
                return command(*args, **kwargs)
        except typer.Exit:
            raise
        except HubcheckError as error:
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("hubcheck: interrupted", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:
            # Output piped into `head` and closed early: not an error worth a message.
            sys.stderr.close()
            raise typer.Exit(int(ExitCode.OK)) from None
        except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("HUBCHECK_DEBUG"):
                raise
            raise fail(
                f"internal error: {type(error).__name__}: {error} (a bug in hubcheck; "
                "rerun with HUBCHECK_DEBUG=1 for the traceback and report it)",
                ExitCode.INTERNAL,
            ) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a cancelled CI job, `timeout`) unwinds like Ctrl-C, so workers are stopped on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_repo(spec: str, refresh: bool):
    from hubcheck.resolve import resolve

    return resolve(spec, refresh=refresh)


def path_prefix(repo_path: Path) -> str:
    """How to print paths inside the repo: relative to the working directory when possible."""
    try:
        relative = repo_path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return f"{repo_path}/"
    return "" if str(relative) == "." else f"{relative.as_posix()}/"


def emit(text: str, output: Path | None) -> None:
    """Write a report to ``output`` atomically, or to standard output."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from hubcheck.fileio import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror or error}") from None


def split_codes(values: list[str] | None) -> tuple[str, ...]:
    """``--select HUB1,HUB203 --select HUB3`` -> ("HUB1", "HUB203", "HUB3")."""
    codes: list[str] = []
    for value in values or ():
        codes += [part.strip() for part in value.split(",") if part.strip()]
    return tuple(codes)
