"""relay/hub.py: the local bus's message layout, and the hub forwarding in order to subscribers only."""

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from depthcam.relay.hub import HubBus, HubFactory, HubMessageError, HubOp, pack, unpack

BAD_MESSAGES = [
    b"",  # no prefix
    b"\x03",  # half a prefix
    b"\x03\x05abc",  # channel name cut short
    b"\x09\x01a",  # no such op
    b"\x03\x02\xff\xfe",  # channel name not UTF-8
]


def test_messages_round_trip_with_any_payload_bytes():
    """A message unpacks to the op, channel and payload it was packed from, payload byte for byte."""
    payload = bytes(range(256)) * 3
    assert unpack(pack(HubOp.PUBLISH, "depthcam:frames:s", payload)) == (
        HubOp.PUBLISH, "depthcam:frames:s", payload)
    assert unpack(pack(HubOp.SUBSCRIBE, "c")) == (HubOp.SUBSCRIBE, "c", b"")


@pytest.mark.parametrize("data", BAD_MESSAGES)
def test_malformed_messages_are_refused(data):
    """Anything that breaks the layout raises HubMessageError."""
    with pytest.raises(HubMessageError):
        unpack(data)


class _Listener:
    def __init__(self):
        self.messages = []
        self.connected = defer.Deferred()
        self.waiting = None

    def bus_connected(self):
        if not self.connected.called:
            self.connected.callback(None)

    def bus_lost(self):
        """Not expected here."""

    def bus_message(self, channel, payload):
        self.messages.append((channel, payload))
        if self.waiting is not None and len(self.messages) >= self.waiting[0]:
            self.waiting[1].callback(None)


@pytest_twisted.ensureDeferred
async def test_hub_forwards_in_order_to_subscribers_of_the_channel_only(tmp_path):
    """Published messages reach every subscriber of their channel, in order, and nobody else."""
    path = str(tmp_path / "hub.sock")
    port = reactor.listenUNIX(path, HubFactory())
    buses, listeners = [HubBus(path), HubBus(path), HubBus(path)], [_Listener() for _ in range(3)]
    try:
        buses[0].subscribe("a")
        buses[1].subscribe("a")
        buses[2].subscribe("b")
        for bus, listener in zip(buses, listeners):
            bus.start(listener)
        await defer.gatherResults([listener.connected for listener in listeners])
        # Its own subscribe and publish travel on one connection, so the echo proves it subscribed.
        ready = listeners[1].waiting = (1, defer.Deferred())
        buses[1].publish("a", b"ready")
        await ready[1].addTimeout(20, reactor)
        done = listeners[1].waiting = (51, defer.Deferred())
        for index in range(50):
            buses[2].publish("a", b"%d" % index)
        await done[1].addTimeout(20, reactor)
        expected = [("a", b"ready")] + [("a", b"%d" % index) for index in range(50)]
        assert listeners[1].messages == expected
        assert listeners[2].messages == []
    finally:
        for bus in buses:
            bus.stop()
        await port.stopListening()
