"""broadcast/fanout.py under task.Clock: the budget in time and bytes, skipping to a keyframe, catch-up,
stuck viewers."""

from twisted.internet.task import Clock

from depthcam.broadcast.acklag import AckedLag
from depthcam.broadcast.fanout import Fanout, ViewerState
from depthcam.broadcast.stream import StreamCache, StreamFrame

TRANSPORT_BUFFER_BYTES = 1000  # where the fake transport reports itself full
BUDGET_BYTES = 500
STUCK_S = 30.0
LAG_S = 1.0


class FakeViewer:
    """A viewer whose transport fills like Twisted's: full past TRANSPORT_BUFFER_BYTES, drained by hand."""

    def __init__(self, name, fanout):
        self.name = name
        self.fanout = fanout
        self.received = []
        self.buffered = 0
        self.full = False
        self.dropped = False

    def __repr__(self):
        return self.name

    def deliver(self, message):
        sequence, size = message
        self.received.append(sequence)
        self.buffered += size
        if self.buffered > TRANSPORT_BUFFER_BYTES and not self.full:
            self.full = True
            self.fanout.transport_full(self)

    def drain(self):
        self.buffered = 0
        if self.full:
            self.full = False
            self.fanout.transport_drained(self)

    def drop_stuck(self):
        self.dropped = True

    def acked_bytes(self):
        return None  # no TCP under it: the producer contract alone


class FailingViewer(FakeViewer):
    """A viewer whose every send raises."""

    def deliver(self, message):
        raise RuntimeError("broken transport")


def frame(sequence, keyframe=False, size=100):
    return StreamFrame(sequence, keyframe, 160, 120, size, message=(sequence, size))


class Setup:
    """A cache, a fanout over it, and a clock; ``publish`` feeds both as RelayStream does."""

    def __init__(self, budget=BUDGET_BYTES, max_lag_s=10 * STUCK_S, probe=True):
        self.clock = Clock()
        self.cache = StreamCache(self.clock)
        self.fanout = Fanout(self.cache.catchup, max_lag_s=max_lag_s, max_unsent_bytes=budget,
                             stuck_timeout_s=STUCK_S, clock=self.clock)
        if not probe:
            # Sweeps only: a viewer stalled from its first frame then shows a backlog of a
            # second's frames, as one that stalls later does (the probe is tested on its own).
            self.fanout.PROBE_S = 0

    def viewer(self, name="v", cls=FakeViewer):
        viewer = cls(name, self.fanout)
        self.fanout.add(viewer)
        return viewer

    def publish(self, *frames):
        for f in frames:
            if self.cache.add(f):
                self.fanout.publish(f)


def test_viewers_that_keep_up_get_every_frame():
    """Viewers that drain get every frame, in order."""
    s = Setup()
    viewers = [s.viewer(f"v{i}") for i in range(3)]
    for sequence in range(30):
        s.publish(frame(sequence, keyframe=sequence % 10 == 0))
        for viewer in viewers:
            viewer.drain()
    for viewer in viewers:
        assert viewer.received == list(range(30))
    assert s.fanout.frames_dropped == 0


def test_a_new_viewer_gets_the_cached_keyframe_and_deltas_first():
    """A viewer joining mid-stream is sent the latest keyframe and the deltas since, at once."""
    s = Setup()
    s.publish(frame(0, True), frame(1), frame(2, True), frame(3), frame(4))
    viewer = s.viewer()
    assert viewer.received == [2, 3, 4]
    assert s.fanout.state_of(viewer) is ViewerState.LIVE
    s.publish(frame(5))
    assert viewer.received == [2, 3, 4, 5]


def test_a_viewer_with_nothing_cached_waits_for_the_next_keyframe():
    """With an empty cache a viewer skips deltas (not counted as drops) until a keyframe."""
    s = Setup()
    viewer = s.viewer()
    s.cache.add(frame(0, True))
    s.cache.reset()  # a source came and went
    s.publish(frame(1))  # refused by the cache: never offered
    s.publish(frame(7, True), frame(8))
    assert viewer.received == [7, 8]
    assert s.fanout.frames_dropped == 0


