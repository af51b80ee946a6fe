"""Fanout: sends one stream's frames to its viewers, each held to one budget in time and bytes.

Backpressure cannot work for a broadcast (one slow viewer would stall them all), so the decision
is made per viewer, from what its transport reports through Twisted's producer contract
(``transport_full`` is its ``pauseProducing``: the write buffer passed its ``bufferSize``;
``transport_drained`` is its ``resumeProducing``: the buffer is empty again). Nothing else about
a transport is read.

- A viewer starts **live** from the stream's catch-up (``catchup()``: the newest keyframe and the
  deltas since, or a one-off CATCHUP frame), or **waiting** for the next keyframe when there is
  nothing to catch up from.
- A live viewer gets every frame. Once its transport is full, it may fall behind live by at most
  ``max_lag_s`` (the time budget: how long its transport has stayed full) and queue at most
  ``max_unsent_bytes`` past it (the memory bound). The frame that would break the budget makes it
  **behind**: from then on it gets nothing (each frame it misses counts in ``frames_dropped``), so
  a delta chain is never broken in the middle and it never receives an undecodable frame.
- When its transport drains, a behind viewer catches up at once at the newest keyframe (or
  waits for the next one), exactly like a new viewer. The catch-up run is exempt from the
  budget: the cache's own limit bounds it, and it is only ever sent into an empty transport.
- A viewer whose transport stays full for ``stuck_timeout_s`` cannot take even that: it is
  dropped (``viewers_closed_stuck``).

A viewer's ``{"type": "resync"}`` is answered the same way: catch-up now, or at the drain.
"""

import enum
from typing import Protocol

from twisted.logger import Logger

from depthcam.broadcast.stats import RateMeter


class FanoutViewer(Protocol):
    """What Fanout needs of a viewer (``viewer.ViewerProtocol``, or a fake in tests)."""

    def deliver(self, message):
        """Write one framed message to the viewer's transport."""

    def drop_stuck(self):
        """Close the connection now, without waiting to flush what is queued."""


class ViewerState(enum.Enum):
    """Where a viewer is in the stream."""

    WAITING = "waiting"  # nothing decodable was cached: the next keyframe starts it
    LIVE = "live"  # it has had every frame since a keyframe, so it gets every frame
    BEHIND = "behind"  # over its budget: nothing until its transport drains, then a catch-up


class _ViewerSlot:
    __slots__ = ("viewer", "state", "full_since", "bytes_since_full", "stuck_call")

    def __init__(self, viewer):
        self.viewer = viewer
        self.state = ViewerState.WAITING
        self.full_since = None  # clock seconds when the transport reported itself full, or None
        self.bytes_since_full = 0  # bytes written after the transport reported itself full
        self.stuck_call = None


