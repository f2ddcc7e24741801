"""``hubcheck record``: write reference outputs, atomically, never replacing one unless asked."""

from __future__ import annotations

import contextlib
import enum
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hubcheck.errors import RepoCodeFailed
from hubcheck.fileio import atomic_write_text
from hubcheck.resolve import ResolvedRepo
from hubcheck.validate import ValidateOptions, ValidationSession


class RecordStatus(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"
    """Exists and --new-only asked not to touch it."""
    REFUSED = "refused"
    """Differs from the existing reference and --update was not given."""
    FAILED = "failed"

    @property
    def fails(self) -> bool:
        return self in (RecordStatus.REFUSED, RecordStatus.FAILED)


@dataclass(frozen=True)
class RecordOutcome:
    """What ``record`` did for one entry point."""

    entrypoint: str
    path: Path
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

    The worker writes each new reference to a temporary file beside the target;
    it replaces the target by a rename only when it is new, or differs and
    ``update`` is set, so an interrupted run leaves the previous reference intact.
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
    with ValidationSession(repo, replace(options, writes_repo=True)) if owned else contextlib.nullcontext(session) as session:
        session.start()
        outcome = session.import_hubconf()
        if outcome.blocked_reason:
            raise RepoCodeFailed(f"cannot record: {outcome.failures or outcome.blocked_reason}")
        limit = size_limit or session.config.validate.reference_size_limit
        if device not in session.environment.devices and not (device == "cuda" and any(
                d.startswith("cuda") for d in session.environment.devices)):
            from hubcheck.errors import UsageError

            raise UsageError(f"--device {device}: not present here (devices: {', '.join(session.environment.devices)})")
        device = next((d for d in session.environment.devices if d.startswith("cuda")), device) if device == "cuda" else device
        names = session.selected_entrypoints() if owned else list(options.entrypoints or session.selected_entrypoints())
        for name in names:
            report(_record_one(session, name, device, update, new_only, limit))
    return outcomes


def _record_one(session: ValidationSession, name: str, device: str, update: bool, new_only: bool, limit: int) -> RecordOutcome:
    target = session.reference_path(name)
    display = _display(session, target)
    exists = target.exists()
    if exists and new_only:
        return RecordOutcome(name, target, RecordStatus.KEPT, f"kept {display} (exists; --new-only)")
    skip = session.config.entrypoint(name).skip
    if skip:
        return RecordOutcome(name, target, RecordStatus.KEPT, f"not recorded: skipped by hubcheck.toml: {skip}")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        result = session.record_entrypoint(name, device, temporary, target if exists else None)
        if "error" in result:
            return RecordOutcome(name, target, RecordStatus.FAILED, f"{name}: {result['error']}")
        size = result["size"]
        if size > limit:
            return RecordOutcome(name, target, RecordStatus.FAILED, (
                f"{name}: the reference would be {size:,} bytes, over the limit of {limit:,}: use smaller example "
                "inputs, or raise [validate] reference_size_limit in hubcheck.toml (or pass --size-limit)"))
        if result.get("same_as_existing"):
            return RecordOutcome(name, target, RecordStatus.UNCHANGED, f"unchanged {display}")
        if exists and not update:
            update_command = session.command("record", "--entrypoint", name, "--update")
            return RecordOutcome(name, target, RecordStatus.REFUSED, (
                f"{display} exists and the outputs differ; left untouched: rerun with --update to replace it "
                f"(`{update_command}`)"))
        os.replace(temporary, target)
        atomic_write_text(target.with_suffix(".json"), json.dumps(result["sidecar"], indent=2, sort_keys=True) + "\n")
        status = RecordStatus.UPDATED if exists else RecordStatus.CREATED
        return RecordOutcome(name, target, status, f"{status.value} {display} ({size:,} bytes)")
    finally:
        if temporary.exists():
            temporary.unlink()


def _remove_stale_temporaries(target: Path) -> None:
    """Temporary files an interrupted run left beside the target; the target itself is never touched."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            pass


def _display(session: ValidationSession, path: Path) -> str:
    try:
        return path.relative_to(session.repo.path).as_posix()
    except ValueError:
        return str(path)
