"""Tests for the colour and intrinsics attachments (codec/colour.py, attachments.py, attaching.py,
intrinsics.py) and their shared vectors (tests/vectors/colour.json)."""

import base64
import dataclasses
import hashlib
import json

import numpy as np
import pytest

from depthcam.codec import StreamDecoder, errors, profiles
from depthcam.codec.attaching import AttachingEncoder
from depthcam.codec.attachments import Attachments, attach
from depthcam.codec.colour import ColourCoding, ColourPicture, PictureCoder, downscale
from depthcam.codec.colourvectors import VECTOR_INTRINSICS, build_colour_vectors, coloured_frames
from depthcam.codec.frame import DepthFrame
from depthcam.codec.header import FrameFlags, parse_header
from depthcam.codec.intrinsics import CameraIntrinsics
from depthcam.codec.vectors import DEFAULT_OUT_DIR, synthetic_frames
from depthcam.source.recordings import PngFolder
from tests.conftest import recording_path
from tests.codec.vectorstreams import decoded_frames

COLOUR_VECTORS = json.loads((DEFAULT_OUT_DIR / "colour.json").read_text())


def test_committed_colour_vectors_match_the_generator():
    """tests/vectors/colour.json is what the codec writes today (rerun `make vectors` after a change)."""
    assert build_colour_vectors() == COLOUR_VECTORS


@pytest.mark.parametrize("stream", COLOUR_VECTORS["streams"], ids=[s["name"] for s in COLOUR_VECTORS["streams"]])
def test_python_decoder_meets_the_colour_vectors(stream):
    """Fed in order, each message gives the expected header, samples and attachments, or the named error."""
    for decoded, expect in decoded_frames(stream):
        values = decoded.codes.tobytes() if decoded.units is None else decoded.codes.astype("<u2").tobytes()
        assert hashlib.sha256(values).hexdigest() == expect["values_sha256"]
        intrinsics, colour = expect["attachments"]["intrinsics"], expect["attachments"]["colour"]
        if intrinsics is None:
            assert decoded.intrinsics is None
        else:
            got = decoded.intrinsics
            assert [got.fx, got.fy, got.cx, got.cy] == intrinsics
        if colour is None:
            assert decoded.colour is None
        else:
            assert (int(decoded.colour.coding), decoded.colour.scale) == (colour["coding"], colour["scale"])
            assert decoded.colour.data == base64.b64decode(colour["picture"])


def test_colour_vectors_cover_both_codings_scales_and_a_late_joiner():
    """The vectors hold JPEG and WebP, scale 1 and 2, catch-up frames, and refused blocks."""
    expects = [f["expect"] for s in COLOUR_VECTORS["streams"] for f in s["frames"]]
    colours = [e["attachments"]["colour"] for e in expects if "attachments" in e and e["attachments"]["colour"]]
    assert {c["coding"] for c in colours} == {1, 2} and {c["scale"] for c in colours} == {1, 2}
    assert any(e["header"]["flags"] & FrameFlags.CATCHUP for e in expects if "header" in e)
    assert sum(e.get("error") == "CorruptPayloadError" for e in expects) >= 10


@pytest.mark.parametrize("name", ["classic", "classic-lzma", "fine", "lossless"])
def test_every_profile_carries_colour_and_decodes_the_same_depth(name):
    """With attachments, each profile's samples decode exactly as without them, and the picture
    decodes to the frame's colours at the depth grid."""
    frames = coloured_frames(3)
    plain = profiles.make_encoder(name)
    attaching = AttachingEncoder(profiles.make_encoder(name), PictureCoder())
    plain_decoder, colour_decoder = StreamDecoder(), StreamDecoder()
    for frame in frames:
        expected = plain_decoder.decode(plain.encode(frame))
        got = colour_decoder.decode(attaching.encode(frame))
        assert np.array_equal(got.codes, expected.codes)
        rgb = got.colour.rgb()
        height, width = got.codes.shape
        assert rgb.shape == (height, width, 3)
        reference = downscale(frame.colour, width, height).astype(int)
        assert np.abs(rgb.astype(int) - reference).mean() < 6  # JPEG q75 on smooth ramps
        # These scaled values are exact in float32, so the wire keeps them exactly.
        assert got.intrinsics == VECTOR_INTRINSICS.scaled_to(width, height)


def test_frames_without_colour_or_intrinsics_are_todays_bytes():
    """A depth-only frame through AttachingEncoder is byte for byte the depth encoder's."""
    frames = synthetic_frames(3)
    plain = profiles.make_encoder("classic")
    attaching = AttachingEncoder(profiles.make_encoder("classic"), PictureCoder())
    assert [attaching.encode(f) for f in frames] == [plain.encode(f) for f in frames]


def test_no_coder_sends_intrinsics_only():
    """--colour off with a camera that knows its lens: intrinsics travel, no picture."""
    frame = coloured_frames(1)[0]
    message = AttachingEncoder(profiles.make_encoder("classic"), None).encode(frame)
    header, _ = parse_header(message)
    assert header.flags & FrameFlags.INTRINSICS and not header.flags & FrameFlags.COLOUR
    assert StreamDecoder().decode(message).colour is None


