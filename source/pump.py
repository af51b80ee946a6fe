"""FramePump: a LoopingCall that takes frames from a source, encodes each once, and sends it on.

A sink is anything with ``send_frame(header, message)``: direct mode's in-process publisher
(``direct.EncoderPublisher``) or the push to a relay (``push.RelaySink``); the header is the one
the encoder wrote. The pump knows nothing of their transports. ``pause()`` stops reading and
encoding while nobody watches; ``resume()`` starts again with a keyframe.
"""

from twisted.internet import defer, task
from twisted.logger import Logger, LogLevel

from depthcam.source.frames import DiscontinuousFrame, SourceEnded


class FramePump:
    """Every 1/fps seconds: ``source.next_frame()`` → ``encoder.encode()`` → ``sink.send_frame()``.

    When ``next_frame`` returns a Deferred, the LoopingCall waits for it before the next tick, so a
    slow device slows the pump (missed ticks are skipped, never queued). A source, encoder or
    sink that fails costs that frame (or that sink's copy of it) only; each is logged once when it
    starts failing and once when it recovers, however many frames fail in between. A source that
    raises ``SourceEnded`` (a recording's end, a lost device) stops the pump instead: ``start``'s
    Deferred fails with it. A ``DiscontinuousFrame`` is encoded as a keyframe. While paused, the
    loop does not run at all: nothing is read or encoded.

    ``clock`` is the reactor by default; tests pass ``task.Clock()``.
    """

    log = Logger()

    def __init__(self, source, encoder, sinks=(), fps=None, clock=None):
        self.source = source
        self.encoder = encoder
        self.sinks = list(sinks)
        self.fps = fps if fps is not None else source.nominal_fps
        if not self.fps or self.fps <= 0:
            raise ValueError(f"the pump needs a positive rate, got {self.fps!r} frames/s")
        self.frames_sent = 0
        self._clock = clock
        self._loop = None
        self._reading = None  # the Deferred of the read on its way, if any
        self.paused = False
        self.stopped = None
        self._failing = set()  # what is failing now: "source", "encoder" or a sink

    @property
    def running(self):
        return self._loop is not None and self._loop.running

    def add_sink(self, sink):
        """Send every later frame to ``sink`` too."""
        self.sinks.append(sink)

    def remove_sink(self, sink):
        """Stop sending frames to ``sink``."""
        self.sinks.remove(sink)
        self._failing.discard(sink)

    def start(self):
        """Start pumping, the first frame now; the Deferred (also ``stopped``) fires when ``stop``
        is called, or fails with the ``SourceEnded`` that ended the source."""
        self.stopped = defer.Deferred()
        self._run()
        return self.stopped

    def stop(self):
        """Stop pumping for good (the frame being read, if any, is still delivered)."""
        self.paused = False
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        if self.stopped is not None and not self.stopped.called:
            self.stopped.callback(self)

    def pause(self):
        """Stop reading and encoding until ``resume()`` (nobody watches)."""
        if self.paused or self.stopped is None or self.stopped.called:
            return
        self.paused = True
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        self.log.info("frame pump paused: nobody watches")

    def resume(self):
        """Read and encode again, starting with a keyframe, now."""
        if not self.paused:
            return
        self.paused = False
        self.encoder.request_keyframe()
        self.log.info("frame pump resumed")
        if self._reading is None:
            self._run()
        else:
            # A read started before the pause is still on its way: a second one beside it (a
            # thread each) could finish first and be encoded as the earlier frame.
            self._reading.addBoth(self._run_after_read)

    def _run_after_read(self, result):
        stopped = self.stopped is None or self.stopped.called
        if not self.paused and self._loop is None and not stopped:
            self._run()
        return result

    def _run(self):
        loop = self._loop = task.LoopingCall(self.pump_once)
        if self._clock is not None:
            loop.clock = self._clock
        loop.start(1.0 / self.fps, now=True).addErrback(self._loop_failed)

    def _loop_failed(self, failure):
        self._loop = None
        if not self.stopped.called:
            self.stopped.errback(failure)

    def pump_once(self):
        """Read, encode and send one frame; the Deferred fires with the message, or None if none."""
        reading = defer.maybeDeferred(self.source.next_frame)
        reading.addCallbacks(self._deliver, self._failed, errbackArgs=("source",))
        if not reading.called:
            self._reading = reading
            reading.addBoth(self._read_done)
        return reading

    def _read_done(self, result):
        self._reading = None
        return result

    def _deliver(self, frame):
        self._recovered("source")
        if frame is None:
            return None
        if isinstance(frame, DiscontinuousFrame):
            self.encoder.request_keyframe()
        try:
            header, message = self.encoder.encode_with_header(frame)
        except Exception:
            self._failed(None, "encoder")
            return None
        self._recovered("encoder")
        for sink in list(self.sinks):
            try:
                sink.send_frame(header, message)
            except Exception:
                self._failed(None, sink)
            else:
                self._recovered(sink)
        self.frames_sent += 1
        return message

    def _failed(self, failure, culprit):
        """Log the first of a run of failures of ``culprit``, with its traceback; swallow the rest.

        Swallowing matters: a failure that reached the LoopingCall would stop it, which is what
        ``SourceEnded`` is for.
        """
        if culprit == "source" and failure.check(SourceEnded):
            return failure
        if culprit not in self._failing:
            self._failing.add(culprit)
            self.log.failure(
                "frame pump: {culprit!r} failed; skipping its frames until it recovers",
                failure, LogLevel.error, culprit=culprit,
            )
        return None

    def _recovered(self, culprit):
        if culprit in self._failing:
            self._failing.discard(culprit)
            self.log.info("frame pump: {culprit!r} recovered", culprit=culprit)
