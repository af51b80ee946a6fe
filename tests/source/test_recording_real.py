"""The real recordings in ../shared/data played through fakenect: and png: → codec → a WebSocket viewer."""

import re

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import reactor

from depthcam.codec import StreamDecoder
from depthcam.codec.frame import DepthFrame
from depthcam.source import devices
from depthcam.source.__main__ import make_encoder, serve
from depthcam.source.config import DeviceSpec, SourceConfig
from depthcam.source.recordings import open_recording_dir
from tests.conftest import recording_path
from tests.source.dumps import fakenect_dump
from tests.source.programs import run_module
from tests.source.viewers import within

FRAMES_TO_WATCH = 12
DEVICES = [("fakenect", "kinect1-raw-walkin"), ("png", "7scenes-redkitchen")]


def expected_codes(folder, config, count):
    """The codes a viewer must decode for the first ``count`` frames, from a fresh encoder."""
    recording = open_recording_dir(folder)
    encoder = make_encoder(config)
    codes = []
    for index in range(count):
        encoder.encode(DepthFrame(recording.read(index), recording.units, 0.0))
        codes.append(encoder.latest_codes.copy())
    return codes


@pytest.fixture
def every_frame(monkeypatch):
    """Recordings the program opens hand out every frame, however late (as depthcam-record has
    them): on a loaded machine a player would skip frames, and sequence N would not be frame N."""
    for kind, _ in DEVICES:
        def open_every_frame(spec, config, clock, open_player=devices.DEVICES[kind]):
            player = open_player(spec, config, clock)
            player.every_frame = True
            return player

        monkeypatch.setitem(devices.DEVICES, kind, open_every_frame)


@pytest.mark.usefixtures("every_frame")
@pytest.mark.parametrize(("kind", "name"), DEVICES)
@pytest_twisted.ensureDeferred
async def test_viewer_sees_the_real_recording_frame_for_frame(kind, name, tmp_path, connect_viewer):
    """A viewer of a real recording decodes, for each sequence number, that frame's exact codes."""
    folder = recording_path(name)
    config = SourceConfig(port=0, client_dir=tmp_path, device=DeviceSpec(kind, str(folder)),
                          loop=True)
    running = serve(config, reactor)
    try:
        viewer = await connect_viewer(running.port.getHost().port)
        messages = await viewer.received(FRAMES_TO_WATCH)
    finally:
        await running.stop()
    decoder = StreamDecoder()
    decoded = [decoder.decode(payload) for payload, _ in messages]
    sequences = [frame.header.sequence for frame in decoded]
    assert decoded[0].header.is_keyframe
    assert sequences == list(range(sequences[0], sequences[0] + FRAMES_TO_WATCH))
    codes = expected_codes(folder, config, sequences[-1] + 1)
    for frame in decoded:
        assert np.array_equal(frame.codes, codes[frame.header.sequence]), frame.header.sequence


@pytest_twisted.ensureDeferred
async def test_program_plays_a_recording_once_then_exits_0(tmp_path, connect_viewer):
    """Without --loop, depthcam-source plays a fakenect dump to its end once watched, says so and exits 0.

    Nobody watching pauses the pump (idle costs nothing), so the test watches it.
    """
    fakenect_dump(tmp_path / "dump", 5)
    run = run_module("depthcam.source", "--device", f"fakenect:{tmp_path / 'dump'}", "--port", "0",
                     "--client-dir", tmp_path)
    printed = (await run.printed(b"open http://")).decode()
    port = int(re.search(r"open http://\S+?:(\d+)/", printed).group(1))
    viewer = await connect_viewer(port)
    assert await within(run.ended, 30) == 0, run.stderr
    assert viewer.frames(), "the viewer got no frame of the recording before it ended"
    assert b"depthcam: end of recording" in run.stdout and b"--loop" in run.stdout


@pytest_twisted.ensureDeferred
async def test_program_refuses_an_unreadable_recording_in_one_line(tmp_path):
    """A png: folder that is not there ends the program with status 1 and one line naming it."""
    run = run_module("depthcam.source", "--device", f"png:{tmp_path / 'nowhere'}", "--port", "0")
    assert await within(run.ended, 30) == 1
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and b"Traceback" not in run.stderr
