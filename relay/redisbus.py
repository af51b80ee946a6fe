"""RedisBus: the relay's publish/subscribe bus through a Redis server (``--bus redis://...``).

Two connections, both through ``txredisapi`` (Twisted-native) with ``charset=None`` and
``convertNumbers=False``, so frames pass as the bytes they are: one subscribed connection that
receives, and one that sends ``PUBLISH``. Both reconnect by themselves, backing off up to
``MAX_RECONNECT_DELAY_S``; the subscribed one subscribes to every wanted channel again each
time it is back, and tells the BusLink (``bus_connected``/``bus_lost``) so it can reset what the
gap broke.

While the publishing connection is down a frame is not queued (it would be stale, and a queue
without bound is how a relay dies): ``publish`` returns False and the frame is counted.

Addresses: ``redis://HOST[:PORT][/DB]`` or ``rediss://...`` (TLS, the server's certificate checked
against the system's trust store, or ``--bus-ca-file``). The password comes from a file
(``--bus-password-file``) or ``$DEPTHCAM_BUS_PASSWORD``, never from the URL or the command line.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import txredisapi
from twisted.internet import endpoints
from twisted.logger import Logger

from depthcam.broadcast.tls import client_tls

PASSWORD_ENV_VAR = "DEPTHCAM_BUS_PASSWORD"
DEFAULT_REDIS_PORT = 6379


class BusConfigError(ValueError):
    """The ``--bus`` address or its password cannot be used."""


@dataclass(frozen=True)
class RedisAddress:
    """Where the Redis server is: host, port, database number and whether TLS is on."""

    host: str
    port: int
    db: int
    tls: bool

    def describe(self):
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"


def parse_bus_url(url):
    """The RedisAddress of ``redis://HOST[:PORT][/DB]`` or ``rediss://...``; raises BusConfigError."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_REDIS_PORT
    except ValueError as exc:
        raise BusConfigError(f"not a bus address: {url!r} ({exc})") from exc
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise BusConfigError(f"not a bus address: {url!r} (redis://HOST[:PORT][/DB] or rediss://...)")
    if parts.password is not None or parts.username is not None:
        raise BusConfigError(
            f"no password in the bus address: use --bus-password-file or ${PASSWORD_ENV_VAR}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise BusConfigError(f"the bus address's path must be a database number, not {path!r}")
    return RedisAddress(parts.hostname, port, int(path or 0), parts.scheme == "rediss")


def read_bus_password(password_file=None, environ=None):
    """The Redis password from ``password_file`` or ``$DEPTHCAM_BUS_PASSWORD``; None if neither."""
    environ = os.environ if environ is None else environ
    if password_file is not None:
        try:
            return Path(password_file).read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise BusConfigError(f"cannot read the bus password file {password_file}: {exc}") from exc
    return environ.get(PASSWORD_ENV_VAR) or None


class _Subscriber(txredisapi.SubscriberProtocol):
    def messageReceived(self, pattern, channel, message):
        self.factory.bus.received(channel, message)


class _SubscriberFactory(txredisapi.SubscriberFactory):
    protocol = _Subscriber
    initialDelay = 0.2
    maxDelay = 5.0

    def __init__(self, bus, password, db):
        super().__init__(isLazy=True)
        self.bus = bus
        self.charset = None
        self.convertNumbers = False
        self.password = password
        self.dbid = db

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.whenConnected().addCallback(self.bus.subscriber_ready)
        protocol.whenDisconnected().addCallback(self.bus.subscriber_lost)
        return protocol


class _PublisherFactory(txredisapi.RedisFactory):
    initialDelay = _SubscriberFactory.initialDelay
    maxDelay = _SubscriberFactory.maxDelay


class RedisBus:
    """The bus through Redis; the same calls as ``hub.HubBus`` (see the module docstring).

    ``listener`` (given to ``start``) has ``bus_connected()``, ``bus_lost()`` and
    ``bus_message(channel, payload)``.
    """

    kind = "redis"
    log = Logger()

    def __init__(self, address, password=None, ca_file=None, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.address = address
        self._password = password
        self._ca_file = ca_file
        self._channels = set()
        self._subscriber = None  # the subscribed protocol while it is ready
        self._subscriber_factory = None
        self._publisher_factory = None
        self.listener = None

    @property
    def is_connected(self):
        return self._subscriber is not None and bool(self._publisher_factory.pool)

    def describe(self):
        return self.address.describe()

    def start(self, listener):
        self.listener = listener
        self._subscriber_factory = _SubscriberFactory(self, self._password, self.address.db)
        self._subscriber_factory.startConnecting(self._endpoint())
        self._publisher_factory = _PublisherFactory(
            "publisher", self.address.db, 1, isLazy=True, charset=None, password=self._password,
            convertNumbers=False)
        self._publisher_factory.startConnecting(self._endpoint())

    def stop(self):
        for factory in (self._subscriber_factory, self._publisher_factory):
            if factory is not None:
                factory.disconnect()

    def subscribe(self, channel):
        self._channels.add(channel)
        if self._subscriber is not None:
            self._subscriber.subscribe([channel.encode("utf-8")]).addErrback(self._failed, "subscribe")

    def unsubscribe(self, channel):
        self._channels.discard(channel)
        if self._subscriber is not None:
            self._subscriber.unsubscribe([channel.encode("utf-8")]).addErrback(self._failed, "unsubscribe")

    def publish(self, channel, payload):
        """PUBLISH ``payload`` to ``channel``; False (and nothing queued) while not connected."""
        pool = self._publisher_factory.pool if self._publisher_factory is not None else ()
        if not pool or not pool[0].connected:
            return False
        pool[0].publish(channel.encode("utf-8"), payload).addErrback(self._failed, "publish")
        return True

    # Called by the subscribed connection.

    def subscriber_ready(self, protocol):
        self._subscriber = protocol
        if self._channels:
            protocol.subscribe([name.encode("utf-8") for name in sorted(self._channels)]).addErrback(
                self._failed, "subscribe")
        self.listener.bus_connected()

    def subscriber_lost(self, protocol):
        if self._subscriber is protocol:
            self._subscriber = None
            self.listener.bus_lost()

    def received(self, channel, message):
        self.listener.bus_message(channel.decode("utf-8", "replace"), message)

    def _endpoint(self):
        endpoint = endpoints.HostnameEndpoint(self._reactor, self.address.host, self.address.port)
        if not self.address.tls:
            return endpoint
        return endpoints.wrapClientTLS(client_tls(self.address.host, self._ca_file), endpoint)

    def _failed(self, failure, what):
        self.log.debug("bus {what} failed: {error}", what=what, error=failure.getErrorMessage())
