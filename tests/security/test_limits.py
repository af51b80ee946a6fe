"""The relay cannot be starved: slowloris, one address's socket pile, stream squatting, fd limit."""

import json
import socket
import time

import pytest

from tests.security.conftest import TOKEN, wait_until
from tests.security.wire import handshake_status, request, websocket

# The relay child's open-file limit in the slowloris tests (soft = hard, so it cannot raise it):
# about 100 connections' worth once Python and the reactor have their own.
FD_LIMIT = 128
# More slow connections than that limit allows.
SLOW_CONNECTIONS = 200
# A second loopback address: Linux routes all of 127.0.0.0/8 to lo, so a client may bind it.
OTHER_ADDRESS = "127.0.0.2"


def stats(port, token=TOKEN, **connect_args):
    status, _, body = request(port, "/stats", [("Authorization", f"Bearer {token}")], **connect_args)
    assert status == 200
    return json.loads(body)


def open_slow(port, count, source_address=None):
    """``count`` sockets that each sent one byte of a request; those the kernel refused are left out."""
    sockets = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2,
                                            source_address=(source_address, 0) if source_address else None)
            sock.sendall(b"G")
            sockets.append(sock)
        except OSError:
            break
    return sockets


def trickle(sockets):
    """One more byte on every socket still open (as slowloris does); returns those still open."""
    alive = []
    for sock in sockets:
        try:
            sock.sendall(b"E")
            alive.append(sock)
        except OSError:
            sock.close()
    return alive


def served(port, timeout=5.0, **connect_args):
    """Whether GET /stats is answered within ``timeout`` seconds."""
    try:
        return request(port, "/stats", timeout=timeout, **connect_args)[0] == 200
    except OSError:
        return False


def test_slowloris_is_dropped_at_the_total_deadline(programs):
    """Connections trickling a byte at a time, past the fd limit, are dropped at the handshake
    deadline however they trickle, and a new viewer is served while they keep trickling."""
    relay = programs.relay("--handshake-timeout", 2, "--max-connections-per-address", 10000,
                           "--max-handshakes-per-address", 10000, fd_limit=(FD_LIMIT, FD_LIMIT))
    relay.wait_for(rf"open-file limit: {FD_LIMIT}")
    slow = open_slow(relay.port, SLOW_CONNECTIONS)
    assert len(slow) > FD_LIMIT // 2
    try:
        # Trickle a byte about every 0.5 s, well within the 2 s that Twisted's idle timeout
        # restarts at each byte; a new viewer must be answered while the trickle goes on.
        def new_viewer_served():
            nonlocal slow
            slow = trickle(slow)
            return served(relay.port, timeout=0.5)

        wait_until(new_viewer_served, 30, "a new viewer served during the trickle")
        document = stats(relay.port)
        assert document["totals"]["handshakes_timed_out"] > 0
    finally:
        for sock in slow:
            sock.close()
    assert "Traceback" not in relay.output()


def test_one_address_cannot_hold_every_socket(programs):
    """An address holding hundreds of sockets is capped; another address is served at once."""
    relay = programs.relay(fd_limit=(256, 256))
    slow = open_slow(relay.port, 300)
    try:
        slow = trickle(slow)
        status, _, reader = websocket(relay.port, "/view/s", source_address=OTHER_ADDRESS)
        reader.close()
        assert status == 101
        assert served(relay.port, source_address=OTHER_ADDRESS)
        totals = stats(relay.port, source_address=OTHER_ADDRESS)["totals"]
        # Default caps: 8 handshakes in progress from one address; the rest were refused.
        assert totals["handshakes_refused_per_address"] >= 300 - 8 - totals["handshakes_timed_out"] - 8
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.parametrize("door", ["relay", "direct"])
def test_open_connections_per_address_are_capped_with_503(programs, door):
    """Past --max-connections-per-address, a new connection gets 503 and /stats counts it: on the
    relay and on a direct-mode source alike (one guard, one pair of flags)."""
    caps = ("--max-connections-per-address", 5, "--max-handshakes-per-address", 5)
    program = programs.relay(*caps) if door == "relay" else programs.source(*caps)
    path = "/view/s" if door == "relay" else "/"
    viewers = []
    try:
        for _ in range(5):
            status, _, reader = websocket(program.port, path)
            assert status == 101
            viewers.append(reader)
        assert request(program.port, "/stats")[0] == 503
        assert handshake_status(program.port, path) == 503
        assert served(program.port, source_address=OTHER_ADDRESS)
        totals = stats(program.port, source_address=OTHER_ADDRESS)
    finally:
        for reader in viewers:
            reader.close()
    assert totals["totals"]["connections_refused_per_address"] == 2


