"""Confine the worker with Linux namespaces: a network that holds only loopback, a repo it cannot change.

The audit hook of :mod:`.netguard` sees only what Python's socket module does,
in a process whose memory repo code controls. A network namespace is enforced
by the kernel: C code, child processes and raw sockets find no interface but
``lo`` and no route off the machine, whatever they patch. A mount namespace
puts an overlay on the repo: repo code sees its files as they are, and what it
writes there lands in a tmpfs that disappears with the worker.

Entering one needs ``CAP_SYS_ADMIN``, which an unprivileged user gets inside a
new *user* namespace; hubcheck makes one whether or not it runs as root, so
that repo code never holds a capability over the machine's own namespaces
(root without it could ``setns`` straight back); from inside it, processes
outside can neither be traced nor entered through ``/proc/PID/root``. The kernel only gives a user
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
FILESYSTEM_OVERLAY = "repo-overlay"

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_NOATIME = 0x400
_MS_NODIRATIME = 0x800
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_RELATIME = 1 << 21
_MNT_DETACH = 0x2
_MS_PRIVATE = 1 << 18
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
    """``repo-overlay`` (the repo is an overlay's read-only lower layer; repo code's writes to it land in a
    tmpfs that ends with the worker) or ``none``; files outside the repo are never isolated."""
    reason: str
    """Why nothing stronger holds (the kernel's refusal, the platform, the option), ``; ``-separated; empty when
    everything holds."""

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
        """One line for text reports: ``network: own namespace, loopback only; repo: ...; other files: ...``."""
        network = {
            NETWORK_NAMESPACE: "own namespace, loopback only",
            NETWORK_AUDIT_HOOK: "Python sockets blocked by an audit hook, not C code or child processes",
            NETWORK_NONE: "allowed",
        }.get(self.network, self.network)
        repo = {
            FILESYSTEM_OVERLAY: "read-only, writes go to a throwaway layer",
            FILESYSTEM_NONE: "writable",
        }.get(self.filesystem, self.filesystem)
        reason = f" ({self.reason})" if self.reason else ""
        return f"network: {network}; repo: {repo}; other files: not isolated{reason}"


_entered = False
"""Whether :func:`enter` put this process in a user namespace (then each job gets one of its own)."""


class _Refused(Exception):
    """A step of entering the namespaces failed; the message says which and why."""


@dataclass(frozen=True)
class _Plan:
    network: bool
    """Enter a network namespace with only loopback up."""
    overlay: tuple[str, str] | None
    """``(repo, scratch)``: put an overlay on the repo whose upper layer is a tmpfs mounted on scratch."""
    keep: tuple[str, ...] = ()
    """Directories inside the repo shown as they really are, read-only, through the overlay."""


def enter(block_network: bool, overlay: tuple[str, str] | None = None, keep: tuple[str, ...] = ()) -> Isolation:
    """Confine this process as far as the kernel allows, and say what holds.

    ``block_network`` asks for a network namespace; ``overlay`` (the repo and
    an empty scratch directory) for a mount namespace in which the repo is the
    lower layer of an overlay: repo code reads it as it is and its writes land
    in a tmpfs that ends with the worker, so the repo is never changed;
    ``keep`` (the references directory) stays the real one, read-only, so
    that what the judge compares against is what is on disk. Must
    run while the process is single-threaded. Where the kernel refuses, that
    part changes nothing and the reason names the refusal.
    """
    reasons = []
    if not block_network:
        reasons.append("--allow-network")
    if overlay is None:
        reasons.append("the repo stays writable: this run writes into it (record, or --keep-obtained inside it)")
    if not block_network and overlay is None:
        return Isolation(NETWORK_NONE, FILESYSTEM_NONE, "; ".join(reasons))
    if not sys.platform.startswith("linux"):
        reasons.append(f"no namespaces on {sys.platform}")
        return Isolation(NETWORK_AUDIT_HOOK if block_network else NETWORK_NONE, FILESYSTEM_NONE, "; ".join(reasons))
    network = NETWORK_NAMESPACE if block_network else NETWORK_NONE
    refusal = _enter_plan(_Plan(block_network, overlay, keep))
    if refusal is None:
        return Isolation(network, FILESYSTEM_OVERLAY if overlay else FILESYSTEM_NONE, "; ".join(reasons))
    # A refused overlay must not cost the network namespace.
    if block_network and overlay is not None and _enter_plan(_Plan(True, None)) is None:
        reasons.append(f"no repo overlay: {refusal}")
        return Isolation(NETWORK_NAMESPACE, FILESYSTEM_NONE, "; ".join(reasons))
    reasons.append(refusal)
    return Isolation(NETWORK_AUDIT_HOOK if block_network else NETWORK_NONE, FILESYSTEM_NONE, "; ".join(reasons))


def _enter_plan(plan: _Plan) -> str | None:
    """Enter what ``plan`` asks for, after a probe showed that all of it works: None, or why not."""
    refusal = _probe(plan)
    if refusal is not None:
        return refusal
    try:
        _confine(plan)
    except _Refused as error:
        return str(error)
    global _entered  # noqa: PLW0603 - the process enters a namespace once; every job it forks reads it
    _entered = True
    return None


def isolate_job() -> None:
    """In a process forked to run one job: a user namespace of its own, where the server is in one.

    Each process holds every capability of the user namespace it is in. In a
    namespace of its own, the job's code holds none over the server, its other
    forks (the judge) or their namespaces: it cannot trace them, open their
    memory or undo their mounts. Raises when the kernel refuses, so that the
    job fails instead of running with less isolation than the report says.
    """
    if not _entered:
        return
    import ctypes

    try:
        _unshare(ctypes.CDLL(None, use_errno=True), _CLONE_NEWUSER, "a user namespace for the job")
    except _Refused as error:
        raise OSError(str(error)) from None


def _probe(plan: _Plan) -> str | None:
    """Try the whole sequence in a forked child: None when it works, else why not."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            _confine(plan)
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


def _confine(plan: _Plan) -> None:
    import ctypes  # here, not at the top: reports import this module for Isolation, and must stay cheap

    libc = ctypes.CDLL(None, use_errno=True)
    flags = _CLONE_NEWUSER | (_CLONE_NEWNET if plan.network else 0) | (_CLONE_NEWNS if plan.overlay else 0)
    _unshare(libc, flags, "a user namespace" + (" and a network namespace" if plan.network else ""))
    if plan.network:
        _bring_up_loopback()
    if plan.overlay:
        _overlay(libc, *plan.overlay, plan.keep)
        # Mounts made in this namespace could be unmounted again by whoever holds its capabilities, which
        # repo code would: in a further user and mount namespace the kernel locks them (MNT_LOCKED).
        _unshare(libc, _CLONE_NEWUSER | _CLONE_NEWNS, "a nested user namespace to lock the mounts")


def _unshare(libc, flags: int, what: str) -> None:
    """unshare(2), then map our own uid and gid (all an unprivileged process may map): repo code keeps its ids."""
    import ctypes

    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(flags) != 0:
        raise _Refused(_unshare_refusal(ctypes.get_errno(), what))
    _write_proc("setgroups", "deny")
    _write_proc("uid_map", f"{uid} {uid} 1")
    _write_proc("gid_map", f"{gid} {gid} 1")


def _overlay(libc, repo: str, scratch: str, keep: tuple[str, ...]) -> None:
    import ctypes

    def mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None, what: str) -> None:
        def encode(text: str | None) -> bytes | None:
            return None if text is None else text.encode()

        if libc.mount(encode(source), encode(target), encode(kind), flags, encode(data)) != 0:
            raise _Refused(f"could not {what}: {os.strerror(ctypes.get_errno())}")

    # Private first: nothing mounted here may propagate back to the machine's own mount namespace.
    mount(None, "/", None, _MS_REC | _MS_PRIVATE, None, "make the mount namespace private")
    os.makedirs(scratch, exist_ok=True)
    mount("hubcheck", scratch, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0700", f"mount a tmpfs on {scratch}")
    upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
    os.mkdir(upper)
    os.mkdir(work)
    # The kept directories, bound read-only to the scratch before the overlay hides their real paths.
    staged = []
    for index, path in enumerate(keep):
        stage = os.path.join(scratch, f"keep{index}")
        os.mkdir(stage)
        mount(path, stage, None, _MS_BIND | _MS_REC, None, f"bind {path}")
        # A remount must repeat the flags the kernel locked on the original mount (nosuid, nodev...).
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _locked_flags(os.statvfs(path).f_flag)
        mount(None, stage, None, flags, None, f"make {path} read-only")
        staged.append((stage, path))
    options = f"lowerdir={_escape(repo)},upperdir={_escape(upper)},workdir={_escape(work)},userxattr"
    mount("hubcheck-repo", repo, "overlay", 0, options, f"mount an overlay on {repo}")
    for stage, path in staged:
        mount(stage, path, None, _MS_BIND | _MS_REC, None, f"show {path} through the overlay")
        if libc.umount2(stage.encode(), _MNT_DETACH) != 0:
            raise _Refused(f"could not unmount {stage}: {os.strerror(ctypes.get_errno())}")


def _locked_flags(statvfs_flags: int) -> int:
    """The mount flags of ``statvfs().f_flag`` that a remount in a user namespace must keep."""
    pairs = ((os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV), (os.ST_NOEXEC, _MS_NOEXEC),
             (os.ST_NOATIME, _MS_NOATIME), (os.ST_NODIRATIME, _MS_NODIRATIME), (os.ST_RELATIME, _MS_RELATIME))
    return sum(mount_flag for statvfs_flag, mount_flag in pairs if statvfs_flags & statvfs_flag)


def _escape(path: str) -> str:
    """A path as overlayfs options take it: commas and colons separate, backslashes escape."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def _unshare_refusal(code: int, what: str) -> str:
    why = {
        errno.EPERM: "not permitted (unprivileged user namespaces disabled, e.g. kernel.unprivileged_userns_clone=0, "
                     "or refused by a seccomp or AppArmor policy)",
        errno.ENOSPC: "user namespaces disabled or exhausted (user.max_user_namespaces)",
        errno.EINVAL: "the worker was already multithreaded",
        errno.ENOSYS: "the kernel has no namespace support",
    }.get(code, os.strerror(code))
    return f"the kernel refused {what}: {why}"


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
