"""Push mode's transport: a WebSocket client that publishes the pump's frames to a relay.

The camera's machine sits behind a firewall, so it connects out to a relay on a public host
(``relay/``), which rebroadcasts to the browsers. Everything but this transport (the frame source,
the encoder, the pump) is the same as in direct mode.

The pieces, from the inside out:

- ``RelaySink``: the policy, a plain object (and the pump's sink). Sends a frame only while a
  relay connection is open, skips frames while that connection is backed up, and asks for a
  pause while nobody watches.
- ``PushProtocol``: one connection to the relay; maps Autobahn's callbacks to factory calls.
- ``PushFactory``: the token, Autobahn's limits and the reconnecting (Twisted's
  ``ReconnectingClientFactory``); tells the sink when a connection opens or closes.

Policies, each a class attribute that tests (or a subclass) may override:

- **Backoff.** After a lost connection or a failed attempt, wait ``initialDelay`` (0.5 s), then
  twice as long each time, capped at ``maxDelay`` (4 s: a relay that is back is reached, and has
  its source again, within 5 s). No jitter: there is one source per stream, so there is no herd to
  spread out, and Twisted's jitter would let a wait run past the cap. A connection that opens
  resets the delay (``resetDelay()`` in ``onOpen``).
- **Every (re)connect starts with a keyframe.** The relay forgets a stream when its source goes,
  so on open the sink asks the encoder for a keyframe, and the first frame sent on the new
  connection decodes on its own.
- **Token refused** (HTTP 401 or 403 in the handshake): one log line, "relay refused the token:
  check --token-file / DEPTHCAM_RELAY_TOKEN", then keep trying every ``maxDelay`` seconds without
  logging each refusal. The relay's operator may be fixing the relay's token (a camera box runs
  unattended, so exiting would need a person to restart it). The next success logs "connected".
  Other refusals (404 for a bad stream name, 503 for a full relay) are handled the same way, with
  their own line.
- **Replaced** (close code 4001, ``SOURCE_REPLACED``: another source with the token took this
  stream over): one log line, then wait ``maxDelay`` before connecting again, never at once. If
  the other source has gone (say, this box's own earlier connection, half dead), the stream comes
  back to this one; if both are alive, they take turns every ``maxDelay`` seconds, and the log
  line says to give each its own stream name.
- **Backlog.** No frame is queued while disconnected: frames produced then are dropped (the next
  connection starts with a keyframe anyway). While connected, a connection whose transport
  reports itself full (Twisted's producer contract: ``pauseProducing``) gets no frames; once it
  drains (``resumeProducing``), deltas are still skipped and a keyframe is requested, and
  sending resumes with that keyframe, so the relay never receives a broken delta chain.
- **TLS.** A ``wss://`` relay's certificate is checked against the system's CAs (or
  ``tls_options``' own: ``--ca-file`` for a private CA) and against the relay's host name; a
  certificate that fails is one log line ("the relay's TLS certificate was refused"), and the
  token is never sent. Plain ``ws://`` to a host other than this machine is refused by the
  command line unless ``--insecure`` (the token would cross the network readable).
- **Idle.** The relay says how many viewers watch (``{"type": "viewers", "count": N}``). With
  none, or with no relay connection, the sink asks for a pause (``on_demand(False)``): the pump
  stops reading and encoding until a viewer comes, then starts again with a keyframe.
"""

import txaio
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import ReconnectingClientFactory
from twisted.logger import Logger
from zope.interface import implementer

from depthcam.broadcast.tls import TLS_REFUSALS, client_tls
from depthcam.protocol import limits
from depthcam.protocol.closecodes import CloseCode
from depthcam.protocol.control import ControlMessageError, parse_viewers_message
from depthcam.protocol.tokens import TOKEN_ENV_VAR

# Handshake answers that mean "this token may not publish here" (relay/auth.py).
TOKEN_REFUSED_STATUSES = frozenset({401, 403})

log = Logger()


