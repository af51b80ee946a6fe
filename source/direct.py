"""Direct mode's web server: one Site with the client's files and the viewer WebSocket at /ws.

The pieces, from the inside out:

- ``ViewerFanout``: the policy, a plain object (and the pump's sink). Sends each frame to every
  viewer framed once, catch-up frames to a viewer that joins or asks to resync, and skips a
  viewer whose connection has too much unsent data until it drains.
- ``ViewerProtocol``: one viewer's WebSocket; maps Autobahn's callbacks to fanout calls.
- ``ViewerFactory``: Autobahn's limits, and the fanout the protocols share.
- ``build_site``: the client folder as static files, with the factory at ``/ws``, on a Site
  without an access log.
"""

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.util import encode_truncate
from twisted.logger import Logger, LogLevel
from twisted.web.server import Site
from twisted.web.static import File

from depthcam.codec.control import ControlMessageError, ControlType, parse_control_message

VIEWER_PATH = b"ws"
# RFC 6455 allows close reasons of at most 123 bytes.
MAX_CLOSE_REASON_BYTES = 123

# Autobahn's protocols and factories keep their own ``log`` (a txaio logger): ours lives here.
log = Logger()


def unsent_bytes(transport):
    """Bytes written to a TCP transport that the kernel has not taken yet (0 if it cannot say).

    Twisted keeps them in ``dataBuffer`` (from ``offset`` on) and ``_tempDataBuffer``
    (``_tempDataLen`` bytes); its own ``_isSendBufferFull`` reads the same fields. Transports
    without them (TLS, test doubles) count as empty, which disables skipping, never sending.
    """
    buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return buffered + getattr(transport, "_tempDataLen", 0)


class ViewerFanout:
    """Sends every frame to every viewer: the policy of direct mode, and the pump's sink.

    A viewer is anything with ``unsent_bytes()``, ``send_prepared(prepared)``,
    ``send_message(message)`` and ``drop()``. ``prepare(message)`` frames a message once for
    all viewers; ``catchup()`` is the encoder's ``catchup_messages``: what a viewer joining now
    needs before the next frame (an absolute copy of the latest frame, or for classic-cm the
    keyframe and the deltas since), empty before the first frame.

    Backpressure cannot work for a broadcast, so the decision is per viewer: one with more than
    ``MAX_UNSENT_BYTES`` waiting in its connection misses frames until it drains below that, then
    gets caught up again and carries on with the stream. One that misses ``MAX_SKIPPED_FRAMES`` in
    a row is dropped. Catch-up messages are exempt from the budget until they drain (classic-cm's
    keyframe and deltas since can outweigh it with a long keyframe interval; counting them would
    skip the viewer, then catch it up again, for ever).
    """

    # A few seconds of stream (the scene encodes to 1–2 KB a frame at 30 frames/s) beyond what the
    # kernel buffers; a frame is at most 19.2 KB of codes, so even a raw keyframe fits.
    MAX_UNSENT_BYTES = 256 * 1024
    # 10 s at 30 frames/s.
    MAX_SKIPPED_FRAMES = 300

    log = Logger()

    def __init__(self, prepare, catchup):
        self._prepare = prepare
        self._catchup = catchup
        self._viewers = set()
        self._skipped = {}  # viewer -> frames it has missed in a row
        self._allowance = {}  # viewer -> bytes of catch-up it may have unsent beyond the budget

    def __len__(self):
        return len(self._viewers)

    def __contains__(self, viewer):
        return viewer in self._viewers

    def add(self, viewer):
        """Start sending to ``viewer``, with a catch-up frame first so it need not wait."""
        self._viewers.add(viewer)
        self._send_catchup(viewer)

    def discard(self, viewer):
        """Stop sending to ``viewer`` (no error if it was never added)."""
        self._viewers.discard(viewer)
        self._skipped.pop(viewer, None)
        self._allowance.pop(viewer, None)

    def resync(self, viewer):
        """Send ``viewer`` a catch-up frame now: it lost its place in the stream."""
        if viewer in self._skipped:
            return  # it gets one when it drains
        self._send_catchup(viewer)

    def send_frame(self, message):
        """Send one encoded frame to every viewer that can take it."""
        prepared = None
        for viewer in list(self._viewers):
            try:
                unsent = viewer.unsent_bytes()
                if unsent <= self.MAX_UNSENT_BYTES:
                    self._allowance.pop(viewer, None)  # its catch-up has drained
                if unsent > self.MAX_UNSENT_BYTES + self._allowance.get(viewer, 0):
                    self._skip(viewer)
                elif viewer in self._skipped:
                    # It missed frames: an absolute copy of this one puts it back in the stream.
                    skipped = self._skipped.pop(viewer)
                    self.log.info("viewer {viewer} caught up after {skipped} skipped frames",
                                  viewer=viewer, skipped=skipped)
                    self._send_catchup(viewer)
                else:
                    if prepared is None:
                        prepared = self._prepare(message)
                    viewer.send_prepared(prepared)
            except Exception:
                # One broken viewer must not cost the others their frame.
                self.log.failure("dropping viewer {viewer}: sending failed",
                                 level=LogLevel.error, viewer=viewer)
                self.discard(viewer)
                viewer.drop()

    def _skip(self, viewer):
        skipped = self._skipped.get(viewer, 0) + 1
        self._skipped[viewer] = skipped
        if skipped == 1:
            self.log.info(
                "viewer {viewer} is slow ({unsent} bytes unsent); skipping frames until it drains",
                viewer=viewer, unsent=viewer.unsent_bytes(),
            )
        elif skipped >= self.MAX_SKIPPED_FRAMES:
            self.log.info("dropping viewer {viewer}: {skipped} frames behind",
                          viewer=viewer, skipped=skipped)
            self.discard(viewer)
            viewer.drop()

    def _send_catchup(self, viewer):
        messages = self._catchup()
        for message in messages:
            viewer.send_message(message)
        self._allowance[viewer] = sum(map(len, messages))


