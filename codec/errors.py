"""Exceptions raised by the codec, one per rejection rule of FORMAT.md.

The tree::

    CodecError
    ├── FrameFormatError            the message itself is malformed
    │   ├── TruncatedFrameError     shorter than the header
    │   ├── BadMagicError           not a depthcam frame
    │   ├── UnsupportedVersionError a version this decoder does not speak
    │   ├── UnknownProfileError     a payload layout this decoder does not know
    │   ├── BadHeaderError          a field outside its allowed values
    │   ├── OversizedFrameError     over MAX_PAYLOAD_BYTES or MAX_PIXELS
    │   ├── LengthMismatchError     payload_length disagrees with the message
    │   └── CorruptPayloadError     the payload does not decompress to the frame
    └── StreamStateError            a well-formed frame that cannot be applied now
        ├── MissingKeyframeError    a delta before any keyframe
        └── SequenceGapError        a delta that does not follow the previous frame

The JavaScript decoder throws errors whose ``name`` is the class name here.
"""


class CodecError(Exception):
    """Base class of every error the codec raises."""


class FrameFormatError(CodecError):
    """The message is not a well-formed frame."""


class TruncatedFrameError(FrameFormatError):
    """The message is shorter than the header."""


class BadMagicError(FrameFormatError):
    """The message does not start with the depthcam magic."""


class UnsupportedVersionError(FrameFormatError):
    """The header's version is not one this decoder speaks."""


class UnknownProfileError(FrameFormatError):
    """The header names a profile this decoder does not know."""


class BadHeaderError(FrameFormatError):
    """A header field holds a value the format does not allow."""


class OversizedFrameError(FrameFormatError):
    """The frame is larger than the decoder accepts."""


class LengthMismatchError(FrameFormatError):
    """The header's payload length disagrees with the message length."""


class CorruptPayloadError(FrameFormatError):
    """The payload does not decompress to a frame of the header's size."""


class StreamStateError(CodecError):
    """A well-formed frame that cannot be applied to the decoder's state."""


class MissingKeyframeError(StreamStateError):
    """A delta arrived while the decoder holds no keyframe to apply it to."""


class SequenceGapError(StreamStateError):
    """A delta does not follow the previous frame; the decoder waits for a keyframe."""