class RelaySink:
    """Sends the pump's frames to the open relay connection, if any (see the module docstring).

    A connection is anything with ``send_frame(message)``; it reports ``connection_full`` and
    ``connection_drained``. ``encoder`` is the pump's encoder; only its ``request_keyframe()`` is
    used. ``on_demand(wanted)`` (optional) is called when frames become wanted or unwanted.
    """

    log = Logger()

    def __init__(self, encoder, on_demand=None):
        self._encoder = encoder
        self.on_demand = on_demand
        self._connection = None
        self._full = False  # the connection's transport reported itself full
        self._skipping = False  # skipping frames until a keyframe finds the connection drained
        self._viewers = None  # what the relay last said; None: not told yet
        self._wanted = None
        self.frames_sent = 0
        self.frames_skipped = 0  # while connected but backed up
        self.frames_dropped = 0  # while disconnected

    @property
    def connected(self):
        return self._connection is not None

    @property
    def wanted(self):
        """Whether frames are wanted: connected, and the relay has not said nobody watches."""
        return self._connection is not None and self._viewers != 0

    def attach(self, connection):
        """Send to ``connection`` from now on, starting with a keyframe."""
        self._connection = connection
        self._full = False
        self._skipping = False
        self._viewers = None
        self._encoder.request_keyframe()
        self._demand_changed()

    def detach(self, connection):
        """``connection`` closed: drop frames until the next ``attach``."""
        if self._connection is connection:
            self._connection = None
            self._demand_changed()

    def viewers_changed(self, count):
        """The relay says ``count`` viewers watch."""
        self._viewers = count
        self._demand_changed()

    def connection_full(self, connection):
        if connection is self._connection and not self._full:
            self._full = self._skipping = True
            self.log.warn("relay connection backed up: skipping frames until it drains, then "
                          "resuming at a keyframe")

    def connection_drained(self, connection):
        if connection is self._connection and self._full:
            self._full = False
            # A delta would not follow what the relay saw last: the next frame is absolute.
            self._encoder.request_keyframe()

    def send_frame(self, header, message):
        """Send one encoded frame, or skip it (disconnected, backed up, or waiting for a keyframe)."""
        connection = self._connection
        if connection is None:
            self.frames_dropped += 1
            return
        if self._full or (self._skipping and not header.is_keyframe):
            self.frames_skipped += 1
            return
        if self._skipping:
            self._skipping = False
            self.log.info("relay connection drained: resuming at keyframe {sequence}",
                          sequence=header.sequence)
        connection.send_frame(message)
        self.frames_sent += 1

    def _demand_changed(self):
        wanted = self.wanted
        if wanted != self._wanted:
            self._wanted = wanted
            if self.on_demand is not None:
                self.on_demand(wanted)


@implementer(IPushProducer)
class _ConnectionSignals:
    """Passes the relay transport's full and drained calls (IPushProducer) on to the sink."""

    def __init__(self, sink, connection):
        self._sink = sink
        self._connection = connection

    def pauseProducing(self):
        self._sink.connection_full(self._connection)

    def resumeProducing(self):
        self._sink.connection_drained(self._connection)

    def stopProducing(self):
        """The connection is gone; ``onClose`` detaches it."""


class PushProtocol(WebSocketClientProtocol):
    """One connection to the relay: reports its opening and closing to the factory."""

    # Autobahn logs two lines of its own for each refused handshake, every few seconds while the
    # relay refuses: the factory logs one line per run of refusals instead, so only errors pass.
    log = txaio.make_logger(level="error")
    opened = False
    lost_reason = None  # the exception the connection was lost with

    def onOpen(self):
        self.opened = True
        self.registerProducer(_ConnectionSignals(self.factory.sink, self), True)
        self.factory.connection_opened(self)

    def onMessage(self, payload, isBinary):
        """The relay tells its source how many viewers watch; anything else is ignored."""
        if isBinary:
            return
        try:
            count = parse_viewers_message(payload)
        except ControlMessageError:
            return
        self.factory.sink.viewers_changed(count)

    def connectionLost(self, reason):
        # Autobahn's onClose gives no cause for a connection that failed its TLS handshake.
        self.lost_reason = reason.value
        super().connectionLost(reason)

    def onClose(self, wasClean, code, reason):
        self.factory.connection_closed(self, code, reason)

    def handshake_status(self):
        """The HTTP status of the relay's answer to a handshake that failed, or None."""
        if self.opened:
            return None
        fields = (getattr(self, "http_status_line", None) or "").split()
        if len(fields) >= 2 and fields[1].isdigit():
            return int(fields[1])
        return None

    # What the sink needs of a connection.

    def send_frame(self, message):
        if self.state == self.STATE_OPEN:
            self.sendMessage(message, isBinary=True)

    def __repr__(self):
        return f"<relay connection {self.peer}>"


