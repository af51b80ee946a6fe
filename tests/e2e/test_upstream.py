"""``depthcam-relay --upstream ws[s]://HOST:PORT/view/NAME``: a relay chained behind another, real
processes; over TLS with a certificate the test makes."""

import re
import socket
import ssl

import pytest_twisted

from tests.e2e.conftest import SOURCE_CONNECTED, relay_stats
from tests.e2e.scaling import (
    EVENT_TIMEOUT_S, WORKERS_READY, HeaderViewer, assert_decodable_with_gaps_at_keyframes,
    assert_header_chain, eventually, free_port, push_source, start_relay,
)
from tests.relay.clients import assert_decodes_in_order

FLOWING_FRAMES = 60
TLS_RELAY_READY = r"relay on https://127\.0\.0\.1:(\d+)/"
# The downstream's one line while it does not trust its upstream's certificate.
UPSTREAM_REFUSED = r"its TLS certificate was refused .*--upstream-ca-file"
# Attempts the upstream must have seen before the test counts the downstream's lines.
REFUSED_ATTEMPTS = 3



@pytest_twisted.ensureDeferred
async def test_chained_relay_resumes_at_a_keyframe_after_its_upstream_restarts(programs, trackers):
    """A viewer of the edge relay decodes the origin's stream in order; the origin is SIGKILLed and
    started again on its port, the edge reconnects by itself, and the viewer goes on from a keyframe."""
    origin_port = free_port()
    origin = start_relay(programs, port=origin_port)
    push_source(programs, origin.port)
    edge = start_relay(programs, "--upstream", f"ws://127.0.0.1:{origin_port}/view/default")
    viewer = await trackers(edge.port).viewer("default")
    await viewer.wait_for_frames(FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodes_in_order(viewer)
    assert relay_stats(edge.port)["streams"]["default"]["source_connected"]

    origin.kill()
    await eventually(lambda: not relay_stats(edge.port)["streams"]["default"]["source_connected"],
                     "the edge to notice its upstream went")
    cut_at = len(viewer.frames)
    start_relay(programs, port=origin_port)  # the source reconnects to it by itself
    await eventually(lambda: relay_stats(edge.port)["streams"]["default"]["source_connected"],
                     "the edge to reconnect to its upstream")
    await viewer.wait_for_frames(cut_at + FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodable_with_gaps_at_keyframes(viewer)


@pytest_twisted.ensureDeferred
async def test_workers_behind_an_upstream_watch_it_once_and_all_serve_it(programs, trackers):
    """--workers 2 --upstream: one worker watches the origin (it counts one viewer), and viewers on
    both workers get the stream, the second worker's through the local hub."""
    origin = start_relay(programs)
    push_source(programs, origin.port)
    edge = start_relay(programs, "--workers", "2", "--upstream",
                       f"ws://127.0.0.1:{origin.port}/view/default", ready=WORKERS_READY)
    tracker = trackers(edge.port)
    viewers = [await tracker.connect(HeaderViewer, "/view/default") for _ in range(8)]
    for viewer in viewers:
        await viewer.wait_for_frames(30)
        assert not viewer.closed
        assert_header_chain(viewer)
    assert relay_stats(origin.port)["streams"]["default"]["viewers"] == 1


@pytest_twisted.ensureDeferred
async def test_chained_relay_over_tls_with_a_private_ca(programs, trackers, certificates):
    """The origin serves wss:// with a certificate of the test's CA; the edge watches it with
    --upstream-ca-file, and a viewer of the edge decodes the origin's stream in order."""
    cert, key = certificates.good
    origin = start_relay(programs, "--tls-cert", str(cert), "--tls-key", str(key),
                         ready=TLS_RELAY_READY)
    source = programs.start("source", "depthcam.source", "push",
                            f"wss://127.0.0.1:{origin.port}/source/default", "--token-file",
                            str(programs.token_file), "--ca-file", str(certificates.ca))
    source.wait_for(SOURCE_CONNECTED)
    edge = start_relay(programs, "--upstream", f"wss://127.0.0.1:{origin.port}/view/default",
                       "--upstream-ca-file", str(certificates.ca))
    viewer = await trackers(edge.port).viewer("default")
    await viewer.wait_for_frames(FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodes_in_order(viewer)
    assert relay_stats(edge.port)["streams"]["default"]["source_connected"]
    assert "upstream wss://127.0.0.1:%d/view/default connected" % origin.port in edge.output()


def test_untrusted_upstream_certificate_is_one_line_and_retried(programs, certificates):
    """No --upstream-ca-file: the edge refuses the test CA's certificate at every attempt, says so
    in one warning naming --upstream-ca-file, keeps trying, and logs no traceback."""
    cert, key = certificates.good
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    refused = 0
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(EVENT_TIMEOUT_S)
        edge = start_relay(programs, "--upstream",
                           f"wss://127.0.0.1:{server.getsockname()[1]}/view/default")
        while refused < REFUSED_ATTEMPTS:
            connection, _ = server.accept()
            connection.settimeout(EVENT_TIMEOUT_S)
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except ssl.SSLError as exc:
                assert "unknown ca" in str(exc).lower(), exc
                refused += 1
            finally:
                connection.close()
    assert edge.process.poll() is None
    assert len(re.findall(UPSTREAM_REFUSED, edge.output())) == 1, edge.output()
    assert "Traceback" not in edge.output() and "connected; feeding" not in edge.output()
