"""relay/buslag.py: a bus-fed stream over its time budget skips to a keyframe within it."""

from dataclasses import dataclass

from twisted.internet.task import Clock

from depthcam.relay.buslag import BusLag

FPS = 30
KEYFRAME_EVERY = 30
# The source's clock runs this far ahead of the relay's: only differences may matter.
SOURCE_CLOCK_AHEAD_S = 1234.5


@dataclass(frozen=True)
class Header:
    sequence: int
    capture_time_us: int
    is_keyframe: bool


def header(sequence, first=0):
    capture_s = SOURCE_CLOCK_AHEAD_S + sequence / FPS
    return Header(first + sequence, round(capture_s * 1e6), sequence % KEYFRAME_EVERY == 0)


def arrive(lag, clock, sequence, transit_s, first=0):
    """The frame ``sequence`` arrives ``transit_s`` after capture (on the relay's clock)."""
    clock.advance(sequence / FPS + transit_s - clock.seconds())
    return lag.admit(header(sequence, first))


def test_a_stream_in_time_passes_whatever_the_clocks_offset():
    clock = Clock()
    lag = BusLag(1.0, clock)
    jitter = [0.002, 0.004, 0.003, 0.020, 0.002]
    assert all(arrive(lag, clock, n, 0.5 + jitter[n % 5]) for n in range(300))
    assert lag.frames_skipped == 0 and lag.skips == 0


def test_a_backlog_is_skipped_until_a_keyframe_within_the_budget():
    """Frames 0-59 in time; the relay then stalls 3 s and reads the backlog in a burst: what is more
    than 1 s late is dropped, and the stream goes on at the first keyframe within the budget."""
    clock = Clock()
    lag = BusLag(1.0, clock)
    admitted = [n for n in range(60) if arrive(lag, clock, n, 0.01)]
    assert admitted == list(range(60))
    resumed_at = 60 / FPS + 3.0  # every frame captured since waited; they come in a burst, 1 ms apart
    burst = list(range(60, 60 + 3 * FPS))
    for index, n in enumerate(burst):
        clock.advance(max(0.0, resumed_at + index * 0.001 - clock.seconds()))
        if lag.admit(header(n)):
            admitted.append(n)
    later = list(range(burst[-1] + 1, burst[-1] + 1 + 2 * FPS))
    admitted += [n for n in later if arrive(lag, clock, n, 0.01)]
    first_after = admitted[60]
    assert first_after % KEYFRAME_EVERY == 0  # a keyframe: every viewer decodes what follows
    assert resumed_at - first_after / FPS <= 1.0  # within the budget when it was forwarded
    assert admitted[60:] == list(range(first_after, later[-1] + 1))  # nothing after it is lost
    assert lag.skips == 1 and lag.frames_skipped == first_after - 60


def test_a_new_source_with_another_clock_starts_afresh():
    """A sequence jump (another source, whose clock is 5 s behind the first's) is not taken for lag."""
    clock = Clock()
    lag = BusLag(1.0, clock)
    assert all(arrive(lag, clock, n, 0.01) for n in range(60))
    start_s = clock.seconds()
    admitted = []
    for n in range(60):
        clock.advance(start_s + n / FPS + 0.01 - clock.seconds())
        capture_s = SOURCE_CLOCK_AHEAD_S - 5.0 + start_s + n / FPS
        admitted.append(lag.admit(Header(10_000 + n, round(capture_s * 1e6), n % KEYFRAME_EVERY == 0)))
    assert all(admitted) and lag.skips == 0


def test_reset_forgets_the_baseline():
    clock = Clock()
    lag = BusLag(1.0, clock)
    assert all(arrive(lag, clock, n, 0.01) for n in range(30))
    lag.reset()
    # After a reset the first frame sets the baseline, however late it looks.
    assert arrive(lag, clock, 30, 4.0)