def test_catchup_copy_carries_the_colour_of_the_frame_it_copies():
    """A late joiner's catch-up frame (LZMA classic) has the latest frame's picture, not an older one."""
    frames = coloured_frames(3)
    encoder = AttachingEncoder(profiles.make_encoder("classic-lzma"), PictureCoder())
    messages = [encoder.encode(f) for f in frames]
    (catchup,) = encoder.catchup_messages()
    joined = StreamDecoder().decode(catchup)
    assert joined.header.is_catchup
    decoder = StreamDecoder()
    pictures = [decoder.decode(m).colour for m in messages][::2]
    assert pictures[0] != pictures[1]
    assert joined.colour == pictures[1] and joined.intrinsics is not None


def test_old_decoder_refuses_a_colour_frame_cleanly():
    """A decoder that knows only KEYFRAME and CATCHUP (FORMAT.md's rule for unknown bits) refuses it
    with BadHeaderError, and so does this one for a bit beyond the attachments."""
    message = AttachingEncoder(profiles.make_encoder("classic"), PictureCoder()).encode(coloured_frames(1)[0])
    assert message[6] & 0b1100
    patched = bytearray(message)
    patched[6] |= 0x10
    with pytest.raises(errors.BadHeaderError, match="unknown flag bits"):
        StreamDecoder().decode(bytes(patched))


def test_a_broken_block_leaves_the_stream_decoder_in_step():
    """A classic-cm delta refused for its COLOUR block costs nothing: the next delta still decodes."""
    encoder = AttachingEncoder(profiles.make_encoder("classic"), PictureCoder())
    messages = [encoder.encode(f) for f in coloured_frames(3)]
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    broken = bytearray(messages[1])
    broken[40 + 16] = 7  # coding 7
    with pytest.raises(errors.CorruptPayloadError):
        decoder.decode(bytes(broken))
    assert decoder.decode(messages[1]).header.sequence == 1
    assert decoder.decode(messages[2]).header.sequence == 2


def test_attach_refuses_a_frame_that_has_attachments():
    """Attaching twice is a programming error, said at once."""
    message = attach(profiles.make_encoder("classic").encode(synthetic_frames(1)[0]),
                     Attachments(VECTOR_INTRINSICS))
    with pytest.raises(ValueError):
        attach(message, Attachments(VECTOR_INTRINSICS))


def test_intrinsics_scale_block_centres():
    """Scaling by 4 keeps the centre of a block: 319.5 at 640 columns is 79.5 at 160."""
    scaled = CameraIntrinsics(594.2, 591.0, 319.5, 239.5).scaled_to(160, 120)
    assert (scaled.cx, scaled.cy) == (79.5, 59.5)
    assert scaled.fx == pytest.approx(148.55) and scaled.fy == pytest.approx(147.75)


def test_downscale_is_the_block_mean():
    """Each output pixel is the rounded mean of its block."""
    rgb = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    small = downscale(rgb, 2, 2)
    assert small[0, 0, 0] == int(rgb[:4, :4, 0].mean() + 0.5) == 41


@pytest.mark.parametrize("quality", [0, 101])
def test_picture_quality_outside_1_to_100_is_refused(quality):
    """A quality Pillow would not take is refused when the coder is made."""
    with pytest.raises(ValueError, match="1-100"):
        PictureCoder(ColourCoding.JPEG, quality)


def test_kitchen_picture_keeps_its_red_through_the_wire():
    """The 7-Scenes kitchen's colour survives JPEG at 160 x 120: its reddest pixels stay red."""
    folder = PngFolder(recording_path("7scenes-redkitchen"))
    depth, colour = folder.read(0), folder.read_colour(0)
    frame = DepthFrame(depth, folder.units, 0.0, colour)
    decoded = StreamDecoder().decode(AttachingEncoder(profiles.make_encoder("classic"),
                                                      PictureCoder()).encode(frame))
    rgb = decoded.colour.rgb().astype(int)
    reference = downscale(colour, 160, 120).astype(int)
    assert np.abs(rgb - reference).mean() < 8
    red = (reference[..., 0] > reference[..., 1] + 60) & (reference[..., 0] > reference[..., 2] + 60)
    assert red.sum() > 100
    assert (rgb[red][:, 0] > rgb[red][:, 1] + 30).mean() > 0.9


def test_picture_rgb_refuses_garbage():
    """A picture that opens like a JPEG but is not one raises CorruptPayloadError."""
    with pytest.raises(errors.CorruptPayloadError):
        ColourPicture(ColourCoding.JPEG, 1, b"\xff\xd8\xff" + bytes(40)).rgb()


def test_dataclass_replace_keeps_colour_on_discontinuous_frames():
    """A loop's seam frame keeps the colour and intrinsics of the frame it marks."""
    from depthcam.source.frames import DiscontinuousFrame

    frame = coloured_frames(1)[0]
    seam = DiscontinuousFrame.from_frame(frame)
    assert seam.colour is frame.colour and seam.intrinsics is frame.intrinsics
    assert dataclasses.is_dataclass(seam)
