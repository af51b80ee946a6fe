"""Fanout: sends one stream's frames to its viewers, holding each viewer to a budget of unsent bytes.

Backpressure cannot work for a broadcast (one slow viewer would stall them all), so the decision
is made per viewer, from what its transport reports (Twisted's push-producer calls:
``transport_full`` when its write buffer passes its ``bufferSize``, ``transport_drained`` when the
buffer is empty again):

- A viewer starts **live** from the stream's cache (latest keyframe, then the deltas since), or
  **waiting** for the next keyframe when the cache is empty.
- A live viewer gets every frame. Once its transport is full it may still take up to
  ``max_unsent_bytes`` more; the frame that would pass that budget makes it **behind**, and from
  then on it gets nothing (each frame it misses counts in ``frames_dropped``), so a delta chain is
  never broken in the middle and its picture never shows a corrupt frame.
- When its transport drains, a behind viewer catches up at once from the cache (or waits for the
  next keyframe), exactly like a new viewer. The catch-up run is exempt from the budget: the
  cache's own limit bounds it, and it is only ever sent into an empty transport.
- A viewer whose transport stays full for ``stuck_timeout_s`` is dropped (``viewers_closed_stuck``).

A viewer's ``{"type": "resync"}`` is answered the same way: catch-up now, or at the drain if its
transport is full.
"""

import enum
from dataclasses import dataclass
from typing import Protocol

from twisted.logger import Logger

from depthcam.relay.stats import RateMeter


class FanoutViewer(Protocol):
    """What Fanout needs of a viewer (``viewer.ViewerProtocol`` in the relay, a fake in tests)."""

    def deliver(self, message):
        """Write one prepared frame message to the viewer's transport."""

    def drop_stuck(self):
        """Close the connection now, without waiting to flush what is queued."""


class ViewerState(enum.Enum):
    """Where a viewer is in the stream."""

    WAITING = "waiting"  # nothing decodable was cached: the next keyframe starts it
    LIVE = "live"  # it has had every frame since a keyframe, so it gets every frame
    BEHIND = "behind"  # over its budget: nothing until its transport drains, then a catch-up


@dataclass
class _ViewerSlot:
    viewer: object
    state: ViewerState = ViewerState.WAITING
    transport_full: bool = False
    bytes_since_full: int = 0  # bytes written after the transport reported itself full
    stuck_call: object = None


class Fanout:
    """Sends each frame of one stream to every viewer that can take it (see the module docstring)."""

    # How much a viewer may queue past its transport's own buffer (Twisted's 64 KiB bufferSize)
    # before it skips to a keyframe; about a second of a busy stream.
    MAX_UNSENT_BYTES = 256 * 1024
    # How long a viewer's transport may stay full before the viewer is dropped.
    STUCK_TIMEOUT_S = 30.0

    log = Logger()

    def __init__(self, cache, max_unsent_bytes=None, stuck_timeout_s=None, clock=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self._cache = cache
        self.max_unsent_bytes = self.MAX_UNSENT_BYTES if max_unsent_bytes is None else max_unsent_bytes
        self.stuck_timeout_s = self.STUCK_TIMEOUT_S if stuck_timeout_s is None else stuck_timeout_s
        self._slots = {}
        self.frames_dropped = 0  # frames not sent to a viewer because it was behind
        self.viewers_closed_stuck = 0
        self.bytes_out = RateMeter(clock)

    def __len__(self):
        return len(self._slots)

    def viewers(self):
        """The viewers, in the order they joined."""
        return list(self._slots)

    def state_of(self, viewer):
        """The ViewerState of ``viewer``."""
        return self._slots[viewer].state

    def add(self, viewer):
        """Start sending to ``viewer``: the cached keyframe and deltas now, then every frame."""
        slot = self._slots[viewer] = _ViewerSlot(viewer)
        self._catch_up(slot)

    def remove(self, viewer):
        """Stop sending to ``viewer`` (its connection closed); unknown viewers are ignored."""
        slot = self._slots.pop(viewer, None)
        if slot is not None:
            self._cancel_stuck_call(slot)

    def publish(self, frame):
        """Send one StreamFrame, already accepted by the cache, to every viewer that can take it."""
        sent = 0
        # A list: a viewer's transport calls back into this object while we write to it.
        for slot in list(self._slots.values()):
            sent += self._offer(slot, frame)
        self.bytes_out.mark(sent)

    def resync(self, viewer):
        """``viewer`` lost its place: catch it up from the cache (at the drain if it is full)."""
        slot = self._slots.get(viewer)
        if slot is not None and slot.state is not ViewerState.BEHIND:
            self._catch_up(slot)

    def transport_full(self, viewer):
        """``viewer``'s transport buffer passed its limit (IPushProducer.pauseProducing)."""
        slot = self._slots.get(viewer)
        if slot is None or slot.transport_full:
            return
        slot.transport_full = True
        slot.bytes_since_full = 0
        slot.stuck_call = self._clock.callLater(self.stuck_timeout_s, self._drop_stuck, slot)

    def transport_drained(self, viewer):
        """``viewer``'s transport sent all it held (IPushProducer.resumeProducing)."""
        slot = self._slots.get(viewer)
        if slot is None:
            return
        slot.transport_full = False
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
        if slot.transport_full and slot.bytes_since_full + frame.size > self.max_unsent_bytes:
            self.log.debug("viewer {viewer} over its budget; skipping to a keyframe", viewer=slot.viewer)
            slot.state = ViewerState.BEHIND
            self.frames_dropped += 1
            return 0
        slot.state = ViewerState.LIVE
        return self._send(slot, frame)

    def _catch_up(self, slot):
        if slot.transport_full:
            slot.state = ViewerState.BEHIND
            return
        frames = self._cache.catchup()
        if not frames:
            slot.state = ViewerState.WAITING
            return
        slot.state = ViewerState.LIVE
        sent = sum(self._send(slot, frame) for frame in frames)
        slot.bytes_since_full = 0
        self.bytes_out.mark(sent)

    def _send(self, slot, frame):
        # The write that fills the transport is part of its buffer, not of the budget past it.
        was_full = slot.transport_full
        try:
            slot.viewer.deliver(frame.message)
        except Exception:
            # One viewer's failure never stops the loop.
            self.log.failure("sending to viewer {viewer} failed; dropping it", viewer=slot.viewer)
            slot.state = ViewerState.BEHIND
            slot.viewer.drop_stuck()
            return 0
        if was_full:
            slot.bytes_since_full += frame.size
        return frame.size

    def _drop_stuck(self, slot):
        slot.stuck_call = None
        slot.state = ViewerState.BEHIND
        self.viewers_closed_stuck += 1
        self.log.info(
            "viewer {viewer} stuck for {seconds} s; dropping it",
            viewer=slot.viewer,
            seconds=self.stuck_timeout_s,
        )
        slot.viewer.drop_stuck()

    @staticmethod
    def _cancel_stuck_call(slot):
        if slot.stuck_call is not None and slot.stuck_call.active():
            slot.stuck_call.cancel()
        slot.stuck_call = None
