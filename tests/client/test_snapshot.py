"""Saving what the viewer shows, in Chromium: the S key downloads the frame as a PLY and a PNG.

The PLY is read back with a small reader here and checked against the recording frame it came
from: the same points, at the same depths in metres, on the sensor's pixel grid.
"""

import io

import numpy as np
import pytest

from tests.client.test_browser import browser, start_source, stop, wait_for_frames  # noqa: F401
from tests.client.test_viewer_framing import DESKTOP, background_rgb, open_page
from tests.client.test_viewer_status import keep_screenshot

WAIT_MS = 60000
PLY_TYPES = {"float": "<f4", "uchar": "u1", "int": "<i4", "uint": "<u4", "double": "<f8"}


def read_ply(data):
    """(vertex records as a numpy structured array, comment lines) of a binary little-endian PLY."""
    header_end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:header_end].decode("ascii").splitlines()
    assert lines[0] == "ply" and lines[1] == "format binary_little_endian 1.0", lines[:2]
    count, fields, comments = None, [], []
    for line in lines[2:-1]:
        words = line.split()
        if words[0] == "comment":
            comments.append(line[len("comment "):])
        elif words[:2] == ["element", "vertex"]:
            count = int(words[2])
        elif words[0] == "property":
            fields.append((words[2], PLY_TYPES[words[1]]))
        else:
            raise AssertionError(f"unexpected header line {line!r}")
    vertices = np.frombuffer(data, np.dtype(fields), count=count, offset=header_end)
    assert header_end + vertices.nbytes == len(data), "trailing bytes after the vertices"
    return vertices, comments


def save_with_key(page):
    """Press S; return {suffix: bytes} of the two downloads it starts."""
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    saved = page.evaluate("window.depthcam.snapshots")
    page.keyboard.press("s")
    page.wait_for_function(f"() => window.depthcam.snapshots > {saved}", timeout=WAIT_MS)
    page.wait_for_timeout(200)  # the second download's event follows its start
    files = {}
    for download in downloads:
        name = download.suggested_filename
        files[name.rsplit(".", 1)[1]] = (name, download.path().read_bytes())
    assert set(files) == {"ply", "png"}, [d.suggested_filename for d in downloads]
    return files


def test_s_saves_the_frame_as_ply_and_png_matching_the_recording(browser):  # noqa: F811
    """A lossless kitchen frame saved with S: the PLY holds exactly the frame's readings, in metres
    on the sensor's grid, and the PNG is the picture on screen."""
    from depthcam.source.recordings import read_recording_dir
    from tests.conftest import recording_path

    from PIL import Image

    path = recording_path("7scenes-redkitchen")
    process, url = start_source("--device", f"png:{path}", "--loop", "--profile", "lossless")
    try:
        page, problems = open_page(browser, url, DESKTOP)
        wait_for_frames(page, 5, WAIT_MS)
        files = save_with_key(page)
        name, ply = files["ply"]
        sequence = int(name.removeprefix("depthcam-").removesuffix(".ply"))
        assert files["png"][0] == f"depthcam-{sequence}.png"
        vertices, comments = read_ply(ply)
        assert vertices.dtype.names == ("x", "y", "z")  # this stream has no colour
        assert any("metres" in comment for comment in comments), comments
        assert any(f"#{sequence}" in comment for comment in comments), comments

        # The recording frame it came from: the one whose readings are these depths.
        depth_m = -vertices["z"].astype(np.float64)
        matches = []
        for frame in read_recording_dir(path):
            readings = frame.depth[frame.depth > 0]
            if readings.size == len(vertices) and np.allclose(readings / 1000, depth_m, atol=1e-6):
                matches.append(frame)
        assert matches, "no recording frame has these depths"
        depth = matches[0].depth
        rows, columns = np.nonzero(depth > 0)
        # The stream carries the recording's own lens (camera-intrinsics.txt), not the Kinect's.
        lens = np.loadtxt(path / "camera-intrinsics.txt")
        fx, fy, cx, cy = lens[0, 0], lens[1, 1], lens[0, 2], lens[1, 2]
        np.testing.assert_allclose(vertices["x"], (columns - cx) * depth_m / fx, atol=1e-5)
        np.testing.assert_allclose(vertices["y"], -(rows - cy) * depth_m / fy, atol=1e-5)
        # A kitchen seen by a Kinect: everything between its 0.5 m and 8 m.
        assert 0.4 < depth_m.min() and depth_m.max() < 8

        picture = np.asarray(Image.open(io.BytesIO(files["png"][1])).convert("RGB")).astype(np.int16)
        assert picture.shape == (800, 1280, 3)
        drawn = np.abs(picture - np.array(background_rgb(page))).sum(axis=2) > 30
        assert drawn.mean() > 0.1, "the PNG is mostly background"
        keep_screenshot(page, "snapshot-desktop-kitchen")
        assert not problems, problems
        page.context.close()
    finally:
        stop(process)


EXPORT_WITH_COLOUR = """async () => {
    const { exportPly } = await import( './PlyExporter.js' );
    const positions = Float32Array.from( [ 0.5, -0.25, -1.5, 0, 0, -2 ] );
    const colours = Uint8Array.from( [ 255, 128, 0, 10, 20, 30 ] );
    const bytes = new Uint8Array( exportPly( positions, 2, { colours, comments: [ 'two\\npoints' ] } ) );
    return Array.from( bytes );
}"""


def test_the_ply_exporter_writes_colours_when_given(browser):  # noqa: F811
    """With a colour per point the PLY gains red, green and blue, each point's own."""
    process, url = start_source()
    try:
        page, problems = open_page(browser, url, DESKTOP)
        vertices, comments = read_ply(bytes(page.evaluate(EXPORT_WITH_COLOUR)))
        assert vertices.dtype.names == ("x", "y", "z", "red", "green", "blue")
        assert comments == ["two points"]
        np.testing.assert_array_equal(vertices["z"], np.float32([-1.5, -2]))
        np.testing.assert_array_equal(vertices["x"], np.float32([0.5, 0]))
        assert vertices[["red", "green", "blue"]].tolist() == [(255, 128, 0), (10, 20, 30)]
        assert not problems, problems
        page.context.close()
    finally:
        stop(process)


@pytest.fixture(autouse=True)
def _needs_pillow():
    pytest.importorskip("PIL")
