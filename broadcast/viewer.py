"""ViewerProtocol: one browser watching one stream, mapped onto that stream's Channel.

A viewer may send only FORMAT.md's control messages (``depthcam.protocol.control``):
``{"type": "resync"}`` catches it up (at most as often as ``resynclimit.ResyncLimit`` allows); a binary message closes it with 1003, any other text with
1008, and a message over ``MAX_VIEWER_MESSAGE_BYTES`` with 1009. Only that viewer is closed.

Limits apply to what a viewer SENDS us, never to what we send it: frames go out framed once
(``channel.frame_message``) and written as they are, so no outgoing frame of any profile meets
Autobahn's ``maxMessagePayloadSize`` (which ``sendMessage`` applies to outgoing messages too).

Who may watch which stream is the door's business: the factory's ``admission`` maps a stream name
and an Origin to a Channel (``admit_viewer``), or refuses with an exception carrying
``http_status``, and is told when the viewer goes (``release_viewer``).
"""

import socket

import txaio
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.interfaces import IPullProducer, IPushProducer
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

from depthcam.broadcast.closing import close_with
from depthcam.broadcast.ratelimitedlog import RateLimitedLog
from depthcam.broadcast.resynclimit import ResyncLimit
from depthcam.broadcast.tcpacked import acked_socket, bytes_acked, plain_socket
from depthcam.protocol import limits
from depthcam.protocol.control import ControlMessageError, ControlType, parse_control_message


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


@implementer(IPullProducer)
class _DrainSignals:
    """On a plain socket: Twisted calls a pull producer's ``resumeProducing`` each time it has
    sent everything it held (and once when it is registered)."""

    def __init__(self, viewer):
        self._viewer = viewer

    def resumeProducing(self):
        self._viewer.transport_emptied()

    def stopProducing(self):
        """The connection is gone; ``onClose`` removes the viewer."""


