"""broadcast/acklag.py with plain numbers: lag from marks, backlog, the rate while backlogged."""

from depthcam.broadcast.acklag import AckedLag


def test_all_acknowledged_is_no_lag():
    """A viewer that has acknowledged everything written has lag 0 at that sweep."""
    lag = AckedLag(0.0)
    lag.update(0.25, 1000, 1000)
    assert lag.all_acked and lag.lag_s(0.25) == 0 and not lag.backlogged


def test_lag_is_the_time_since_the_newest_mark_fully_acknowledged():
    """Marks at 0.25 (1000 bytes) and 0.5 (2000): acknowledging 1500 leaves the lag at 0.25's."""
    lag = AckedLag(0.0)
    lag.update(0.25, 1000, 0)
    lag.update(0.5, 2000, 0)
    lag.update(0.75, 2000, 1500)
    assert lag.lag_s(0.75) == 0.75 - 0.25
    assert lag.backlogged and lag.unacked == 500


def test_the_rate_counts_only_backlogged_sweeps():
    """Keeping up gives no rate; while backlogged, the rate is what it acknowledged per second."""
    lag = AckedLag(0.0)
    for step in range(1, 5):
        lag.update(step * 0.25, step * 1000, step * 1000)
    assert lag.rate() is None and lag.in_flight_allowance(1.0) is None
    lag.update(1.25, 10_000, 4000)
    lag.update(1.5, 10_000, 4000)  # 1.25's bytes still on their way: backlogged from here
    lag.update(1.75, 10_000, 5000)
    lag.update(2.0, 10_000, 6000)
    assert lag.rate() == (2000 / 0.5)
    assert lag.in_flight_allowance(1.0) == 4000


def test_the_rate_is_forgotten_after_keeping_up_for_a_while():
    """A viewer that was slow once and has kept up for RATE_MEMORY_S has no allowance again."""
    lag = AckedLag(0.0)
    lag.update(0.25, 1000, 0)
    lag.update(0.5, 1000, 0)
    lag.update(0.75, 1000, 500)
    assert lag.rate() is not None
    t = 0.75
    while t < 0.75 + AckedLag.RATE_MEMORY_S + 0.5:
        t += 0.25
        lag.update(t, 1000, 1000)
    assert lag.rate() is None


def test_updates_at_every_frame_see_a_backlog_only_after_backlog_after_s():
    """Measured every 1/30 s: bytes acknowledged 100 ms late are no backlog; bytes on their way
    for BACKLOG_AFTER_S are, at the first update that finds them so."""
    lag = AckedLag(0.0)
    written = []
    for step in range(1, 31):
        now = step / 30
        written.append(step * 100)
        lag.update(now, written[-1], written[-4] if len(written) >= 4 else 0)
        assert not lag.backlogged
    stop = written[-1]  # from here nothing more is acknowledged
    for step in range(31, 61):
        now = step / 30
        written.append(step * 100)
        lag.update(now, written[-1], stop)
        age_in_frames = step - 31  # of the oldest byte on its way
        if age_in_frames != round(30 * AckedLag.BACKLOG_AFTER_S):  # (the boundary is float rounding)
            assert lag.backlogged == (age_in_frames > 30 * AckedLag.BACKLOG_AFTER_S)