class ViewerProtocol(WebSocketServerProtocol):
    """One viewer's WebSocket: joins the fanout on open, leaves on close, may ask to resync.

    Anything a viewer sends other than FORMAT.md's control messages closes it, with the close
    code and reason of ``codec/control.py``.
    """

    watching = False  # set once the handshake is done and the viewer is in the fanout

    def onOpen(self):
        self.watching = True
        self.factory.fanout.add(self)
        log.info("viewer {peer} connected ({count} watching)",
                 peer=self.peer, count=len(self.factory.fanout))

    def onMessage(self, payload, isBinary):
        try:
            message = parse_control_message(payload, isBinary)
        except ControlMessageError as exc:
            log.info("closing viewer {peer} ({code}): {reason}",
                     peer=self.peer, code=exc.close_code, reason=exc.reason)
            # Leave the fanout first: no frame may follow our close frame.
            self.factory.fanout.discard(self)
            # Autobahn's sendClose takes only 1000 and 3000-4999; FORMAT.md's codes are RFC
            # 6455's own (1003, 1008), which sendCloseFrame sends. closeHandshakeTimeout then
            # drops a viewer that never answers.
            self.sendCloseFrame(exc.close_code, encode_truncate(exc.reason, MAX_CLOSE_REASON_BYTES))
            return
        if message.type is ControlType.RESYNC:
            self.factory.fanout.resync(self)

    def onClose(self, wasClean, code, reason):
        if self.watching:
            self.watching = False
            self.factory.fanout.discard(self)
            log.info("viewer {peer} left ({count} watching)",
                     peer=self.peer, count=len(self.factory.fanout))

    # What the fanout needs of a viewer.

    def unsent_bytes(self):
        return unsent_bytes(self.transport)

    def send_prepared(self, prepared):
        if self.state == self.STATE_OPEN:
            self.sendPreparedMessage(prepared)

    def send_message(self, message):
        if self.state == self.STATE_OPEN:
            # Prepared, as the fanout's frames are: sendMessage would hold a catch-up frame to
            # the viewers' own 4 KB message limit (a keyframe with colour is larger).
            self.sendPreparedMessage(self.factory.prepareMessage(message, isBinary=True,
                                                                 doNotCompress=True))

    def drop(self):
        self.dropConnection(abort=True)

    def __repr__(self):
        return f"<viewer {self.peer}>"


class ViewerFactory(WebSocketServerFactory):
    """Makes ViewerProtocols and owns their fanout (``self.fanout``, the pump's sink).

    ``catchup`` is the encoder's ``catchup_messages`` method. The class attributes are Autobahn's limits
    for viewers, who only ever send tiny control messages.
    """

    protocol = ViewerProtocol
    # A control message is at most 256 bytes; this leaves room and refuses anything bigger.
    MAX_VIEWER_MESSAGE_BYTES = 4096
    OPEN_HANDSHAKE_TIMEOUT_S = 10
    CLOSE_HANDSHAKE_TIMEOUT_S = 2
    # A viewer that answers no ping for AUTO_PING_TIMEOUT_S is dropped (a sleeping laptop).
    AUTO_PING_INTERVAL_S = 10
    AUTO_PING_TIMEOUT_S = 20

    def __init__(self, catchup, url=None, reactor=None):
        super().__init__(url, reactor=reactor)
        self.setProtocolOptions(
            maxMessagePayloadSize=self.MAX_VIEWER_MESSAGE_BYTES,
            maxFramePayloadSize=self.MAX_VIEWER_MESSAGE_BYTES,
            openHandshakeTimeout=self.OPEN_HANDSHAKE_TIMEOUT_S,
            closeHandshakeTimeout=self.CLOSE_HANDSHAKE_TIMEOUT_S,
            autoPingInterval=self.AUTO_PING_INTERVAL_S,
            autoPingTimeout=self.AUTO_PING_TIMEOUT_S,
            # Refuse with a close frame (say, 1009 for an oversized message), not a bare drop.
            failByDrop=False,
        )
        self.fanout = ViewerFanout(self._prepare, catchup)

    def _prepare(self, message):
        return self.prepareMessage(message, isBinary=True, doNotCompress=True)


class ClientFiles(File):
    """The client folder as static files, with JavaScript MIME types that module scripts require.

    Browsers refuse an ``import`` of a module served as anything but JavaScript, and the
    system's MIME table (which ``File`` reads) may lack ``.mjs``.
    """

    contentTypes = {
        **File.contentTypes,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".wasm": "application/wasm",
    }


class SiteWithoutAccessLog(Site):
    """A Site that logs no line per HTTP request.

    Twisted's ``Site`` logs one at info level for every file a page loads; the log has one line
    per viewer connection instead (``ViewerProtocol``).
    """

    def log(self, request):
        """Log nothing (Twisted's access-log hook)."""


def build_site(client_dir, viewers):
    """A Site serving ``client_dir`` at / and the ``viewers`` factory's WebSocket at /ws."""
    root = ClientFiles(str(client_dir))
    root.putChild(VIEWER_PATH, WebSocketResource(viewers))
    return SiteWithoutAccessLog(root)
