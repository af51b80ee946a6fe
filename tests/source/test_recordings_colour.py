"""Tests for the colour of PNG folders (source/recordings.py): 7-Scenes pictures beside each depth
PNG, TUM's rgb.txt matched by time, camera-intrinsics.txt, and the player handing them out."""

import numpy as np
import pytest
from PIL import Image

from depthcam.source.recordings import PngFolder, RecordingError
from tests.conftest import recording_path


def _depth_png(path, value):
    Image.fromarray(np.full((480, 640), value, np.uint16)).save(path)


def _picture(path, rgb):
    Image.fromarray(np.full((480, 640, 3), rgb, np.uint8)).save(path)


def test_tum_pictures_are_matched_by_time(tmp_path):
    """Each depth frame of a TUM folder gets the rgb.txt picture nearest in time, none beyond 20 ms."""
    (tmp_path / "depth").mkdir()
    (tmp_path / "rgb").mkdir()
    depth_lines, rgb_lines = ["# depth maps"], ["# color images"]
    for index, (depth_time, rgb_time) in enumerate([(1.000, 0.990), (1.033, 1.040), (1.066, 1.200)]):
        _depth_png(tmp_path / "depth" / f"{index}.png", 5000)
        _picture(tmp_path / "rgb" / f"{index}.png", (10 * index, 100, 200))
        depth_lines.append(f"{depth_time:.3f} depth/{index}.png")
        rgb_lines.append(f"{rgb_time:.3f} rgb/{index}.png")
    (tmp_path / "depth.txt").write_text("\n".join(depth_lines) + "\n")
    (tmp_path / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    folder = PngFolder(tmp_path)
    assert folder.has_colour
    assert folder.read_colour(0)[0, 0].tolist() == [0, 100, 200]
    assert folder.read_colour(1)[0, 0].tolist() == [10, 100, 200]
    assert folder.read_colour(2) is None  # 134 ms from the nearest picture
    assert folder.intrinsics is None


def test_seven_scenes_pictures_and_intrinsics():
    """7-Scenes' kitchen: each frame's color.jpg and its camera-intrinsics.txt come with the depth."""
    folder = PngFolder(recording_path("7scenes-redkitchen"))
    assert folder.has_colour and len(folder) == 200
    colour = folder.read_colour(5)
    assert colour.shape == (480, 640, 3) and colour.dtype == np.uint8
    assert colour.std() > 20  # a picture, not a blank
    assert (folder.intrinsics.fx, folder.intrinsics.cx, folder.intrinsics.cy) == (585.0, 320.0, 240.0)


def test_folder_without_colour_reads_as_before(tmp_path):
    """A plain PNG folder has no colour and no intrinsics; a broken intrinsics file is one error."""
    _depth_png(tmp_path / "a.png", 1000)
    folder = PngFolder(tmp_path)
    assert not folder.has_colour and folder.read_colour(0) is None and folder.intrinsics is None
    (tmp_path / "camera-intrinsics.txt").write_text("1 2\n3 4\n")
    with pytest.raises(RecordingError, match="camera-intrinsics.txt"):
        PngFolder(tmp_path)
