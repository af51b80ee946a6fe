"""Which pages may watch: the Origin of a viewer's handshake, and the Host a request names.

Browsers send ``Origin`` with every WebSocket handshake, so a door can tell its own page from a
page of another site that opens a socket to it. Both doors share the parsing
(``normalize_origin``); their rules differ:

- **The relay** (``OriginPolicy``) serves pages anywhere: any origin may watch unless
  ``--allowed-origin`` lists some; then only those (``null``, a sandboxed or ``file:`` page,
  when listed).
- **Direct mode** (``DirectOriginPolicy``, ``HostPolicy``) is a camera in someone's room, so by
  default only its own pages watch: an Origin must be the same origin as the request's Host, or
  a page on this machine (``localhost``, ``127.0.0.1``, ``[::1]``), or listed with
  ``--allowed-origin``. A DNS-rebinding page is same-origin with the Host it names (its own
  domain, pointed at the camera's address), so the Host must also be one this camera answers
  to: an IP address, ``localhost``, this machine's name, or a listed origin's host.

A handshake without ``Origin`` is not from a browser page, and passes: anything outside a
browser can send any Origin anyway.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOCAL_NAMES = ("localhost",)


class OriginRefused(Exception):
    """A page's Origin (or the Host it names) may not watch; its handshake gets 403."""

    http_status = 403

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def normalize_origin(origin):
    """``scheme://host[:port]`` in lower case, without a default port; ``null`` stays ``null``."""
    origin = origin.strip().lower()
    if origin == "null":
        return origin
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    if port is None or port == DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{parts.hostname}"
    return f"{parts.scheme}://{parts.hostname}:{port}"


def split_host(host):
    """(hostname, port or None) of a ``Host`` header value; (None, None) if it is not one."""
    try:
        parts = urlsplit(f"//{host.strip().lower()}")
        return parts.hostname, parts.port
    except ValueError:
        return None, None


def is_local_name(hostname):
    """Whether ``hostname`` names this machine by loopback (``localhost``, 127.0.0.0/8, ::1)."""
    if hostname is None:
        return False
    if hostname in LOCAL_NAMES or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_list(allowed_origins):
    bad = [origin for origin in allowed_origins if normalize_origin(origin) is None]
    if bad:
        raise ValueError(f"not an origin (scheme://host[:port]): {', '.join(bad)}")
    return frozenset(map(normalize_origin, allowed_origins))


class OriginPolicy:
    """The relay's rule: any page (no list given), or the listed Origins only."""

    def __init__(self, allowed_origins=()):
        self._allowed = _check_list(allowed_origins)

    def check(self, origin):
        """Return if a handshake with this Origin header (or None) may watch; else raise OriginRefused."""
        if not self._allowed or origin is None:
            return
        if normalize_origin(origin) not in self._allowed:
            raise OriginRefused(f"origin {origin.strip()[:100]} is not allowed to watch")


class HostPolicy:
    """Direct mode's Hosts: IP addresses, loopback names, this machine's names, listed hosts."""

    def __init__(self, extra_hosts=()):
        name = socket.gethostname().lower()
        self._names = frozenset({name, f"{name}.local", socket.getfqdn().lower(),
                                 *(host.lower() for host in extra_hosts)})

    def allows(self, host):
        """Whether a request naming ``host`` (a Host header value; "" when none) is answered."""
        if not host:
            return True  # HTTP/1.0 without Host: not a browser
        hostname, _ = split_host(host)
        if hostname is None:
            return False
        if is_local_name(hostname) or hostname in self._names:
            return True
        try:
            ipaddress.ip_address(hostname)
        except ValueError:
            return False
        return True


class DirectOriginPolicy:
    """Direct mode's Origins: same-origin, this machine's pages, or listed ones (module docstring)."""

    def __init__(self, allowed_origins=()):
        self._allowed = _check_list(allowed_origins)
        self.hosts = HostPolicy(urlsplit(origin).hostname for origin in self._allowed
                                if origin != "null")

    def check(self, origin, host):
        """Return if a handshake with ``origin`` (or None) for ``host`` may watch; else raise OriginRefused."""
        if not self.hosts.allows(host or ""):
            raise OriginRefused(f"this camera does not answer for the host {(host or '')[:100]}")
        if origin is None:
            return
        normalized = normalize_origin(origin)
        if normalized in self._allowed:
            return
        if normalized is None or normalized == "null":
            raise OriginRefused(f"origin {origin.strip()[:100]} is not allowed to watch")
        parts = urlsplit(normalized)
        if is_local_name(parts.hostname):
            return
        host_name, host_port = split_host(host or "")
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        if host_name == parts.hostname and (host_port or DEFAULT_PORTS.get(parts.scheme)) == origin_port:
            return
        raise OriginRefused(f"origin {origin.strip()[:100]} is not this camera's page; "
                            "list it with --allowed-origin")
