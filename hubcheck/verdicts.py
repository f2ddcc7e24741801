"""Turn what an entry point's process reported, and what the judge decided, into check results.

The process that ran repo code reports facts and the checks it ended, failed
or skipped; it cannot pass a check. Here hubcheck decides the checks it can
decide from facts (docstring, load), takes the judge's verdict for the ones
that compare outputs, and fails every check that something unexpected arrived
for: a message that does not decode, a fact out of place, anything after the
process said it finished. A process that ended before reporting every check
fails the check it was in (or the next one) with its exit status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubcheck.model_checks import IDS as MODEL_CHECK_IDS
from hubcheck.results import CheckResult, Status
from hubcheck.sandbox import JobRun
from hubcheck.worker.protocol import (
    ROLES,
    Began,
    Docstring,
    Ended,
    Errored,
    Failed,
    Finished,
    Loaded,
    Outputs,
    ProtocolError,
    Recorded,
    Skipped,
    Verdict,
)

JUDGED_CHECKS = frozenset({"forward", "determinism", "state-dict-roundtrip", "reference", "device-parity", "record",
                           *MODEL_CHECK_IDS})
"""Checks whose verdict only the judge gives: a fork that never ran repo code compares their outputs."""

NOT_VERIFIABLE_CHECKS = frozenset({"forward"})
"""Checks that may end not verified: forward, when no input fits or none can be inferred."""

Key = tuple[str, "str | None"]


def check_id(check: str | None, device: str | None) -> str:
    if not check:
        return ""
    return f"{check}[{device}]" if device else check


@dataclass
class ChildReport:
    """What the process that ran repo code said, sorted by check."""

    expected: list[Key]
    devices: tuple[str, ...]
    results: dict[Key, tuple[Status, str, float]] = field(default_factory=dict)
    """Checks it failed or skipped."""
    problems: dict[Key, list[str]] = field(default_factory=dict)
    """What arrived that should not have, by the check it arrived during."""
    ended: dict[Key, Ended] = field(default_factory=dict)
    outputs: list[Outputs] = field(default_factory=list)
    docstring: Docstring | None = None
    loaded: dict[str, Loaded] = field(default_factory=dict)
    current: Key | None = None
    """The check in progress (began, not yet ended, failed or skipped)."""
    last: Key | None = None
    """The last check that began."""

    def next_key(self) -> Key | None:
        """The check in progress, else the first one nothing was said about."""
        if self.current is not None:
            return self.current
        return next((k for k in self.expected if k not in self.results and k not in self.ended), self.last)

    def problem(self, text: str) -> None:
        key = self.next_key() or (self.expected[0] if self.expected else ("load", None))
        self.problems.setdefault(key, []).append(text)

    def reported(self, key: Key) -> bool:
        return key in self.results or key in self.ended or key in self.problems


def read_child(run: JobRun, expected: list[Key], devices: tuple[str, ...]) -> ChildReport:
    """Sort the process's messages by check, noting each one that is out of place."""
    report = ChildReport(expected, devices)
    finished = False
    for message in run.messages:
        if finished:
            report.problem(f"a message after the process said it finished: {_describe(message)}")
            continue
        if isinstance(message, ProtocolError):
            report.problem(str(message))
        elif isinstance(message, Finished):
            if report.current is not None:
                report.problem(f"a 'finished' message during {check_id(*report.current)}")
            finished = True
        elif isinstance(message, Began):
            key = (message.check, message.device)
            if key not in expected or report.reported(key):
                report.problem(f"an unexpected start of {check_id(*key)}")
            else:
                report.current = report.last = key
        elif isinstance(message, Docstring):
            if report.current != ("docstring", None):
                report.problem("a docstring outside the docstring check")
            else:
                report.docstring = message
        elif isinstance(message, Loaded):
            if report.current != ("load", message.device):
                report.problem(f"a loaded model outside load[{message.device}]")
            else:
                report.loaded[message.device] = message
        elif isinstance(message, Outputs):
            if message.role not in ROLES or (message.device not in devices and message.role != "baseline"):
                report.problem(f"outputs of an unknown kind ({message.role!r} on {message.device!r})")
            else:
                report.outputs.append(message)
        elif isinstance(message, Ended | Failed | Skipped):
            key = (message.check, message.device)
            if key not in expected or (report.reported(key) and key != report.current):
                report.problem(f"an unexpected end of {check_id(*key)}")
                continue
            if isinstance(message, Ended):
                if key != report.current:
                    report.problem(f"an end of {check_id(*key)}, which had not started")
                    continue
                report.ended[key] = message
            elif isinstance(message, Failed):
                report.results[key] = (Status.FAILED, message.message, message.duration_s)
            elif message.not_verified and key[0] in NOT_VERIFIABLE_CHECKS:
                report.results[key] = (Status.NOT_VERIFIED, message.reason, message.duration_s)
            elif message.not_verified:
                report.problem(f"a 'not verified' {check_id(*key)}, which only forward can be")
                continue
            else:
                report.results[key] = (Status.SKIPPED, message.reason, message.duration_s)
            if key == report.current:
                report.current = None
        elif isinstance(message, Errored):
            errored = report.next_key()
            if errored is not None:
                report.results[errored] = (Status.FAILED, message.message, 0.0)
                report.current = None
    return report