def test_a_full_transport_takes_up_to_the_budget_then_skips_to_a_keyframe():
    """Once full, a viewer takes frames until the budget would be passed, then none until it drains."""
    s = Setup()
    slow, fast = s.viewer("slow"), s.viewer("fast")
    s.publish(frame(0, True, size=1100))  # fills the slow transport
    fast.drain()
    assert slow.full
    for sequence in range(1, 8):
        s.publish(frame(sequence))
        fast.drain()
    # 100-byte frames: 1..5 fit the 500-byte budget, 6 would pass it.
    assert slow.received == [0, 1, 2, 3, 4, 5]
    assert s.fanout.state_of(slow) is ViewerState.BEHIND
    assert s.fanout.frames_dropped == 2
    assert fast.received == list(range(8))


def test_a_drained_viewer_catches_up_from_the_cached_keyframe():
    """When a behind viewer's transport drains it gets the cached keyframe and deltas, then goes on live."""
    s = Setup(budget=0)
    slow = s.viewer("slow")
    s.publish(frame(0, True, size=1100), frame(1), frame(2))
    assert slow.received == [0]
    s.publish(frame(3, True), frame(4), frame(5))
    slow.drain()
    assert slow.received == [0, 3, 4, 5]
    assert s.fanout.state_of(slow) is ViewerState.LIVE
    s.publish(frame(6))
    assert slow.received[-1] == 6
    assert s.fanout.frames_dropped == 5


def test_a_drained_viewer_with_an_empty_cache_waits_for_a_keyframe():
    """If the cache was lost while a viewer was behind, it waits for the next keyframe after draining."""
    s = Setup(budget=0)
    slow = s.viewer("slow")
    s.publish(frame(0, True, size=1100), frame(1))
    s.cache.reset()
    slow.drain()
    assert s.fanout.state_of(slow) is ViewerState.WAITING
    s.publish(frame(10, True))
    assert slow.received == [0, 10]


def test_the_catch_up_run_is_exempt_from_the_budget():
    """A catch-up larger than the budget is sent whole, so the viewer can decode it."""
    s = Setup(budget=100)
    s.publish(frame(0, True, size=900), *(frame(i, size=300) for i in range(1, 5)))
    viewer = s.viewer()
    assert viewer.received == [0, 1, 2, 3, 4]
    assert viewer.full
    s.publish(frame(5, size=100))
    assert viewer.received[-1] == 5
    s.publish(frame(6, size=100))
    assert viewer.received[-1] == 5
    assert s.fanout.state_of(viewer) is ViewerState.BEHIND


def test_a_viewer_stuck_past_the_timeout_is_dropped():
    """A viewer whose transport stays full for stuck_timeout_s is dropped and counted."""
    s = Setup()
    slow = s.viewer()
    s.publish(frame(0, True, size=1100))
    s.clock.advance(STUCK_S - 1)
    assert not slow.dropped
    s.clock.advance(1)
    assert slow.dropped
    assert s.fanout.viewers_closed_stuck == 1


def test_draining_in_time_cancels_the_stuck_timer():
    """A viewer that drains before the timeout is not dropped, however often it fills."""
    s = Setup()
    viewer = s.viewer()
    for sequence in range(5):
        s.publish(frame(sequence, keyframe=True, size=1100))
        s.clock.advance(STUCK_S - 1)
        viewer.drain()
    s.clock.advance(10 * STUCK_S)
    assert not viewer.dropped
    assert s.clock.getDelayedCalls() == []


def test_resync_sends_the_catch_up_run_again():
    """A viewer's resync is answered with the cached keyframe and the deltas since."""
    s = Setup()
    viewer = s.viewer()
    s.publish(frame(0, True), frame(1), frame(2))
    s.fanout.resync(viewer)
    assert viewer.received == [0, 1, 2, 0, 1, 2]


def test_resync_while_full_waits_for_the_drain():
    """A resync from a viewer whose transport is full is answered only once it drains."""
    s = Setup()
    viewer = s.viewer()
    s.publish(frame(0, True, size=1100), frame(1))
    s.fanout.resync(viewer)
    s.fanout.resync(viewer)
    assert viewer.received == [0, 1]
    viewer.drain()
    assert viewer.received == [0, 1, 0, 1]


