"""Reading files that repo data names or ships, without following it anywhere it should not lead.

Used on both sides: by the worker (reference files) and by hubcheck itself
(references, hubcheck.toml), which imports it as ``hubcheck.worker.files``;
it needs nothing but the standard library.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_READ_CHUNK = 1 << 20


class FileRefused(Exception):
    """A file that is not read: not a regular file, too large, or unreadable; the message says which."""


def describe_kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, as a noun phrase ("a directory", "a named pipe (FIFO)")."""
    kinds = (
        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
    )
    return next((noun for test, noun in kinds if test(mode)), "not a regular file")


def read_regular_file(path: Path, max_bytes: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes``.

    The file is opened without blocking (a FIFO neither hangs nor is read), its
    type and size are checked on the open descriptor before anything is read,
    and at most ``max_bytes`` are ever read, even from a file that grows.
    ``follow_symlinks=False`` refuses a symbolic link in the last component.

    Raises:
        FileRefused: the file is missing, unreadable, not a regular file, a refused link, or too large.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        if not hasattr(os, "O_NOFOLLOW") and os.path.islink(path):
            raise FileRefused(f"{path} is a symbolic link, not a regular file")
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except ValueError:
        raise FileRefused(f"{path!r} is not a usable path (it holds a NUL character)") from None
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_symlinks:
            raise FileRefused(f"{path} is a symbolic link, not a regular file") from None
        raise FileRefused(f"cannot read {path}: {error.strerror or error}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise FileRefused(f"{path} is {describe_kind(status.st_mode)}, not a regular file")
        if status.st_size > max_bytes:
            raise FileRefused(f"{path} is {status.st_size:,} bytes, over the limit of {max_bytes:,}")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(descriptor, min(_READ_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise FileRefused(f"{path} grew past the limit of {max_bytes:,} bytes while being read")
        return b"".join(chunks)
    except OSError as error:
        raise FileRefused(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symbolic link resolved, is ``root`` or below it (also resolved).

    Components that do not exist yet are taken as they are written; a link loop
    or a path the system cannot resolve counts as outside.
    """
    try:
        resolved = Path(os.path.realpath(path))
        resolved_root = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return False
    return resolved == resolved_root or resolved_root in resolved.parents
