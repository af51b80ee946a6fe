"""Tests for source/kinect.py: the real freenect bindings and libfreenect, played by fakenect.

Debian's libfreenect-dev ships a stand-in ``libfreenect.so`` under the multiarch ``fakenect/``
folder that replays a dump folder (``INDEX.txt`` + ``d-*.pgm``) named by ``FAKENECT_PATH``. Two
snags: it lacks ``freenect_camera_to_world``, which ``libfreenect_sync`` needs (a one-line C stub,
preloaded, supplies it), and after a dump's last frame it stops delivering, so the tests write
dumps longer than they read. Without the bindings, the library or gcc these tests skip; the
missing-bindings test always runs.

fakenect cannot be unplugged (past its last frame it crashes the process), so the lost-device,
retry and buffer-copy paths run KinectSource against a stand-in ``freenect`` module instead.
"""

import glob
import importlib.util
import os
import queue
import shutil
import subprocess

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import reactor

from depthcam.codec.frame import SENSOR_SHAPE
from depthcam.source.container import RecordingReader
from depthcam.source.frames import SourceUnavailable
from depthcam.source.kinect import KinectSource
from tests.source.dumps import fakenect_dump
from tests.source.programs import run_module
from tests.source.viewers import within

SOURCE = "depthcam.source"
RECORD = "depthcam.source.record"
CAMERA_TO_WORLD_STUB = """
void freenect_camera_to_world(void *device, int x, int y, int z, double *wx, double *wy)
{
    *wx = 0;
    *wy = 0;
}
"""


@pytest.fixture(scope="module")
def fakenect(tmp_path_factory):
    """``env(dump_folder)``: the environment that makes ``freenect`` play that dump."""
    if importlib.util.find_spec("freenect") is None:
        pytest.skip("the freenect bindings are not installed (pip install '.[kinect]')")
    libraries = glob.glob("/usr/lib/*/fakenect/libfreenect.so")
    if not libraries:
        pytest.skip("no fakenect libfreenect.so (apt-get install libfreenect-dev libfreenect-bin)")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the freenect_camera_to_world stub")
    folder = tmp_path_factory.mktemp("stub")
    (folder / "stub.c").write_text(CAMERA_TO_WORLD_STUB)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", folder / "stub.so", folder / "stub.c"],
                   check=True)

    def env(dump):
        return {
            "FAKENECT_PATH": str(dump),
            "LD_LIBRARY_PATH": os.path.dirname(libraries[0]),
            "LD_PRELOAD": str(folder / "stub.so"),
        }

    return env


def assert_one_line_error(run, words):
    """The run printed exactly one line on stderr, containing ``words``, and no traceback."""
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and words in lines[0], run.stderr
    assert b"Traceback" not in run.stdout + run.stderr


@pytest_twisted.ensureDeferred
async def test_kinect_frames_arrive_unchanged(fakenect, tmp_path):
    """Frames read through --device kinect (and --tilt) are the dump's frames, bit for bit, in order."""
    originals = fakenect_dump(tmp_path / "dump", 120)  # 4 s of dump for about 1 s of reading
    out = tmp_path / "kinect.dcrec"
    run = run_module(RECORD, "--device", "kinect:0", "--tilt", "5", "--colour", "off", "--out", out,
                     "--seconds", "1", env=fakenect(tmp_path / "dump"))
    assert await within(run.ended, 60) == 0, run.stdout + run.stderr
    reader = RecordingReader(out)
    try:
        recorded = [reader.read(index) for index in range(len(reader))]
    finally:
        reader.close()
    assert len(recorded) >= 10
    positions = []
    for depth in recorded:
        matches = [i for i, original in enumerate(originals) if np.array_equal(original, depth)]
        assert matches, "a frame that is not in the dump"
        positions.append(matches[0])
    assert positions == sorted(set(positions))


@pytest_twisted.ensureDeferred
async def test_library_without_its_symbols_is_one_line(fakenect, tmp_path):
    """A libfreenect that cannot load (fakenect without the stub) is named in one line, status 1."""
    env = fakenect(tmp_path)
    del env["LD_PRELOAD"]
    run = run_module(SOURCE, "--device", "kinect", "--port", "0", env=env)
    assert await within(run.ended, 30) == 1
    assert_one_line_error(run, "libfreenect cannot be loaded")


