"""Direct mode's door: the broadcast core with the encoder as its in-process publisher.

- ``EncoderPublisher``: the pump's sink; hands each frame, with the header the encoder wrote,
  to the broadcast Channel, and gives the Channel the encoder's one-off catch-up frame.
- ``IdlePause``: pauses the pump while no viewer watches, and resumes it (with a keyframe) for
  the first one; the Channel is emptied on pause, so nobody is sent a stale picture.
- ``build_site``: the client's files at ``/``, ``/stats``, and the viewer WebSocket on any path
  (``/ws`` for today's client, ``/`` for the 2012 one), on a quiet Site behind the per-address
  guard (``broadcast/admission.py``), with the relay's handshake deadline as its idle timeout
  (Twisted's own default keeps an idle connection 12 hours).
- ``DirectViewerProtocol``: a viewer whose page may watch this camera: same-origin, this
  machine's, or listed with ``--allowed-origin``, on a Host the camera answers to
  (``broadcast/origins.py``); others get 403.

Fan-out, budgets, catch-up, the viewer protocol, the files and the stats are the broadcast
core's (``depthcam.broadcast``), the same the relay uses.
"""

from autobahn.twisted.resource import WebSocketResource
from autobahn.websocket.types import ConnectionDeny
from twisted.logger import Logger

from depthcam.broadcast.admission import AddressCaps, AddressGuard
from depthcam.broadcast.channel import Channel
from depthcam.broadcast.files import ClientFiles
from depthcam.broadcast.origins import DirectOriginPolicy, OriginRefused
from depthcam.broadcast.site import QuietSite, UpgradeAnywhere
from depthcam.broadcast.stats import StatsResource
from depthcam.broadcast.viewer import OneChannel, ViewerFactory, ViewerProtocol
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


class DirectViewerProtocol(ViewerProtocol):
    """A viewer of direct mode: its page's Origin and the Host it names must pass the policy."""

    def onConnect(self, request):
        try:
            self.factory.origin_policy.check(request.headers.get("origin"),
                                             request.headers.get("host"))
        except OriginRefused as exc:
            self.factory.refusal_log.info("origin", "viewer {peer} refused: {reason}",
                                          peer=self.peer, reason=exc.reason)
            raise ConnectionDeny(exc.http_status, exc.reason) from exc
        return super().onConnect(request)


def build_site(client_dir, viewers, channel, clock=None, caps=None):
    """``client_dir``'s page at /, ``/stats``, and ``viewers`` on any WebSocket upgrade: a quiet
    Site, refusing Hosts the viewers' origin policy refuses, behind the per-address guard."""
    root = UpgradeAnywhere(ClientFiles(client_dir), WebSocketResource(viewers))
    guard = None  # set below; /stats reads its refusal counters when asked
    root.putChild(b"stats", StatsResource(lambda: {channel.name: channel},
                                          lambda: guard.counters(), clock=clock))
    caps = caps or AddressCaps()
    site = QuietSite(root, timeout=caps.handshake_deadline_s, reactor=clock,
                     host_policy=viewers.origin_policy.hosts)
    viewers.refusal_log = site.refusal_log
    guard = AddressGuard(site, caps, clock=clock)
    return guard


def build_viewers(channel, reactor=None, allowed_origins=()):
    """The viewer factory of a direct-mode source: every viewer whose page may watch (same-origin,
    this machine's, or one of ``allowed_origins``) watches ``channel``."""
    viewers = ViewerFactory(OneChannel(channel), reactor=reactor)
    viewers.protocol = DirectViewerProtocol
    viewers.origin_policy = DirectOriginPolicy(allowed_origins)
    return viewers
