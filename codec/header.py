"""The 40-byte frame header of FORMAT.md: one struct format, with its fields as a dataclass."""

import enum
import struct
from dataclasses import dataclass

from depthcam.codec import errors

MAGIC = b"DCAM"
VERSION = 3

# Field order and types follow FORMAT.md's header table, row by row.
HEADER_STRUCT = struct.Struct("<4sBBBBIQHHHHHHHHI")
HEADER_SIZE = HEADER_STRUCT.size

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 640 * 480


class Profile(enum.IntEnum):
    """Payload layouts; see FORMAT.md, *Profiles*."""

    CLASSIC = 1
    LOSSLESS_RAW = 2
    LOSSLESS_MM = 3
    FINE = 4
    CLASSIC_CM = 5
    FINE_INVERSE = 6


def profile_name(profile):
    """The profile's name as FORMAT.md and ``--profile`` spell it (``lossless-raw``)."""
    return profile.name.lower().replace("_", "-")


# Profiles whose every frame is absolute: a frame of theirs without KEYFRAME is malformed.
KEYFRAME_ONLY_PROFILES = frozenset({Profile.LOSSLESS_RAW, Profile.LOSSLESS_MM, Profile.FINE, Profile.FINE_INVERSE})


class FrameFlags(enum.IntFlag):
    """Bits of the header's ``flags`` byte."""

    NONE = 0
    KEYFRAME = 1
    CATCHUP = 2
    COLOUR = 4  # the payload holds a COLOUR block before the profile's payload (FORMAT.md)
    INTRINSICS = 8  # ... and an INTRINSICS block before that


_KNOWN_FLAG_BITS = int(FrameFlags.KEYFRAME | FrameFlags.CATCHUP | FrameFlags.COLOUR
                       | FrameFlags.INTRINSICS)


@dataclass(frozen=True)
class MotionCue:
    """Where the scene moved: centroid of changed pixels (fractions of the frame) and its depth."""

    u: float = 0.0
    v: float = 0.0
    depth_mm: int = 0
    weight: float = 0.0


NO_MOTION = MotionCue()


def _to_u16_fraction(value):
    return min(65535, max(0, round(value * 65535)))


@dataclass(frozen=True)
class FrameHeader:
    """The header fields of one frame, in FORMAT.md's order."""

    profile: Profile
    flags: FrameFlags
    sequence: int
    capture_time_us: int
    width: int
    height: int
    near_mm: int
    far_mm: int
    motion: MotionCue
    payload_length: int

    @property
    def is_keyframe(self):
        return bool(self.flags & FrameFlags.KEYFRAME)

    @property
    def is_catchup(self):
        return bool(self.flags & FrameFlags.CATCHUP)

    def pack(self):
        """Return the 40 header bytes."""
        return HEADER_STRUCT.pack(
            MAGIC,
            VERSION,
            int(self.profile),
            int(self.flags),
            0,
            self.sequence & 0xFFFFFFFF,
            self.capture_time_us,
            self.width,
            self.height,
            self.near_mm,
            self.far_mm,
            _to_u16_fraction(self.motion.u),
            _to_u16_fraction(self.motion.v),
            min(65535, self.motion.depth_mm),
            _to_u16_fraction(self.motion.weight),
            self.payload_length,
        )


def parse_header(message):
    """Check ``message`` against FORMAT.md's header rules and return its ``(FrameHeader, payload)``.

    Raises the ``FrameFormatError`` that names the first rule broken.
    """
    if len(message) < HEADER_SIZE:
        raise errors.TruncatedFrameError(
            f"frame of {len(message)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    (
        magic, version, profile_id, flag_bits, reserved, sequence, capture_time_us,
        width, height, near_mm, far_mm, motion_u, motion_v, motion_depth_mm, motion_weight,
        payload_length,
    ) = HEADER_STRUCT.unpack_from(message)
    if magic != MAGIC:
        raise errors.BadMagicError(f"magic {magic!r} is not {MAGIC!r}")
    if version != VERSION:
        raise errors.UnsupportedVersionError(
            f"frame version {version}; this decoder speaks version {VERSION}"
        )
    try:
        profile = Profile(profile_id)
    except ValueError:
        raise errors.UnknownProfileError(
            f"profile {profile_id} is unknown to this decoder (known: "
            f"{', '.join(f'{p.value}={profile_name(p)}' for p in Profile)})"
        ) from None
    if flag_bits & ~_KNOWN_FLAG_BITS:
        raise errors.BadHeaderError(f"unknown flag bits 0x{flag_bits:02x}")
    flags = FrameFlags(flag_bits)
    if flags & FrameFlags.CATCHUP and not flags & FrameFlags.KEYFRAME:
        raise errors.BadHeaderError("CATCHUP frame without KEYFRAME")
    if flags & FrameFlags.CATCHUP and profile is Profile.CLASSIC_CM:
        raise errors.BadHeaderError("classic-cm has no CATCHUP frames")
    if profile in KEYFRAME_ONLY_PROFILES and not flags & FrameFlags.KEYFRAME:
        raise errors.BadHeaderError(f"profile {profile_name(profile)} sends keyframes only")
    if reserved:
        raise errors.BadHeaderError(f"reserved byte is {reserved}, not 0")
    if near_mm >= far_mm:
        raise errors.BadHeaderError(f"near_mm {near_mm} is not below far_mm {far_mm}")
    if not width or not height:
        raise errors.BadHeaderError(f"empty frame {width}x{height}")
    if payload_length > MAX_PAYLOAD_BYTES:
        raise errors.OversizedFrameError(
            f"payload of {payload_length} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"
        )
    if width * height > MAX_PIXELS:
        raise errors.OversizedFrameError(
            f"frame {width}x{height} is over the {MAX_PIXELS}-pixel limit"
        )
    if len(message) != HEADER_SIZE + payload_length:
        raise errors.LengthMismatchError(
            f"header says {payload_length} payload bytes, message has {len(message) - HEADER_SIZE}"
        )
    header = FrameHeader(
        profile=profile,
        flags=flags,
        sequence=sequence,
        capture_time_us=capture_time_us,
        width=width,
        height=height,
        near_mm=near_mm,
        far_mm=far_mm,
        motion=MotionCue(
            u=motion_u / 65535,
            v=motion_v / 65535,
            depth_mm=motion_depth_mm,
            weight=motion_weight / 65535,
        ),
        payload_length=payload_length,
    )
    return header, memoryview(message)[HEADER_SIZE:]
