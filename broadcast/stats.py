"""What ``GET /stats`` reports: per-stream counters and rates, and their totals, as JSON.

Both doors serve it: direct mode with its one stream, the relay with each of its streams and its
refusal counters (``extra_totals``).

The document::

    {
      "streams": {
        "<name>": {
          "source_connected": true,
          "frames_in_per_s": 30.0,            # frames accepted from the source, last RATE_WINDOW_S
          "viewers": 3,                       # open viewer connections
          "bytes_out_per_s": 250000.0,        # frame bytes written to viewers, last RATE_WINDOW_S
          "frames_dropped_slow_viewers": 0,   # frames a viewer missed while over its budget
          "viewers_closed_stuck": 0,          # viewers dropped: could not take a keyframe in time
          "frames_rejected": 0,               # source messages that failed the header check
          "deltas_dropped_broken_chain": 0,   # deltas that did not follow the previous frame
          "last_keyframe_age_s": 0.4          # null before the first keyframe
        }
      },
      "totals": {"streams": 1, "sources": 1, "viewers": 3, "frames_in_per_s": 30.0, ...,
                 "viewers_refused": 0, "sources_refused": 0}
    }

A door may hide the stream names (``may_name_streams``): the relay shows them only to the holder
of the publish token (``Authorization: Bearer <token>``) unless ``--public-stats``; everyone else
gets ``"streams": {}`` and the totals.

Counters cover a stream's life; the relay forgets a stream once it has no source and no viewers.
"""

import collections
import json

from twisted.web.resource import Resource

# Rates are averaged over this many seconds.
RATE_WINDOW_S = 5.0


class RateMeter:
    """Events (or amounts) per second over the last ``window_s`` seconds of ``clock`` time."""

    def __init__(self, clock=None, window_s=RATE_WINDOW_S):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self.window_s = window_s
        self._started = clock.seconds()
        self._marks = collections.deque()  # (time, amount)
        self._sum = 0
        self.total = 0

    def mark(self, amount=1):
        """Count ``amount`` now."""
        now = self._clock.seconds()
        self._marks.append((now, amount))
        self._sum += amount
        self.total += amount
        self._expire(now)

    def per_second(self):
        """The rate over the window (over the meter's life while that is shorter, at least 1 s)."""
        now = self._clock.seconds()
        self._expire(now)
        span = max(1.0, min(self.window_s, now - self._started))
        return self._sum / span

    def _expire(self, now):
        horizon = now - self.window_s
        while self._marks and self._marks[0][0] <= horizon:
            self._sum -= self._marks.popleft()[1]


def stream_stats(channel, now):
    """The /stats entry of one broadcast Channel at clock time ``now``."""
    keyframe_at = channel.cache.last_keyframe_at
    return {
        "source_connected": channel.source_connected,
        "frames_in_per_s": round(channel.frames_in.per_second(), 2),
        "viewers": len(channel.fanout),
        "bytes_out_per_s": round(channel.fanout.bytes_out.per_second(), 1),
        "frames_dropped_slow_viewers": channel.fanout.frames_dropped,
        "viewers_closed_stuck": channel.fanout.viewers_closed_stuck,
        "frames_rejected": channel.frames_rejected,
        "deltas_dropped_broken_chain": channel.deltas_dropped_broken_chain,
        "last_keyframe_age_s": None if keyframe_at is None else round(now - keyframe_at, 3),
    }


def stats_document(channels, now, extra_totals=None, name_streams=True):
    """The whole /stats document for ``channels`` (name -> Channel) at clock time ``now``.

    With ``name_streams`` false, the per-stream entries are left out (the totals stay)."""
    streams = {name: stream_stats(channel, now) for name, channel in sorted(channels.items())}
    summed = (
        "frames_in_per_s", "viewers", "bytes_out_per_s", "frames_dropped_slow_viewers",
        "viewers_closed_stuck", "frames_rejected", "deltas_dropped_broken_chain",
    )
    totals = {"streams": len(streams), "sources": sum(s["source_connected"] for s in streams.values())}
    for key in summed:
        totals[key] = round(sum(s[key] for s in streams.values()), 2)
    totals.update(extra_totals or {})
    return {"streams": streams if name_streams else {}, "totals": totals}


class StatsResource(Resource):
    """``GET /stats``: the stats document as JSON, never cached.

    ``channels`` is a callable giving the name -> Channel mapping now; ``extra_totals`` (optional)
    one giving more totals (the relay's refusal counters); ``may_name_streams`` (optional) is
    called with each request and says whether its answer may name the streams.
    """

    isLeaf = True

    def __init__(self, channels, extra_totals=None, clock=None, may_name_streams=None):
        super().__init__()
        if clock is None:
            from twisted.internet import reactor as clock
        self._channels = channels
        self._extra_totals = extra_totals or dict
        self._clock = clock
        self._may_name_streams = may_name_streams or (lambda request: True)

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        document = stats_document(self._channels(), self._clock.seconds(), self._extra_totals(),
                                  self._may_name_streams(request))
        return json.dumps(document, indent=2).encode("utf-8") + b"\n"
