"""Upstream: this relay re-broadcasts a stream that another relay serves, watching it as a viewer.

``depthcam-relay --upstream wss://other-host/view/NAME`` connects to that relay as an ordinary
viewer and feeds what it receives into its own stream NAME, the way an authenticated source
would (so with ``--bus`` the frames go on to other relays too). Relays chained this way form a
tree across the internet, as Icecast relays do.

- It starts where every viewer starts: the other relay's catch-up (its newest keyframe and the
  deltas since), so the stream is live here at once.
- A lost connection is retried with backoff (``ReconnectingClientFactory``, up to
  ``MAX_RECONNECT_DELAY_S``). The stream here is reset at the loss, so after a gap nothing is
  forwarded until a keyframe: the cache refuses deltas that do not follow the frame before them.
- A connection that fails (the upstream is down, or its TLS certificate is not trusted: see
  ``--upstream-ca-file``) is one warning line per run of failures, not one per retry.
- A local source that publishes to NAME takes the stream over (newest source wins); the upstream
  connection then closes and, reconnecting, takes it back: one stream should have one feed.
"""

from urllib.parse import urlsplit

import txaio
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
from twisted.internet import protocol
from twisted.logger import Logger

from depthcam.broadcast.tls import TLS_REFUSALS, client_tls
from depthcam.codec.errors import FrameFormatError
from depthcam.protocol import limits
from depthcam.protocol.streams import VIEW_PREFIX, is_valid_stream_name


class UpstreamError(ValueError):
    """An ``--upstream`` address this relay cannot watch."""


def stream_of_upstream(url):
    """The stream name an upstream address ``ws[s]://HOST[:PORT]/view/NAME`` carries."""
    parts = urlsplit(url)
    name = parts.path[len(VIEW_PREFIX):] if parts.path.startswith(VIEW_PREFIX) else ""
    if parts.scheme not in ("ws", "wss") or not parts.hostname or not is_valid_stream_name(name):
        raise UpstreamError(f"not a relay's viewer address: {url!r} (ws[s]://HOST[:PORT]/view/NAME)")
    return name


class UpstreamViewer(WebSocketClientProtocol):
    """The connection to the upstream relay: a viewer whose frames feed the stream here."""

    # Autobahn logs a line of its own for each failed TLS handshake, at every retry: the factory
    # logs one line per run of failures instead, so only Autobahn's errors pass.
    log = txaio.make_logger(level="critical")
    _stream = None
    _log = Logger()
    lost_reason = None  # the exception the connection was lost with

    def onOpen(self):
        self.factory.resetDelay()
        registry = self.factory.registry
        self._stream = registry.admit_publisher(self.factory.stream_name)
        registry.attach_publisher(self._stream, self)
        self._log.info("upstream {url} connected; feeding {name}", url=self.factory.url,
                       name=self.factory.stream_name)

    def onMessage(self, payload, isBinary):
        stream = self._stream
        if not isBinary or stream is None or stream.publisher is not self:
            return
        try:
            stream.publish_message(payload)
        except FrameFormatError:
            pass  # counted in the stream's frames_rejected

    def connectionLost(self, reason):
        # Autobahn's onClose gives no cause for a connection that failed its TLS handshake.
        self.lost_reason = reason.value
        super().connectionLost(reason)

    def onClose(self, wasClean, code, reason):
        stream, self._stream = self._stream, None
        if stream is not None:
            self.factory.registry.release_publisher(stream, self)
            self._log.info("upstream {url} lost ({code}); reconnecting", url=self.factory.url, code=code)
        elif isinstance(self.lost_reason, TLS_REFUSALS):
            self.factory.report(
                f"its TLS certificate was refused ({self.lost_reason}): check the host name, and "
                f"--upstream-ca-file for a private CA")

    # What the registry asks of a stream's source.

    def send_viewer_count(self, count):
        """Viewers of a relay send only resync: the upstream relay counts this one viewer."""

    def replace(self):
        """A source of this relay took the stream over: stop feeding it (and reconnect later)."""
        self.sendClose()


class UpstreamFactory(WebSocketClientFactory, protocol.ReconnectingClientFactory):
    """Keeps one UpstreamViewer connected to ``url``, retrying with backoff."""

    protocol = UpstreamViewer
    MAX_RECONNECT_DELAY_S = 10.0
    maxDelay = MAX_RECONNECT_DELAY_S
    initialDelay = 0.2
    # Twisted's "Starting factory" and "will retry" lines, at every attempt: ``report`` instead.
    noisy = False
    _log = Logger()

    def __init__(self, url, registry, reactor=None, ca_file=None):
        super().__init__(url, reactor=reactor)
        self.stream_name = stream_of_upstream(url)
        self.registry = registry
        # Built now, so that a CA file that cannot be read stops the relay at its start.
        self.tls_options = client_tls(self.host, ca_file) if self.isSecure else None
        self._reported = None  # the last failure logged, so a run of them logs once
        self.setProtocolOptions(
            maxMessagePayloadSize=limits.MAX_SOURCE_MESSAGE_BYTES,
            maxFramePayloadSize=limits.MAX_SOURCE_MESSAGE_BYTES,
            openHandshakeTimeout=limits.OPEN_HANDSHAKE_TIMEOUT_S,
            closeHandshakeTimeout=limits.CLOSE_HANDSHAKE_TIMEOUT_S,
            autoPingInterval=limits.AUTO_PING_INTERVAL_S,
            autoPingTimeout=limits.AUTO_PING_TIMEOUT_S,
        )

    def start(self):
        """Connect, and keep feeding the stream from the upstream relay."""
        connectWS(self, self.tls_options)

    def resetDelay(self):
        super().resetDelay()
        self._reported = None

    def report(self, problem):
        """Log ``problem`` unless it is the one logged last (reset by a connection that opens)."""
        if problem != self._reported:
            self._reported = problem
            self._log.warn("upstream {url}: {problem}; retrying (at most every {delay:g} s)",
                           url=self.url, problem=problem, delay=self.maxDelay)

    def clientConnectionFailed(self, connector, reason):
        self.report(f"cannot connect ({reason.getErrorMessage()})")
        self.retry(connector)

    def clientConnectionLost(self, connector, reason):
        self.retry(connector)
