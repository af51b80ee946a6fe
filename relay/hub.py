"""The local bus: publish/subscribe between the workers of one host over a Unix socket, no Redis needed.

``depthcam-relay --workers N`` without ``--bus`` runs a ``HubFactory`` in the supervisor; each
worker joins it with a ``HubBus`` and uses it exactly as it would use Redis (``redisbus.RedisBus``):
``subscribe``/``unsubscribe`` channels, ``publish`` bytes to a channel. The hub forwards each
published message, in the order it arrived, to every connection subscribed to its channel.

One message on the socket (an ``Int32StringReceiver`` string)::

    op (u8: 1 subscribe, 2 unsubscribe, 3 publish, 4 message) · channel length (u8) · channel · payload

Like Redis with a pub/sub output limit, the hub never queues without bound for a worker that
does not read: once that worker's socket is full (Twisted's producer contract pauses the hub's
producer), it is dropped; it reconnects, resubscribes and starts its streams at the next
keyframe, as after a Redis restart.
"""

import enum
import struct

from twisted.internet import protocol
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from zope.interface import implementer

_PREFIX = struct.Struct("!BB")


class HubOp(enum.IntEnum):
    """What one hub message does."""

    SUBSCRIBE = 1
    UNSUBSCRIBE = 2
    PUBLISH = 3
    MESSAGE = 4  # hub -> subscriber: a message published to a channel it subscribed to


class HubMessageError(Exception):
    """A hub message that does not follow the layout of the module docstring."""


def pack(op, channel, payload=b""):
    """The bytes of one hub message."""
    name = channel.encode("utf-8")
    return _PREFIX.pack(op, len(name)) + name + payload


def unpack(data):
    """(HubOp, channel, payload) of one hub message; raises HubMessageError."""
    if len(data) < _PREFIX.size:
        raise HubMessageError("hub message shorter than its prefix")
    op, length = _PREFIX.unpack_from(data)
    end = _PREFIX.size + length
    if len(data) < end:
        raise HubMessageError("hub message shorter than its channel name")
    try:
        return HubOp(op), data[_PREFIX.size:end].decode("utf-8"), data[end:]
    except (ValueError, UnicodeDecodeError) as exc:
        raise HubMessageError(f"bad hub message: {exc}") from exc


@implementer(IPushProducer)
class _FullSignal:
    """Drops a hub connection whose worker stopped reading (its transport's pauseProducing)."""

    def __init__(self, connection):
        self._connection = connection

    def pauseProducing(self):
        self._connection.drop_slow()

    def resumeProducing(self):
        """Nothing was paused: a slow worker is dropped instead."""

    def stopProducing(self):
        """The connection is gone."""


class HubConnection(Int32StringReceiver):
    """The hub's side of one worker's connection."""

    MAX_LENGTH = 8 * 1024 * 1024  # a frame (FORMAT.md caps payloads at 4 MiB) and its prefix
    log = Logger()

    def connectionMade(self):
        self.channels = set()
        self.transport.registerProducer(_FullSignal(self), True)

    def stringReceived(self, data):
        try:
            op, channel, payload = unpack(data)
        except HubMessageError as exc:
            self.log.warn("hub: dropping a worker that sent {error}", error=exc)
            self.transport.abortConnection()
            return
        if op is HubOp.SUBSCRIBE:
            self.channels.add(channel)
            self.factory.subscribers.setdefault(channel, set()).add(self)
        elif op is HubOp.UNSUBSCRIBE:
            self._leave(channel)
        elif op is HubOp.PUBLISH:
            self.factory.forward(channel, payload)

    def connectionLost(self, reason):
        for channel in list(getattr(self, "channels", ())):
            self._leave(channel)

    def drop_slow(self):
        """The worker stopped reading: drop it rather than queue for it without bound."""
        self.factory.dropped_slow += 1
        self.log.warn("hub: a worker stopped reading; dropping its connection")
        for channel in list(self.channels):
            self._leave(channel)
        self.transport.abortConnection()

    def _leave(self, channel):
        self.channels.discard(channel)
        subscribers = self.factory.subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(self)
            if not subscribers:
                del self.factory.subscribers[channel]


class HubFactory(protocol.ServerFactory):
    """The hub: channel -> subscribed connections; forwards every published message in order."""

    protocol = HubConnection
    noisy = False

    def __init__(self):
        self.subscribers = {}
        self.dropped_slow = 0

    def forward(self, channel, payload):
        subscribers = self.subscribers.get(channel)
        if not subscribers:
            return
        message = pack(HubOp.MESSAGE, channel, payload)
        for connection in list(subscribers):
            connection.sendString(message)


class _HubClient(Int32StringReceiver):
    MAX_LENGTH = HubConnection.MAX_LENGTH

    def connectionMade(self):
        self.factory.bus.connected(self)

    def stringReceived(self, data):
        try:
            op, channel, payload = unpack(data)
        except HubMessageError:
            self.transport.abortConnection()
            return
        if op is HubOp.MESSAGE:
            self.factory.bus.listener.bus_message(channel, payload)

    def connectionLost(self, reason):
        self.factory.bus.lost(self)


class _HubClientFactory(protocol.ReconnectingClientFactory):
    protocol = _HubClient
    noisy = False
    maxDelay = 2.0  # the hub is on this host: it is back as soon as the supervisor is
    initialDelay = 0.05

    def __init__(self, bus):
        self.bus = bus

    def buildProtocol(self, addr):
        self.resetDelay()
        return super().buildProtocol(addr)


class HubBus:
    """A worker's side of the local bus: the same calls as ``redisbus.RedisBus``.

    ``listener`` has ``bus_connected()``, ``bus_lost()`` and ``bus_message(channel, payload)``.
    """

    kind = "local"

    def __init__(self, socket_path, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._path = str(socket_path)
        self._channels = set()
        self._connection = None
        self._factory = None
        self.listener = None

    @property
    def is_connected(self):
        return self._connection is not None

    def describe(self):
        return f"local hub {self._path}"

    def start(self, listener):
        self.listener = listener
        self._factory = _HubClientFactory(self)
        self._reactor.connectUNIX(self._path, self._factory)

    def stop(self):
        if self._factory is not None:
            self._factory.stopTrying()
        if self._connection is not None:
            self._connection.transport.loseConnection()

    def subscribe(self, channel):
        self._channels.add(channel)
        self._send(HubOp.SUBSCRIBE, channel)

    def unsubscribe(self, channel):
        self._channels.discard(channel)
        self._send(HubOp.UNSUBSCRIBE, channel)

    def publish(self, channel, payload):
        """Send ``payload`` to ``channel``; True if it went out (False: the hub is not connected)."""
        return self._send(HubOp.PUBLISH, channel, payload)

    def connected(self, connection):
        self._connection = connection
        for channel in sorted(self._channels):
            connection.sendString(pack(HubOp.SUBSCRIBE, channel))
        self.listener.bus_connected()

    def lost(self, connection):
        if self._connection is connection:
            self._connection = None
            self.listener.bus_lost()

    def _send(self, op, channel, payload=b""):
        if self._connection is None:
            return False
        self._connection.sendString(pack(op, channel, payload))
        return True