def test_viewers_on_made_up_names_cannot_squat_the_source_slots(programs):
    """Idle viewers on 15 made-up names do not fill --max-streams 2: the camera's source gets in."""
    relay = programs.relay("--max-streams", 2, "--max-connections-per-address", 100,
                           "--max-handshakes-per-address", 100)
    squatters = []
    try:
        for index in range(15):
            status, _, reader = websocket(relay.port, f"/view/made-up-{index}")
            assert status == 101
            squatters.append(reader)
        auth = [("Authorization", f"Bearer {TOKEN}")]
        first, _, one = websocket(relay.port, "/source/camera", auth)
        second, _, two = websocket(relay.port, "/source/kitchen", auth)
        third = handshake_status(relay.port, "/source/third", auth)
        one.close()
        two.close()
    finally:
        for reader in squatters:
            reader.close()
    assert (first, second, third) == (101, 101, 503)


def test_relay_raises_its_open_file_limit_and_says_so(programs):
    """Started with a soft limit of 256 under a hard 2048, the relay runs with 2048 and logs it."""
    relay = programs.relay(fd_limit=(256, 2048))
    relay.wait_for(r"open-file limit: 2048 \(was 256\)")


def test_stream_names_are_shown_only_to_the_token_holder(programs):
    """/stats without the token has the totals but no stream name; with it, or --public-stats, names."""
    relay = programs.relay()
    status, _, reader = websocket(relay.port, "/view/secret-room")
    try:
        assert status == 101
        status, _, body = request(relay.port, "/stats")
        assert status == 200 and b"secret-room" not in body
        assert json.loads(body)["totals"]["viewers"] == 1
        assert "secret-room" in stats(relay.port)["streams"]
        status, _, body = request(relay.port, "/stats", [("Authorization", "Bearer wrong-token-0123456")])
        assert b"secret-room" not in body
    finally:
        reader.close()
    public = programs.relay("--public-stats")
    status, _, reader = websocket(public.port, "/view/open-room")
    try:
        assert b"open-room" in request(public.port, "/stats")[2]
    finally:
        reader.close()


def test_a_token_file_others_may_read_is_refused(programs, tmp_path):
    """A token file with group or world read bits stops the relay with one line saying chmod 600."""
    loose = tmp_path / "loose-token"
    loose.write_text(TOKEN + "\n")
    loose.chmod(0o644)
    relay = programs.start("depthcam.relay", "--port", 0, "--token-file", loose)
    assert relay.exit_status() == 2
    lines = [line for line in relay.lines() if "chmod 600" in line]
    assert len(lines) == 1 and str(loose) in lines[0]
    assert "Traceback" not in relay.output()


def test_a_slow_viewer_flood_leaves_the_log_short(programs):
    """Hundreds of refusals of each cause (per-address cap, bad origin, bad path, 1003) log at
    most 2 lines per cause here, and by RateLimitedLog's design at most 7 per cause a minute."""
    relay = programs.relay("--allowed-origin", "https://depth.example.org",
                           "--max-connections-per-address", 3, "--max-handshakes-per-address", 3)
    start = time.monotonic()
    holders = [websocket(relay.port, "/view/s")[2] for _ in range(3)]
    for _ in range(200):
        assert request(relay.port, "/stats")[0] == 503
    for reader in holders:
        reader.close()
    wait_until(lambda: served(relay.port), 20, "the held sockets to close")
    for _ in range(100):
        assert handshake_status(relay.port, "/view/s", [("Origin", "https://evil.example")]) == 403
        assert request(relay.port, "/x%00")[0] == 400
    for _ in range(100):
        status, _, reader = websocket(relay.port, "/view/s")
        assert status == 101
        reader.sock.sendall(bytes([0x82, 0x81, 0, 0, 0, 0, 0]))  # a binary frame: 1003
        reader.frame()
        reader.close()
    elapsed_min = max(1.0, (time.monotonic() - start) / 60)
    lines = relay.lines()
    for cause in ("open connections", "is not allowed to watch", "NUL byte", "(1003)"):
        count = len([line for line in lines if cause in line])
        assert 1 <= count <= 7 * elapsed_min + 1, (cause, count, "\n".join(lines[-40:]))
    assert len(lines) < 60, "\n".join(lines[-60:])
