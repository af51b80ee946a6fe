"""ViewerProtocol: one browser watching one stream, mapped onto that stream's Fanout.

A viewer may send only FORMAT.md's control messages (``codec/control.py``): ``{"type": "resync"}``
catches it up from the stream's cache (the cached keyframe, then the deltas since: the relay does
not decode, so it has no CATCHUP frame to offer); a binary message closes it with 1003, any other
text with 1008, and a message over ``MAX_VIEWER_MESSAGE_BYTES`` with 1009. Only that viewer is
closed. A viewer over the limits is refused in its handshake with HTTP 503, one from an Origin not
allowed with 403.
"""

import socket

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import PreparedMessage
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from depthcam.codec.control import ControlMessageError, ControlType, parse_control_message
from depthcam.relay.auth import AuthError
from depthcam.relay.closecodes import close_with
from depthcam.relay.registry import RelayFullError

# Control messages are at most 256 bytes (codec/control.py, which answers 257 up to this with
# 1008); Autobahn stops reading anything longer and answers 1009.
MAX_VIEWER_MESSAGE_BYTES = 4096


def prepare_frame(message):
    """One binary message framed once for every viewer, as ``WebSocketServerFactory.prepareMessage``
    does for a server (unmasked). Never compressed: LZMA output would not shrink."""
    return PreparedMessage(message, isBinary=True, applyMask=False, doNotCompress=True)


@implementer(IPushProducer)
class _TransportSignals:
    """Passes a viewer transport's full and drained calls (IPushProducer) on to the Fanout."""

    def __init__(self, fanout, viewer):
        self._fanout = fanout
        self._viewer = viewer

    def pauseProducing(self):
        self._fanout.transport_full(self._viewer)

    def resumeProducing(self):
        self._fanout.transport_drained(self._viewer)

    def stopProducing(self):
        """The connection is gone; ``onClose`` removes the viewer."""


class ViewerProtocol(WebSocketServerProtocol):
    """One viewer connection (see the module docstring)."""

    stream_name = None  # set for each connection by resources.StreamSockets
    _stream = None  # the RelayStream, from admission in onConnect until onClose
    _log = Logger()

    def __repr__(self):
        return f"<viewer {self.peer} of {self.stream_name!r}>"

    def onConnect(self, request):
        registry = self.factory.registry
        try:
            self.factory.origin_policy.check(request.headers.get("origin"))
        except AuthError as exc:
            registry.viewers_refused += 1
            self._log.info("viewer {peer} refused: {reason}", peer=self.peer, reason=exc.reason)
            raise ConnectionDeny(exc.http_status, exc.reason) from exc
        try:
            self._stream = registry.admit_viewer(self.stream_name)
        except RelayFullError as exc:
            self._log.info("viewer {peer} refused: {reason}", peer=self.peer, reason=exc)
            raise ConnectionDeny(exc.http_status, str(exc)) from exc

    def onOpen(self):
        self._limit_kernel_buffer()
        # Twisted Web's HTTPChannel registered itself as this transport's producer and keeps
        # that registration after WebSocketResource takes the transport over; ours replaces it.
        self.transport.unregisterProducer()
        self.registerProducer(_TransportSignals(self._stream.fanout, self), True)
        self._log.info("viewer {peer} watching {name}", peer=self.peer, name=self.stream_name)
        self._stream.fanout.add(self)

    def onMessage(self, payload, isBinary):
        if self._stream is None:
            return
        try:
            message = parse_control_message(payload, isBinary)
        except ControlMessageError as exc:
            self._log.info(
                "viewer {peer} closed ({code}): {reason}",
                peer=self.peer, code=exc.close_code, reason=exc.reason,
            )
            self._stream.fanout.remove(self)
            close_with(self, exc.close_code, exc.reason)
            return
        if message.type is ControlType.RESYNC:
            self._stream.fanout.resync(self)

    def onClose(self, wasClean, code, reason):
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.fanout.remove(self)
        self.factory.registry.release_viewer(stream)
        self._log.info("viewer {peer} left {name} ({code})", peer=self.peer, name=stream.name, code=code)

    # What Fanout calls.

    def deliver(self, message):
        """Write one prepared frame message (nothing once the connection is closing)."""
        if self.state == self.STATE_OPEN:
            self.sendPreparedMessage(message)

    def drop_stuck(self):
        """Close the TCP connection now, dropping what is queued."""
        self.dropConnection(abort=True)

    def _limit_kernel_buffer(self):
        size = self.factory.socket_buffer_bytes
        get_handle = getattr(self.transport, "getHandle", None)
        if not size or get_handle is None:
            return
        try:
            get_handle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except (OSError, AttributeError):
            self._log.debug("cannot limit the send buffer of {peer}", peer=self.peer)


class ViewerFactory(WebSocketServerFactory):
    """Viewer connections of every stream: the registry, the Origin policy and the socket settings."""

    protocol = ViewerProtocol

    def __init__(self, registry, origin_policy, socket_buffer_bytes, reactor=None):
        super().__init__(reactor=reactor)
        self.registry = registry
        self.origin_policy = origin_policy
        self.socket_buffer_bytes = socket_buffer_bytes
        self.setProtocolOptions(
            maxMessagePayloadSize=MAX_VIEWER_MESSAGE_BYTES,
            maxFramePayloadSize=MAX_VIEWER_MESSAGE_BYTES,
            # Our OriginPolicy decides; Autobahn's own check would refuse browsers' "null".
            allowNullOrigin=True,
        )