def _describe(message: object) -> str:
    if isinstance(message, ProtocolError):
        return str(message)
    return f"a {getattr(type(message), 'TAG', type(message).__name__)!r} message"


@dataclass(frozen=True)
class JudgeReport:
    verdicts: dict[Key, Verdict]
    recorded: Recorded | None
    failure: str | None
    """Why the judge gave no verdict for some check (it crashed, broke the protocol), or None."""


def read_judge(run: JobRun) -> JudgeReport:
    verdicts: dict[Key, Verdict] = {}
    recorded = None
    failure = None if run.finished else run.death
    for message in run.messages:
        if isinstance(message, Verdict):
            verdicts[(message.check, message.device)] = message
        elif isinstance(message, Recorded):
            recorded = message
        elif isinstance(message, Errored):
            failure = f"the judge failed: {message.message}"
        elif isinstance(message, ProtocolError):
            failure = f"the judge sent {message}"
    return JudgeReport(verdicts, recorded, failure)


def decide(
    name: str,
    report: ChildReport,
    judged: JudgeReport,
    child: JobRun,
    timeout: float,
    line: int | None,
) -> list[CheckResult]:
    """Every expected check's result: the process's failures and skips, hubcheck's and the judge's verdicts."""
    results: dict[Key, CheckResult] = {}

    def put(key: Key, status: Status, message: str, duration: float = 0.0, details: dict | None = None) -> None:
        results[key] = CheckResult(name, key[0], key[1], status, message, duration, line, details or {})

    for key, texts in report.problems.items():
        more = f" (and {len(texts) - 1} more)" if len(texts) > 1 else ""
        put(key, Status.FAILED, f"the worker sent {texts[0]}{more}")
    for key, (status, message, duration) in report.results.items():
        if key not in results:
            put(key, status, message, duration)
    for key, ended in report.ended.items():
        if key in results:
            continue
        check, device = key
        if check == "docstring":
            put(key, *_docstring_verdict(report.docstring), ended.duration_s)
        elif check == "load":
            loaded = report.loaded.get(device or "")
            if loaded is None:
                put(key, Status.FAILED, "the worker ended load without reporting a model", ended.duration_s)
            else:
                put(key, Status.PASSED, loaded.summary, ended.duration_s)
        elif key in judged.verdicts:
            verdict = judged.verdicts[key]
            put(key, Status(verdict.status), verdict.message, verdict.duration_s, verdict.details)
        else:
            put(key, Status.FAILED, f"no verdict: {judged.failure or 'the judge did not decide it'}", ended.duration_s)
    if not child.finished:
        where_key = report.current or next((k for k in report.expected if k not in results), None)
        where = check_id(*where_key) if where_key else ""
        if child.timed_out:
            message = f"timed out after {timeout:g} s" + (f" during {where}" if where else "")
            prefix = "timed out"
        else:
            message = child.death + (f" during {where}" if where else "")
            prefix = child.death
        if where_key is not None and where_key not in results:
            put(where_key, Status.FAILED, with_output(message, child.output))
        rest = f"not run: {prefix} during {where}" if where else f"not run: {prefix}"
        for key in report.expected:
            if key not in results:
                put(key, Status.SKIPPED, rest)
    for key in report.expected:
        if key not in results:
            put(key, Status.FAILED, "the worker finished without reporting this check")
    return [results[key] for key in report.expected]


def _docstring_verdict(fact: Docstring | None) -> tuple[Status, str]:
    if fact is None:
        return Status.FAILED, "the worker ended the docstring check without reporting the docstring"
    if fact.generic_partial:
        return Status.FAILED, "torch.hub.help returns functools.partial's generic docstring; set the partial's __doc__"
    if fact.doc is None or not fact.doc.strip():
        return Status.FAILED, "torch.hub.help returns None: the entry point has no docstring"
    return Status.PASSED, f"docstring: {fact.doc.strip().splitlines()[0][:100]}"


def with_output(message: str, tail: str) -> str:
    if not tail:
        return message
    last = [line for line in tail.splitlines() if line.strip()][-6:]
    return message + "; last output:\n" + "\n".join(last)
