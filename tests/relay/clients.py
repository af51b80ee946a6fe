"""WebSocket clients for the relay's socket tests: a recording viewer, a source, a raw handshake.

Each client records what happens to it and offers ``wait_for(predicate)``: a Deferred that fires
once the predicate holds, checked at every event, so tests wait on events, never on sleeps.
"""

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, protocol, reactor

from depthcam.codec import CodecError, StreamDecoder
from tests.deadlines import within

# Long enough for a loaded CI machine; a test that waits this long has failed.
WAIT_TIMEOUT_S = 20.0


class _Waiters:
    """Deferreds waiting for a condition on an object, rechecked by ``check()``."""

    def __init__(self, subject):
        self._subject = subject
        self._pending = []

    def wait_for(self, predicate, timeout_s=WAIT_TIMEOUT_S, what=None):
        d = defer.Deferred()
        if predicate(self._subject):
            d.callback(self._subject)
            return d
        self._pending.append((predicate, d))
        return within(d, timeout_s, what or f"{predicate.__qualname__} on {self._subject!r}")

    def check(self):
        still = []
        for predicate, d in self._pending:
            if d.called:
                continue
            if predicate(self._subject):
                d.callback(self._subject)
            else:
                still.append((predicate, d))
        self._pending = still


class _RecordingClient(WebSocketClientProtocol):
    """Common bookkeeping: opened and closed Deferreds, the close code."""

    def __init__(self):
        super().__init__()
        self.waiters = _Waiters(self)
        self.close_code = None
        self.closed = False
        self.opened_d = defer.Deferred()
        self.closed_d = defer.Deferred()

    def wait_for(self, predicate, timeout_s=WAIT_TIMEOUT_S, what=None):
        return self.waiters.wait_for(predicate, timeout_s, what)

    def wait_closed(self, timeout_s=WAIT_TIMEOUT_S):
        """``closed_d``, with a deadline."""
        return within(self.closed_d, timeout_s, f"{type(self).__name__} to be closed")

    def onOpen(self):
        self.opened_d.callback(self)

    def onClose(self, wasClean, code, reason):
        self.close_code = code
        self.closed = True
        if not self.opened_d.called:
            self.opened_d.errback(ConnectionError(f"handshake failed: {reason}"))
        self.closed_d.callback(self)
        self.waiters.check()


class RecordingViewer(_RecordingClient):
    """A viewer that decodes every frame with the codec's StreamDecoder and keeps the results."""

    def __init__(self):
        super().__init__()
        self.decoder = StreamDecoder()
        self.frames = []  # DecodedFrame, in arrival order
        self.errors = []  # CodecError per frame that failed to decode
        self.other_messages = []

    @property
    def sequences(self):
        return [frame.header.sequence for frame in self.frames]

    def onMessage(self, payload, isBinary):
        if not isBinary:
            self.other_messages.append(payload)
        else:
            try:
                self.frames.append(self.decoder.decode(payload))
            except CodecError as exc:
                self.errors.append(exc)
        self.waiters.check()

    def wait_for_frames(self, count, timeout_s=WAIT_TIMEOUT_S):
        """Fires once ``count`` frames have arrived; fails if the viewer closes with fewer."""

        def progress():
            closed = f", closed with {self.close_code}" if self.closed else ""
            return f"{count} frames (got {len(self.frames)}, {len(self.errors)} undecodable{closed})"

        def enough(viewer):
            if len(viewer.frames) < count:
                raise AssertionError(f"the viewer closed before {progress()}")
            return viewer

        waiting = self.wait_for(lambda viewer: len(viewer.frames) >= count or viewer.closed,
                                timeout_s, what=progress)
        return waiting.addCallback(enough)


def assert_decodes_in_order(viewer):
    """A RecordingViewer decoded every frame it got, from a keyframe on, in consecutive sequence."""
    assert viewer.errors == []
    assert viewer.frames[0].header.is_keyframe
    first = viewer.sequences[0]
    assert viewer.sequences == list(range(first, first + len(viewer.frames)))


class TestSource(_RecordingClient):
    """A source: sends what the test gives it, records how it was closed."""

    __test__ = False  # not a pytest class

    def onMessage(self, payload, isBinary):
        self.waiters.check()

    def send_frame(self, message):
        self.sendMessage(message, isBinary=True)


class ClientTracker:
    """Opens clients against one relay port and closes them all at teardown."""

    def __init__(self, port):
        self.port = port
        self.clients = []

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def connect(self, client_class, path, headers=None, origin=None):
        """Connect a ``client_class`` to ``path``; the Deferred fires with it once open."""
        factory = WebSocketClientFactory(self.url(path), headers=headers or {}, origin=origin)
        factory.protocol = client_class
        factory.setProtocolOptions(failByDrop=False, openHandshakeTimeout=WAIT_TIMEOUT_S)
        built = defer.Deferred()
        original_build = factory.buildProtocol

        def build(addr):
            client = original_build(addr)
            self.clients.append(client)
            built.callback(client)
            return client

        factory.buildProtocol = build
        reactor.connectTCP("127.0.0.1", self.port, factory)
        built = within(built, WAIT_TIMEOUT_S, f"a TCP connection to {self.url(path)}")
        return built.addCallback(lambda client: client.opened_d)

    def viewer(self, stream="s", **kwargs):
        return self.connect(RecordingViewer, f"/view/{stream}", **kwargs)

    def source(self, stream="s", token=None, **kwargs):
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.connect(TestSource, f"/source/{stream}", headers=headers, **kwargs)

    def handshake_status(self, path, headers=()):
        """Send a WebSocket handshake by hand; fires with the HTTP status code of the answer."""
        client = RawHandshake(path, headers)
        self.clients.append(client)
        protocol.ClientCreator(reactor, lambda: client).connectTCP("127.0.0.1", self.port)
        return within(client.status_d, WAIT_TIMEOUT_S, f"the HTTP status answering a handshake on {path}")

    @defer.inlineCallbacks
    def close_all(self):
        for client in self.clients:
            if client.transport is not None and not client.closed:
                client.transport.abortConnection()
        for client in self.clients:
            if client.transport is not None and not client.closed:
                yield within(client.closed_d, WAIT_TIMEOUT_S, f"{client!r} to close after an abort")


class RawHandshake(protocol.Protocol):
    """A client that sends one WebSocket opening handshake and reads the HTTP status of the answer."""

    KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key

    def __init__(self, path, headers=()):
        self.path = path
        self.headers = list(headers)
        self.status_d = defer.Deferred()
        self.closed_d = defer.Deferred()
        self.closed = False
        self.transport = None
        self._received = b""

    def connectionMade(self):
        lines = [
            f"GET {self.path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.KEY}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))

    def dataReceived(self, data):
        self._received += data
        if b"\r\n" in self._received and not self.status_d.called:
            status_line = self._received.split(b"\r\n", 1)[0]
            self.status_d.callback(int(status_line.split()[1]))

    def connectionLost(self, reason):
        self.closed = True
        if not self.status_d.called:
            self.status_d.errback(ConnectionError("closed before any answer"))
        self.closed_d.callback(None)
