"""Tests for source/realsense.py: recordings made and played back through Intel's real SDK.

A recording is written by the SDK itself (``rs.software_device`` + ``rs.recorder``) from the
shared 7-Scenes frames; ``depthcam-record --device rsfile:`` plays it back through the SDK's
playback and alignment, and the test compares what arrives with what went in. Without
pyrealsense2 these skip; the missing-SDK test always runs.
"""

import numpy as np
import pytest_twisted

from depthcam.source.container import RecordingReader
from tests.source.programs import run_module
from tests.source.rsrecordings import FX, PPX, PPY, make_recording, require_sdk
from tests.source.viewers import within

SOURCE = "depthcam.source"
RECORD = "depthcam.source.record"


@pytest_twisted.ensureDeferred
async def test_rsfile_frames_arrive_with_their_colour_and_intrinsics(tmp_path):
    """Played through the SDK, each frame's depth (aligned to colour by rs.align) is the recorded
    depth where alignment keeps it, its colour the recorded picture, its intrinsics the camera's."""
    require_sdk()
    originals = make_recording(tmp_path / "kitchen.db3", 20)
    out = tmp_path / "copy.dcrec"
    run = run_module(RECORD, "--device", f"rsfile:{tmp_path / 'kitchen.db3'}", "--out", out)
    assert await within(run.ended, 120) == 0, run.stdout + run.stderr
    reader = RecordingReader(out)
    try:
        frames = [(reader.read(i), reader.read_colour(i)) for i in range(len(reader))]
        intrinsics = reader.intrinsics
    finally:
        reader.close()
    # A file plays at the reader's pace, so a loaded machine loses nothing; at the very end of the
    # file the SDK's syncer may still hold one frame back for a partner that never comes.
    assert len(frames) >= 19, f"{len(frames)} of 20 frames came through the SDK"
    assert (intrinsics.fx, intrinsics.cx, intrinsics.cy) == (FX, PPX, PPY)
    positions = []
    for depth, colour in frames:
        errors = [np.abs(colour.astype(int) - c.astype(int)).mean() for _, c in originals]
        position = int(np.argmin(errors))
        positions.append(position)
        assert errors[position] < 3  # the recording keeps colour as JPEG q95
        original = originals[position][0]
        # Same lens for both streams, no offset: alignment moves nothing in principle, but the
        # SDK splats each depth pixel over the colour pixels its corners reach, so at edges and
        # holes a neighbour's depth or none lands there; everywhere else it is exact.
        same = depth == original
        assert same.mean() > 0.8
        assert ((depth != 0) & ~same).mean() < 0.05
    assert positions == sorted(positions) and len(set(positions)) >= 19


@pytest_twisted.ensureDeferred
async def test_missing_sdk_is_one_line(tmp_path):
    """Without pyrealsense2, --device realsense and rsfile: exit 1 with one line saying what to install."""
    (tmp_path / "pyrealsense2.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pyrealsense2'\", name='pyrealsense2')\n"
    )
    for device in ("realsense", f"rsfile:{tmp_path / 'x.db3'}"):
        run = run_module(SOURCE, "--device", device, "--port", "0", env={"PYTHONPATH": str(tmp_path)})
        assert await within(run.ended, 30) == 1
        lines = run.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and "pip install '.[realsense]'" in lines[0], run.stderr
        assert b"Traceback" not in run.stdout + run.stderr


@pytest_twisted.ensureDeferred
async def test_no_camera_and_bad_file_are_one_line(tmp_path):
    """With the SDK and no camera, or a file that is not a recording, one line and status 1."""
    require_sdk()
    (tmp_path / "junk.db3").write_bytes(b"not a recording")
    for device, words in (("realsense", "no RealSense camera"),
                          (f"rsfile:{tmp_path / 'junk.db3'}", "cannot play it")):
        run = run_module(SOURCE, "--device", device, "--port", "0")
        assert await within(run.ended, 60) == 1
        lines = run.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and words in lines[0], run.stderr
