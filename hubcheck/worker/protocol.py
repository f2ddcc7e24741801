"""Messages between hubcheck, its fork server and the processes it forks: typed, as JSON lines.

One definition serves both sides. hubcheck sends jobs (:class:`ImportJob`,
:class:`RunJob`, :class:`JudgeJob`, :class:`Exit`) to the fork server; the
server answers :class:`Hello` once, then :class:`Started`, :class:`ChildData`
and :class:`Exited` for every process it forks. What a forked process writes
reaches hubcheck only as :class:`ChildData` bytes, which hubcheck decodes
itself with :func:`decode` against the message types that process may send:

- the process that runs repo code (an import or an entry point) reports facts
  (:class:`Imported`, :class:`Docstring`, :class:`Loaded`, :class:`Outputs`)
  and the checks it ended, failed or skipped, never that a check passed;
- the judge, a fork that never imported repo code, reads the outputs and
  sends the :class:`Verdict` of every check that compares them.

A line that is not one of the allowed messages, with every field of the right
type, raises :class:`ProtocolError` naming what arrived.

The repo's code owns the worker's stdout and stderr (it may print megabytes,
or nothing useful), so messages travel on dedicated pipes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, ClassVar

# Largest message accepted; a reference mismatch summary is a few KB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# How much of a rejected message an error quotes.
_PREVIEW_CHARS = 120
STATUSES = ("passed", "failed", "skipped")


class ProtocolError(ValueError):
    """A message that is not what the protocol allows; the text names what arrived."""


# -- hubcheck -> fork server ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReferenceInfo:
    """Where an entry point's reference lives and what to say when it is missing."""

    path: str
    display_path: str
    exists: bool
    missing_message: str
    missing_fails: bool
    update_command: str
    """`hubcheck record ... --update`, carrying the run's flags; the judge adds the failing device's."""
    record_command: str = ""
    """The `hubcheck record` command that ``missing_message`` quotes (the judge adds ``--size-limit`` when needed)."""
    size_limit: int = 0
    """``record``'s limit on the outputs' bytes; 0 when unknown."""


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """What ``hubcheck record`` asks of one entry point."""

    device: str
    case: str
    existing: str | None
    """The reference it would replace, to tell "unchanged" apart; None when there is none."""


@dataclasses.dataclass(frozen=True)
class ImportJob:
    """Import hubconf the torch.hub way and list (and with ``describe``, describe) its entry points."""

    TAG: ClassVar[str] = "import"
    repo: str
    cwd: str
    """A fresh, empty working directory for the forked process."""
    describe: bool = True


@dataclasses.dataclass(frozen=True)
class RunJob:
    """Every check of one entry point on the given devices (or, with ``record``, its recording)."""

    TAG: ClassVar[str] = "run"
    repo: str
    entrypoint: str
    config: dict[str, Any]
    """The entry point's validated hubcheck.toml settings (kwargs, inputs, method, seed, tolerance)."""
    devices: tuple[str, ...]
    checks: tuple[str, ...]
    cwd: str
    data_dir: str
    """Where outputs are written for the judge; file names come from the device and role, never from repo data."""
    reference: ReferenceInfo | None = None
    keep_obtained: str | None = None
    record: RecordSpec | None = None
    commit: str | None = None

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))


@dataclasses.dataclass(frozen=True)
class Exit:
    """Stop the fork server."""

    TAG: ClassVar[str] = "exit"


# -- fork server -> hubcheck -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hello:
    """The fork server is ready: the interpreter, torch and the devices a probe found."""

    TAG: ClassVar[str] = "hello"
    python: str
    torch: str
    devices: tuple[str, ...]
    executable: str
    pid: int
    isolation: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Fatal:
    """The fork server cannot start (torch missing in a ``--python`` interpreter...)."""

    TAG: ClassVar[str] = "fatal"
    message: str


@dataclasses.dataclass(frozen=True)
class Started:
    """A job's process was forked."""

    TAG: ClassVar[str] = "started"
    pid: int


@dataclasses.dataclass(frozen=True)
class ChildData:
    """Bytes the forked process wrote on its message pipe (base64), relayed unread."""

    TAG: ClassVar[str] = "data"
    base64: str


@dataclasses.dataclass(frozen=True)
class Exited:
    """The forked process ended: its exit code, or minus the signal that killed it."""

    TAG: ClassVar[str] = "exited"
    returncode: int