def test_a_removed_viewer_gets_nothing_and_leaves_no_timer():
    """After remove() a viewer is sent nothing and its stuck timer is cancelled."""
    s = Setup()
    viewer = s.viewer()
    s.publish(frame(0, True, size=1100))
    s.fanout.remove(viewer)
    s.fanout.remove(viewer)
    s.publish(frame(1))
    assert viewer.received == [0]
    assert s.clock.getDelayedCalls() == []
    assert len(s.fanout) == 0


def test_a_failing_viewer_does_not_stop_the_others():
    """A viewer whose send raises is dropped; the viewers after it still get the frame."""
    s = Setup()
    broken = s.viewer("broken", FailingViewer)
    good = s.viewer("good")
    s.publish(frame(0, True))
    assert broken.dropped
    assert good.received == [0]


def test_bytes_out_counts_every_frame_sent():
    """bytes_out totals the frame bytes written to all viewers, catch-up included."""
    s = Setup()
    s.viewer("a")
    s.publish(frame(0, True, size=200))
    s.viewer("b")  # catch-up: 200 more
    s.publish(frame(1, size=50))
    assert s.fanout.bytes_out.total == 200 + 200 + 2 * 50


def test_a_viewer_behind_live_by_more_than_the_time_budget_skips_to_the_newest_keyframe():
    """A full transport may take frames for max_lag_s; after that the viewer skips, and at the
    drain it starts again from the newest keyframe, never from a delta it cannot decode."""
    s = Setup(budget=10**9, max_lag_s=LAG_S)
    viewer = s.viewer()
    s.publish(frame(0, keyframe=True))
    viewer.deliver((None, TRANSPORT_BUFFER_BYTES))  # the transport fills up
    viewer.received.clear()
    s.clock.advance(LAG_S / 2)
    s.publish(frame(1))
    assert viewer.received == [1]  # within the budget: still live
    s.clock.advance(LAG_S)
    s.publish(frame(2), frame(3))
    assert viewer.received == [1]
    assert s.fanout.state_of(viewer) is ViewerState.BEHIND
    s.publish(frame(4, keyframe=True), frame(5))
    viewer.drain()
    assert viewer.received == [1, 4, 5]
    assert s.fanout.state_of(viewer) is ViewerState.LIVE


def test_the_viewer_count_is_reported_on_every_change():
    """on_count hears the number of viewers after each add and remove."""
    counts = []
    clock = Clock()
    cache = StreamCache(clock)
    fanout = Fanout(cache.catchup, clock=clock, on_count=counts.append)
    first, second = FakeViewer("a", fanout), FakeViewer("b", fanout)
    fanout.add(first)
    fanout.add(second)
    fanout.remove(first)
    fanout.remove(first)  # unknown now: no change
    fanout.remove(second)
    assert counts == [1, 2, 1, 0]


class MeasuredViewer(FakeViewer):
    """A viewer whose TCP acknowledgements are known (``ack_all`` acknowledges all it was sent) and
    whose transport hands everything to the kernel at once: it never reports itself full."""

    def __init__(self, name, fanout):
        super().__init__(name, fanout)
        self.wire_bytes = 0
        self.acked = 0

    def deliver(self, message):
        self.wire_bytes += len(message)
        self.received.append(message[0])

    def acked_bytes(self):
        return self.acked

    def ack_all(self):
        self.acked = self.wire_bytes


def play(s, first, count, viewer=None, acks=False):
    """Publish frames ``first`` .. ``first + count - 1`` at 30 frames/s (keyframe every 10), the
    clock advancing between them; ``acks``: ``viewer`` acknowledges everything after each."""
    for sequence in range(first, first + count):
        s.publish(frame(sequence, keyframe=sequence % 10 == 0))
        if acks:
            viewer.ack_all()
        s.clock.advance(1 / 30)