class Fanout:
    """Sends each frame of one stream to every viewer that can take it (see the module docstring).

    ``catchup`` is a callable giving the StreamFrames a viewer joining now needs (empty when there
    are none); ``on_count`` is called with the number of viewers whenever it changes.
    """

    # How far behind live a viewer's queue may be before it skips to the newest keyframe.
    MAX_LAG_S = 1.0
    # How much a viewer may queue past its transport's own buffer, whatever the time: a bound on
    # memory per viewer (the time budget bounds it too, but a stream may be fast).
    MAX_UNSENT_BYTES = 256 * 1024
    # How long a viewer's transport may stay full before the viewer is dropped.
    STUCK_TIMEOUT_S = 10.0

    log = Logger()

    def __init__(self, catchup, max_lag_s=None, max_unsent_bytes=None, stuck_timeout_s=None,
                 clock=None, on_count=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self._catchup = catchup
        self._on_count = on_count
        self.max_lag_s = self.MAX_LAG_S if max_lag_s is None else max_lag_s
        self.max_unsent_bytes = self.MAX_UNSENT_BYTES if max_unsent_bytes is None else max_unsent_bytes
        self.stuck_timeout_s = self.STUCK_TIMEOUT_S if stuck_timeout_s is None else stuck_timeout_s
        self._slots = {}
        self.frames_dropped = 0  # frames not sent to a viewer because it was behind
        self.viewers_closed_stuck = 0
        self.bytes_out = RateMeter(clock)

    def __len__(self):
        return len(self._slots)

    def __contains__(self, viewer):
        return viewer in self._slots

    def viewers(self):
        """The viewers, in the order they joined."""
        return list(self._slots)

    def state_of(self, viewer):
        """The ViewerState of ``viewer``."""
        return self._slots[viewer].state

    def largest_queue_past_full(self):
        """The most bytes any viewer has queued past its full transport now (the memory bound)."""
        return max((slot.bytes_since_full for slot in self._slots.values()), default=0)

    def add(self, viewer):
        """Start sending to ``viewer``: the catch-up now, then every frame."""
        slot = self._slots[viewer] = _ViewerSlot(viewer)
        self._catch_up(slot)
        self._count_changed()

    def remove(self, viewer):
        """Stop sending to ``viewer`` (its connection closed); unknown viewers are ignored."""
        slot = self._slots.pop(viewer, None)
        if slot is not None:
            self._cancel_stuck_call(slot)
            self._count_changed()

    def publish(self, frame):
        """Send one StreamFrame, already accepted by the cache, to every viewer that can take it."""
        live = ViewerState.LIVE
        message, size = frame.message, frame.size
        sent = 0
        # A list: a viewer's transport calls back into this object while we write to it.
        for slot in list(self._slots.values()):
            if slot.state is live and slot.full_since is None:
                # The common case, kept short: one write of the frame framed once.
                sent += self._send(slot, message, size)
            else:
                sent += self._offer(slot, frame)
        self.bytes_out.mark(sent)

    def resync(self, viewer):
        """``viewer`` lost its place: catch it up (at the drain if its transport is full)."""
        slot = self._slots.get(viewer)
        if slot is not None and slot.state is not ViewerState.BEHIND:
            self._catch_up(slot)

    def transport_full(self, viewer):
        """``viewer``'s transport buffer passed its limit (IPushProducer.pauseProducing)."""
        slot = self._slots.get(viewer)
        if slot is None or slot.full_since is not None:
            return
        slot.full_since = self._clock.seconds()
        slot.bytes_since_full = 0
        slot.stuck_call = self._clock.callLater(self.stuck_timeout_s, self._drop_stuck, slot)

    def transport_drained(self, viewer):
        """``viewer``'s transport sent all it held (IPushProducer.resumeProducing)."""
        slot = self._slots.get(viewer)
        if slot is None:
            return
        slot.full_since = None
        slot.bytes_since_full = 0
        self._cancel_stuck_call(slot)
        if slot.state is ViewerState.BEHIND:
            self.log.debug("viewer {viewer} drained; catching up", viewer=viewer)
            self._catch_up(slot)

    def _offer(self, slot, frame):
        if slot.state is ViewerState.BEHIND:
            self.frames_dropped += 1
            return 0
        if slot.state is ViewerState.WAITING and not frame.is_keyframe:
            return 0
        if slot.full_since is not None and (
            self._clock.seconds() - slot.full_since > self.max_lag_s
            or slot.bytes_since_full + frame.size > self.max_unsent_bytes
        ):
            self.log.debug("viewer {viewer} over its budget; skipping to a keyframe", viewer=slot.viewer)
            slot.state = ViewerState.BEHIND
            self.frames_dropped += 1
            return 0
        slot.state = ViewerState.LIVE
        return self._send(slot, frame.message, frame.size)

    def _catch_up(self, slot):
        if slot.full_since is not None:
            slot.state = ViewerState.BEHIND
            return
        frames = self._catchup()
        if not frames:
            slot.state = ViewerState.WAITING
            return
        slot.state = ViewerState.LIVE
        sent = sum(self._send(slot, frame.message, frame.size) for frame in frames)
        slot.bytes_since_full = 0
        self.bytes_out.mark(sent)

    def _send(self, slot, message, size):
        # The write that fills the transport is part of its buffer, not of the budget past it.
        was_full = slot.full_since is not None
        try:
            slot.viewer.deliver(message)
        except Exception:
            # One viewer's failure never stops the loop.
            self.log.failure("sending to viewer {viewer} failed; dropping it", viewer=slot.viewer)
            slot.state = ViewerState.BEHIND
            slot.viewer.drop_stuck()
            return 0
        if was_full:
            slot.bytes_since_full += size
        return size

    def _drop_stuck(self, slot):
        slot.stuck_call = None
        slot.state = ViewerState.BEHIND
        self.viewers_closed_stuck += 1
        self.log.info(
            "viewer {viewer} could not take a keyframe in {seconds} s; dropping it",
            viewer=slot.viewer,
            seconds=self.stuck_timeout_s,
        )
        slot.viewer.drop_stuck()

    def _count_changed(self):
        if self._on_count is not None:
            self._on_count(len(self._slots))

    @staticmethod
    def _cancel_stuck_call(slot):
        if slot.stuck_call is not None and slot.stuck_call.active():
            slot.stuck_call.cancel()
        slot.stuck_call = None