# -- the process that runs repo code -> hubcheck -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EntryDescription:
    """What ``hubcheck list --dynamic`` shows for one entry point."""

    name: str
    kind: str
    signature: str | None
    doc: str | None
    generic_doc: bool
    line: int | None


@dataclasses.dataclass(frozen=True)
class Imported:
    TAG: ClassVar[str] = "imported"
    names: tuple[str, ...]
    entries: tuple[EntryDescription, ...]
    dependency_error: str | None


@dataclasses.dataclass(frozen=True)
class Began:
    """A check started: a crash from now on is this check's."""

    TAG: ClassVar[str] = "began"
    check: str
    device: str | None


@dataclasses.dataclass(frozen=True)
class Docstring:
    """What ``torch.hub.help`` would return; hubcheck decides whether it passes."""

    TAG: ClassVar[str] = "docstring"
    doc: str | None
    generic_partial: bool
    """A functools.partial that carries partial's own docstring."""


@dataclasses.dataclass(frozen=True)
class Loaded:
    """The entry point returned a model on ``device``; ``summary`` says what it is."""

    TAG: ClassVar[str] = "loaded"
    device: str
    summary: str


MODEL_CHECK_ROLES = (
    "backward-grads", "backward-before", "backward-after", "batch", "batch-rows", "torchscript", "compile", "export",
    "dtype", "channels-last", "co-load", "co-load-other", "threads-1", "threads-n",
)
"""What the model checks (:mod:`.model_checks`) write: gradient summaries and train-mode outputs before and after
a step, a batch and its rows alone, the outputs of each compiled, converted or reconfigured model, the repo's and
the other repo's outputs after loading both, outputs with one thread and with several."""
ROLES = ("forward", "repeat", "reload", "state-dict", "reference", "baseline", "record", *MODEL_CHECK_ROLES)
"""What one outputs file holds: the first forward, a second forward of the same model, the forward of
a second load, of a fresh instance given the state dict, on the reference's inputs, the CPU baseline
for device parity, what ``record`` stores."""


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Inputs and outputs of one forward are in the job's data directory, under ``device`` and ``role``."""

    TAG: ClassVar[str] = "outputs"
    device: str
    role: str
    misplaced: tuple[str, ...] = ()
    """Output tensors that were not on ``device``."""
    note: str = ""
    """How the inputs were made (inferred from the first layer...) or what was built, for the message."""
    input_specs: tuple[dict[str, Any], ...] | None = None
    """Inferred input specs, which ``record`` stores."""


@dataclasses.dataclass(frozen=True)
class Ended:
    """A check's work finished without failing; its verdict is hubcheck's or the judge's."""

    TAG: ClassVar[str] = "ended"
    check: str
    device: str | None
    duration_s: float


@dataclasses.dataclass(frozen=True)
class Failed:
    TAG: ClassVar[str] = "failed"
    check: str
    device: str | None
    message: str
    duration_s: float


@dataclasses.dataclass(frozen=True)
class Skipped:
    TAG: ClassVar[str] = "skipped"
    check: str
    device: str | None
    reason: str
    duration_s: float = 0.0
    not_verified: bool = False
    """Forward could not run for want of an input that fits (hubcheck reports it as not verified)."""


@dataclasses.dataclass(frozen=True)
class Errored:
    """The job raised outside any check (hubconf failed to import...)."""

    TAG: ClassVar[str] = "error"
    message: str


@dataclasses.dataclass(frozen=True)
class Finished:
    """Everything the job had to report was sent."""

    TAG: ClassVar[str] = "finished"


# -- the judge -> hubcheck ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JudgeJob:
    """Compare what a run wrote, in a fork that never imported repo code."""

    TAG: ClassVar[str] = "judge"
    run: RunJob
    ended: tuple[Ended, ...]
    outputs: tuple[Outputs, ...]
    cwd: str


@dataclasses.dataclass(frozen=True)
class Verdict:
    TAG: ClassVar[str] = "verdict"
    check: str
    device: str | None
    status: str
    message: str
    duration_s: float
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")


