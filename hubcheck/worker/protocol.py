"""Messages between hubcheck and its worker: JSON lines over dedicated pipes.

The repo's code owns the worker's stdout and stderr (it may print megabytes,
or nothing useful), so results travel on separate file descriptors that repo
code has no reason to touch.
"""

from __future__ import annotations

import json
import os
from typing import Any

# Largest message accepted; a reference mismatch summary is a few KB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, default=_fallback, allow_nan=True) + "\n").encode("utf-8")


def _fallback(value: Any) -> Any:
    return repr(value)


def send(fd: int, message: dict[str, Any]) -> None:
    """Write one message; blocks until the reader has room."""
    data = encode(message)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LineReader:
    """Reads JSON lines from a file descriptor, one message at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def read(self) -> dict[str, Any] | None:
        """The next message, or None at end of file."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return json.loads(line)
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise ValueError("message from the other side exceeds the size limit")
