"""broadcast/tcpacked.py against a real loopback TCP connection: the acknowledged position counts
exactly the bytes written, stops where the peer's window closes, and is refused where unknown."""

import socket
import sys
import time

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor

from depthcam.broadcast.tcpacked import acked_socket, bytes_acked
from tests.deadlines import within

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO is Linux's")

WAIT_S = 10.0


def connected_pair():
    """An accepted socket (the server's side, as a viewer's is) and its client, on loopback."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    return server, client


def wait_for_acked(sock, at_least):
    """Read ``bytes_acked`` until it reaches ``at_least``: loopback acknowledges as the bytes land,
    so this is at once unless the machine is loaded; the deadline fails the test otherwise."""
    deadline = time.monotonic() + WAIT_S
    while bytes_acked(sock) < at_least:
        assert time.monotonic() < deadline, f"acked {bytes_acked(sock)} of {at_least}"
    return bytes_acked(sock)


def test_the_accepting_side_counts_exactly_the_bytes_it_wrote():
    """Before any write it is 0 (the SYN is not counted); after each write it reaches the total."""
    server, client = connected_pair()
    with server, client:
        assert bytes_acked(server) == 0
        total = 0
        for size in (1, 1000, 50_000):
            server.sendall(b"x" * size)
            total += size
            assert wait_for_acked(server, total) == total


def test_it_stops_where_a_peer_that_does_not_read_closes_its_window():
    """A peer that does not read acknowledges only what its receive buffer holds, then resumes."""
    server, client = connected_pair()
    with server, client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        server.setblocking(False)
        written = 0
        try:
            while True:
                written += server.send(b"y" * 65536)
        except BlockingIOError:
            pass
        stalled = bytes_acked(server)
        assert 0 < stalled < written
        client.setblocking(False)
        received = 0
        deadline = time.monotonic() + WAIT_S
        while received < written:
            assert time.monotonic() < deadline, f"read {received} of {written}"
            try:
                received += len(client.recv(1 << 20))
            except BlockingIOError:
                pass
        assert wait_for_acked(server, written) == written


class Quiet(protocol.Protocol):
    pass


@pytest.mark.parametrize("make", [
    lambda: object(),  # no getHandle: a test's fake transport
])
def test_no_socket_is_refused(make):
    """A transport without a socket gives None: the caller keeps the producer contract alone."""
    assert acked_socket(make()) is None


def test_a_unix_socket_is_refused():
    """A stream socket that is not TCP has no TCP_INFO: None."""
    left, right = socket.socketpair()
    with left, right:
        class Transport:
            def getHandle(self):
                return left
        assert acked_socket(Transport()) is None


@pytest_twisted.inlineCallbacks
def test_a_twisted_tcp_transport_is_accepted():
    """The socket under a connected Twisted TCP transport is the one returned."""
    factory = protocol.Factory.forProtocol(Quiet)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        client = yield within(protocol.ClientCreator(reactor, Quiet).connectTCP(
            "127.0.0.1", port.getHost().port), WAIT_S, "a connection")
        assert acked_socket(client.transport) is client.transport.getHandle()
        client.transport.loseConnection()
    finally:
        yield port.stopListening()
