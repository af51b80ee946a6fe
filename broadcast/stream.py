"""StreamCache: a stream's latest keyframe and the deltas since, kept from frame headers alone.

The broadcast core never decodes depth. From each frame's header (``codec/header.py``) it knows whether the
frame is a keyframe, its sequence number and its size, which is enough to tell which frames a viewer
can decode and to hand a late joiner a run of frames it can decode at once: the latest keyframe,
then every delta since, in order (FORMAT.md: keyframes are accepted at any sequence number).

A delta that does not follow the stream's previous frame (a sequence gap, a size change, or no
keyframe yet) could not be decoded by anyone, so ``add`` refuses it and every delta after it until
the next keyframe; the core forwards only what it would accept itself. Direct mode's encoder
hands its header over with the bytes; the relay parses the header of what a source sends.
"""

from dataclasses import dataclass
from functools import cached_property

SEQUENCE_MODULUS = 2**32  # FORMAT.md: sequence is a u32 that wraps


@dataclass(frozen=True)
class StreamFrame:
    """One frame as the core handles it: what its header says, and the message framed for viewers."""

    sequence: int
    is_keyframe: bool
    width: int
    height: int
    size: int  # bytes of the frame (header + payload), as the source sent it
    message: object  # the frame framed once for every viewer (WebSocket frame bytes)

    @cached_property
    def wire_size(self):
        """Bytes of ``message`` on the wire: what a viewer's TCP acknowledges for this frame."""
        return len(self.message)

    @classmethod
    def from_header(cls, header, message, size):
        """The StreamFrame for a header (``FrameHeader`` or anything with its four fields) and ``message``."""
        return cls(
            sequence=header.sequence,
            is_keyframe=header.is_keyframe,
            width=header.width,
            height=header.height,
            size=size,
            message=message,
        )


class StreamCache:
    """The latest keyframe of one stream and the deltas since, in order; nothing when there is none.

    ``add`` is called with every frame from the source and says whether the frame continues the
    stream (forward it) or not (drop it). ``catchup`` is what a viewer needs to decode the latest
    frame now. The cache holds at most ``MAX_CACHED_BYTES``: a source that sends keyframes too
    rarely overflows it, and then late joiners wait for the next keyframe, while viewers that are
    already live keep receiving the deltas.
    """

    # Room for one keyframe of the largest payload FORMAT.md allows, plus its deltas.
    MAX_CACHED_BYTES = 8 * 1024 * 1024

    def __init__(self, clock=None, max_cached_bytes=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self.max_cached_bytes = max_cached_bytes or self.MAX_CACHED_BYTES
        self._frames = []
        self._cached_bytes = 0
        self._previous = None  # the last frame forwarded, while the chain since a keyframe holds
        self.last_keyframe_at = None  # clock seconds when the latest keyframe arrived

    @property
    def cached_bytes(self):
        return self._cached_bytes

    def add(self, frame):
        """Take the next StreamFrame from the source; True if viewers can decode it (forward it)."""
        if frame.is_keyframe:
            self._frames = [frame]
            self._cached_bytes = frame.size
            self._previous = frame
            self.last_keyframe_at = self._clock.seconds()
            return True
        if not self._follows(frame):
            self._drop_chain()
            return False
        self._previous = frame
        if self._frames:
            if self._cached_bytes + frame.size > self.max_cached_bytes:
                self._frames = []
                self._cached_bytes = 0
            else:
                self._frames.append(frame)
                self._cached_bytes += frame.size
        return True

    def catchup(self):
        """The frames a joining viewer decodes at once: latest keyframe, then deltas; () if none."""
        return tuple(self._frames)

    def reset(self):
        """Forget the stream (its source went away or was replaced); the next frame must be a keyframe."""
        self._drop_chain()
        self.last_keyframe_at = None

    def _follows(self, frame):
        previous = self._previous
        return (
            previous is not None
            and frame.sequence == (previous.sequence + 1) % SEQUENCE_MODULUS
            and (frame.width, frame.height) == (previous.width, previous.height)
        )

    def _drop_chain(self):
        self._frames = []
        self._cached_bytes = 0
        self._previous = None
