"""StreamRegistry: the relay's named streams, created on demand, bounded, one source each.

Streams are created when a viewer or a source first asks for one (a viewer may wait for a source
that has not connected yet) and forgotten when the last of them leaves. Names match
``depthcam.protocol.streams``' ``STREAM_NAME``; the site answers 404 for any other.

Limits: at most ``max_streams`` streams with a source (a name that only viewers asked for does
not count: a viewer of a stream that has no source yet waits for it, within the viewer limits
and its address's caps, so idle viewers on made-up names cannot squat the camera's slots), ``max_viewers`` viewers in all and
``max_viewers_per_stream`` on one stream. A connection is counted from its handshake
(``admit_*``) to its close (``release_*``), so a flood of handshakes cannot slip past a limit
before any of them opens. Past a limit, ``admit_*`` raises ``RelayFullError`` (HTTP 503); the
connections already open are not touched.

Takeover, when a second source with a valid token arrives for a busy stream: **the newer source
wins.** It becomes the stream's source as soon as its handshake completes, and the old one is
closed with 4001 (``SOURCE_REPLACED``, reason "replaced by a newer source"); frames the old one
still sends are ignored. A camera box that restarts must not be locked out by its own previous,
half-dead connection, which could otherwise hold the stream until the ping timeout. The cache is
cleared, so viewers go on from the new source's first keyframe. (Two live sources given one
stream name take turns, each time one of them reconnects; a push client should treat 4001 as
"someone else publishes here" and not reconnect at once.)
"""

from twisted.logger import Logger

from depthcam.broadcast.channel import Channel


class RelayFullError(Exception):
    """A limit refuses a new viewer, source or stream; its handshake gets ``http_status``."""

    http_status = 503  # Service Unavailable


class RelayStream(Channel):
    """One named stream: a broadcast Channel, its source (at most one) and its admission counts.

    Its source is told the viewer count whenever it changes, and once when it attaches
    (``publisher.send_viewer_count``), so a source nobody watches can stop encoding.
    """

    def __init__(self, name, clock=None, **budget):
        super().__init__(name, clock, on_viewer_count=self._tell_publisher, **budget)
        self.publisher = None
        self.viewer_slots = 0  # viewers admitted, from handshake to close
        self.publisher_slots = 0  # sources admitted, from handshake to close

    def __repr__(self):
        return f"<RelayStream {self.name!r}>"

    @property
    def source_connected(self):
        return self.publisher is not None

    @property
    def is_unused(self):
        return not (self.viewer_slots or self.publisher_slots)

    def _tell_publisher(self, count):
        if self.publisher is not None:
            self.publisher.send_viewer_count(count)


class StreamRegistry:
    """The relay's streams by name, with the limits and the takeover rule of the module docstring."""

    MAX_STREAMS = 16
    MAX_VIEWERS = 1000
    MAX_VIEWERS_PER_STREAM = 200

    log = Logger()

    def __init__(self, make_stream=RelayStream, max_streams=None, max_viewers=None,
                 max_viewers_per_stream=None):
        self._make_stream = make_stream
        self.max_streams = max_streams or self.MAX_STREAMS
        self.max_viewers = max_viewers or self.MAX_VIEWERS
        self.max_viewers_per_stream = max_viewers_per_stream or self.MAX_VIEWERS_PER_STREAM
        self.streams = {}
        self.viewer_slots = 0
        self.viewers_refused = 0
        self.sources_refused = 0

    def admit_viewer(self, name, origin=None):
        """Count a viewer's handshake for stream ``name`` and return the stream, or raise RelayFullError.

        ``origin`` is checked by the relay's ``OriginGate`` before this is called."""
        if self.viewer_slots >= self.max_viewers:
            self.viewers_refused += 1
            raise RelayFullError(f"relay full: {self.max_viewers} viewers")
        stream = self.streams.get(name)
        if stream is not None and stream.viewer_slots >= self.max_viewers_per_stream:
            self.viewers_refused += 1
            raise RelayFullError(f"stream full: {self.max_viewers_per_stream} viewers")
        stream = self._stream(name)
        stream.viewer_slots += 1
        self.viewer_slots += 1
        return stream

    def release_viewer(self, stream):
        """Uncount a viewer admitted to ``stream`` (its connection closed)."""
        stream.viewer_slots -= 1
        self.viewer_slots -= 1
        self._forget_if_unused(stream)

    def admit_publisher(self, name):
        """Count an authenticated source's handshake for ``name`` and return the stream."""
        stream = self.streams.get(name)
        if (stream is None or not stream.publisher_slots) and self.sourced_streams() >= self.max_streams:
            self.sources_refused += 1
            raise RelayFullError(f"relay full: {self.max_streams} streams with a source")
        stream = self._stream(name)
        stream.publisher_slots += 1
        return stream

    def attach_publisher(self, stream, publisher):
        """Make ``publisher`` the stream's source; an older one is replaced (``publisher.replace()``)."""
        previous, stream.publisher = stream.publisher, publisher
        stream.reset()
        if previous is not None:
            self.log.info("stream {name}: a newer source takes over", name=stream.name)
            previous.replace()
        publisher.send_viewer_count(len(stream.fanout))

    def release_publisher(self, stream, publisher):
        """Uncount a source admitted to ``stream``; if it was the stream's source, the stream has none."""
        stream.publisher_slots -= 1
        if stream.publisher is publisher:
            stream.publisher = None
            stream.reset()
        self._forget_if_unused(stream)

    def connections(self):
        """Every open source and viewer (to close them when the relay stops)."""
        for stream in list(self.streams.values()):
            if stream.publisher is not None:
                yield stream.publisher
            yield from stream.fanout.viewers()

    def sourced_streams(self):
        """How many streams have a source admitted (what ``max_streams`` limits)."""
        return sum(1 for stream in self.streams.values() if stream.publisher_slots)

    def _stream(self, name):
        stream = self.streams.get(name)
        if stream is None:
            stream = self.streams[name] = self._make_stream(name)
        return stream

    def _forget_if_unused(self, stream):
        if stream.is_unused and self.streams.get(stream.name) is stream:
            del self.streams[stream.name]
