"""Real WebSocket viewers for the source's tests, and a timeout for waiting on them."""

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet import defer

from tests import deadlines

# Long enough for a loaded machine, short enough that a broken test fails instead of hanging.
WAIT_S = 10


def within(deferred, seconds=WAIT_S, what="what the test awaits on the line above"):
    """``deferred``, failing with AssertionError (naming ``what``) if it has not fired in ``seconds``."""
    return deadlines.within(deferred, seconds, what)


class RecordingViewer(WebSocketClientProtocol):
    """A viewer that keeps every message it receives and tells when it opens, receives or closes."""

    def __init__(self):
        super().__init__()
        self.messages = []
        self.opened = defer.Deferred()
        self.closed = defer.Deferred()  # fires with (close code, reason)
        self._waiting = []  # (message count, Deferred)

    def onOpen(self):
        self.opened.callback(self)

    def onMessage(self, payload, isBinary):
        self.messages.append((payload, isBinary))
        ready = [entry for entry in self._waiting if len(self.messages) >= entry[0]]
        for entry in ready:
            self._waiting.remove(entry)
            entry[1].callback(self.messages[: entry[0]])

    def onClose(self, wasClean, code, reason):
        if not self.opened.called:
            self.opened.errback(ConnectionError(f"handshake failed: {code} {reason}"))
        self.closed.callback((code, reason))

    def received(self, count):
        """A Deferred of the first ``count`` messages, once that many have arrived."""
        if len(self.messages) >= count:
            return defer.succeed(self.messages[:count])
        waiting = defer.Deferred()
        self._waiting.append((count, waiting))
        return within(waiting, what=lambda: f"{count} messages (got {len(self.messages)})")

    def frames(self):
        """The binary messages received so far."""
        return [payload for payload, is_binary in self.messages if is_binary]
