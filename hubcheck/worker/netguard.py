"""Block network access from repo code, so a check fails instead of downloading.

This guards every socket that Python code opens (urllib, requests, torch.hub's
downloads, raw ``socket`` and ``_socket`` use) through CPython's audit events,
and names the host and URL in the check's message. It lives in the process
whose memory repo code controls, so it is a convenience, not a boundary:
sockets opened by C code or a child process never pass through it, and code
that rewrites the interpreter (ctypes) can disarm it. Where Linux allows, the
worker also runs in a network namespace that holds only loopback
(:mod:`.namespaces`), which the kernel enforces on all of these.
"""

from __future__ import annotations

import socket
import sys
import threading

_local = threading.local()
_attempts: list[str] = []


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of connecting; a ConnectionError so libraries treat it as a network failure."""

    def __init__(self, host: str) -> None:
        super().__init__(f"network access blocked by hubcheck: {host}")
        self.host = host


def attempts() -> list[str]:
    """Hosts (with the URL being fetched, when known) that repo code tried to reach, oldest first."""
    return list(_attempts)


def clear_attempts() -> None:
    _attempts.clear()


def current_url() -> str | None:
    return getattr(_local, "url", None)


def set_current_url(url: str | None) -> None:
    _local.url = url


def _is_loopback(host: object, inet_pton=socket.inet_pton, inet=socket.AF_INET, inet6=socket.AF_INET6,
                 ipv6_loopback=bytes(15) + b"\x01", ipv4_mapped=bytes(10) + b"\xff\xff") -> bool:
    """Whether ``host`` names this machine's loopback (127/8, ::1, ::ffff:127.x, localhost)."""
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in ("localhost", "", "ip6-localhost"):
        return True
    text = text.split("%", 1)[0]
    try:
        return inet_pton(inet, text)[0] == 127
    except OSError:
        pass
    try:
        packed = inet_pton(inet6, text)
    except OSError:
        return False
    return packed == ipv6_loopback or (packed.startswith(ipv4_mapped) and packed[12] == 127)


def _blocked(host: object) -> NetworkBlocked:
    text = host.decode() if isinstance(host, bytes) else str(host)
    url = current_url()
    _attempts.append(f"{text} (while fetching {url})" if url else text)
    return NetworkBlocked(text)


def install() -> None:
    """Make any non-loopback connection, datagram or name lookup raise NetworkBlocked.

    An audit hook, not a patch of the socket module: CPython raises the
    ``socket.*`` audit events inside the C implementation, so sockets made
    through ``_socket`` directly and datagrams sent without ``connect`` are
    refused too, before anything leaves the process. A hook cannot be removed;
    it binds what it calls as default arguments (replacing this module's
    attributes changes nothing) and refuses changes to its own and their code
    and defaults.
    """
    # The hook's last default names the functions to protect, itself included.
    _audit.__defaults__ = (*(_audit.__defaults__ or ())[:-1], (_audit, _is_loopback, _blocked))
    sys.addaudithook(_audit)
    _track_urls()


# Families whose addresses never leave the machine.
_LOCAL_FAMILIES = frozenset(
    getattr(socket, name) for name in ("AF_UNIX", "AF_NETLINK") if hasattr(socket, name)
)
_INTERNET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def _audit(event: str, args: tuple, is_loopback=_is_loopback, blocked=_blocked,
           local_families=_LOCAL_FAMILIES, internet_families=_INTERNET_FAMILIES, guarded=()) -> None:
    # Called for every audit event of the process (imports, opens...): the common case returns at once.
    if not event.startswith(("socket.", "object.__setattr__")):
        return
    if event == "object.__setattr__":
        # __code__, __defaults__ and __kwdefaults__ of a function; repo code disarming the guard.
        if args[0] in guarded:
            raise PermissionError(f"hubcheck's network guard cannot be changed ({args[1]})")
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        family = getattr(sock, "family", None)
        if address is None or family in local_families:
            return  # sendmsg on a connected socket, or a local address
        host = address[0] if isinstance(address, tuple) and address else address
        if family in internet_families and is_loopback(host):
            return
        raise blocked(host)
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        # Refusing the lookup names the host, where a refused connect only knows an IP.
        if not is_loopback(args[0]):
            raise blocked(args[0])
    elif event == "socket.getnameinfo":
        address = args[0]
        host = address[0] if isinstance(address, tuple) and address else address
        if not is_loopback(host):
            raise blocked(host)


def _track_urls() -> None:
    """Remember which URL urllib (and so torch.hub) is fetching, for the error message."""
    import urllib.request

    original_urlopen = urllib.request.urlopen

    def urlopen(url, *args, **kwargs):
        previous = current_url()
        set_current_url(url.full_url if hasattr(url, "full_url") else str(url))
        try:
            return original_urlopen(url, *args, **kwargs)
        finally:
            set_current_url(previous)

    urllib.request.urlopen = urlopen