@pytest_twisted.ensureDeferred
async def test_no_kinect_plugged_in_is_one_line(fakenect):
    """With the real libfreenect and no device, one line says to plug it in; libfreenect's own
    messages are silenced."""
    run = run_module(SOURCE, "--device", "kinect", "--port", "0")
    assert await within(run.ended, 30) == 1
    assert_one_line_error(run, "no Kinect at index 0")
    assert b"Invalid index" not in run.stdout


@pytest_twisted.ensureDeferred
async def test_missing_bindings_is_one_line(tmp_path):
    """Without the freenect bindings, --device kinect exits 1 with one line saying what to install."""
    (tmp_path / "freenect.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'freenect'\", name='freenect')\n"
    )
    for module, args in ((SOURCE, ["--port", "0"]), (RECORD, ["--out", tmp_path / "k.dcrec"])):
        run = run_module(module, "--device", "kinect", *args, env={"PYTHONPATH": str(tmp_path)})
        assert await within(run.ended, 30) == 1
        assert_one_line_error(run, "pip install '.[kinect]'")
    assert not (tmp_path / "k.dcrec").exists()


class StandInFreenect:
    """The part of the ``freenect`` module KinectSource uses, fed by the test.

    ``sync_get_depth`` blocks until the test puts a frame value (an int fills libfreenect's one
    reused buffer with it) or None (the device is gone) with ``put``.
    """

    DEPTH_11BIT = 0

    def __init__(self, *values):
        self.reads = queue.Queue()
        self.buffer = np.zeros(SENSOR_SHAPE, np.uint16)
        self.stops = 0
        for value in values:
            self.put(value)

    def put(self, value):
        self.reads.put(value)

    def sync_get_depth(self, index, depth_format):
        value = self.reads.get()
        if value is None:
            return None
        self.buffer[:] = value
        return self.buffer, 0

    def sync_stop(self):
        self.stops += 1


def open_stand_in(freenect, **options):
    return KinectSource(reactor=reactor, freenect=freenect, **options)


@pytest_twisted.ensureDeferred
async def test_frames_are_copies_of_libfreenects_buffer():
    """A frame keeps its pixels after libfreenect reuses its buffer for the next one."""
    freenect = StandInFreenect(1, 700)
    source = open_stand_in(freenect)
    try:
        first = await within(source.next_frame())
        freenect.put(800)
        second = await within(source.next_frame())
    finally:
        source.close()
        freenect.put(None)
    assert int(first.depth[0, 0]) == 700 and int(second.depth[0, 0]) == 800


@pytest_twisted.ensureDeferred
async def test_unplugged_kinect_fails_the_next_frame_with_one_line():
    """When a read returns None while running, next_frame fails with SourceUnavailable."""
    freenect = StandInFreenect(1, 700, None)
    source = open_stand_in(freenect)
    try:
        await within(source.next_frame())
        with pytest.raises(SourceUnavailable, match="stopped sending frames.*plugged in"):
            await within(source.next_frame())
    finally:
        source.close()


@pytest_twisted.ensureDeferred
async def test_silent_kinect_times_out_with_one_line():
    """A read that never returns fails next_frame after READ_TIMEOUT_S, naming the wait."""
    freenect = StandInFreenect(1)
    source = open_stand_in(freenect)
    source.READ_TIMEOUT_S = 0.2
    try:
        with pytest.raises(SourceUnavailable, match="no frame for 0.2 s"):
            await within(source.next_frame())
    finally:
        source.close()
        freenect.put(None)


@pytest_twisted.ensureDeferred
async def test_retry_rides_out_a_missing_and_a_lost_device():
    """With retry, a device missing at start and gone for a while delivers once it is back."""
    freenect = StandInFreenect(None)
    source = open_stand_in(freenect, retry=True)
    source.RETRY_INTERVAL_S = 0.01
    try:
        freenect.put(None)
        freenect.put(900)
        frame = await within(source.next_frame())
        assert int(frame.depth[0, 0]) == 900 and freenect.stops >= 1
    finally:
        source.close()
        freenect.put(None)


def test_missing_kinect_without_retry_is_refused_at_once():
    """No device at opening (the bindings return None) raises SourceUnavailable naming the index."""
    with pytest.raises(SourceUnavailable, match="no Kinect at index 0"):
        open_stand_in(StandInFreenect(None))


@pytest_twisted.ensureDeferred
async def test_closing_answers_a_waiting_read_with_no_frame():
    """close() while the pump waits for a frame gives it None, so shutting down logs no failure."""
    freenect = StandInFreenect(1)
    source = open_stand_in(freenect)
    waiting = source.next_frame()
    source.close()
    freenect.put(None)
    assert await within(waiting) is None
