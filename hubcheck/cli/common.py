"""What every command shares: resolving REPO, writing output, and turning errors into exit codes."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from hubcheck.errors import ExitCode, HubcheckError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., object])
UNWRAPPED_WIDTH = 10_000
"""The width of a console that is not a terminal: wide enough that no line is wrapped."""

RepoArgument = Annotated[
    str,
    typer.Argument(
        metavar="REPO",
        help="A local directory, GitHub `owner/name[:ref]`, or `git+URL[@REF]`.",
        show_default=True,
    ),
]
ReposArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="REPO",
        help="One or more of: a local directory (or its hubconf.py), GitHub `owner/name[:ref]`, or "
             "`git+URL[@REF]`; default: the current directory. Each gets its own report; the exit code is "
             "the worst.",
        show_default=False,
    ),
]
LINE_FORMATS = frozenset({"text", "table", "github", "markdown"})
"""Formats whose reports can follow one another in one stream; json, sarif and junit are one document each."""
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Fetch git sources again instead of reusing the cached clone.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to FILE (atomically) instead of standard output.",
                 dir_okay=False, writable=True),
]


QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("hubcheck_quiet", default=False)
"""``hubcheck -q``: print problems only. Set by the root callback on every run."""


def quiet() -> bool:
    return QUIET.get()


def console(stderr: bool = False) -> Console:
    """A rich console that, like ruff and pytest, hard-wraps nothing when not writing to a terminal.

    On a terminal lines fit its width; into a pipe or a file a long line (an accept
    command, a path) stays one line that can be pasted or grepped, whatever COLUMNS says
    (CI runners and test runners set it for their own output).
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH, soft_wrap=True)


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
        except Exception as error:
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
    """Resolve REPO; a path to a hubconf.py means the directory holding it, as the pytest plugin reads it."""
    from hubcheck.resolve import resolve

    candidate = Path(spec)
    if candidate.name == "hubconf.py" and candidate.is_file():
        spec = str(candidate.parent)
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


def one_document_per_run(specs: list[str], format_name: str, output: Path | None) -> None:
    """Refuse several REPOs in a format that holds one repo's report per document."""
    if len(specs) > 1 and format_name not in LINE_FORMATS:
        raise UsageError(f"--format {format_name} writes one document per repo: pass one REPO per run "
                         f"(got {len(specs)}), or use a format of lines ({', '.join(sorted(LINE_FORMATS))})")


def per_repo(specs: list[str], check_one: Callable[[str], ExitCode]) -> ExitCode:
    """Run ``check_one`` on every REPO and return the worst exit code.

    With one REPO its errors propagate as usual; with several, a repo that cannot be
    resolved gets its one error line and exit 2, and the others are still checked.
    """
    if len(specs) == 1:
        return check_one(specs[0])
    codes = []
    for spec in specs:
        try:
            codes.append(check_one(spec))
        except HubcheckError as error:
            typer.echo(f"hubcheck: error: {spec}: {error}", err=True)
            codes.append(error.exit_code)
    return worst_exit(codes)


def worst_exit(codes: list[ExitCode]) -> ExitCode:
    """The exit code of a run over several repos: the worst of theirs (2 over 1 over 0)."""
    return max(codes, default=ExitCode.OK)


def split_codes(values: list[str] | None) -> tuple[str, ...]:
    """``--select HUB1,HUB203 --select HUB3`` -> ("HUB1", "HUB203", "HUB3")."""
    codes: list[str] = []
    for value in values or ():
        codes += [part.strip() for part in value.split(",") if part.strip()]
    return tuple(codes)
