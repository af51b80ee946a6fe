"""Direct mode's door: the broadcast core with the encoder as its in-process publisher.

- ``EncoderPublisher``: the pump's sink; hands each frame, with the header the encoder wrote,
  to the broadcast Channel, and gives the Channel the encoder's one-off catch-up frame.
- ``IdlePause``: pauses the pump while no viewer watches, and resumes it (with a keyframe) for
  the first one; the Channel is emptied on pause, so nobody is sent a stale picture.
- ``build_site``: the client's files at ``/``, ``/stats``, and the viewer WebSocket on any path
  (``/ws`` for today's client, ``/`` for the 2012 one), on a quiet Site.

Fan-out, budgets, catch-up, the viewer protocol, the files and the stats are the broadcast
core's (``depthcam.broadcast``), the same the relay uses.
"""

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger

from depthcam.broadcast.channel import Channel
from depthcam.broadcast.files import ClientFiles
from depthcam.broadcast.site import QuietSite, UpgradeAnywhere
from depthcam.broadcast.stats import StatsResource
from depthcam.broadcast.viewer import OneChannel, ViewerFactory
from depthcam.protocol.streams import DEFAULT_STREAM

log = Logger()


class EncoderPublisher:
    """The pump's sink in direct mode: publishes each encoded frame on ``channel``."""

    def __init__(self, channel):
        self.channel = channel

    def send_frame(self, header, message):
        self.channel.publish(header, message)


class IdlePause:
    """Pauses ``pump`` while ``channel`` has no viewer; resumes it for the first (a keyframe)."""

    def __init__(self, pump, channel):
        self._pump = pump
        self._channel = channel
        channel.add_count_listener(self.viewers_changed)

    def viewers_changed(self, count):
        if count and self._pump.paused:
            self._pump.resume()
        elif not count and not self._pump.paused:
            self._pump.pause()
            self._channel.reset()


def make_channel(encoder, clock=None, **budget):
    """The Channel of a direct-mode source whose frames come from ``encoder``."""
    return Channel(DEFAULT_STREAM, clock, catchup_frame=encoder.catchup_frame, **budget)


def build_site(client_dir, viewers, channel, clock=None):
    """A quiet Site: ``client_dir``'s page at /, ``/stats``, and ``viewers`` on any WebSocket upgrade."""
    root = UpgradeAnywhere(ClientFiles(client_dir), WebSocketResource(viewers))
    root.putChild(b"stats", StatsResource(lambda: {channel.name: channel}, clock=clock))
    return QuietSite(root)


def build_viewers(channel, reactor=None):
    """The viewer factory of a direct-mode source: every viewer watches ``channel``."""
    return ViewerFactory(OneChannel(channel), reactor=reactor)
