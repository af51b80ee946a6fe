"""Channel: one stream as viewers see it: what a publisher feeds in, cached and fanned out.

A publisher calls ``publish(header, message)`` (direct mode: the encoder's header and bytes) or
``publish_message(message)`` (the relay: the header is parsed from the bytes, and a message that
is not a FORMAT.md frame raises the codec's ``FrameFormatError``). Each accepted frame is framed
once as a WebSocket message, kept by the StreamCache and sent by the Fanout.

A viewer that joins or resyncs gets the channel's catch-up: ``catchup_frame()``, the hook for
profiles that make a one-off CATCHUP frame (direct mode's classic-lzma, lossless, fine and legacy
wire), or else the cached keyframe and deltas since; nothing while the cache is empty.
"""

from autobahn.websocket.protocol import PreparedMessage
from twisted.logger import Logger

from depthcam.broadcast.fanout import Fanout
from depthcam.broadcast.stats import RateMeter
from depthcam.broadcast.stream import StreamCache, StreamFrame
from depthcam.codec.errors import FrameFormatError
from depthcam.codec.header import parse_header


def frame_message(message):
    """``message`` as one unmasked binary WebSocket message, framed once for every viewer.

    Never compressed: LZMA output would not shrink. Autobahn frames it (``PreparedMessage``, as
    ``WebSocketServerFactory.prepareMessage`` does); the bytes go to each viewer as they are.
    """
    return PreparedMessage(message, isBinary=True, applyMask=False, doNotCompress=True).payloadHybi


class Channel:
    """One stream's cache and fan-out, and its counters (see the module docstring).

    ``catchup_frame`` (optional) gives the bytes of a one-off frame of the latest picture for a
    joining viewer, or None; ``on_viewer_count`` (optional) is called with the viewer count
    whenever it changes.
    """

    log = Logger()

    def __init__(self, name, clock=None, catchup_frame=None, on_viewer_count=None, max_lag_s=None,
                 max_unsent_bytes=None, stuck_timeout_s=None, max_cached_bytes=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.name = name
        self._catchup_frame = catchup_frame
        self._count_listeners = [] if on_viewer_count is None else [on_viewer_count]
        self.cache = StreamCache(clock, max_cached_bytes)
        self.fanout = Fanout(self.catchup, max_lag_s, max_unsent_bytes, stuck_timeout_s, clock,
                             on_count=self._count_changed)
        self.frames_in = RateMeter(clock)
        self.frames_rejected = 0
        self.deltas_dropped_broken_chain = 0

    def __repr__(self):
        return f"<Channel {self.name!r}>"

    @property
    def source_connected(self):
        """Whether a publisher feeds this channel now (an in-process one always does)."""
        return True

    def add_count_listener(self, listener):
        """Call ``listener(count)`` whenever the number of viewers changes."""
        self._count_listeners.append(listener)

    def publish(self, header, message):
        """Forward one frame with its header to the viewers; True if it continues the stream."""
        self.frames_in.mark()
        frame = StreamFrame.from_header(header, frame_message(message), len(message))
        if not self.cache.add(frame):
            self.deltas_dropped_broken_chain += 1
            return False
        self.fanout.publish(frame)
        return True

    def publish_message(self, message):
        """Forward one FORMAT.md frame; raises (and counts) ``FrameFormatError`` for anything else."""
        try:
            header, _ = parse_header(message)
        except FrameFormatError:
            self.frames_rejected += 1
            raise
        return self.publish(header, message)

    def catchup(self):
        """The StreamFrames a viewer joining now needs first; () while nothing is cached."""
        cached = self.cache.catchup()
        if cached and self._catchup_frame is not None:
            message = self._catchup_frame()
            if message is not None:
                latest = cached[-1]
                return (StreamFrame(latest.sequence, True, latest.width, latest.height, len(message),
                                    frame_message(message)),)
        return cached

    def reset(self):
        """Forget the stream (its publisher went or paused); the next frame must be a keyframe."""
        self.cache.reset()

    def _count_changed(self, count):
        for listener in list(self._count_listeners):
            try:
                listener(count)
            except Exception:
                self.log.failure("viewer count listener {listener!r} failed", listener=listener)
