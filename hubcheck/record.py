"""``hubcheck record``: write reference outputs, atomically, never replacing one unless asked."""

from __future__ import annotations

import contextlib
import enum
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hubcheck.errors import RepoCodeFailed
from hubcheck.fileio import (
    atomic_write_text,
    create_locked_temporary,
    link_new,
    remove_stale_temporaries,
)
from hubcheck.resolve import ResolvedRepo
from hubcheck.validate import ValidateOptions, ValidationSession
from hubcheck.worker.references import (
    ReferencePathRefused,
    ReferenceUnusable,
    read_reference,
    same_reference,
    size_limit_for,
)


class RecordStatus(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"
    """Exists and --new-only asked not to touch it."""
    REFUSED = "refused"
    """Differs from the existing reference and --update was not given."""
    SKIPPED = "skipped"
    """The entry point can have no reference (its name is no Python identifier)."""
    FAILED = "failed"

    @property
    def fails(self) -> bool:
        return self in (RecordStatus.REFUSED, RecordStatus.FAILED)


@dataclass(frozen=True)
class RecordOutcome:
    """What ``record`` did for one entry point."""

    entrypoint: str
    path: Path | None
    """The reference file; None when the entry point can have none."""
    status: RecordStatus
    message: str


def record_references(
    repo: ResolvedRepo,
    options: ValidateOptions,
    *,
    device: str = "cpu",
    update: bool = False,
    new_only: bool = False,
    size_limit: int | None = None,
    on_outcome: Callable[[RecordOutcome], None] | None = None,
    session: ValidationSession | None = None,
) -> list[RecordOutcome]:
    """Record the reference of every selected entry point.

    The worker writes each new reference to a temporary file beside the target,
    which is then linked into place exclusively when the reference is new, or
    renamed over it when it differs and ``update`` is set: an interrupted run
    leaves the previous reference intact, and a concurrent run never replaces
    one without ``update``. A failed record leaves no file or directory behind.
    A caller that holds a :class:`ValidationSession` for the repo (the pytest
    plugin) passes it to reuse its worker, made with ``writes_repo`` so that the
    repo is not under an overlay; it is left open.
    """
    outcomes: list[RecordOutcome] = []

    def report(outcome: RecordOutcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    owned = session is None
    active = ValidationSession(repo, replace(options, writes_repo=True)) if session is None else session
    with active if owned else contextlib.nullcontext(active):
        environment = active.start()
        outcome = active.import_hubconf()
        if outcome.blocked_reason:
            raise RepoCodeFailed(f"cannot record: {outcome.failures or outcome.blocked_reason}")
        limit = size_limit or active.config.validate.reference_size_limit
        if device not in environment.devices and not (device == "cuda" and any(
                d.startswith("cuda") for d in environment.devices)):
            from hubcheck.errors import UsageError

            raise UsageError(f"--device {device}: not present here (devices: {', '.join(environment.devices)})")
        device = next((d for d in environment.devices if d.startswith("cuda")), device) if device == "cuda" else device
        names = active.selected_entrypoints() if owned else list(options.entrypoints or active.selected_entrypoints())
        request = _Request(device, update, new_only, limit, size_limit)
        for name in names:
            report(_record_one(active, name, request))
    return outcomes


@dataclass(frozen=True)
class _Request:
    """What one ``record`` run asks of every entry point."""

    device: str
    update: bool
    new_only: bool
    limit: int
    size_limit: int | None
    """--size-limit as given; None when the configured limit applies."""

    def flags(self, size_limit: int | None = None) -> tuple[str, ...]:
        """record's own flags of this run, which its suggested commands carry (``size_limit`` replaces the given one)."""
        limit = size_limit or self.size_limit
        return (*(("--size-limit", str(limit)) if limit else ()),
                *(("--device", self.device) if self.device != "cpu" else ()))


def _record_one(session: ValidationSession, name: str, request: _Request) -> RecordOutcome:
    device, update, new_only, limit = request.device, request.update, request.new_only, request.limit
    try:
        target = session.reference_path(name)
    except ReferencePathRefused as refused:
        status = RecordStatus.FAILED if refused.is_fault else RecordStatus.SKIPPED
        return RecordOutcome(name, None, status, f"not recorded: {refused}")
    display = _display(session, target)
    # A link counts, dangling or not: it is never written through.
    exists = os.path.lexists(target)
    if exists and new_only:
        return RecordOutcome(name, target, RecordStatus.KEPT, f"kept {display} (exists; --new-only)")
    skip = session.config.entrypoint(name).skip
    if skip:
        return RecordOutcome(name, target, RecordStatus.KEPT, f"not recorded: skipped by hubcheck.toml: {skip}")
    created: list[Path] = []
    try:
        created = _make_directories(target.parent, session.repo.path)
        session.reference_path(name)  # again, now that the directories exist
        remove_stale_temporaries(target)
        temporary, descriptor = create_locked_temporary(target)
    except ReferencePathRefused as refused:
        _remove_empty(created)
        return RecordOutcome(name, target, RecordStatus.FAILED, f"not recorded: {refused}")
    except OSError as error:
        _remove_empty(created)
        return RecordOutcome(name, target, RecordStatus.FAILED, f"cannot write {display}: {error.strerror or error}")
    published = False
    try:
        result = session.record_entrypoint(name, device, temporary, target if exists else None)
        if "error" in result:
            return RecordOutcome(name, target, RecordStatus.FAILED, f"{name}: {result['error']}")
        size = _written_size(temporary, descriptor)
        if size is None:
            return RecordOutcome(name, target, RecordStatus.FAILED, (
                f"{name}: the worker replaced the temporary file {temporary.name} instead of writing it; nothing recorded"))
        needed = result["output_bytes"]
        if needed > limit:
            command = session.command("record", *request.flags(size_limit_for(needed)), entrypoint=name)
            return RecordOutcome(name, target, RecordStatus.FAILED, (
                f"{name}: its outputs are {needed:,} bytes, over the reference size limit of {limit:,}: use smaller "
                f"example inputs, or raise the limit (`{command}`, or [validate] reference_size_limit)"))
        existing, note = result["existing"], result["existing_note"]
        if existing == "identical":
            return RecordOutcome(name, target, RecordStatus.UNCHANGED, f"unchanged {display}")
        if existing == "close" and not update:
            return RecordOutcome(name, target, RecordStatus.UNCHANGED, f"unchanged {display} (within tolerance: {note})")
        if exists and not update:
            return _refused(session, name, target, display, request, _why_refused(existing, note))
        status = _publish(temporary, target, overwrite=exists, size=size)
        if status is RecordStatus.REFUSED:
            return _refused(session, name, target, display, request,
                            "appeared while recording (another `hubcheck record`?), and the outputs differ")
        published = True
        if status is RecordStatus.UNCHANGED:
            return RecordOutcome(name, target, status, f"unchanged {display} (recorded by another run meanwhile)")
        atomic_write_text(target.with_suffix(".json"), json.dumps(result["sidecar"], indent=2, sort_keys=True) + "\n")
        return RecordOutcome(name, target, status, f"{status.value} {display} ({size:,} bytes)")
    except OSError as error:
        return RecordOutcome(name, target, RecordStatus.FAILED, f"cannot write {display}: {error.strerror or error}")
    finally:
        os.close(descriptor)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if not published:
            _remove_empty(created)


def _why_refused(existing: str, note: str) -> str:
    if existing == "unusable":
        return f"exists but cannot be compared ({note})"
    if existing == "inputs-differ":
        return "exists and was recorded on other inputs"
    return f"exists and the outputs differ beyond tolerance ({note})" if note else "exists and the outputs differ"


def _refused(session: ValidationSession, name: str, target: Path, display: str, request: _Request,
             why: str) -> RecordOutcome:
    update_command = session.command("record", *request.flags(), "--update", entrypoint=name)
    return RecordOutcome(name, target, RecordStatus.REFUSED, (
        f"{display} {why}; left untouched: rerun with --update to replace it (`{update_command}`)"))


def _publish(temporary: Path, target: Path, *, overwrite: bool, size: int) -> RecordStatus:
    """Put the temporary in place: replace the target only when asked, else create it exclusively.

    Of two runs creating the same reference at once, one creates it; the other
    reports it unchanged when it holds the same outputs, and refused otherwise.
    """
    if overwrite:
        os.replace(temporary, target)
        return RecordStatus.UPDATED
    try:
        link_new(temporary, target)
    except FileExistsError:
        try:
            # The same reference written by another run is about as big (metadata order aside).
            limit = 2 * size + 65536
            same = same_reference(read_reference(target, limit), read_reference(temporary, limit))
        except ReferenceUnusable:
            return RecordStatus.REFUSED
        return RecordStatus.UNCHANGED if same else RecordStatus.REFUSED
    return RecordStatus.CREATED


def _written_size(temporary: Path, descriptor: int) -> int | None:
    """The size of what the worker wrote, or None when the name no longer leads to the file handed to it."""
    try:
        if not os.path.samestat(os.fstat(descriptor), os.lstat(temporary)):
            return None
    except OSError:
        return None
    return os.fstat(descriptor).st_size


def _make_directories(directory: Path, repo_root: Path) -> list[Path]:
    """Make ``directory`` and its missing parents (below the repo); the ones made, outermost first."""
    missing = []
    current = directory
    while not os.path.lexists(current) and current not in (repo_root, current.parent):
        missing.append(current)
        current = current.parent
    made = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # another run made it meanwhile: not ours to remove
        made.append(path)
    return made


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories this run made, innermost first, unless something else now lives in them."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:
            return


def _display(session: ValidationSession, path: Path) -> str:
    try:
        return path.relative_to(session.repo.path).as_posix()
    except ValueError:
        return str(path)
