"""relay/registry.py: streams on demand, the limits, the takeover rule, and publishing by header."""

from functools import partial

import pytest
from twisted.internet.task import Clock

from depthcam.codec.errors import BadMagicError, FrameFormatError
from depthcam.protocol.streams import is_valid_stream_name
from depthcam.relay.registry import RelayFullError, RelayStream, StreamRegistry
from depthcam.broadcast.channel import frame_message
from depthcam.broadcast.stream import StreamFrame


class FakePublisher:
    def __init__(self):
        self.replaced = False
        self.viewer_counts = []

    def replace(self):
        self.replaced = True

    def send_viewer_count(self, count):
        self.viewer_counts.append(count)


class FakeViewer:
    def __init__(self):
        self.received = []

    def deliver(self, message):
        self.received.append(message)

    def drop_stuck(self):
        pass

    def acked_bytes(self):
        return None  # no TCP under it: the fanout relies on the producer contract alone


def make_registry(**limits):
    return StreamRegistry(partial(RelayStream, clock=Clock()), **limits)


STREAM_NAMES = [
    ("default", True), ("Kitchen_2", True), ("a-b", True), ("x" * 64, True),
    ("", False), ("x" * 65, False), ("a.b", False), ("a/b", False), ("a b", False), ("ü", False),
    ("name\n", False),
]


@pytest.mark.parametrize("name, valid", STREAM_NAMES)
def test_stream_names(name, valid):
    """Stream names are 1 to 64 of [A-Za-z0-9_-], nothing else."""
    assert is_valid_stream_name(name) is valid


def test_streams_are_created_on_demand_and_forgotten_when_unused():
    """A stream exists while a viewer or source holds it, and not after."""
    registry = make_registry()
    stream = registry.admit_viewer("a")
    assert registry.streams == {"a": stream}
    assert registry.admit_publisher("a") is stream
    registry.release_viewer(stream)
    assert "a" in registry.streams
    registry.release_publisher(stream, None)
    assert registry.streams == {}


def test_viewer_limits_refuse_new_viewers_only():
    """Past the per-stream and total viewer limits admit_viewer raises, and the admitted stay."""
    registry = make_registry(max_viewers=3, max_viewers_per_stream=2)
    a = [registry.admit_viewer("a") for _ in range(2)]
    with pytest.raises(RelayFullError, match="stream full"):
        registry.admit_viewer("a")
    registry.admit_viewer("b")
    with pytest.raises(RelayFullError, match="3 viewers"):
        registry.admit_viewer("c")
    assert registry.viewers_refused == 2
    registry.release_viewer(a[0])
    registry.admit_viewer("a")


def test_stream_limit_counts_only_streams_with_a_source():
    """Viewer-made names never fill max_streams; past it, a new source is refused, a known one admitted."""
    registry = make_registry(max_streams=1)
    for name in ("x", "y", "z"):
        registry.admit_viewer(name)
    registry.admit_publisher("a")
    with pytest.raises(RelayFullError, match="1 streams with a source"):
        registry.admit_publisher("b")
    registry.admit_publisher("a")  # a second source for the same stream (a takeover)
    assert (registry.viewers_refused, registry.sources_refused) == (0, 1)
    assert registry.sourced_streams() == 1


def test_a_newer_source_takes_over():
    """Attaching a second source replaces the first and clears the cache."""
    registry = make_registry()
    stream = registry.admit_publisher("a")
    old, new = FakePublisher(), FakePublisher()
    registry.attach_publisher(stream, old)
    stream.cache.add(_keyframe_frame())
    registry.admit_publisher("a")
    registry.attach_publisher(stream, new)
    assert old.replaced and not new.replaced
    assert stream.publisher is new
    assert stream.cache.catchup() == ()
    registry.release_publisher(stream, old)  # the old connection closes later
    assert stream.publisher is new


def test_when_the_source_leaves_the_stream_has_none_and_no_cache():
    """Releasing the current source empties the stream's source slot and cache."""
    registry = make_registry()
    stream = registry.admit_publisher("a")
    registry.admit_viewer("a")
    source = FakePublisher()
    registry.attach_publisher(stream, source)
    stream.cache.add(_keyframe_frame())
    registry.release_publisher(stream, source)
    assert stream.publisher is None
    assert stream.cache.catchup() == ()


def test_publish_forwards_valid_frames_to_viewers(scene_stream):
    """RelayStream.publish reads the header, caches the frame and sends it to the viewers."""
    stream = RelayStream("a", clock=Clock())
    viewer = FakeViewer()
    stream.fanout.add(viewer)
    messages = scene_stream.first(3)
    assert all(stream.publish_message(message) for message in messages)
    assert viewer.received == [frame_message(message) for message in messages]
    assert stream.frames_in.total == 3


def test_publish_rejects_and_counts_messages_that_are_not_frames(scene_stream):
    """A message that fails parse_header raises the codec's error and is counted, not forwarded."""
    stream = RelayStream("a", clock=Clock())
    viewer = FakeViewer()
    stream.fanout.add(viewer)
    with pytest.raises(BadMagicError):
        stream.publish_message(b"XXXX" + scene_stream[0][4:])
    with pytest.raises(FrameFormatError):
        stream.publish_message(b"")
    assert viewer.received == []
    assert stream.frames_rejected == 2
    assert stream.frames_in.total == 0


def test_connections_lists_sources_and_viewers():
    """connections() yields every stream's source and viewers (to close them at shutdown)."""
    registry = make_registry()
    stream = registry.admit_publisher("a")
    source, viewer = FakePublisher(), FakeViewer()
    registry.attach_publisher(stream, source)
    stream.fanout.add(viewer)
    assert list(registry.connections()) == [source, viewer]


def _keyframe_frame():
    return StreamFrame(0, True, 160, 120, 10, message=b"k")


def test_the_source_hears_the_viewer_count_when_it_attaches_and_on_every_change():
    """A source is told how many watch at once, then after each viewer comes or goes."""
    registry = make_registry()
    stream = registry.admit_publisher("a")
    publisher = FakePublisher()
    registry.attach_publisher(stream, publisher)
    viewer = FakeViewer()
    stream.fanout.add(viewer)
    stream.fanout.remove(viewer)
    assert publisher.viewer_counts == [0, 1, 0]
