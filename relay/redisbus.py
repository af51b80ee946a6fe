"""RedisBus: the relay's publish/subscribe bus through a Redis server (``--bus redis://...``).

Two connections, both through ``txredisapi`` (Twisted-native) with ``charset=None`` and
``convertNumbers=False``, so frames pass as the bytes they are: one subscribed connection that
receives, and one that sends ``PUBLISH``. Both reconnect by themselves, backing off up to
``MAX_RECONNECT_DELAY_S``; the subscribed one subscribes to every wanted channel again each
time it is back, and tells the BusLink (``bus_connected``/``bus_lost``) so it can reset what the
gap broke.

While the publishing connection is down a frame is not queued (it would be stale, and a queue
without bound is how a relay dies): ``publish`` returns False and the frame is counted.

A connection the server refuses (a wrong password, a certificate this relay does not trust, a port
that speaks no TLS) is one warning line per run of refusals, and the relay keeps trying at
``maxDelay`` (txredisapi would stop for good after a refused AUTH; the server may be fixed while
the relay runs). Over TLS the relay speaks Redis, AUTH first, only once the handshake has checked
the server's certificate.

Addresses: ``redis://HOST[:PORT][/DB]`` or ``rediss://...`` (TLS, the server's certificate checked
against the system's trust store, or ``--bus-ca-file``). The password comes from a file
(``--bus-password-file``) or ``$DEPTHCAM_BUS_PASSWORD``, never from the URL or the command line.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import txredisapi
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IHandshakeListener
from twisted.logger import Logger
from zope.interface import implementer

from depthcam.broadcast.tls import TLS_REFUSALS, client_tls

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


@implementer(IHandshakeListener)
class _AfterHandshake:
    """Speaks Redis (AUTH first) only once a TLS handshake has checked the server's certificate.

    Twisted's TLS wrapper calls ``connectionMade`` before the handshake: txredisapi would queue
    AUTH there, call a connection without a password ready before the server was checked, and
    report a refused certificate as "could not auth: Lost connection". It waits for
    ``handshakeCompleted`` instead, and a handshake that fails is reported to the bus as such.
    """

    def connectionMade(self):
        if not self.factory.bus.address.tls:
            return super().connectionMade()
        return None

    def handshakeCompleted(self):
        # A certificate for another host fails after the handshake itself (service_identity):
        # the transport is then already closing, and nothing may be sent.
        if not self.transport.disconnecting:
            super().connectionMade()

    def connectionLost(self, reason):
        if reason.check(*TLS_REFUSALS):
            self.factory.bus.refused(
                f"TLS handshake failed ({reason.getErrorMessage()}; check that the port speaks "
                f"TLS, the host name, and --bus-ca-file for a private CA)")
        super().connectionLost(reason)


class _Subscriber(_AfterHandshake, txredisapi.SubscriberProtocol):
    def messageReceived(self, pattern, channel, message):
        self.factory.bus.received(channel, message)


class _Publisher(_AfterHandshake, txredisapi.RedisProtocol):
    pass


# txredisapi's words for a refused password, and what to check then.
AUTH_REFUSED = "could not auth"
AUTH_HINT = f" (check --bus-password-file or ${PASSWORD_ENV_VAR})"


class _KeepTrying:
    """A txredisapi factory that keeps trying after the server refused AUTH or SELECT."""

    def stopTrying(self):
        # txredisapi calls it on a refused AUTH or SELECT; ``disconnect`` (RedisBus.stop) still stops.
        return defer.succeed(None)

    def connectionError(self, why):
        why = why.rstrip(".")
        self.bus.refused(why + AUTH_HINT if AUTH_REFUSED in why else why)


class _SubscriberFactory(_KeepTrying, txredisapi.SubscriberFactory):
    protocol = _Subscriber
    initialDelay = 0.2
    maxDelay = 5.0

    def __init__(self, bus, password, db):
        # Not lazy: txredisapi would log each refusal itself; the bus logs one line per run.
        super().__init__(isLazy=False)
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


class _PublisherFactory(_KeepTrying, txredisapi.RedisFactory):
    protocol = _Publisher
    initialDelay = _SubscriberFactory.initialDelay
    maxDelay = _SubscriberFactory.maxDelay

    def __init__(self, bus, password, db):
        super().__init__("publisher", db, 1, isLazy=False, charset=None, password=password,
                         convertNumbers=False)
        self.bus = bus


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
        # Built now, so that a CA file that cannot be read stops the relay at its start.
        self._tls_options = client_tls(address.host, ca_file) if address.tls else None
        self._channels = set()
        self._subscriber = None  # the subscribed protocol while it is ready
        self._subscriber_factory = None
        self._publisher_factory = None
        self.listener = None
        self._reported = None  # the last refusal logged, so a run of them logs once

    @property
    def is_connected(self):
        return self._subscriber is not None and bool(self._publisher_factory.pool)

    def describe(self):
        return self.address.describe()

    def start(self, listener):
        self.listener = listener
        self._subscriber_factory = _SubscriberFactory(self, self._password, self.address.db)
        self._subscriber_factory.startConnecting(self._endpoint())
        self._publisher_factory = _PublisherFactory(self, self._password, self.address.db)
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
        self._reported = None
        if self._channels:
            protocol.subscribe([name.encode("utf-8") for name in sorted(self._channels)]).addErrback(
                self._failed, "subscribe")
        self.listener.bus_connected()

    def subscriber_lost(self, protocol):
        if self._subscriber is protocol:
            self._subscriber = None
            self.listener.bus_lost()

    def refused(self, problem):
        """The server refused a connection: log ``problem`` unless it was the last one logged."""
        if problem != self._reported:
            self._reported = problem
            self.log.warn("bus {bus}: {problem}; retrying every {delay:g} s",
                          bus=self.describe(), problem=problem, delay=_SubscriberFactory.maxDelay)

    def received(self, channel, message):
        self.listener.bus_message(channel.decode("utf-8", "replace"), message)

    def _endpoint(self):
        endpoint = endpoints.HostnameEndpoint(self._reactor, self.address.host, self.address.port)
        if not self.address.tls:
            return endpoint
        return endpoints.wrapClientTLS(self._tls_options, endpoint)

    def _failed(self, failure, what):
        self.log.debug("bus {what} failed: {error}", what=what, error=failure.getErrorMessage())
