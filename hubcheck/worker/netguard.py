"""Block network access from repo code, so a check fails instead of downloading.

This guards every socket that Python code opens (urllib, requests, torch.hub's
downloads, raw ``socket`` and ``_socket`` use) through CPython's audit events;
sockets opened by C extensions that bypass Python's socket module, or by a
child process, are not covered (the README's security model says so).
"""

from __future__ import annotations

import ipaddress
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


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in ("localhost", "", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


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
    refused too, before anything leaves the process. A hook cannot be removed,
    so repo code cannot switch the guard off either.
    """
    sys.addaudithook(_audit)
    _track_urls()


# Families whose addresses never leave the machine.
_LOCAL_FAMILIES = frozenset(
    getattr(socket, name) for name in ("AF_UNIX", "AF_NETLINK") if hasattr(socket, name)
)


def _audit(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        if address is None or getattr(sock, "family", None) in _LOCAL_FAMILIES:
            return  # sendmsg on a connected socket, or a local address
        host = address[0] if isinstance(address, tuple) and address else address
        if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6) and _is_loopback(host):
            return
        raise _blocked(host)
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        # Refusing the lookup names the host, where a refused connect only knows an IP.
        if not _is_loopback(args[0]):
            raise _blocked(args[0])
    elif event == "socket.getnameinfo":
        address = args[0]
        host = address[0] if isinstance(address, tuple) and address else address
        if not _is_loopback(host):
            raise _blocked(host)


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
