"""ResyncLimit: how often one viewer's ``{"type": "resync"}`` is answered (a token bucket).

A resync sends the viewer a catch-up (a keyframe and the deltas since, or a one-off catch-up
frame). A page asks for one after a decode error, so an honest viewer asks rarely; a viewer
sending hundreds a second once cost the encoder an LZMA compression each and dropped everyone
else from 30 to 4 frames/s. Resyncs past the limit are ignored: the next keyframe (within the
keyframe interval) brings that viewer back all the same.
"""


class ResyncLimit:
    """At most ``BURST`` resyncs at once, refilled at ``PER_S`` a second, on ``clock`` time."""

    # Resyncs a viewer may send back to back (a page that hit two bad frames in a row).
    BURST = 2
    # Resyncs per second a viewer earns back.
    PER_S = 1.0

    def __init__(self, clock):
        self._clock = clock
        self._tokens = float(self.BURST)
        self._at = clock.seconds()
        self.ignored = 0

    def allow(self):
        """Whether a resync asked for now is answered (counts it in ``ignored`` if not)."""
        now = self._clock.seconds()
        self._tokens = min(self.BURST, self._tokens + (now - self._at) * self.PER_S)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.ignored += 1
        return False