@dataclasses.dataclass(frozen=True)
class Recorded:
    """The reference ``record`` asked for is in the data directory as ``record.safetensors``."""

    TAG: ClassVar[str] = "recorded"
    size: int
    sidecar: dict[str, Any]
    output_bytes: int
    """The output tensors' size: what the reference size limit counts (inputs from a seed are not stored)."""
    existing: str = "none"
    """The reference it would replace: ``none``, ``identical``, ``close`` (within the configured tolerance),
    ``differs`` (beyond it), ``inputs-differ`` or ``unusable``; decided by the judge."""
    existing_note: str = ""
    """``max abs diff ...`` for close and differs (with the first difference), the reason for unusable."""


JOBS = (ImportJob, RunJob, JudgeJob, Exit)
SERVER_MESSAGES = (Hello, Fatal, Started, ChildData, Exited)
REPO_MESSAGES = (Imported, Began, Docstring, Loaded, Outputs, Ended, Failed, Skipped, Errored, Finished)
JUDGE_MESSAGES = (Verdict, Recorded, Errored, Finished)


# -- the wire ----------------------------------------------------------------------------------------


def encode(message: Any) -> bytes:
    """One message as a JSON line: its fields and ``"event": TAG``."""
    data = {"event": type(message).TAG, **dataclasses.asdict(message)}
    return (json.dumps(data, default=repr, allow_nan=True) + "\n").encode("utf-8")


def send(fd: int, message: Any) -> None:
    """Write one message; blocks until the reader has room."""
    write_all(fd, encode(message))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def decode(line: bytes, allowed: tuple[type, ...]) -> Any:
    """The message one line holds, of one of the ``allowed`` types.

    Raises:
        ProtocolError: not JSON, not an object, no or an unknown ``event``, a missing, unknown or
            mistyped field, or a value the message refuses (an unknown status).
    """
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError(f"a line that is not JSON: {preview(line)}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"a JSON {_kind(value)} instead of a message: {preview(line)}")
    tag = value.pop("event", None)
    if tag is None:
        raise ProtocolError(f"a message without an event: {preview(line)}")
    kinds = {getattr(kind, "TAG", kind.__name__): kind for kind in allowed}
    if not isinstance(tag, str) or tag not in kinds:
        raise ProtocolError(f"an unexpected {tag!r} message: {preview(line)}")
    try:
        return _build(kinds[tag], value, tag)
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"a malformed {tag!r} message ({error}): {preview(line)}") from None


def preview(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return repr(text[:_PREVIEW_CHARS] + ("..." if len(text) > _PREVIEW_CHARS else ""))


def _kind(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


_HINTS: dict[type, dict[str, Any]] = {}


def _build(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{where} is a {type(data).__name__}, not an object")
    hints = _HINTS.get(kind)
    if hints is None:
        hints = _HINTS[kind] = typing.get_type_hints(kind)
    fields = {field.name: field for field in dataclasses.fields(kind)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise TypeError(f"unknown field {unknown[0]!r}")
    values = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise TypeError(f"no {name!r}")
            continue
        values[name] = _convert(hints[name], data[name], name)
    return kind(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (option,) = [o for o in options if o is not type(None)]
        return _convert(option, value, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"{where} is not a list")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where} is not an object")
        item = typing.get_args(hint)[1]
        return {k: _convert(item, v, where) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise TypeError(f"{where} is not a {hint.__name__}")
    return value


class LineReader:
    """Reads messages from a file descriptor of a trusted side, one line at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def read(self, allowed: tuple[type, ...]) -> Any:
        """The next message, or None at end of file."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return decode(line, allowed)
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                start = preview(bytes(self._buffer[:200]))
                raise ProtocolError(f"a message of more than {MAX_MESSAGE_BYTES // 2**20} MiB: {start}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk


class LineSplitter:
    """Splits relayed bytes into lines, refusing lines longer than MAX_MESSAGE_BYTES."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | ProtocolError]:
        """The complete lines ``data`` finishes, and an error for each oversize one."""
        self._buffer += data
        found: list[bytes | ProtocolError] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                break
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._skipping:
                self._skipping = False
            else:
                found.append(line)
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            if not self._skipping:
                found.append(ProtocolError(
                    f"a message of more than {MAX_MESSAGE_BYTES // 2**20} MiB: {preview(bytes(self._buffer[:200]))}"))
            self._buffer.clear()
            self._skipping = True
        return found

    def rest(self) -> bytes:
        """Bytes after the last newline (a message cut short)."""
        return b"" if self._skipping else bytes(self._buffer)
