"""Atomic file writes: a reader sees the old file or the new one, never half of either; new files never replace one."""

from __future__ import annotations

import ctypes
import errno
import glob
import os
import secrets
import sys
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    Raises:
        OSError: the directory cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private; the result should have the usual mode.
        os.fchmod(descriptor, 0o666 & ~_current_umask())
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse, which only costs durability.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# -- files that must never replace another -----------------------------------------------------------

_TEMPORARY_SUFFIX = ".tmp"


def create_locked_temporary(target: Path) -> tuple[Path, int]:
    """A new, empty file beside ``target`` and a descriptor holding an exclusive lock on it.

    The file is created exclusively (never through an existing name or link), and
    the lock, held until the descriptor is closed or the process ends, tells
    :func:`remove_stale_temporaries` in another run that it is in use. Where
    ``fcntl`` is missing (Windows) there is no lock and temporaries are never
    taken for stale.

    Raises:
        OSError: the directory cannot be written.
    """
    while True:
        temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}{_TEMPORARY_SUFFIX}"
        try:
            descriptor = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        break
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    return temporary, descriptor


def remove_stale_temporaries(target: Path) -> None:
    """Delete the temporaries beside ``target`` that no running process holds (an interrupted run's)."""
    if fcntl is None:
        return
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*{_TEMPORARY_SUFFIX}"):
        try:
            descriptor = os.open(stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(descriptor), os.lstat(stale)):
                os.unlink(stale)
        except OSError:
            pass  # held by a run in progress, or already gone
        finally:
            os.close(descriptor)


def link_new(source: Path, target: Path) -> None:
    """Give the file ``source`` the name ``target`` as well, only if nothing has that name yet.

    Atomic and exclusive: of two runs publishing the same target at once, one
    succeeds and the other gets FileExistsError; an existing file, directory or
    link (dangling or not) is never replaced or followed. Uses a hard link, or
    on Linux file systems without them ``renameat2(RENAME_NOREPLACE)``, which
    moves ``source`` instead.

    Raises:
        FileExistsError: ``target`` exists.
        OSError: neither way works on this file system.
    """
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as error:
        unsupported = error.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV)
        if not unsupported or not _rename_no_replace(source, target):
            raise
    _fsync_directory(target.parent)


def _rename_no_replace(source: Path, target: Path) -> bool:
    """``renameat2(source, target, RENAME_NOREPLACE)``; False where the call does not exist."""
    if not sys.platform.startswith("linux"):
        return False
    at_fdcwd, rename_noreplace = -100, 1
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), rename_noreplace) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code), str(target))
