"""Fanout: sends one stream's frames to its viewers, each held to one budget in time and bytes.

Backpressure cannot work for a broadcast (one slow viewer would stall them all), so the decision
is made per viewer, from two measures:

- **What its TCP has acknowledged** (``FanoutViewer.acked_bytes``, from Linux's ``TCP_INFO``:
  ``tcpacked``). The fanout counts the bytes it writes to each viewer (one integer add per frame);
  a sweep every ``SWEEP_INTERVAL_S`` (one LoopingCall for all viewers, one getsockopt per viewer)
  compares them with the acknowledged position (``acklag.AckedLag``). This sees every byte on its
  way: in Twisted's buffer, the kernel's send buffer and the network.
- **Twisted's producer contract** (``transport_full`` is its ``pauseProducing``: the write buffer
  passed its ``bufferSize``; ``transport_drained`` is its ``resumeProducing``: the buffer is empty
  again). It sees only Twisted's own buffer, so it alone bounds a viewer where the acknowledged
  bytes cannot be known (not Linux, TLS, the tests' fake transports), and it bounds memory always.

- A viewer starts **live** from the stream's catch-up (``catchup()``: the newest keyframe and the
  deltas since, or a one-off CATCHUP frame), or **waiting** for the next keyframe when there is
  nothing to catch up from.
- A live viewer gets every frame while it keeps up. It becomes **behind** when what it has not
  acknowledged is more than ``max_lag_s`` old (found at a sweep), or, once it has shown a backlog,
  when a frame would put more bytes on their way than it takes in ``max_lag_s`` at the rate it
  acknowledges (checked per frame only for such a viewer, so a frame written now still arrives
  about ``max_lag_s`` later). A new viewer's pace is not known, and a sweep comes too late for one
  many times too slow for the stream (its first quarter second fills its kernel buffers with
  seconds of its reading): for its first ``PROBE_S`` it is measured at every frame, and a backlog
  stops it there. Without the acknowledged bytes: once its transport is full, it may
  stay full for at most ``max_lag_s``. Either way it may queue at most ``max_unsent_bytes`` past a
  full transport (the memory bound). A behind viewer gets nothing (each frame it misses counts in
  ``frames_dropped``), so a delta chain is never broken in the middle and it never receives an
  undecodable frame.
- A behind viewer catches up once it has acknowledged everything sent to it (without the
  acknowledged bytes: when its transport drains), so the catch-up goes into an empty pipe. It gets
  the newest keyframe and the deltas since, like a new viewer, unless the next keyframe will reach
  it sooner (see ``_catch_up_behind``); when no keyframe came while it was behind, it already
  holds that keyframe and the deltas up to where it fell behind, and gets only the deltas after.
  The catch-up run is exempt from the budget (the cache's own limit bounds it), and the frames
  after it are judged on their own bytes.
- A viewer that cannot take even that is dropped (``viewers_closed_stuck``): one that has
  acknowledged nothing for ``stuck_timeout_s`` while bytes were on their way (without the
  acknowledged bytes: whose transport stays full for ``stuck_timeout_s``). A slow viewer that
  keeps acknowledging is not.

A viewer's ``{"type": "resync"}`` is answered the same way: catch-up now, or at the drain.
"""

import enum
from typing import Protocol

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from depthcam.broadcast.acklag import AckedLag
from depthcam.broadcast.stats import RateMeter


class FanoutViewer(Protocol):
    """What Fanout needs of a viewer (``viewer.ViewerProtocol``, or a fake in tests)."""

    def deliver(self, message):
        """Write one framed message to the viewer's transport."""

    def drop_stuck(self):
        """Close the connection now, without waiting to flush what is queued."""

    def acked_bytes(self):
        """How many of the bytes ``deliver`` wrote the viewer's TCP has acknowledged (may be
        negative while the handshake is on its way), or None where that cannot be known."""


class ViewerState(enum.Enum):
    """Where a viewer is in the stream."""

    WAITING = "waiting"  # nothing decodable was cached: the next keyframe starts it
    LIVE = "live"  # it has had every frame since a keyframe, so it gets every frame
    BEHIND = "behind"  # over its budget: nothing until its transport drains, then a catch-up


