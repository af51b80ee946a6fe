"""Every profile on the real recordings: client/decoder.js (under node) gives Python's frames exactly."""

import hashlib
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from depthcam.codec import StreamDecoder
from depthcam.codec.profiles import PROFILE_NAMES, make_encoder

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "client" / "decode_stream.mjs"
# A keyframe and deltas for classic; a few frames are enough to cover each profile's decoder.
FRAMES = 8

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "client" / "node_modules" / "zstddec").is_dir(),
    reason="needs node and client/node_modules (cd client && npm install)",
)


def expected_and_js(messages, tmp_path):
    """(Python's view of each decoded frame, the JS decoder's) for one stream of messages."""
    decoder = StreamDecoder()
    expected = []
    for message in messages:
        decoded = decoder.decode(message)
        samples = decoded.codes.astype(decoded.codes.dtype.newbyteorder("<")).tobytes()
        expected.append({"profile": int(decoded.header.profile),
                         "units": decoded.units.value if decoded.units else None,
                         "width": decoded.header.width, "height": decoded.header.height,
                         "sha256": hashlib.sha256(samples).hexdigest()})
    path = tmp_path / "stream.bin"
    path.write_bytes(b"".join(struct.pack("<I", len(m)) + m for m in messages))
    result = subprocess.run(["node", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return expected, [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_js_decodes_real_frames_as_python_does(profile, real_recording, tmp_path):
    """The JS decoder's samples hash to Python's for each frame of each profile."""
    name, frames = real_recording
    encoder = make_encoder(profile, keyframe_interval=4)
    expected, decoded = expected_and_js([encoder.encode(frame) for frame in frames[:FRAMES]], tmp_path)
    assert decoded == expected


def test_js_follows_classic_cm_through_whole_recordings(real_recording, tmp_path):
    """classic-cm's model lives from keyframe to keyframe (2 s by default): over every frame of
    each recording, long after its adaptive counts saturate, JS still decodes Python's codes."""
    name, frames = real_recording
    encoder = make_encoder("classic")
    expected, decoded = expected_and_js([encoder.encode(frame) for frame in frames], tmp_path)
    assert {frame["profile"] for frame in expected} == {5}
    assert decoded == expected
