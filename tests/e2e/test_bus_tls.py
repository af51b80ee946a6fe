"""Relays joined through a redis-server that speaks only TLS (``--bus rediss://...``), as real processes.

The server's certificate is signed by a CA the test makes; the password reaches one relay through
``--bus-password-file`` and the other through ``$DEPTHCAM_BUS_PASSWORD``.
"""

import re
import socket

import pytest
import pytest_twisted

from depthcam.relay.redisbus import PASSWORD_ENV_VAR
from tests.e2e.conftest import wait_until
from tests.e2e.scaling import (
    EVENT_TIMEOUT_S, REDIS_SERVER, TLSRedisServer, bus_stats, push_source, start_relay,
)
from tests.relay.clients import assert_decodes_in_order

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed "
                                "(Debian: apt-get install redis-server; .ci/run installs it)")

PASSWORD = "bus-test-password-0123456789"
FLOWING_FRAMES = 60
# Connection attempts the server must have seen before a test counts the relay's log lines: two
# connections (subscribe, publish) each refused at least twice, so a line per attempt would show.
REFUSED_ATTEMPTS = 4
TRACEBACK = "Traceback"
BUS_CONNECTED = "bus connected"
# The relay's one line for a refused password, and for a certificate it does not trust.
WRONG_PASSWORD = rf"could not auth: WRONGPASS.*\${PASSWORD_ENV_VAR}"
UNTRUSTED = r"TLS handshake failed .*certificate verify failed.*--bus-ca-file"


@pytest.fixture
def redis(tmp_path, certificates):
    server = TLSRedisServer(tmp_path, certificates, PASSWORD)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "bus-password.txt"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path



def count(relay, pattern):
    """How many lines of the relay's output match ``pattern``."""
    return len(re.findall(pattern, relay.output()))


@pytest_twisted.ensureDeferred
async def test_viewer_of_another_relay_gets_frames_through_tls_redis(programs, redis, certificates,
                                                                    password_file, trackers):
    """A source on relay A, a viewer on relay B: B's viewer decodes every frame in order, through a
    Redis that has no plain port; one relay reads the password from a file, the other from the
    environment."""
    relay_a = start_relay(programs, "--bus", redis.url, "--bus-password-file", str(password_file),
                          "--bus-ca-file", str(certificates.ca))
    relay_b = start_relay(programs, "--bus", redis.url, "--bus-ca-file", str(certificates.ca),
                          environ={PASSWORD_ENV_VAR: PASSWORD})
    push_source(programs, relay_a.port)
    viewer = await trackers(relay_b.port).viewer("default")
    await viewer.wait_for_frames(FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodes_in_order(viewer)
    stats_a, stats_b = bus_stats(relay_a.port), bus_stats(relay_b.port)
    assert stats_a["connected"] and stats_b["connected"]
    assert stats_b["frames_received"] >= FLOWING_FRAMES
    for relay in (relay_a, relay_b):
        assert f"bus connected (rediss://127.0.0.1:{redis.port}/0)" in relay.output()
        assert PASSWORD not in relay.output()


def test_wrong_password_is_one_line_and_the_relay_keeps_trying(programs, redis, certificates):
    """A password Redis refuses: one warning naming $DEPTHCAM_BUS_PASSWORD, however many attempts
    are refused; the relay keeps serving and trying, no traceback."""
    relay = start_relay(programs, "--bus", redis.url, "--bus-ca-file", str(certificates.ca),
                        environ={PASSWORD_ENV_VAR: "not-the-password"})
    wait_until(lambda: redis.log().count("Accepted 127.0.0.1") >= REFUSED_ATTEMPTS,
               EVENT_TIMEOUT_S, "the relay to try the bus again and again")
    assert relay.process.poll() is None
    assert count(relay, WRONG_PASSWORD) == 1, relay.output()
    assert BUS_CONNECTED not in relay.output() and TRACEBACK not in relay.output()
    assert not bus_stats(relay.port)["connected"]


def test_untrusted_certificate_is_one_line_and_the_relay_keeps_trying(programs, redis,
                                                                     password_file):
    """No --bus-ca-file: the system's CAs do not trust the test CA, so the relay refuses the
    server's certificate before it sends the password, in one warning naming --bus-ca-file."""
    relay = start_relay(programs, "--bus", redis.url, "--bus-password-file", str(password_file))
    wait_until(lambda: redis.log().count("alert unknown ca") >= REFUSED_ATTEMPTS,
               EVENT_TIMEOUT_S, "the relay to refuse the certificate again and again")
    assert relay.process.poll() is None
    assert count(relay, UNTRUSTED) == 1, relay.output()
    assert BUS_CONNECTED not in relay.output() and TRACEBACK not in relay.output()


def test_rediss_sends_nothing_in_plain_text(programs, password_file):
    """A server that answers in plain text: what the relay sent it opens with a TLS handshake
    record and holds no password, and the relay says the handshake failed."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(EVENT_TIMEOUT_S)
        port = server.getsockname()[1]
        relay = start_relay(programs, "--bus", f"rediss://127.0.0.1:{port}/0",
                            "--bus-password-file", str(password_file))
        received = []
        for _ in range(REFUSED_ATTEMPTS):
            connection, _ = server.accept()
            with connection:
                connection.settimeout(EVENT_TIMEOUT_S)
                received.append(connection.recv(65536))
                connection.sendall(b"-ERR unknown command\r\n")
    for sent in received:
        assert sent[:1] == b"\x16" and sent[1:2] == b"\x03", sent[:16]  # TLS handshake record
        assert PASSWORD.encode() not in sent and b"AUTH" not in sent.upper()
    relay.wait_for(r"TLS handshake failed")
    assert count(relay, r"TLS handshake failed") == 1, relay.output()
    assert TRACEBACK not in relay.output()
