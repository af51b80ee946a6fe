"""AttachingEncoder: any depth encoder's frames with each frame's intrinsics and colour picture attached."""

from depthcam.codec.attachments import Attachments, attach, attach_with_header
from depthcam.codec.colour import ColourPicture, downscale
from depthcam.codec.header import FrameFlags, parse_header


class AttachingEncoder:
    """Wraps a depth encoder (``encode_with_header``, ``request_keyframe``, ``catchup_frame``,
    ``catchup_messages``, ``profile``).

    Each frame's ``colour`` (480 x 640 x 3 RGB, registered to its depth) is coded by ``coder``
    (a ``PictureCoder``; None sends no colour) at ``scale`` times the profile's depth grid, and
    its ``intrinsics`` (CameraIntrinsics at 640 x 480) are scaled to that grid. A catch-up
    message carries the blocks of the frame it copies: the encoder keeps them by sequence number
    from the latest keyframe on, which is what any catch-up list can reach back to.
    """

    def __init__(self, depth_encoder, coder=None, scale=1):
        self.depth_encoder = depth_encoder
        self.coder = coder
        self.scale = scale
        self._blocks = {}  # sequence → Attachments, since the latest keyframe

    @property
    def profile(self):
        return self.depth_encoder.profile

    @property
    def latest_codes(self):
        """The depth encoder's codes of the latest frame (classic profiles), as a decoder sees them."""
        return self.depth_encoder.latest_codes

    def request_keyframe(self):
        self.depth_encoder.request_keyframe()

    def encode(self, frame):
        """The wire frame of ``frame``: the depth encoder's, with the frame's attachments."""
        return self.encode_with_header(frame)[1]

    def encode_with_header(self, frame):
        """``(header, message)`` of ``frame``, as the depth encoder's ``encode_with_header``."""
        header, message = self.depth_encoder.encode_with_header(frame)
        attachments = self.attachments(frame, header.width, header.height)
        if header.flags & FrameFlags.KEYFRAME:
            self._blocks.clear()
        self._blocks[header.sequence] = attachments
        return attach_with_header(header, message, attachments)

    def attachments(self, frame, width, height):
        """The Attachments of ``frame`` for a ``width`` x ``height`` depth grid."""
        intrinsics = colour = None
        if getattr(frame, "intrinsics", None) is not None:
            intrinsics = frame.intrinsics.scaled_to(width, height)
        if self.coder is not None and getattr(frame, "colour", None) is not None:
            picture = downscale(frame.colour, width * self.scale, height * self.scale)
            colour = ColourPicture(self.coder.coding, self.scale, self.coder.encode(picture))
        return Attachments(intrinsics, colour)

    def catchup_frame(self):
        """The depth encoder's one-off catch-up frame (or None), with the blocks of the frame it copies."""
        message = self.depth_encoder.catchup_frame()
        return None if message is None else self._with_blocks(message)

    def catchup_messages(self):
        """The depth encoder's catch-up messages, each with the blocks of the frame it copies."""
        return [self._with_blocks(message) for message in self.depth_encoder.catchup_messages()]

    def _with_blocks(self, message):
        header, _ = parse_header(message)
        return attach(message, self._blocks.get(header.sequence, Attachments()))
