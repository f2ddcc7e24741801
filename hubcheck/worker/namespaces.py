"""Confine the worker with Linux namespaces: a network of its own that holds only loopback.

The audit hook of :mod:`.netguard` sees only what Python's socket module does,
in a process whose memory repo code controls. A network namespace is enforced
by the kernel: C code, child processes and raw sockets find no interface but
``lo`` and no route off the machine, whatever they patch.

Entering one needs ``CAP_SYS_ADMIN``, which an unprivileged user gets inside a
new *user* namespace; hubcheck makes one whether or not it runs as root, so
that repo code never holds a capability over the machine's own namespaces
(root without it could ``setns`` straight back). The kernel only gives a user
namespace to a single-threaded process, so :func:`enter` runs first thing in
the worker, before torch is imported. A forked probe tries the whole sequence
first: a kernel that lets ``unshare`` succeed but then denies the mapping
(AppArmor's ``restrict_unprivileged_userns``) would otherwise leave the worker
stuck with an unmapped user id.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass

NETWORK_NAMESPACE = "namespace"
NETWORK_AUDIT_HOOK = "audit-hook"
NETWORK_NONE = "none"
FILESYSTEM_NONE = "none"

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
# struct ifreq: a 16-byte interface name, then a union whose first member is the flags (40 bytes in all).
_IFREQ_FORMAT = "16sH22x"


@dataclass(frozen=True)
class Isolation:
    """Which isolation held repo code while it ran; reported in every validate report."""

    network: str
    """``namespace`` (its own network namespace, loopback only, and the audit hook), ``audit-hook``
    (only Python-level sockets are blocked) or ``none`` (``--allow-network``)."""
    filesystem: str
    """``none``: repo code reads and writes what the user running hubcheck can."""
    reason: str
    """Why nothing stronger holds (the kernel's refusal, the platform, the option); empty when it does."""

    def to_json(self) -> dict[str, str]:
        return {"network": self.network, "filesystem": self.filesystem, "reason": self.reason}

    @classmethod
    def from_json(cls, data: object) -> Isolation:
        """The isolation a worker's hello reported; ValueError naming what arrived when it is malformed."""
        if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("network", "filesystem", "reason")):
            raise ValueError(f"malformed isolation report from the worker: {data!r:.200}")
        return cls(data["network"], data["filesystem"], data["reason"])

    @property
    def summary(self) -> str:
        """One line for text reports: ``network: own namespace, loopback only; files: not isolated``."""
        network = {
            NETWORK_NAMESPACE: "own namespace, loopback only",
            NETWORK_AUDIT_HOOK: "Python sockets blocked by an audit hook, not C code or child processes",
            NETWORK_NONE: "allowed",
        }.get(self.network, self.network)
        reason = f" ({self.reason})" if self.reason else ""
        files = "not isolated" if self.filesystem == FILESYSTEM_NONE else self.filesystem
        return f"network: {network}{reason}; files: {files}"


class _Refused(Exception):
    """A step of entering the namespaces failed; the message says which and why."""


def enter(block_network: bool) -> Isolation:
    """Put this process in its own user and network namespaces when it can, and say what holds.

    Must run while the process is single-threaded. Without ``block_network``
    nothing is entered. Where the kernel refuses, nothing changes and the
    reason names the refusal; the audit hook is then the only network guard.
    """
    if not block_network:
        return Isolation(NETWORK_NONE, FILESYSTEM_NONE, "--allow-network")
    if not sys.platform.startswith("linux"):
        return Isolation(NETWORK_AUDIT_HOOK, FILESYSTEM_NONE, f"no network namespaces on {sys.platform}")
    refusal = _probe()
    if refusal is None:
        try:
            _confine()
        except _Refused as error:
            refusal = str(error)
    if refusal is not None:
        return Isolation(NETWORK_AUDIT_HOOK, FILESYSTEM_NONE, refusal)
    return Isolation(NETWORK_NAMESPACE, FILESYSTEM_NONE, "")


def _probe() -> str | None:
    """Try the whole sequence in a forked child: None when it works, else why not."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            _confine()
            message = b""
        except _Refused as error:
            message = str(error).encode("utf-8", "replace")
        except BaseException as error:  # noqa: BLE001 - the child must reach os._exit whatever happens
            message = f"probe failed: {type(error).__name__}: {error}".encode("utf-8", "replace")
        os.write(write_end, message[:4000] or b"ok")
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    answer = b"".join(chunks).decode("utf-8", "replace")
    return None if answer == "ok" else answer or "the namespace probe ended without an answer"


def _confine() -> None:
    import ctypes  # here, not at the top: reports import this module for Isolation, and must stay cheap

    uid, gid = os.geteuid(), os.getegid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        raise _Refused(_unshare_refusal(ctypes.get_errno()))
    # Map only our own ids (all an unprivileged process may map); repo code keeps its uid and gid.
    _write_proc("setgroups", "deny")
    _write_proc("uid_map", f"{uid} {uid} 1")
    _write_proc("gid_map", f"{gid} {gid} 1")
    _bring_up_loopback()


def _unshare_refusal(code: int) -> str:
    why = {
        errno.EPERM: "not permitted (unprivileged user namespaces disabled, e.g. kernel.unprivileged_userns_clone=0, "
                     "or refused by a seccomp or AppArmor policy)",
        errno.ENOSPC: "user namespaces disabled or exhausted (user.max_user_namespaces)",
        errno.EINVAL: "the worker was already multithreaded",
        errno.ENOSYS: "the kernel has no namespace support",
    }.get(code, os.strerror(code))
    return f"the kernel refused a user and network namespace: {why}"


def _write_proc(name: str, text: str) -> None:
    try:
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    except OSError as error:
        raise _Refused(f"could not write /proc/self/{name} in a new user namespace: {error.strerror}") from None


def _bring_up_loopback() -> None:
    """``ip link set lo up`` without the ip binary: repo code's own loopback servers keep working."""
    import fcntl
    import socket
    import struct

    ifreq = struct.Struct(_IFREQ_FORMAT)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            current = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, ifreq.pack(b"lo", 0))
            flags = ifreq.unpack(current)[1]
            fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, ifreq.pack(b"lo", flags | _IFF_UP))
    except OSError as error:
        raise _Refused(f"could not bring up loopback in the new network namespace: {error.strerror}") from None
