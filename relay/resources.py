"""The relay's Site tree: the browser client, the stream sockets and /stats, on one port.

=====================  =====================================================================
path                   what
=====================  =====================================================================
``/``                  the browser client (``--client-dir``; only what its page loads)
``/view/<name>``       viewer WebSocket of stream ``<name>`` (``[A-Za-z0-9_-]{1,64}``, else 404)
``/source/<name>``     source WebSocket of stream ``<name>``, needs the publish token
``/ws``                viewer WebSocket of the default stream (the client's default address)
``/stats``             JSON counters and rates (``broadcast/stats.py``)
=====================  =====================================================================
"""

from dataclasses import dataclass
from functools import partial

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger
from twisted.web import pages
from twisted.web.resource import Resource

from depthcam.broadcast.admission import AddressCaps, AddressGuard
from depthcam.broadcast.closing import close_with
from depthcam.broadcast.files import ClientFiles
from depthcam.broadcast.origins import OriginPolicy, OriginRefused
from depthcam.broadcast.site import QuietSite
from depthcam.broadcast.stats import StatsResource
from depthcam.broadcast.viewer import ViewerFactory
from depthcam.protocol import limits
from depthcam.protocol.closecodes import CloseCode
from depthcam.protocol.streams import is_valid_stream_name
from depthcam.relay.auth import AuthError
from depthcam.relay.bus import BusStream
from depthcam.relay.publisher import PublisherFactory
from depthcam.relay.registry import RelayStream, StreamRegistry

log = Logger()


class ViewerAdmission:
    """Who may watch on the relay: the Origin policy, then the registry's limits."""

    def __init__(self, registry, origin_policy):
        self._registry = registry
        self._origin_policy = origin_policy

    def admit_viewer(self, stream_name, origin):
        """The RelayStream for a viewer's handshake; raises OriginRefused (403) or RelayFullError (503)."""
        try:
            self._origin_policy.check(origin)
        except OriginRefused:
            self._registry.viewers_refused += 1
            raise
        return self._registry.admit_viewer(stream_name)

    def release_viewer(self, stream):
        self._registry.release_viewer(stream)


class _ForStream:
    """What WebSocketResource needs of a factory, building protocols for one stream name."""

    def __init__(self, factory, stream_name):
        self._factory = factory
        self._stream_name = stream_name

    def buildProtocol(self, addr):
        protocol = self._factory.buildProtocol(addr)
        protocol.stream_name = self._stream_name
        return protocol


class StreamSockets(Resource):
    """``/<prefix>/<name>``: the WebSocket of one stream through ``factory``; 404 for a bad name."""

    def __init__(self, factory):
        super().__init__()
        self._factory = factory

    def getChild(self, path, request):
        name = path.decode("ascii", "replace")
        if request.postpath or not is_valid_stream_name(name):
            return pages.notFound("No such stream", "Stream names match [A-Za-z0-9_-]{1,64}.")
        return WebSocketResource(_ForStream(self._factory, name))

    def render(self, request):
        return pages.notFound("No such stream", "Name a stream: /view/<name>.").render(request)


@dataclass(frozen=True)
class Relay:
    """A built relay: the factory to listen with (its Site behind the per-address guard), and its
    StreamRegistry (for tests and the bench)."""

    site: AddressGuard
    registry: StreamRegistry

    def close_connections(self, code=CloseCode.GOING_AWAY, reason="relay shutting down"):
        """Start closing every source and viewer (when the relay stops)."""
        for protocol in list(self.registry.connections()):
            close_with(protocol, code, reason)


def _connection_options(config):
    return dict(
        openHandshakeTimeout=config.handshake_timeout_s,
        closeHandshakeTimeout=limits.CLOSE_HANDSHAKE_TIMEOUT_S,
        autoPingInterval=config.ping_interval_s,
        autoPingTimeout=config.ping_timeout_s,
        # Refusals get a close frame with their code instead of a bare TCP drop.
        failByDrop=False,
        webStatus=False,
    )


def build_relay(config, token_check, reactor=None, link=None):
    """Wire a relay from a RelayConfig and a ``auth.BearerTokenCheck``; return it as a Relay.

    ``link`` (optional): a ``bus.BusLink`` joining the relay's streams to other relays'.
    """
    if reactor is None:
        from twisted.internet import reactor
    make_stream = partial(
        RelayStream,
        clock=reactor,
        max_lag_s=config.max_lag_s,
        max_unsent_bytes=config.max_unsent_bytes,
        stuck_timeout_s=config.stuck_timeout_s,
    )
    registry_limits = dict(
        max_streams=config.max_streams,
        max_viewers=config.max_viewers,
        max_viewers_per_stream=config.max_viewers_per_stream,
    )
    if link is None:
        registry = StreamRegistry(make_stream, **registry_limits)
    else:
        registry = link.make_registry(partial(BusStream, **make_stream.keywords), **registry_limits)
    viewers = ViewerFactory(
        ViewerAdmission(registry, OriginPolicy(config.allowed_origins)),
        socket_buffer_bytes=config.viewer_socket_buffer_bytes, reactor=reactor,
        **_connection_options(config),
    )
    sources = PublisherFactory(registry, token_check, config.max_message_bytes, reactor)
    sources.setProtocolOptions(**_connection_options(config))

    if not (config.client_dir / "index.html").is_file():
        log.warn("no client at {path}; / answers 404", path=config.client_dir)
    root = ClientFiles(config.client_dir)
    root.putChild(b"view", StreamSockets(viewers))
    root.putChild(b"source", StreamSockets(sources))
    root.putChild(b"ws", WebSocketResource(_ForStream(viewers, config.default_stream)))
    guard = None  # set below; /stats reads its counters when asked

    def may_name_streams(request):
        if config.public_stats:
            return True
        try:
            token_check.check(request.getHeader(b"authorization") and
                              request.getHeader(b"authorization").decode("latin-1"))
        except AuthError:
            return False
        return True

    root.putChild(b"stats", StatsResource(
        lambda: registry.streams,
        lambda: {"viewers_refused": registry.viewers_refused,
                 "sources_refused": registry.sources_refused,
                 **guard.counters(),
                 **({} if link is None else {"bus": link.stats()})},
        reactor,
        may_name_streams,
    ))
    site = QuietSite(root, timeout=config.handshake_timeout_s, reactor=reactor)
    guard = AddressGuard(site, AddressCaps(
        max_connections=config.max_connections_per_address,
        max_handshakes=config.max_handshakes_per_address,
        handshake_deadline_s=config.handshake_timeout_s,
    ), clock=reactor)
    return Relay(guard, registry)
