"""Results of checking a repo: one representation for the CLI, the plugin and every format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from hubcheck import __version__
from hubcheck.errors import ExitCode
from hubcheck.findings import Finding, FindingSummary
from hubcheck.worker.namespaces import Isolation


class Status(str, enum.Enum):
    """Outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_VERIFIED = "not-verified"
    """The check could not run for want of something only the user can give (an input that fits): neither a
    pass nor a plain skip. It fails a report under ``--strict`` and is counted in every summary line."""


@dataclass(frozen=True)
class CheckResult:
    """One check of one entry point on one device."""

    entrypoint: str | None
    """The entry point, or None for checks of the whole repo (``import``, ``entrypoints``)."""
    check: str
    """``docstring``, ``load``, ``forward``, ``determinism``, ``device-parity``, ``state-dict-roundtrip``, ``reference``..."""
    device: str | None
    """The device it ran on, or None for checks that do not depend on one."""
    status: Status
    message: str
    """Why it failed or was skipped, or what passed (parameter count, tolerance used)."""
    duration_s: float = 0.0
    line: int | None = None
    """Line of the entry point in hubconf.py, where reports and pytest point."""
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    """Structured extras for machine readers (e.g. a reference mismatch's numbers)."""

    @property
    def id(self) -> str:
        """``entrypoint::check[device]``, the id the pytest plugin uses too."""
        head = f"{self.entrypoint}::{self.check}" if self.entrypoint is not None else self.check
        return f"{head}[{self.device}]" if self.device else head

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entrypoint": self.entrypoint,
            "check": self.check,
            "device": self.device,
            "status": self.status.value,
            "message": self.message,
            "duration_s": round(self.duration_s, 4),
        }
        if self.details:
            data["details"] = self.details
        return data


@dataclass(frozen=True)
class CheckSummary:
    passed: int
    failed: int
    skipped: int
    not_verified: int = 0

    @classmethod
    def of(cls, checks: tuple[CheckResult, ...]) -> CheckSummary:
        return cls(
            passed=sum(c.status is Status.PASSED for c in checks),
            failed=sum(c.status is Status.FAILED for c in checks),
            skipped=sum(c.status is Status.SKIPPED for c in checks),
            not_verified=sum(c.status is Status.NOT_VERIFIED for c in checks),
        )

    @property
    def counts(self) -> str:
        """``3 passed, 0 failed, 2 skipped``, and ``, 1 not verified`` whenever any check was not verified."""
        text = f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        return text + (f", {self.not_verified} not verified" if self.not_verified else "")

    def to_json(self) -> dict[str, int]:
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                "not_verified": self.not_verified}


@dataclass(frozen=True)
class Environment:
    """Where the entry points ran."""

    python: str
    torch: str | None
    devices: tuple[str, ...]
    """Devices present in the worker (``cpu``, ``cuda:0``...)."""
    executable: str | None = None
    isolation: Isolation | None = None
    """What confined repo code (network namespace or audit hook), as the worker reported it."""

    def to_json(self) -> dict[str, Any]:
        return {"python": self.python, "torch": self.torch, "devices": list(self.devices),
                "executable": self.executable,
                "isolation": self.isolation.to_json() if self.isolation is not None else None}


@dataclass(frozen=True)
class Report:
    """Everything one ``lint`` or ``validate`` run found about one repo."""

    command: str
    """``lint`` or ``validate``."""
    repo: dict[str, Any]
    """The resolved repo as JSON (spec, kind, path, url, ref, commit)."""
    findings: tuple[Finding, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    environment: Environment | None = None
    hubcheck_version: str = __version__
    strict: bool = False
    """``--strict``: checks that were not verified fail the report too (by default they are only counted)."""

    @property
    def findings_only(self) -> bool:
        """``lint`` and ``diff``: reports of findings alone, which no format gives check counts."""
        return self.command in ("lint", "diff")

    @property
    def finding_summary(self) -> FindingSummary:
        return FindingSummary.of(self.findings)

    @property
    def check_summary(self) -> CheckSummary:
        return CheckSummary.of(self.checks)

    @property
    def failing_findings(self) -> tuple[Finding, ...]:
        """The findings that fail the report: warnings and errors (info findings never do)."""
        return tuple(f for f in self.findings if f.severity.fails)

    def fails(self, check: CheckResult) -> bool:
        """Whether ``check`` fails the report: it failed, or it was not verified under :attr:`strict`."""
        return check.status is Status.FAILED or (self.strict and check.status is Status.NOT_VERIFIED)

    @property
    def failed(self) -> bool:
        """The one policy every command, formatter and the pytest plugin read: a report fails when a check
        failed (or, under :attr:`strict`, was not verified) or lint found a warning or an error, for ``lint``
        and ``validate`` alike."""
        return any(self.fails(check) for check in self.checks) or bool(self.failing_findings)

    @property
    def exit_code(self) -> ExitCode:
        """1 when the report :attr:`failed`, else 0."""
        return ExitCode.PROBLEMS if self.failed else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "hubcheck_version": self.hubcheck_version,
            "command": self.command,
            "repo": self.repo,
        }
        if self.environment is not None:
            data["environment"] = self.environment.to_json()
        data["findings"] = [f.to_json() for f in self.findings]
        if self.findings_only:
            data["summary"] = self.finding_summary.to_json()
        else:
            data["checks"] = [c.to_json() for c in self.checks]
            data["summary"] = {**self.check_summary.to_json(), "strict": self.strict,
                               "findings": self.finding_summary.to_json()}
        return data
