"""relay/workers.py in one process: --workers values, and two listeners sharing one port with SO_REUSEPORT."""

import os

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor, task

from depthcam.relay.__main__ import build_parser
from depthcam.relay.workers import listen_reuse_port, reuse_port_socket, worker_count

BAD_WORKER_COUNTS = ["0", "-2", "many", "1.5", ""]


def test_auto_is_one_worker_per_usable_core():
    """--workers auto gives the cores this process may run on; a number gives itself."""
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count("3") == 3
    assert build_parser().parse_args(["--workers", "auto"]).workers == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("text", BAD_WORKER_COUNTS)
def test_bad_worker_counts_are_refused(text):
    """Anything but a positive integer or auto is a usage error."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--workers", text])


class _Counting(protocol.Factory):
    def __init__(self):
        self.accepted = 0

    def buildProtocol(self, addr):
        self.accepted += 1
        return protocol.Protocol()


@pytest_twisted.ensureDeferred
async def test_two_listeners_share_one_port_and_both_get_connections():
    """Listeners bound with SO_REUSEPORT beside a reserving socket split new connections between them."""
    reserved = reuse_port_socket("127.0.0.1", 0)
    port = reserved.getsockname()[1]
    factories = [_Counting(), _Counting()]
    listeners = [listen_reuse_port(reactor, "127.0.0.1", port, factory) for factory in factories]
    clients = []
    try:
        for _ in range(64):  # the kernel hashes each connection's ports: all on one: 2 in 2**64
            creator = protocol.ClientCreator(reactor, protocol.Protocol)
            clients.append(await creator.connectTCP("127.0.0.1", port).addTimeout(20, reactor))
        deadline = 400  # polls of 0.05 s: 20 s
        while sum(f.accepted for f in factories) < 64 and deadline:
            await task.deferLater(reactor, 0.05, lambda: None)
            deadline -= 1
        assert sum(f.accepted for f in factories) == 64
        assert all(f.accepted > 0 for f in factories)
    finally:
        for client in clients:
            client.transport.loseConnection()
        for listener in listeners:
            await listener.stopListening()
        reserved.close()
