"""Kinect colour through the real freenect bindings and libfreenect, played by fakenect.

The test writes a dump with colour: ``r-*.ppm`` pictures (7-Scenes' kitchen, as a Kinect's RGB
camera would give them) interleaved with ``d-*.pgm`` depth (the walk-in recording's raw frames),
the shared ``kinect1-device.json`` as its ``device.json``, and an ``INDEX.txt``. Debian's fakenect
(libfreenect 0.5) replays the pictures through ``sync_get_video`` but knows only 11-bit depth, so
the source runs with ``--kinect-depth raw``; ``DEPTH_REGISTERED`` needs a real device or a newer
fakenect. The fixture (stub, library, bindings) is test_kinect.py's.
"""

import shutil

import numpy as np
import pytest_twisted
from PIL import Image

from depthcam.source.container import RecordingReader
from depthcam.source.recordings import FakenectDump, PngFolder
from tests.conftest import SHARED_DATA, recording_path
from tests.source.programs import run_module
from tests.source.test_kinect import fakenect  # noqa: F401 (the fixture)
from tests.source.viewers import within

RECORD = "depthcam.source.record"
# fakenect stops delivering after a dump's last frame: write more than the test reads.
DUMP_FRAMES = 90
# Each picture's top rows are one colour of its own.
BAR_ROWS = 40


def bar_colour(index):
    return (index * 5 % 256, 255 - index * 2, 40)


def colour_dump(folder, count=DUMP_FRAMES):
    """A fakenect dump with colour; returns (depth arrays, pictures) in order."""
    depth_source = FakenectDump(recording_path("kinect1-raw-walkin"))
    colour_source = PngFolder(recording_path("7scenes-redkitchen"))
    folder.mkdir(parents=True)
    names, depths, pictures = [], [], []
    for index in range(count):
        time_s = depth_source.times_s[index]
        picture = colour_source.read_colour(index % len(colour_source)).copy()
        picture[:BAR_ROWS] = bar_colour(index)  # tells the pictures apart, however alike
        picture_name = f"r-{time_s - 0.001:.6f}-{index}.ppm"
        Image.fromarray(picture).save(folder / picture_name)  # binary PPM, P6 640 480 255
        depth_name = depth_source._paths[index].name
        shutil.copyfile(depth_source._paths[index], folder / depth_name)
        names += [picture_name, depth_name]
        depths.append(depth_source.read(index))
        pictures.append(picture)
    (folder / "INDEX.txt").write_text("".join(f"{name}\n" for name in names))
    shutil.copyfile(SHARED_DATA / "kinect1-device.json", folder / "device.json")
    return depths, pictures


@pytest_twisted.ensureDeferred
async def test_kinect_colour_frames_arrive_with_their_pictures(fakenect, tmp_path):  # noqa: F811
    """Recorded through --device kinect with colour, each frame is a dump frame's depth, bit for
    bit, with the picture fakenect replayed beside it, in order."""
    depths, pictures = colour_dump(tmp_path / "dump")
    out = tmp_path / "kinect.dcrec"
    run = run_module(RECORD, "--device", "kinect:0", "--kinect-depth", "raw", "--out", out,
                     "--seconds", "2.5", env=fakenect(tmp_path / "dump"))
    assert await within(run.ended, 60) == 0, run.stdout + run.stderr
    reader = RecordingReader(out)
    try:
        frames = [(reader.read(i), reader.read_colour(i)) for i in range(len(reader))]
    finally:
        reader.close()
    # fakenect plays in real time: 75 frames in 2.5 s idle, 8 in 1.5 s seen with 4 busy loops
    # (so ~13 here); 2.5 s stays inside the 90-frame dump, which must not loop. Six show the order.
    assert len(frames) >= 6
    bars = np.array([bar_colour(i) for i in range(len(pictures))], float)
    depth_positions, picture_positions = [], []
    for depth, colour in frames:
        assert colour is not None and colour.shape == (480, 640, 3)
        depth_positions.append(next(i for i, d in enumerate(depths) if np.array_equal(d, depth)))
        bar = colour[8:BAR_ROWS - 8].reshape(-1, 3).mean(axis=0)
        distances = np.abs(bars - bar).max(axis=1)
        picture_positions.append(int(np.argmin(distances)))
        assert distances.min() < 2  # JPEG q95 in the recording
        # Below the bar, the kitchen: its overall colour survives too.
        kitchen = pictures[picture_positions[-1]][BAR_ROWS:].reshape(-1, 3).mean(axis=0)
        assert np.abs(colour[BAR_ROWS:].reshape(-1, 3).mean(axis=0) - kitchen).max() < 2
    assert depth_positions == sorted(set(depth_positions))
    assert picture_positions == sorted(picture_positions)
    # Each picture is the one read just before its depth frame (the reader takes colour first).
    assert all(abs(p - d) <= 1 for p, d in zip(picture_positions, depth_positions))
