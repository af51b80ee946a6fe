"""RateLimitedLog: one line per cause, then a count every interval; a minute of flood stays short."""

from twisted.internet.task import Clock
from twisted.logger import Logger

from depthcam.broadcast.ratelimitedlog import RateLimitedLog


def test_a_minute_of_flood_logs_at_most_seven_lines_per_cause():
    """1,000 events a second of two causes for 60 s: the first of each, then one count per 10 s."""
    events = []
    clock = Clock()
    log = RateLimitedLog(Logger(observer=events.append), interval_s=10, clock=clock)
    for _ in range(60):
        for _ in range(1000):
            log.info("bad-path", "first bad path")
            log.info("refused", "first refusal")
        clock.advance(1)
    clock.advance(10)
    first_lines = {"bad-path": "first bad path", "refused": "first refusal"}
    for cause, first in first_lines.items():
        lines = [e for e in events if e.get("cause") == cause or e["log_format"] == first]
        assert 2 <= len(lines) <= 7, (cause, len(lines))
        counts = sum(e.get("repeats", 0) for e in lines)
        assert counts == 60 * 1000 - 1


def test_a_cause_that_stops_goes_quiet_and_logs_again_later():
    """After a quiet window the next event is logged in full again."""
    events = []
    clock = Clock()
    log = RateLimitedLog(Logger(observer=events.append), interval_s=10, clock=clock)
    log.info("x", "one")
    clock.advance(30)
    log.info("x", "two")
    assert [e["log_format"] for e in events] == ["one", "two"]
