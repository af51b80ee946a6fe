"""BusLag: the time budget of a bus-fed stream, measured from its frames' capture times alone.

A relay that gets too little CPU reads the bus late: frames wait in Redis's output buffer for it
(up to Redis's limit, when Redis drops it) or in the local hub's, and its viewers watch a picture
that grows older by the minute, although each of them keeps up with the relay. The subscriber
cannot see Redis's buffer, but every frame carries its capture time (FORMAT.md header). The
source's clock and this relay's differ by an unknown offset, so the lag is measured against the
smallest ``arrival − capture`` seen over the last ``BASELINE_WINDOW_S`` of the stream: that is the
offset plus the fastest transit, and anything above it is time the frame spent queued.

Over the budget (the viewers' own ``max_lag_s``: one budget, behind every hop) the stream skips:
frames are dropped before the cache and the fan-out, so reading the backlog costs little and the
relay catches up, until a keyframe arrives within the budget again; that keyframe starts every
viewer anew, as a cache reset would. A jump in the sequence (another source, a restarted one, or a
gap the bus made) starts the measurement afresh, since its clock may be another.
"""

import collections

from twisted.logger import Logger

from depthcam.broadcast.stream import SEQUENCE_MODULUS

US_PER_S = 1_000_000


class BusLag:
    """Decides, frame by frame, whether a bus-fed stream is within its time budget."""

    # How much of the stream's recent past the baseline (the fastest frame) is taken from.
    BASELINE_WINDOW_S = 10.0

    log = Logger()

    def __init__(self, max_lag_s, clock):
        self.max_lag_s = max_lag_s
        self._clock = clock
        # (capture s, arrival − capture s), delays increasing: the sliding window's minimum first.
        self._window = collections.deque()
        self._last_sequence = None
        self.skipping = False
        self.frames_skipped = 0
        self.skips = 0  # times the stream went over its budget

    def reset(self):
        """Forget the baseline (the bus connection was lost, or the stream was reset)."""
        self._window.clear()
        self._last_sequence = None
        self.skipping = False

    def admit(self, header):
        """Whether to forward the frame with ``header``: False from the frame that is over the budget
        until a keyframe that is within it."""
        if self._last_sequence is not None and header.sequence != (self._last_sequence + 1) % SEQUENCE_MODULUS:
            self.reset()
        self._last_sequence = header.sequence
        lag_s = self._lag_s(header.capture_time_us / US_PER_S)
        if not self.skipping and lag_s <= self.max_lag_s:
            return True
        if not self.skipping:
            self.skipping = True
            self.skips += 1
            self.log.info("bus-fed stream {lag_s:.1f} s behind live; skipping to a keyframe", lag_s=lag_s)
        if header.is_keyframe and lag_s <= self.max_lag_s:
            self.skipping = False
            return True
        self.frames_skipped += 1
        return False

    def _lag_s(self, capture_s):
        delay_s = self._clock.seconds() - capture_s
        window = self._window
        while window and window[-1][1] >= delay_s:
            window.pop()
        window.append((capture_s, delay_s))
        while window[0][0] < capture_s - self.BASELINE_WINDOW_S:
            window.popleft()
        return delay_s - window[0][1]
