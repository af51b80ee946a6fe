"""PublisherProtocol: one source pushing one stream, authenticated in its handshake.

The handshake needs ``Authorization: Bearer <token>`` (``auth.py``): none or a malformed one is
refused with HTTP 401, a wrong one with 403, and a source past the stream limit with 503; a
refused source never reaches a stream, so nothing it sends is broadcast. A second source for a
busy stream takes it over (``registry.py``); the one it replaces is closed with 4001.

The relay tells its source how many viewers watch, as a text message ``{"type": "viewers",
"count": N}`` (FORMAT.md, *Control messages*): once when it starts publishing, then at every
change, so a source nobody watches can stop reading and encoding.

Bad input from an authenticated source:

- a message over ``max_message_bytes``: Autobahn closes the source with 1009;
- a text message: closed with 1003 (a source sends binary frames only);
- a binary message that fails ``parse_header``: dropped and counted (``frames_rejected`` in /stats),
  logged once per connection, and the source stays connected: one damaged frame must not cut
  every viewer off, and the stream's chain rule (``stream.py``) keeps the deltas that depended on
  it from reaching anyone until the next keyframe.
"""

import txaio
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.logger import Logger

from depthcam.broadcast.closing import close_with
from depthcam.broadcast.ratelimitedlog import RateLimitedLog
from depthcam.codec.errors import FrameFormatError
from depthcam.protocol.closecodes import CloseCode
from depthcam.protocol.control import viewers_message
from depthcam.relay.auth import AuthError
from depthcam.relay.registry import RelayFullError


class PublisherProtocol(WebSocketServerProtocol):
    """One source connection (see the module docstring)."""

    # Autobahn logs two lines of its own (info and warn) for every refused handshake; ours go
    # through a RateLimitedLog, so only Autobahn's errors pass.
    log = txaio.make_logger(level="error")

    stream_name = None  # set for each connection by resources.StreamSockets
    _stream = None  # the RelayStream, from admission in onConnect until onClose
    _closing = False
    _rejection_logged = False
    _log = Logger()

    def __repr__(self):
        return f"<source {self.peer} of {self.stream_name!r}>"

    def onConnect(self, request):
        registry = self.factory.registry
        try:
            self.factory.token_check.check(request.headers.get("authorization"))
        except AuthError as exc:
            registry.sources_refused += 1
            self.factory.limited_log.warn(
                f"source refused {exc.http_status}",
                "source {peer} for {name} refused ({status}): {reason}",
                peer=self.peer, name=self.stream_name, status=exc.http_status, reason=exc.reason,
            )
            raise ConnectionDeny(exc.http_status, exc.reason) from exc
        try:
            self._stream = registry.admit_publisher(self.stream_name)
        except RelayFullError as exc:
            self.factory.limited_log.warn("source refused 503", "source {peer} refused: {reason}",
                                          peer=self.peer, reason=exc)
            raise ConnectionDeny(exc.http_status, str(exc)) from exc

    def onOpen(self):
        self._log.info("source {peer} publishing to {name}", peer=self.peer, name=self.stream_name)
        self.factory.registry.attach_publisher(self._stream, self)

    def onMessage(self, payload, isBinary):
        stream = self._stream
        if stream is None or stream.publisher is not self or self._closing:
            return
        if not isBinary:
            self._log.warn("source {peer} sent a text message; closing it", peer=self.peer)
            self._close(CloseCode.UNSUPPORTED_DATA, "sources send binary frames only")
            return
        try:
            stream.publish_message(payload)
        except FrameFormatError as exc:
            if not self._rejection_logged:
                self._rejection_logged = True
                self._log.warn(
                    "source {peer}: dropping a frame that is not valid ({error}); "
                    "later ones are counted in /stats, not logged",
                    peer=self.peer, error=f"{type(exc).__name__}: {exc}",
                )

    def onClose(self, wasClean, code, reason):
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self.factory.registry.release_publisher(stream, self)
        self._log.info("source {peer} left {name} ({code})", peer=self.peer, name=stream.name, code=code)

    def send_viewer_count(self, count):
        """Tell the source how many viewers watch its stream now."""
        if self.state == self.STATE_OPEN and not self._closing:
            self.sendMessage(viewers_message(count), isBinary=False)

    def replace(self):
        """A newer source took the stream over: close this one with 4001."""
        self._close(CloseCode.SOURCE_REPLACED, "replaced by a newer source")

    def _close(self, code, reason):
        self._closing = True
        close_with(self, code, reason)


class PublisherFactory(WebSocketServerFactory):
    """Source connections of every stream: the registry, the token check and the size limit."""

    protocol = PublisherProtocol

    def __init__(self, registry, token_check, max_message_bytes, reactor=None):
        # No Server header naming Autobahn and its version in the handshake answer.
        super().__init__(reactor=reactor, server=None)
        # Refusals log one line per cause, then a count: a token-guessing flood is one line.
        self.limited_log = RateLimitedLog(Logger(namespace="depthcam.relay.publisher"),
                                          clock=self.reactor)
        self.registry = registry
        self.token_check = token_check
        self.setProtocolOptions(
            maxMessagePayloadSize=max_message_bytes,
            maxFramePayloadSize=max_message_bytes,
        )
