"""Who may hold a connection: per-address caps, and a handshake deadline that is total, not per byte.

A public host must not be starved by a few clients. ``AddressGuard`` wraps a door's Site (as
Twisted's ``policies.WrappingFactory`` does) and applies, before any HTTP is parsed:

- **Open connections per address** (``max_connections``): one client holding a thousand sockets
  cannot lock every other viewer out, nor use every file descriptor.
- **Handshakes in progress per address** (``max_handshakes``): connections that have not yet sent
  a whole HTTP request (a page, ``/stats``, or a WebSocket upgrade).
- **A total handshake deadline** (``handshake_deadline_s``): a connection that has not sent a
  whole request that long after it opened (or after its previous request was answered) is
  dropped, however it trickles. Twisted's own idle timeout restarts on every byte, so 1,012
  connections sending one byte every 4 s once held every descriptor of a relay for as long as
  the attacker liked.

A connection past a cap is answered ``503`` in one write and closed, and counted
(``connections_refused``, ``handshakes_refused``, ``handshakes_timed_out`` in ``/stats``); each
cause logs through a RateLimitedLog. Behind a reverse proxy every connection comes from the
proxy's address: raise the caps there, and let the proxy limit per client (INSTALL.md).

A WebSocket's handshake ends when its upgrade request has arrived: from then on Autobahn's pings
and the fan-out's budget look after it, and it still counts as an open connection until it closes.
"""

import argparse
import collections
from dataclasses import dataclass

from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web.http import HTTPChannel

from depthcam.broadcast.ratelimitedlog import RateLimitedLog
from depthcam.protocol import limits

_REFUSAL_BODY = b"503 too many connections from your address\n"
_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_REFUSAL_BODY)) + _REFUSAL_BODY


@dataclass(frozen=True)
class AddressCaps:
    """The caps of one door (each a flag of the relay)."""

    # Sockets one address may hold open at once (viewers, page loads and handshakes together).
    max_connections: int = 64
    # Connections one address may have that have not yet sent a whole request.
    max_handshakes: int = 8
    # Seconds from a connection's start (or its previous answer) to its whole request.
    handshake_deadline_s: float = limits.OPEN_HANDSHAKE_TIMEOUT_S


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def add_cap_arguments(parser, caps=AddressCaps()):
    """The flags of a door's per-address caps (the relay's and the direct-mode source's), with
    ``caps``'s values as defaults; ``caps_from_arguments`` reads them back."""
    parser.add_argument("--max-connections-per-address", type=_positive_int,
                        default=caps.max_connections,
                        help="open connections one IP address may hold; more get HTTP 503 (behind "
                             "a reverse proxy every client has the proxy's address: raise it) "
                             "(default: %(default)s)")
    parser.add_argument("--max-handshakes-per-address", type=_positive_int,
                        default=caps.max_handshakes,
                        help="connections one IP address may have that have not yet sent a whole "
                             "request; more get HTTP 503 (default: %(default)s)")


def caps_from_arguments(args, handshake_deadline_s=limits.OPEN_HANDSHAKE_TIMEOUT_S):
    """The AddressCaps that ``add_cap_arguments``'s flags asked for."""
    return AddressCaps(args.max_connections_per_address, args.max_handshakes_per_address,
                       handshake_deadline_s)


class GuardedConnection(ProtocolWrapper):
    """One connection under the guard: counted per address, dropped at the handshake deadline."""

    _deadline_call = None
    _admitted = False
    _handshaking = False

    def makeConnection(self, transport):
        self._host = transport.getPeer().host
        refusal = self.factory.refusal(self._host)
        if refusal is not None:
            # Answer and close without ever starting the HTTP parser.
            transport.write(_REFUSAL)
            transport.loseConnection()
            self.connected = 1
            self.transport = transport
            return
        self._admitted = True
        self.factory.opened(self._host)
        self.handshake_started()
        super().makeConnection(transport)

    def dataReceived(self, data):
        if self._admitted:
            super().dataReceived(data)

    def handshake_started(self):
        """A new request is due (the connection opened, or its previous request was answered)."""
        if not self._handshaking:
            self._handshaking = True
            self.factory.handshakes[self._host] += 1
        if self._deadline_call is None:
            self._deadline_call = self.factory.clock.callLater(
                self.factory.caps.handshake_deadline_s, self._deadline_passed)

    def handshake_done(self):
        """The whole request has arrived."""
        if self._handshaking:
            self._handshaking = False
            self.factory.handshake_ended(self._host)
        if self._deadline_call is not None:
            if self._deadline_call.active():
                self._deadline_call.cancel()
            self._deadline_call = None

    def _deadline_passed(self):
        self._deadline_call = None
        self.factory.handshakes_timed_out += 1
        self.factory.log.info("handshake-deadline",
                              "{host}: no whole request within {seconds:g} s; dropped",
                              host=self._host, seconds=self.factory.caps.handshake_deadline_s)
        self.transport.abortConnection()

    def connectionLost(self, reason):
        if self._admitted:
            self.handshake_done()
            self.factory.closed(self._host)
            super().connectionLost(reason)
        else:
            self.connected = 0