class ViewerProtocol(WebSocketServerProtocol):
    """One viewer connection (see the module docstring)."""

    # Autobahn logs two lines of its own (info and warn) for every refused handshake; ours go
    # through a RateLimitedLog, so only Autobahn's errors pass.
    log = txaio.make_logger(level="error")

    stream_name = None  # set for each connection by the Site (None: the door's default stream)
    _channel = None  # the Channel, from admission in onConnect until onClose
    _resync_limit = None  # a ResyncLimit, from the first resync
    _acked_socket = None  # the socket whose acknowledged bytes tcpacked reads, where it can
    _send_socket = None  # the plain TCP socket ``deliver`` sends on itself, where there is one
    # On that socket: whether Twisted may hold bytes for this viewer (anything written through it,
    # until it says it has sent everything), and whether the Fanout was told it is full.
    _transport_holds = True
    _reported_full = False
    _log = Logger()

    def __repr__(self):
        return f"<viewer {self.peer} of {self.stream_name!r}>"

    def onConnect(self, request):
        try:
            self._channel = self.factory.admission.admit_viewer(
                self.stream_name, request.headers.get("origin"))
        except Exception as exc:
            status = getattr(exc, "http_status", None)
            if status is None:
                raise
            reason = getattr(exc, "reason", None) or str(exc)
            self.factory.limited_log.info(f"viewer refused {status}",
                                          "viewer {peer} refused: {reason}",
                                          peer=self.peer, reason=reason)
            raise ConnectionDeny(status, reason) from exc

    def onOpen(self):
        self._send_socket = plain_socket(self.transport)
        self._limit_buffers()
        self._acked_socket = acked_socket(self.transport)
        # Twisted Web's HTTPChannel registered itself as this transport's producer and keeps
        # that registration after WebSocketResource takes the transport over; ours replaces it.
        self.transport.unregisterProducer()
        if self._send_socket is None:
            self.registerProducer(_TransportSignals(self._channel.fanout, self), True)
        else:
            self.registerProducer(_DrainSignals(self), False)
            # Registering calls it once; the handshake's answer may still be in Twisted's buffer.
            self._transport_holds = True
        self._channel.fanout.add(self)
        self.factory.limited_log.info("viewer opened",
                                      "viewer {peer} watching {name} ({count} watching)", peer=self.peer,
                       name=self._channel.name, count=len(self._channel.fanout))

    def onMessage(self, payload, isBinary):
        if self._channel is None:
            return
        try:
            message = parse_control_message(payload, isBinary)
        except ControlMessageError as exc:
            self.factory.limited_log.info(f"viewer closed {int(exc.close_code)}",
                                          "viewer {peer} closed ({code}): {reason}",
                           peer=self.peer, code=int(exc.close_code), reason=exc.reason)
            # Leave the fanout first: no frame may follow our close frame.
            self._channel.fanout.remove(self)
            close_with(self, exc.close_code, exc.reason)
            return
        if message.type is ControlType.RESYNC:
            if self._resync_limit is None:
                self._resync_limit = ResyncLimit(self.factory.reactor)
            if self._resync_limit.allow():
                self._channel.fanout.resync(self)

    def onClose(self, wasClean, code, reason):
        channel, self._channel = self._channel, None
        if channel is None:
            return
        channel.fanout.remove(self)
        self.factory.admission.release_viewer(channel)
        self.factory.limited_log.info("viewer left",
                                      "viewer {peer} left {name} ({code}; {count} watching)", peer=self.peer,
                       name=channel.name, code=code, count=len(channel.fanout))

    # What Fanout calls.

    def deliver(self, message):
        """Write one framed message as it is (nothing once the connection is closing).

        Not through Autobahn's ``sendPreparedMessage``: its per-call logging and traffic
        bookkeeping cost more than the write itself. And on a plain TCP socket, while Twisted
        holds nothing for this viewer, not through Twisted's write either: that appends to its
        buffer and costs two ``epoll_ctl`` calls (start and stop writing) around the one ``send``
        it makes on the next turn of the reactor, per viewer per frame. The kernel takes the
        frame now, or what it can of it; the rest goes to the transport, and so does every frame
        while the transport holds anything (Autobahn's pings and close frame included), so every
        byte goes out in order. Handing a frame to the transport is what "full" means to the
        Fanout here (the kernel would not take it); the transport's next "all sent" is "drained".
        """
        if self.state != self.STATE_OPEN:
            return
        sock = self._send_socket
        if sock is None:
            self.transport.write(message)
            return
        if not self._transport_holds:
            try:
                sent = sock.send(message)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # a broken connection: the transport's own write finds out and closes
            if sent == len(message):
                return
            message = message[sent:]
        self._transport_holds = True
        if not self._reported_full and self._channel is not None:
            self._reported_full = True
            self._channel.fanout.transport_full(self)
        self.transport.write(message)

    def sendData(self, data, sync=False, chopsize=None):
        # Autobahn's own bytes (handshake, pings, pongs, close) go through Twisted's buffer:
        # frames must wait behind them there.
        self._transport_holds = True
        super().sendData(data, sync, chopsize)

    def transport_emptied(self):
        """Twisted sent everything it held (plain sockets: ``_DrainSignals``)."""
        self._transport_holds = False
        if self._reported_full:
            self._reported_full = False
            if self._channel is not None:
                self._channel.fanout.transport_drained(self)

    def drop_stuck(self):
        """Close the TCP connection now, dropping what is queued."""
        self.dropConnection(abort=True)

    def acked_bytes(self):
        """The bytes ``deliver`` wrote that the viewer's TCP has acknowledged, or None (see tcpacked).

        The socket's acknowledged position less every byte Autobahn wrote itself (the handshake
        answer, pings, pongs), which its ``trafficStats`` counts (before and after the open). A
        byte of Autobahn's still on its way makes this low by that much until it arrives.
        """
        sock = self._acked_socket
        if sock is None:
            return None
        stats = self.trafficStats
        return (bytes_acked(sock) - stats.preopenOutgoingOctetsWireLevel
                - stats.outgoingOctetsWireLevel)

    def _limit_buffers(self):
        """Keep what may queue unseen below the producer contract small, so a full transport
        means a viewer behind live (the time budget) rather than one with a deep kernel buffer."""
        transport = self.transport
        # FileDescriptor.bufferSize: the documented level past which write() pauses the producer,
        # set on the connection itself (under the door's guard, a ProtocolWrapper, and TLS).
        connection = transport
        while isinstance(connection, ProtocolWrapper):
            connection = connection.transport
        transport_bytes = self.factory.transport_buffer_bytes
        if transport_bytes and hasattr(connection, "bufferSize"):
            connection.bufferSize = transport_bytes
        size = self.factory.socket_buffer_bytes
        get_handle = getattr(transport, "getHandle", None)
        if not size or get_handle is None:
            return
        try:
            get_handle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except (OSError, AttributeError):
            self._log.debug("cannot limit the send buffer of {peer}", peer=self.peer)


