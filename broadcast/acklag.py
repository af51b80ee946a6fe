"""AckedLag: how far behind live one viewer is, from the bytes its TCP peer has acknowledged.

The fanout counts the bytes it writes to a viewer; at every sweep it also learns how many of
them the viewer's TCP has acknowledged (``tcpacked``) and calls ``update(now, written, acked)``.
Each sweep that wrote something leaves a mark (bytes written so far, time). The newest mark whose
bytes are all acknowledged says when the viewer last had everything sent to it: ``lag_s(now)`` is
the time since then, an upper bound on how old the oldest byte still on its way is (too high by
at most one sweep period). This sees the bytes in Twisted's buffer, the kernel's send buffer and
the network; bytes in the viewer's receive buffer are acknowledged but not yet read, and that
buffer is small because it is the TCP window (a viewer that stops reading closes it).

A viewer is **backlogged** when bytes written at least ``BACKLOG_AFTER_S`` ago are still on their
way: longer than a round trip and a delayed acknowledgement take, so the bytes are waiting for the
viewer, not for the network. Updates may come at every sweep or, for a viewer whose pace is not
known yet, at every frame: the marks make the answer the same. ``in_flight_allowance(seconds)``
is how many bytes the viewer takes in ``seconds``, at the rate it acknowledged while it was
backlogged in the last ``RATE_MEMORY_S`` (a viewer that keeps up has none, and its rate would say
only how fast the stream is, so it gets no allowance: None).
"""

from collections import deque


class AckedLag:
    """The lag of one viewer (see the module docstring). Plain numbers: no reactor, no socket."""

    # Backlogged sweeps the rate is averaged over.
    RATE_SWEEPS = 8
    # How long a backlogged sweep counts: a viewer that has kept up this long has no rate again.
    RATE_MEMORY_S = 5.0

    # How long bytes may be on their way before they are a backlog: more than a round trip plus a
    # delayed acknowledgement (Linux delays one by 40 ms and at most 200 ms).
    BACKLOG_AFTER_S = 0.2

    __slots__ = ("_marks", "_busy", "_last", "acked_through_s", "acked", "written", "backlogged",
                 "progress_s")

    def __init__(self, now):
        self._marks = deque()  # (written, time) of sweeps not yet all acknowledged, oldest first
        # (time, seconds, bytes acknowledged) of the sweeps that began backlogged
        self._busy = deque(maxlen=self.RATE_SWEEPS)
        self._last = None  # (time, written, acked) of the previous update
        self.acked_through_s = now  # when the viewer last had everything written to it
        self.progress_s = now  # when it last acknowledged anything (or had nothing to)
        self.acked = 0
        self.written = 0
        self.backlogged = False  # whether bytes BACKLOG_AFTER_S old were still on their way

    def update(self, now, written, acked):
        """Record one measure (a sweep's, or a frame's): ``written`` bytes sent so far, ``acked`` of
        them acknowledged."""
        last = self._last
        busy = self._busy
        if last is not None and last[3]:
            busy.append((now, now - last[0], acked - last[2]))
        while busy and busy[0][0] < now - self.RATE_MEMORY_S:
            busy.popleft()
        if acked > self.acked or acked >= written:
            self.progress_s = now
        self.written, self.acked = written, acked
        marks = self._marks
        if not marks or written > marks[-1][0]:
            marks.append((written, now))
        while marks and marks[0][0] <= acked:
            self.acked_through_s = marks.popleft()[1]
        if not marks:
            self.acked_through_s = now
        self.backlogged = bool(marks) and marks[0][1] <= now - self.BACKLOG_AFTER_S
        self._last = (now, written, acked, self.backlogged)

    @property
    def all_acked(self):
        """Whether, at the last update, the viewer had acknowledged every byte written to it."""
        return self.acked >= self.written

    @property
    def unacked(self):
        """Bytes written and not acknowledged at the last update."""
        return max(self.written - self.acked, 0)

    def lag_s(self, now):
        """Seconds since the viewer last had everything written to it (0 while it has)."""
        return now - self.acked_through_s

    def rate(self):
        """Bytes a second the viewer acknowledged while it had a backlog; None before it had one."""
        seconds = sum(interval for _, interval, _ in self._busy)
        if seconds <= 0:
            return None
        return sum(taken for _, _, taken in self._busy) / seconds

    def in_flight_allowance(self, seconds):
        """Bytes the viewer takes in ``seconds`` at ``rate()``; None while there is no rate."""
        rate = self.rate()
        return None if rate is None else rate * seconds