class PushFactory(WebSocketClientFactory, ReconnectingClientFactory):
    """Connects to a relay's ``/source/<name>`` with the token, and reconnects until ``stop()``.

    ``sink`` is the pump's RelaySink. The backoff is ReconnectingClientFactory's attributes (see
    the module docstring); ``clock`` is the reactor, or a ``task.Clock`` in tests.
    """

    protocol = PushProtocol
    # Backoff: 0.5, 1, 2, 4, 4, ... seconds.
    initialDelay = 0.5
    factor = 2.0
    maxDelay = 4.0
    jitter = 0
    # Factory start and stop lines, and Twisted's own "will retry" lines: we log our own.
    noisy = False

    # A relay host that drops packets instead of refusing is given this long per attempt.
    CONNECT_TIMEOUT_S = 10

    def __init__(self, url, token, sink, reactor=None, tls_options=None):
        super().__init__(url, headers={"Authorization": f"Bearer {token}"}, reactor=reactor)
        if self.isSecure and tls_options is None:
            # Never Autobahn's default for wss://, which checks no certificate at all.
            tls_options = client_tls(self.host)
        self.tls_options = tls_options
        self.clock = self.reactor
        self.delay = self.initialDelay  # Twisted's class default is its own initialDelay's
        self.sink = sink
        self.setProtocolOptions(
            openHandshakeTimeout=limits.OPEN_HANDSHAKE_TIMEOUT_S,
            closeHandshakeTimeout=limits.CLOSE_HANDSHAKE_TIMEOUT_S,
            # A relay that answers no ping (a network that died without a reset) is dropped,
            # and the reconnecting starts.
            autoPingInterval=limits.AUTO_PING_INTERVAL_S,
            autoPingTimeout=limits.AUTO_PING_TIMEOUT_S,
        )
        self.connection = None  # the open PushProtocol, if any
        self._reported = None  # the last connection problem logged, so a run of them logs once
        self._closed_waiters = []

    def __repr__(self):
        return f"<push to {self.url}>"

    def start(self):
        """Connect to the relay (and keep reconnecting until ``stop()``)."""
        self.resetDelay()
        self.connector = connectWS(self, contextFactory=self.tls_options,
                                   timeout=self.CONNECT_TIMEOUT_S)

    def stop(self):
        """Stop reconnecting and close the connection with 1000; fires once it is closed."""
        self.stopTrying()
        connector = self.connector
        if self.connection is not None:
            self.connection.sendClose(int(CloseCode.NORMAL), "source stopping")
        elif connector is not None and connector.state == "connected":
            connector.disconnect()  # a handshake in progress
        else:
            return defer.succeed(None)
        closed = defer.Deferred()
        self._closed_waiters.append(closed)
        return closed

    # From the protocol.

    def connection_opened(self, connection):
        self.resetDelay()
        self.connection = connection
        self._reported = None
        self.sink.attach(connection)
        log.info("connected to relay {url}", url=self.url)

    def connection_closed(self, connection, code, reason):
        """Log why ``connection`` closed and set the wait before the next attempt.

        Called before ReconnectingClientFactory's ``clientConnectionLost``, whose ``retry``
        then waits ``self.delay``.
        """
        was_open = connection is self.connection
        if was_open:
            self.connection = None
            self.sink.detach(connection)
        waiters, self._closed_waiters = self._closed_waiters, []
        for waiter in waiters:
            waiter.callback(None)
        if not self.continueTrying:
            if was_open:
                log.info("disconnected from relay {url} ({code})", url=self.url, code=code)
            return
        status = connection.handshake_status()
        if isinstance(connection.lost_reason, TLS_REFUSALS):
            self.delay = self.maxDelay
            self._report(
                f"the relay's TLS certificate was refused ({connection.lost_reason}): check the "
                f"relay's host name, and --ca-file for a private CA; retrying every "
                f"{self.maxDelay:g} s"
            )
        elif code == CloseCode.SOURCE_REPLACED:
            self.delay = self.maxDelay
            log.warn(
                "relay {url}: another source took this stream over (4001); trying again in "
                "{delay:g} s (two live sources on one stream take turns: give each its own name)",
                url=self.url, delay=self.delay,
            )
        elif status in TOKEN_REFUSED_STATUSES:
            self.delay = self.maxDelay
            self._report(
                f"relay refused the token ({status}): check --token-file / {TOKEN_ENV_VAR}; "
                f"retrying every {self.maxDelay:g} s"
            )
        elif status is not None:
            self.delay = self.maxDelay
            self._report(
                f"relay refused the connection ({status}): {reason}; retrying every "
                f"{self.maxDelay:g} s"
            )
        elif was_open:
            log.info("disconnected from relay {url} ({code}: {reason}); reconnecting in {delay:g} s",
                     url=self.url, code=code, reason=reason, delay=self.delay)
        else:
            self._report(f"cannot open a WebSocket to the relay: {reason}; retrying")

    # From Twisted: ReconnectingClientFactory retries every lost connection (its
    # clientConnectionLost, after connection_closed) and failed attempt after self.delay.

    def clientConnectionFailed(self, connector, reason):
        if self.continueTrying:
            self._report(
                f"relay {self.url} unreachable ({reason.getErrorMessage()}); retrying, at least "
                f"every {self.maxDelay:g} s"
            )
        ReconnectingClientFactory.clientConnectionFailed(self, connector, reason)

    def _report(self, problem):
        """Log ``problem`` unless it is the one logged last (reset by a successful connection)."""
        if problem != self._reported:
            self._reported = problem
            log.warn("{problem}", problem=problem)