class ViewerFactory(WebSocketServerFactory):
    """Viewer connections: admission, the buffer sizes, and limits on what viewers send.

    ``admission`` has ``admit_viewer(stream_name, origin) -> Channel`` and
    ``release_viewer(channel)``.
    """

    protocol = ViewerProtocol
    log_viewers = Logger(namespace="depthcam.broadcast.viewer")
    # A kernel send buffer per viewer socket (Linux doubles it): what a slow viewer has queued
    # beyond the transport is at most this, so the time budget sees it soon. 0: autotuning.
    SOCKET_BUFFER_BYTES = 32 * 1024
    # Where a viewer's transport reports itself full when frames go through Twisted's buffer (TLS;
    # Twisted's default is 64 KiB; it is also the most one read takes). On a plain socket the
    # viewer reports any frame the kernel did not take (``deliver``).
    TRANSPORT_BUFFER_BYTES = 16 * 1024

    def __init__(self, admission, socket_buffer_bytes=None, transport_buffer_bytes=None,
                 reactor=None, **options):
        # No Server header naming Autobahn and its version in the handshake answer.
        super().__init__(reactor=reactor, server=None)
        # One line per cause, then a count (a flood of connections must not flood the log).
        self.limited_log = RateLimitedLog(self.log_viewers, clock=self.reactor)
        self.admission = admission
        self.socket_buffer_bytes = (self.SOCKET_BUFFER_BYTES if socket_buffer_bytes is None
                                    else socket_buffer_bytes)
        self.transport_buffer_bytes = (self.TRANSPORT_BUFFER_BYTES if transport_buffer_bytes is None
                                       else transport_buffer_bytes)
        self.setProtocolOptions(**{
            **dict(
                # What a viewer may send; frames we send never meet it (see the module docstring).
                maxMessagePayloadSize=limits.MAX_VIEWER_MESSAGE_BYTES,
                maxFramePayloadSize=limits.MAX_VIEWER_MESSAGE_BYTES,
                openHandshakeTimeout=limits.OPEN_HANDSHAKE_TIMEOUT_S,
                closeHandshakeTimeout=limits.CLOSE_HANDSHAKE_TIMEOUT_S,
                autoPingInterval=limits.AUTO_PING_INTERVAL_S,
                autoPingTimeout=limits.AUTO_PING_TIMEOUT_S,
                # Refuse with a close frame (say, 1009 for an oversized message), not a bare drop.
                failByDrop=False,
                webStatus=False,
                # The admission's Origin policy decides; Autobahn's own check would refuse "null".
                allowNullOrigin=True,
            ),
            **options,
        })


class OneChannel:
    """Admission of a door with one stream and no limits (direct mode): every viewer watches it."""

    def __init__(self, channel):
        self.channel = channel

    def admit_viewer(self, stream_name, origin):
        return self.channel

    def release_viewer(self, channel):
        """Nothing to count."""