def _guard_of(transport):
    """The GuardedConnection under ``transport`` (itself, or below a TLS layer), or None."""
    while transport is not None and not isinstance(transport, GuardedConnection):
        transport = getattr(transport, "transport", None)
    return transport


class GuardedChannel(HTTPChannel):
    """Twisted Web's HTTP channel, telling the guard below it when a request is whole.

    Its own idle timeout stays (it covers keep-alive connections between requests); its log
    line per timed-out client goes through the guard's rate limit.
    """

    def allContentReceived(self):
        guard = _guard_of(self.transport)
        if guard is not None:
            guard.handshake_done()
        super().allContentReceived()

    def requestDone(self, request):
        super().requestDone(request)
        guard = _guard_of(self.transport)
        if self.persistent and guard is not None:
            guard.handshake_started()

    def timeoutConnection(self):
        # HTTPChannel logs a line per timed-out client; a flood of them logs one per cause.
        self._log = _QUIET_LOGGER
        super().timeoutConnection()


class _QuietLogger:
    def info(self, *args, **kwargs):
        """Twisted's per-client timeout line: counted by the guard's deadline instead."""


_QUIET_LOGGER = _QuietLogger()


class AddressGuard(WrappingFactory):
    """Wraps a door's Site (or any factory) with the caps of ``AddressCaps`` (module docstring)."""

    protocol = GuardedConnection
    noisy = False

    def __init__(self, site, caps=None, clock=None, log=None):
        super().__init__(site)
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.caps = caps or AddressCaps()
        self.log = log or RateLimitedLog(clock=clock)
        self.connections = collections.Counter()  # address -> open connections
        self.handshakes = collections.Counter()  # address -> handshakes in progress
        self.connections_refused = 0
        self.handshakes_refused = 0
        self.handshakes_timed_out = 0

    def insert_tls(self, certificate):
        """Speak TLS with ``certificate`` (an IOpenSSLServerConnectionCreator) inside the guard,
        so its caps and deadline apply before, and to, every TLS handshake."""
        self.wrappedFactory = TLSMemoryBIOFactory(certificate, False, self.wrappedFactory)

    def __getattr__(self, name):
        # The wrapped Site's attributes (say, ``timeOut`` or ``resource``) stay reachable.
        if name == "wrappedFactory":
            raise AttributeError(name)
        return getattr(self.wrappedFactory, name)

    def refusal(self, host):
        """Why a new connection from ``host`` is refused, or None (counts the refusal)."""
        if self.connections[host] >= self.caps.max_connections:
            self.connections_refused += 1
            self.log.info("address-connections", "{host}: over {cap} open connections; refused",
                          host=host, cap=self.caps.max_connections)
            return "connections"
        if self.handshakes[host] >= self.caps.max_handshakes:
            self.handshakes_refused += 1
            self.log.info("address-handshakes", "{host}: over {cap} handshakes in progress; refused",
                          host=host, cap=self.caps.max_handshakes)
            return "handshakes"
        return None

    def opened(self, host):
        self.connections[host] += 1

    def closed(self, host):
        self.connections[host] -= 1
        if self.connections[host] <= 0:
            del self.connections[host]

    def handshake_ended(self, host):
        self.handshakes[host] -= 1
        if self.handshakes[host] <= 0:
            del self.handshakes[host]

    def counters(self):
        """The refusal counters for ``/stats``."""
        return {
            "connections_refused_per_address": self.connections_refused,
            "handshakes_refused_per_address": self.handshakes_refused,
            "handshakes_timed_out": self.handshakes_timed_out,
        }