class _ViewerSlot:
    __slots__ = ("viewer", "state", "full_since", "bytes_since_full", "stuck_call", "fast",
                 "bytes_written", "lag", "in_flight_allowance", "catchup_end", "resume_point",
                 "probe_until")

    def __init__(self, viewer):
        self.viewer = viewer
        self.state = ViewerState.WAITING
        self.full_since = None  # clock seconds when the transport reported itself full, or None
        self.bytes_since_full = 0  # bytes written after the transport reported itself full
        self.stuck_call = None
        self.bytes_written = 0  # wire bytes delivered, in the position acked_bytes() counts in
        self.catchup_end = 0  # bytes_written at the end of the newest catch-up run
        # While behind: (the keyframe it holds, the sequence of the last frame it was sent): it
        # has that keyframe and every frame after it up to there. None: it must start afresh.
        self.resume_point = None
        self.lag = None  # an AckedLag where the viewer's acknowledged bytes are known
        self.in_flight_allowance = None  # bytes that may be on their way (None: no limit)
        self.probe_until = None  # clock seconds until which it is measured at every frame
        self.fast = False  # whether publish may just write: live, transport not full, no allowance

    def settle(self):
        """Recompute ``fast`` after a change of state, fullness, allowance or probing."""
        self.fast = (self.state is ViewerState.LIVE and self.full_since is None
                     and self.in_flight_allowance is None and self.probe_until is None)


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
    # How long a viewer may take to acknowledge what was sent (or, without that measure, may keep
    # its transport full) before it is dropped.
    STUCK_TIMEOUT_S = 10.0
    # How often the acknowledged bytes of every viewer are read: the lag is known to this much.
    SWEEP_INTERVAL_S = 0.25
    # How long a new viewer is measured at every frame, until the sweeps know its pace.
    PROBE_S = 1.0

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
        self._sweep = LoopingCall(self._sweep_viewers)
        self._sweep.clock = clock
        self._keyframe_at = None  # clock seconds of the newest keyframe published
        self._keyframe = None  # the newest keyframe published (a StreamFrame)
        self._newest_sequence = None  # the sequence of the newest frame published
        self._keyframe_period_s = None  # seconds between the last two keyframes
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

    def lag_of(self, viewer):
        """Seconds since ``viewer`` last had everything sent to it, as of the last sweep; None
        where its acknowledged bytes cannot be known."""
        lag = self._slots[viewer].lag
        return None if lag is None else lag.lag_s(self._clock.seconds())

    def largest_queue_past_full(self):
        """The most bytes any viewer has queued past its full transport now (the memory bound)."""
        return max((slot.bytes_since_full for slot in self._slots.values()), default=0)

    def add(self, viewer):
        """Start sending to ``viewer``: the catch-up now, then every frame."""
        slot = self._slots[viewer] = _ViewerSlot(viewer)
        if viewer.acked_bytes() is not None:
            slot.lag = AckedLag(self._clock.seconds())
            slot.probe_until = self._clock.seconds() + self.PROBE_S
            if not self._sweep.running:
                self._sweep.start(self.SWEEP_INTERVAL_S, now=False)
        self._catch_up(slot)
        self._count_changed()

    def remove(self, viewer):
        """Stop sending to ``viewer`` (its connection closed); unknown viewers are ignored."""
        slot = self._slots.pop(viewer, None)
        if slot is not None:
            slot.state = ViewerState.BEHIND
            slot.settle()
            self._cancel_stuck_call(slot)
            self._count_changed()
            if self._sweep.running and not any(s.lag is not None for s in self._slots.values()):
                self._sweep.stop()

    def publish(self, frame):
        """Send one StreamFrame, already accepted by the cache, to every viewer that can take it."""
        if frame.is_keyframe:
            now = self._clock.seconds()
            if self._keyframe_at is not None:
                self._keyframe_period_s = now - self._keyframe_at
            self._keyframe_at = now
            self._keyframe = frame
        message, size, wire_size = frame.message, frame.size, frame.wire_size
        sent = 0
        # A list: a viewer's transport calls back into this object while we write to it.
        for slot in list(self._slots.values()):
            if slot.fast:
                # The common case, kept short: one write of the frame framed once.
                sent += self._send(slot, message, size, wire_size)
            else:
                sent += self._offer(slot, frame)
        self._newest_sequence = frame.sequence
        self.bytes_out.mark(sent)

    def resync(self, viewer):
        """``viewer`` lost its place: catch it up (at the drain if its transport is full)."""
        slot = self._slots.get(viewer)
        if slot is None:
            return
        slot.resume_point = None  # it lost its place: from a keyframe, now or when it catches up
        if slot.state is not ViewerState.BEHIND:
            self._catch_up(slot)

    def transport_full(self, viewer):
        """``viewer``'s transport buffer passed its limit (IPushProducer.pauseProducing)."""
        slot = self._slots.get(viewer)
        if slot is None or slot.full_since is not None:
            return
        slot.full_since = self._clock.seconds()
        slot.bytes_since_full = 0
        slot.settle()
        if slot.lag is None:
            # With the acknowledged bytes, the sweep finds a stuck viewer.
            slot.stuck_call = self._clock.callLater(self.stuck_timeout_s, self._drop_stuck, slot)

    def transport_drained(self, viewer):
        """``viewer``'s transport sent all it held (IPushProducer.resumeProducing)."""
        slot = self._slots.get(viewer)
        if slot is None:
            return
        slot.full_since = None
        slot.bytes_since_full = 0
        slot.settle()
        self._cancel_stuck_call(slot)
        if slot.state is ViewerState.BEHIND and slot.lag is None:
            self.log.debug("viewer {viewer} drained; catching up", viewer=viewer)
            self._catch_up_behind(slot)

    def _sweep_viewers(self):
        now = self._clock.seconds()
        for slot in list(self._slots.values()):
            if slot.lag is not None and slot.viewer in self._slots:
                self._measure(slot, now)

    def _measure(self, slot, now):
        if not self._update_lag(slot, now):
            return
        lag = slot.lag
        lag_s = lag.lag_s(now)
        # Slow is not stuck: only a viewer that acknowledged nothing for stuck_timeout_s goes.
        if now - lag.progress_s > self.stuck_timeout_s:
            self._drop_stuck(slot)
            return
        if slot.state is ViewerState.BEHIND:
            if lag.all_acked:
                self.log.debug("viewer {viewer} took all it was sent; catching up", viewer=slot.viewer)
                self._catch_up_behind(slot)
        elif slot.state is ViewerState.WAITING and self._keyframe_overdue(now):
            # It chose to wait for a keyframe that has not come (the source paused or slowed):
            # the cached run is all there is.
            self._catch_up(slot)
        elif lag_s > self.max_lag_s:
            self.log.debug("viewer {viewer} {lag} s behind; skipping to a keyframe",
                           viewer=slot.viewer, lag=round(lag_s, 2))
            self._fall_behind(slot, self._newest_sequence)
        slot.settle()

    def _update_lag(self, slot, now):
        """Read what ``slot``'s viewer has acknowledged into its AckedLag, and its in-flight
        allowance from that; False where it cannot be read now (the socket is going: its close
        removes the viewer).

        A viewer backlogged lately has each frame checked against what it takes in max_lag_s; one
        that keeps up does not (None), and stays on publish's short path. One backlogged whose
        pace is not known yet (it just joined) gets nothing more until it has taken what it has.
        """
        try:
            acked = slot.viewer.acked_bytes()
        except OSError:
            return False
        if acked is None:
            return False
        lag = slot.lag
        lag.update(now, slot.bytes_written, acked)
        allowance = lag.in_flight_allowance(self.max_lag_s)
        slot.in_flight_allowance = 0 if allowance is None and lag.backlogged else allowance
        return True

    def _probe(self, slot):
        """Measure a new viewer before a frame is offered to it, for its first PROBE_S."""
        now = self._clock.seconds()
        if now >= slot.probe_until:
            slot.probe_until = None
            return
        self._update_lag(slot, now)

    def _offer(self, slot, frame):
        if slot.probe_until is not None and slot.state is ViewerState.LIVE:
            self._probe(slot)
            slot.settle()
        if slot.state is ViewerState.BEHIND:
            self.frames_dropped += 1
            return 0
        if slot.state is ViewerState.WAITING and not frame.is_keyframe:
            return 0
        if self._over_budget(slot, frame):
            self.log.debug("viewer {viewer} over its budget; skipping to a keyframe", viewer=slot.viewer)
            if slot.state is ViewerState.LIVE:
                self._fall_behind(slot, self._newest_sequence)  # it had every frame before this one
            else:
                slot.state = ViewerState.BEHIND
            slot.settle()
            self.frames_dropped += 1
            return 0
        slot.state = ViewerState.LIVE
        slot.settle()
        return self._send(slot, frame.message, frame.size, frame.wire_size)

    def _over_budget(self, slot, frame):
        allowance = slot.in_flight_allowance
        # The keyframe that starts a waiting viewer is exempt, and so is a catch-up run: only what
        # was written after it counts against the allowance (else a run longer than the allowance
        # has the next frame dropped, and the viewer replays the run from the keyframe again).
        if (allowance is not None and slot.state is ViewerState.LIVE
                and slot.bytes_written - max(slot.lag.acked, slot.catchup_end) + frame.wire_size
                > allowance):
            return True
        if slot.full_since is None:
            return False
        return (slot.bytes_since_full + frame.size > self.max_unsent_bytes
                or (slot.lag is None and self._clock.seconds() - slot.full_since > self.max_lag_s))

    def _keyframe_overdue(self, now):
        """Whether the next keyframe is later than the last period by more than the time budget."""
        return (self._keyframe_period_s is not None
                and now - (self._keyframe_at + self._keyframe_period_s) > self.max_lag_s)

    def _catch_up_behind(self, slot):
        """Catch up a behind viewer now that its pipe is empty, or let it wait for the next keyframe.

        The catch-up run (the cached keyframe and every delta since) brings the viewer's picture to
        live once all of it has arrived; the next keyframe does so once it has. For a viewer that
        takes ``rate`` bytes a second, the run is the sooner while its deltas take less time than
        the wait for the next keyframe: a slow viewer waits (its picture stays where it is, and
        what it gets next is new, not a keyframe already seconds old with deltas it reads for
        seconds more); a fast one, or one whose rate or the keyframe period is unknown, gets the
        run now.
        """
        rate = slot.lag.rate() if slot.lag is not None else None
        if rate and self._keyframe_period_s is not None and slot.full_since is None:
            frames = self._catchup()
            if frames:
                rest = self._after_resume_point(slot, frames)
                deltas = frames[1:] if rest is None else rest
                deltas_bytes = sum(frame.wire_size for frame in deltas)
                next_keyframe_in_s = self._keyframe_at + self._keyframe_period_s - self._clock.seconds()
                # An overdue keyframe (the stream paused) is no reason to wait.
                if next_keyframe_in_s > 0 and deltas_bytes > rate * next_keyframe_in_s:
                    slot.state = ViewerState.WAITING
                    slot.settle()
                    return
            self._catch_up(slot, frames)
            return
        self._catch_up(slot)

    def _catch_up(self, slot, frames=None):
        """Send ``slot`` the catch-up run (``frames``: the cache's, already fetched by the caller)."""
        if slot.full_since is not None:
            slot.state = ViewerState.BEHIND
            slot.settle()
            return
        if frames is None:
            frames = self._catchup()
        if not frames:
            slot.state = ViewerState.WAITING
            slot.settle()
            return
        rest = self._after_resume_point(slot, frames)
        if rest is not None:
            frames = rest
        slot.resume_point = None
        slot.state = ViewerState.LIVE
        slot.settle()
        sent = sum(self._send(slot, frame.message, frame.size, frame.wire_size) for frame in frames)
        slot.catchup_end = slot.bytes_written
        slot.bytes_since_full = 0
        self.bytes_out.mark(sent)

    def _fall_behind(self, slot, last_sequence):
        """A live viewer skips from here: it holds the newest keyframe and every frame after it up
        to ``last_sequence``."""
        slot.state = ViewerState.BEHIND
        slot.resume_point = (self._keyframe, last_sequence)

    def _after_resume_point(self, slot, frames):
        """The catch-up ``frames`` after the frame a behind viewer was sent last, when it holds
        their keyframe (no keyframe came since it fell behind); None when it must start afresh.
        Identity, not sequence numbers: a new source restarts them."""
        point = slot.resume_point
        if point is None or frames[0] is not point[0]:
            return None
        last_sequence = point[1]
        for index, frame in enumerate(frames):
            if frame.sequence == last_sequence:
                return frames[index + 1:]
        return None

    def _send(self, slot, message, size, wire_size):
        # The write that fills the transport is part of its buffer, not of the budget past it.
        was_full = slot.full_since is not None
        slot.bytes_written += wire_size
        try:
            slot.viewer.deliver(message)
        except Exception:
            # One viewer's failure never stops the loop.
            self.log.failure("sending to viewer {viewer} failed; dropping it", viewer=slot.viewer)
            slot.state = ViewerState.BEHIND
            slot.settle()
            slot.viewer.drop_stuck()
            return 0
        if was_full:
            slot.bytes_since_full += size
        return size

    def _drop_stuck(self, slot):
        slot.stuck_call = None
        slot.lag = None  # measured no more: its close removes it
        slot.probe_until = None
        slot.state = ViewerState.BEHIND
        slot.settle()
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