def test_a_viewer_that_acknowledges_everything_gets_every_frame():
    """Measured and keeping up: every frame, and it stays live for seconds."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=MeasuredViewer)
    play(s, 0, 150, v, acks=True)
    assert v.received == list(range(150))
    assert s.fanout.state_of(v) is ViewerState.LIVE


def test_a_viewer_whose_tcp_acknowledges_nothing_falls_behind_within_the_time_budget():
    """Its transport never reports itself full, yet it skips once unacknowledged bytes are over
    max_lag_s old (the sweep's precision later at most)."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=MeasuredViewer)
    play(s, 0, 60)
    assert s.fanout.state_of(v) is ViewerState.BEHIND
    assert s.fanout.frames_dropped > 0
    assert v.received == list(range(len(v.received)))
    assert len(v.received) <= 30 * (LAG_S + 2 * Fanout.SWEEP_INTERVAL_S)


def test_a_behind_viewer_resumes_at_a_keyframe_once_it_acknowledged_everything():
    """After it acknowledges all it was sent, its next frame is a keyframe (the cached one, or the
    next), and it does not wait for a drain that a kernel buffer would hide."""
    s = Setup(max_lag_s=LAG_S, probe=False)
    v = s.viewer(cls=MeasuredViewer)
    play(s, 0, 60)
    got = len(v.received)
    v.ack_all()
    play(s, 60, 30, v, acks=True)
    resumed = v.received[got]
    assert resumed % 10 == 0 and resumed > got
    assert v.received[got:] == list(range(resumed, 90))
    assert s.fanout.state_of(v) is ViewerState.LIVE


def test_a_viewer_that_acknowledges_nothing_for_the_stuck_timeout_is_dropped():
    """Nothing acknowledged for stuck_timeout_s while bytes are on their way: dropped, once."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=MeasuredViewer)
    play(s, 0, int(30 * (STUCK_S + 1)))
    assert v.dropped and s.fanout.viewers_closed_stuck == 1


def test_a_slow_viewer_that_keeps_acknowledging_is_not_dropped():
    """Acknowledging a little every second (far slower than the stream) is slow, not stuck."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=MeasuredViewer)
    for second in range(int(STUCK_S * 2)):
        play(s, 30 * second, 30)
        v.acked = min(v.acked + 500, v.wire_bytes)
    assert not v.dropped and s.fanout.viewers_closed_stuck == 0
    assert any(sequence >= 30 * (STUCK_S * 2 - 3) for sequence in v.received)  # still moving


def test_the_frames_after_a_catch_up_run_are_not_charged_for_it():
    """A viewer that stalled (so the rate it acknowledged is low) and reads again gets a catch-up
    run longer than that rate allows in max_lag_s; the frames after the run count on their own,
    so once live again it skips nothing."""
    s = Setup(max_lag_s=LAG_S, probe=False)
    v = s.viewer(cls=MeasuredViewer)
    dropped_when_live = None
    for sequence in range(150):  # one keyframe: the catch-up run is long
        if sequence == 90:
            assert s.fanout.state_of(v) is ViewerState.BEHIND
            v.ack_all()  # it reads again, and from now on acknowledges all it is sent
        s.publish(frame(sequence, keyframe=sequence == 0))
        if sequence >= 90:
            v.ack_all()
            if dropped_when_live is None and s.fanout.state_of(v) is ViewerState.LIVE:
                dropped_when_live = s.fanout.frames_dropped
        s.clock.advance(1 / 30)
    assert dropped_when_live is not None and s.fanout.frames_dropped == dropped_when_live
    assert s.fanout.state_of(v) is ViewerState.LIVE


def test_a_behind_viewer_that_holds_the_keyframe_gets_only_the_frames_it_missed():
    """No keyframe came while it was behind: it holds the cached keyframe and the deltas up to
    where it stopped, so its catch-up is the deltas after that, each frame once and in order
    (a replay from the keyframe would cost it the run again)."""
    s = Setup(max_lag_s=LAG_S, probe=False)
    v = s.viewer(cls=MeasuredViewer)
    for sequence in range(150):
        if sequence == 90:
            v.ack_all()
        s.publish(frame(sequence, keyframe=sequence == 0))
        if sequence >= 90:
            v.ack_all()
        s.clock.advance(1 / 30)
    assert s.fanout.frames_dropped > 0
    assert v.received == list(range(150))


def test_a_behind_viewer_starts_afresh_from_a_keyframe_that_came_while_it_was_behind():
    """A keyframe came while it was behind: it gets that keyframe and the deltas since."""
    s = Setup(max_lag_s=LAG_S, probe=False)
    v = s.viewer(cls=MeasuredViewer)
    for sequence in range(150):
        if sequence == 90:
            got = len(v.received)
            v.ack_all()
        s.publish(frame(sequence, keyframe=sequence in (0, 80)))
        if sequence >= 90:
            v.ack_all()
        s.clock.advance(1 / 30)
    assert got < 80
    assert v.received[got:] == list(range(80, 150))


def test_a_resync_while_behind_starts_the_catch_up_from_the_keyframe():
    """A viewer that asks for a resync lost its place: its catch-up is the keyframe and the deltas
    since, not the frames after where it fell behind."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=MeasuredViewer)
    for sequence in range(60):
        s.publish(frame(sequence, keyframe=sequence == 0))
        s.clock.advance(1 / 30)
    assert s.fanout.state_of(v) is ViewerState.BEHIND
    got = len(v.received)
    s.fanout.resync(v)
    v.ack_all()
    s.clock.advance(Fanout.SWEEP_INTERVAL_S)
    assert v.received[got] == 0 and v.received[got:] == list(range(60))


class LateAckingViewer(MeasuredViewer):
    """A viewer whose TCP acknowledges each frame ``late_frames`` frames after it was sent (a
    delayed acknowledgement, a round trip), and counts how often it was asked."""

    def __init__(self, name, fanout, late_frames=0):
        super().__init__(name, fanout)
        self.late_frames = late_frames
        self.sent_positions = []
        self.asked = 0

    def deliver(self, message):
        super().deliver(message)
        self.sent_positions.append(self.wire_bytes)

    def acked_bytes(self):
        self.asked += 1
        return self.acked

    def tick(self):
        """One frame period passed: acknowledge what was sent ``late_frames`` frames ago."""
        if len(self.sent_positions) > self.late_frames:
            self.acked = self.sent_positions[-1 - self.late_frames]


def test_a_new_viewer_that_takes_nothing_is_stopped_before_the_first_sweep_sees_it():
    """Measured at every frame in its first second, a new viewer whose TCP acknowledges nothing
    is stopped once its first bytes are BACKLOG_AFTER_S old: the sweeps alone would send it twice
    that (what a viewer too slow for the stream then reads for seconds)."""
    received = {}
    for probe in (True, False):
        s = Setup(max_lag_s=LAG_S, probe=probe)
        v = s.viewer(cls=MeasuredViewer)
        play(s, 0, 60)
        assert s.fanout.state_of(v) is ViewerState.BEHIND
        assert v.received == list(range(len(v.received)))
        received[probe] = len(v.received)
    assert received[True] <= 30 * AckedLag.BACKLOG_AFTER_S + 2
    assert received[False] >= 2 * received[True]


def test_delayed_acknowledgements_do_not_stop_a_new_viewer():
    """Acknowledgements up to BACKLOG_AFTER_S late (here 3 frames, 100 ms) are a round trip, not a
    backlog: every frame, live throughout."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=lambda name, fanout: LateAckingViewer(name, fanout, late_frames=3))
    for sequence in range(150):
        s.publish(frame(sequence, keyframe=sequence % 10 == 0))
        v.tick()
        s.clock.advance(1 / 30)
    assert v.received == list(range(150))
    assert s.fanout.frames_dropped == 0 and s.fanout.state_of(v) is ViewerState.LIVE


def test_after_its_first_second_a_viewer_that_keeps_up_is_measured_only_by_the_sweeps():
    """The per-frame measuring ends after PROBE_S: then one getsockopt a sweep, not one a frame."""
    s = Setup(max_lag_s=LAG_S)
    v = s.viewer(cls=LateAckingViewer)
    for sequence in range(150):
        s.publish(frame(sequence, keyframe=sequence % 10 == 0))
        v.tick()
        s.clock.advance(1 / 30)
        if sequence == 59:
            asked_at_two_seconds = v.asked
    assert v.received == list(range(150))
    assert asked_at_two_seconds >= 30 * Fanout.PROBE_S  # a frame each in the first second
    sweeps = 3 / Fanout.SWEEP_INTERVAL_S  # seconds 2 to 5
    assert v.asked - asked_at_two_seconds <= sweeps + 1
