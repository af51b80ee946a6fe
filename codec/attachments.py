"""The blocks a frame may carry before its depth payload: the camera's intrinsics and a colour picture.

FORMAT.md, *Attachments*: header flag INTRINSICS puts a 16-byte intrinsics block first in the
payload, flag COLOUR a colour block after it; the profile's own payload follows. The header stays
as it is, so a relay (which reads headers only) caches and forwards such frames unchanged, and a
late joiner's first frame carries them like any other.
"""

import dataclasses
from dataclasses import dataclass

from depthcam.codec import errors
from depthcam.codec.colour import unpack_colour
from depthcam.codec.header import HEADER_SIZE, FrameFlags, parse_header
from depthcam.codec.intrinsics import INTRINSICS_BLOCK_SIZE, unpack_intrinsics


@dataclass(frozen=True)
class Attachments:
    """What rides with one frame: CameraIntrinsics and a ColourPicture, either may be None."""

    intrinsics: object = None
    colour: object = None

    @property
    def flags(self):
        """The header flags that announce these blocks."""
        flags = FrameFlags.NONE
        if self.intrinsics is not None:
            flags |= FrameFlags.INTRINSICS
        if self.colour is not None:
            flags |= FrameFlags.COLOUR
        return flags

    def pack(self):
        """The blocks in FORMAT.md's order (intrinsics first)."""
        return (b"" if self.intrinsics is None else self.intrinsics.pack()) + (
            b"" if self.colour is None else self.colour.pack())


NO_ATTACHMENTS = Attachments()


def attach(message, attachments):
    """``message`` (a wire frame without attachments) with ``attachments`` put in front of its payload."""
    header, _ = parse_header(message)
    return attach_with_header(header, message, attachments)[1]


def attach_with_header(header, message, attachments):
    """``(header, message)`` of ``message`` (whose parsed header is ``header``) with ``attachments``."""
    if attachments == NO_ATTACHMENTS:
        return header, message
    if header.flags & (FrameFlags.INTRINSICS | FrameFlags.COLOUR):
        raise ValueError("the frame carries attachments already")
    blocks = attachments.pack()
    header = dataclasses.replace(header, flags=header.flags | attachments.flags,
                                 payload_length=header.payload_length + len(blocks))
    return header, header.pack() + blocks + bytes(message[HEADER_SIZE:])


def detach(header, payload):
    """``(Attachments, depth payload)`` of a parsed frame; CorruptPayloadError if a block is broken."""
    if not header.flags & (FrameFlags.INTRINSICS | FrameFlags.COLOUR):
        return NO_ATTACHMENTS, payload
    offset = 0
    intrinsics = colour = None
    if header.flags & FrameFlags.INTRINSICS:
        if len(payload) < INTRINSICS_BLOCK_SIZE:
            raise errors.CorruptPayloadError("payload ends inside the INTRINSICS block")
        intrinsics = unpack_intrinsics(payload[:INTRINSICS_BLOCK_SIZE], header.width, header.height)
        offset = INTRINSICS_BLOCK_SIZE
    if header.flags & FrameFlags.COLOUR:
        colour, offset = unpack_colour(payload, offset, header.width, header.height)
    return Attachments(intrinsics, colour), payload[offset:]

