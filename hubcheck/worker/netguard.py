"""Block network access from repo code, so a check fails instead of downloading.

This guards Python's socket module, which urllib, requests and torch.hub's
downloads all use; code that opens sockets from C, or a child process, is not
covered (the README's security model says so).
"""

from __future__ import annotations

import ipaddress
import socket
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
    """Patch the socket module so any non-loopback connection or lookup raises NetworkBlocked."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def _host_of(address: object) -> object:
        if isinstance(address, tuple) and address:
            return address[0]
        return None  # AF_UNIX paths are local by definition

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(_host_of(address)):
            raise _blocked(_host_of(address))
        return original_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(_host_of(address)):
            raise _blocked(_host_of(address))
        return original_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        # Refusing the lookup names the host, where a refused connect only knows an IP.
        if not _is_loopback(host):
            raise _blocked(host)
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    _track_urls()


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
