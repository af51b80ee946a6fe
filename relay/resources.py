"""The relay's Site tree: the browser client, the stream sockets and /stats, on one port.

=====================  =====================================================================
path                   what
=====================  =====================================================================
``/``                  the static browser client (``--client-dir``; no directory listings)
``/view/<name>``       viewer WebSocket of stream ``<name>`` (``[A-Za-z0-9_-]{1,64}``, else 404)
``/source/<name>``     source WebSocket of stream ``<name>``, needs the publish token
``/ws``                viewer WebSocket of the default stream (the client's default address)
``/stats``             JSON counters and rates (``stats.py``)
=====================  =====================================================================
"""

from dataclasses import dataclass
from functools import partial

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger
from twisted.web import pages
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from depthcam.relay.auth import OriginPolicy
from depthcam.relay.closecodes import RelayCloseCode, close_with
from depthcam.relay.publisher import PublisherFactory
from depthcam.codec.publishing import is_valid_stream_name
from depthcam.relay.registry import RelayStream, StreamRegistry
from depthcam.relay.stats import StatsResource
from depthcam.relay.viewer import ViewerFactory, prepare_frame

# Autobahn waits this long for the peer's answer to a close frame before dropping the connection.
CLOSE_HANDSHAKE_TIMEOUT_S = 2.0

log = Logger()


class ClientFiles(File):
    """The browser client's files, without directory listings."""

    def directoryListing(self):
        return pages.forbidden()


class SiteWithoutAccessLog(Site):
    """A Site that logs no line per HTTP request.

    Twisted's ``Site`` logs one at info level for every file a page loads and every /stats poll;
    the log has one line per source and viewer connection instead (``publisher.py``, ``viewer.py``).
    """

    def log(self, request):
        """Log nothing (Twisted's access-log hook)."""


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
    """A built relay: the Site to listen with, and its StreamRegistry (for tests and the bench)."""

    site: Site
    registry: StreamRegistry

    def close_connections(self, code=RelayCloseCode.GOING_AWAY, reason="relay shutting down"):
        """Start closing every source and viewer (when the relay stops)."""
        for protocol in list(self.registry.connections()):
            close_with(protocol, code, reason)


def _connection_options(config):
    return dict(
        openHandshakeTimeout=config.handshake_timeout_s,
        closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT_S,
        autoPingInterval=config.ping_interval_s,
        autoPingTimeout=config.ping_timeout_s,
        # Refusals get a close frame with their code instead of a bare TCP drop.
        failByDrop=False,
        webStatus=False,
    )


def build_relay(config, token_check, reactor=None):
    """Wire a relay from a RelayConfig and a ``auth.BearerTokenCheck``; return it as a Relay."""
    if reactor is None:
        from twisted.internet import reactor
    make_stream = partial(
        RelayStream,
        prepare=prepare_frame,
        clock=reactor,
        max_unsent_bytes=config.max_unsent_bytes,
        stuck_timeout_s=config.stuck_timeout_s,
    )
    registry = StreamRegistry(
        make_stream,
        max_streams=config.max_streams,
        max_viewers=config.max_viewers,
        max_viewers_per_stream=config.max_viewers_per_stream,
    )
    viewers = ViewerFactory(
        registry, OriginPolicy(config.allowed_origins), config.viewer_socket_buffer_bytes, reactor
    )
    sources = PublisherFactory(registry, token_check, config.max_message_bytes, reactor)
    for factory in (viewers, sources):
        factory.setProtocolOptions(**_connection_options(config))

    if not config.client_dir.is_dir():
        log.warn("no client files at {path}; / answers 404", path=config.client_dir)
    root = ClientFiles(str(config.client_dir))
    root.putChild(b"view", StreamSockets(viewers))
    root.putChild(b"source", StreamSockets(sources))
    root.putChild(b"ws", WebSocketResource(_ForStream(viewers, config.default_stream)))
    root.putChild(b"stats", StatsResource(registry, reactor))
    site = SiteWithoutAccessLog(root, timeout=config.handshake_timeout_s, reactor=reactor)
    return Relay(site, registry)
