"""Errors that reach users, and the exit codes that go with them.

Every error a user can cause (a bad spec, a missing path, a broken config)
is a :class:`HubcheckError` whose message is one line saying what to do next.
The CLI prints that line and exits with the error's code; anything else that
escapes is a bug in hubcheck and is reported as such, without a traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The documented exit codes of every hubcheck command."""

    OK = 0
    """Nothing failed (skipped checks and info findings are fine)."""
    PROBLEMS = 1
    """A check failed, or lint reported a warning or an error."""
    USAGE = 2
    """Bad command line, bad configuration, or a repo that could not be resolved."""
    INTERNAL = 3
    """A bug in hubcheck itself; the message says how to report it."""
    INTERRUPTED = 130
    """Interrupted by the user (Ctrl-C)."""


class HubcheckError(Exception):
    """An error caused by the user's input, reported as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(HubcheckError):
    """The command line asks for something that cannot be done."""


class ResolutionError(HubcheckError):
    """REPO could not be turned into a directory holding a hub repo."""


class ConfigError(HubcheckError):
    """hubcheck.toml or [tool.hubcheck] is invalid; the message names file and key."""


class MissingDependencyError(HubcheckError):
    """A command needs an optional dependency (torch, safetensors) that is not installed."""


class RepoCodeFailed(HubcheckError):
    """The repo's own code failed where a command needs it to run (importing hubconf for record or list --dynamic)."""

    exit_code = ExitCode.PROBLEMS
