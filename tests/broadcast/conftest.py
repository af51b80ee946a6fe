"""The two doors of the broadcast core, as one fixture: direct mode's site with an in-process
publisher, and the relay with a WebSocket source. The suite in test_doors.py runs against both."""

from dataclasses import dataclass

import pytest_twisted
from twisted.internet import reactor

from depthcam.codec.header import parse_header
from depthcam.source.direct import EncoderPublisher, build_site, build_viewers, make_channel
from tests.relay.clients import ClientTracker
from tests.relay.conftest import TOKEN, noise_stream, relay_log, scene_stream, start_relay  # noqa: F401


class InProcessSource:
    """Direct mode's publisher, fed wire frames as a source would send them."""

    def __init__(self, channel):
        self._publisher = EncoderPublisher(channel)

    def send_frame(self, message):
        # The encoder hands its header over with the bytes; here the test's bytes are parsed.
        self._publisher.send_frame(parse_header(message)[0], message)


class NoCatchupFrame:
    """An encoder stand-in for make_channel: this suite's direct door catches up from its cache."""

    def catchup_frame(self):
        return None


@dataclass
class Door:
    """One door, opened: connect viewers, get its source, see its fan-out."""

    kind: str
    clients: ClientTracker
    viewer_path: str
    _source: object
    _channel: object

    async def viewer(self):
        return await self.clients.connect(self._viewer_class, self.viewer_path)

    async def source(self):
        return await self._source()

    @property
    def channel(self):
        return self._channel()

    @property
    def fanout(self):
        return self.channel.fanout

    _viewer_class = None


@pytest_twisted.async_yield_fixture(params=["direct", "relay"])
async def open_door(request, start_relay, tmp_path):  # noqa: F811 (a fixture)
    """``await open_door(viewer_class, **budget)``: the door of this run, listening on loopback."""
    listening = []

    async def open_(viewer_class, max_lag_s=None, max_unsent_bytes=None, stuck_timeout_s=None,
                    socket_buffer_bytes=None):
        budget = dict(max_lag_s=max_lag_s, max_unsent_bytes=max_unsent_bytes,
                      stuck_timeout_s=stuck_timeout_s)
        if request.param == "relay":
            fields = {key: value for key, value in budget.items() if value is not None}
            if socket_buffer_bytes is not None:
                fields["viewer_socket_buffer_bytes"] = socket_buffer_bytes
            relay = start_relay(**fields)

            async def source():
                return await relay.clients.source(token=TOKEN)

            door = Door("relay", relay.clients, "/view/s", source, relay.stream)
        else:
            channel = make_channel(NoCatchupFrame(), reactor, **budget)
            viewers = build_viewers(channel, reactor)
            if socket_buffer_bytes is not None:
                viewers.socket_buffer_bytes = socket_buffer_bytes
            port = reactor.listenTCP(0, build_site(tmp_path, viewers, channel, reactor),
                                     interface="127.0.0.1")
            clients = ClientTracker(port.getHost().port)
            listening.append((port, clients))

            async def source():
                return InProcessSource(channel)

            door = Door("direct", clients, "/ws", source, lambda: channel)
        door._viewer_class = viewer_class
        return door

    yield open_
    for port, clients in listening:
        await clients.close_all()
        await port.stopListening()
