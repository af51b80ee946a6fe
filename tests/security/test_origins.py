"""Only the owner's pages watch: direct mode's Origin and Host checks and idle timeout; the
relay's ``--allowed-origin null``."""

import socket
import time

from tests.security.conftest import wait_until
from tests.security.wire import handshake_status, request


def test_direct_mode_lets_only_its_own_and_local_pages_watch(programs):
    """Same-origin, localhost pages and listed origins open the socket; other sites get 403."""
    source = programs.source("--allowed-origin", "https://friend.example")
    port = source.port
    here = f"127.0.0.1:{port}"
    allowed = [
        [],  # no Origin: not a browser page
        [("Origin", f"http://{here}")],  # the page it serves
        [("Origin", "http://localhost:3000")],  # a page on this machine
        [("Origin", "http://[::1]:8080")],
        [("Origin", "https://friend.example")],  # --allowed-origin
    ]
    refused = [
        [("Origin", "https://evil.example")],
        [("Origin", f"http://192.168.1.20:{port}")],  # a page on another machine
        [("Origin", "null")],
        [("Origin", "https://friend.example.evil.example")],
    ]
    for headers in allowed:
        assert handshake_status(port, "/ws", headers) == 101, headers
    for headers in refused:
        assert handshake_status(port, "/ws", headers) == 403, headers


def test_direct_mode_refuses_a_dns_rebinding_host(programs):
    """A page at evil.example rebound to the camera's address names Host evil.example: refused
    (421) for the socket, the page and /stats."""
    source = programs.source()
    port = source.port
    rebound = [("Origin", f"http://evil.example:{port}")]
    assert handshake_status(port, "/ws", rebound, host=f"evil.example:{port}") == 421
    assert request(port, "/", [("Host", f"evil.example:{port}")])[0] == 421
    assert request(port, "/stats", [("Host", f"evil.example:{port}")])[0] == 421
    assert request(port, "/stats", [("Host", f"localhost:{port}")])[0] == 200
    assert handshake_status(port, "/ws", [("Origin", f"http://localhost:{port}")],
                            host=f"localhost:{port}") == 101


def test_direct_mode_closes_idle_connections(programs):
    """A connection that sends nothing is closed after the handshake deadline, not kept 12 hours."""
    source = programs.source()
    sock = socket.create_connection(("127.0.0.1", source.port), timeout=30)
    started = time.monotonic()
    try:
        assert sock.recv(1) == b""  # closed by the source (a timeout here raises instead)
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    assert time.monotonic() - started < 25


def test_direct_mode_on_every_network_says_who_can_watch(programs):
    """--host 0.0.0.0 prints the exposure: anyone who reaches the port, and which pages."""
    source = programs.start("depthcam.source", "serve", "--host", "0.0.0.0", "--port", 0)
    line = source.wait_for(r"listening on 0\.0\.0\.0: anyone who can reach port \d+.*")
    assert "only this page's origin" in line.group(0)


def test_relay_allowed_origin_null_works_on_the_wired_relay(programs):
    """--allowed-origin null lets a sandboxed (Origin: null) page watch; other origins get 403."""
    relay = programs.relay("--allowed-origin", "null", "--allowed-origin", "https://depth.example.org")
    assert handshake_status(relay.port, "/view/s", [("Origin", "null")]) == 101
    assert handshake_status(relay.port, "/view/s", [("Origin", "https://depth.example.org")]) == 101
    assert handshake_status(relay.port, "/view/s", [("Origin", "https://evil.example")]) == 403
    plain = programs.relay("--allowed-origin", "https://depth.example.org")
    assert handshake_status(plain.port, "/view/s", [("Origin", "null")]) == 403
    wait_until(lambda: "Traceback" not in relay.output(), 1, "no traceback")
