"""relay/stream.py: the cache of the latest keyframe and the deltas since, from headers alone."""

import pytest
from twisted.internet.task import Clock

from depthcam.broadcast.stream import StreamCache, StreamFrame


def frame(sequence, keyframe=False, size=100, shape=(160, 120)):
    """A StreamFrame whose message is its own sequence number."""
    return StreamFrame(sequence, keyframe, shape[0], shape[1], size, message=sequence)


def cached_sequences(cache):
    return [f.message for f in cache.catchup()]


def test_keyframe_then_deltas_are_cached_in_order():
    """A keyframe and the deltas that follow it make up the catch-up run, keyframe first."""
    cache = StreamCache(Clock())
    assert [cache.add(f) for f in (frame(7, True), frame(8), frame(9))] == [True, True, True]
    assert cached_sequences(cache) == [7, 8, 9]
    assert cache.cached_bytes == 300


def test_a_new_keyframe_replaces_the_cache():
    """Each keyframe starts the catch-up run afresh, at whatever sequence it has."""
    cache = StreamCache(Clock())
    for f in (frame(0, True), frame(1), frame(2), frame(3, True), frame(4)):
        cache.add(f)
    assert cached_sequences(cache) == [3, 4]
    cache.add(frame(100, True))
    assert cached_sequences(cache) == [100]


def test_empty_before_any_keyframe():
    """Before the first keyframe there is nothing to catch up from."""
    assert StreamCache(Clock()).catchup() == ()


# Frames after keyframe 10 (160x120) that break the chain: the last one must be refused.
CHAIN_BREAKS = [
    ("a gap", [frame(12)]),
    ("a repeat", [frame(11), frame(11)]),
    ("going back", [frame(11), frame(9)]),
    ("another size", [frame(11, shape=(80, 60))]),
]


@pytest.mark.parametrize("name, frames", CHAIN_BREAKS, ids=[name for name, _ in CHAIN_BREAKS])
def test_a_delta_that_does_not_follow_is_refused_until_the_next_keyframe(name, frames):
    """A delta no decoder could apply is refused, and so is every delta after it, until a keyframe."""
    cache = StreamCache(Clock())
    cache.add(frame(10, True))
    results = [cache.add(f) for f in frames]
    assert results[-1] is False
    assert cache.catchup() == ()
    assert cache.add(frame(frames[-1].sequence + 1)) is False
    assert cache.add(frame(20, True)) is True
    assert cache.add(frame(21)) is True
    assert cached_sequences(cache) == [20, 21]


def test_a_delta_before_any_keyframe_is_refused():
    """Deltas at the start of a stream cannot be decoded, so they are refused."""
    cache = StreamCache(Clock())
    assert cache.add(frame(0)) is False
    assert cache.add(frame(1)) is False


def test_the_sequence_wraps_at_2_to_the_32():
    """The delta after sequence 2**32 - 1 is sequence 0."""
    cache = StreamCache(Clock())
    cache.add(frame(2**32 - 1, True))
    assert cache.add(frame(0)) is True
    assert cached_sequences(cache) == [2**32 - 1, 0]


def test_overflowing_the_byte_limit_empties_the_cache_but_deltas_still_flow():
    """Past MAX_CACHED_BYTES late joiners wait for a keyframe, yet live viewers keep getting deltas."""
    cache = StreamCache(Clock(), max_cached_bytes=250)
    assert cache.add(frame(0, True)) and cache.add(frame(1))
    assert cache.add(frame(2)) is True  # 300 bytes: over the limit
    assert cache.catchup() == ()
    assert cache.add(frame(3)) is True
    assert cache.catchup() == ()
    cache.add(frame(4, True))
    assert cached_sequences(cache) == [4]


def test_reset_forgets_the_stream():
    """After a reset (source gone or replaced) the cache is empty and the next frame must be a keyframe."""
    clock = Clock()
    cache = StreamCache(clock)
    cache.add(frame(0, True))
    cache.reset()
    assert cache.catchup() == ()
    assert cache.last_keyframe_at is None
    assert cache.add(frame(1)) is False
    assert cache.add(frame(0, True)) is True


def test_last_keyframe_time_comes_from_the_clock():
    """``last_keyframe_at`` is the clock time of the latest keyframe, not of later deltas."""
    clock = Clock()
    cache = StreamCache(clock)
    clock.advance(5)
    cache.add(frame(0, True))
    clock.advance(2)
    cache.add(frame(1))
    assert cache.last_keyframe_at == 5
