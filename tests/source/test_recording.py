"""Tests for source/recording.py (RecordingPlayer) and source/recordings.py (folder layouts)."""

import numpy as np
import pytest
from PIL import Image
from twisted.internet import defer, task

from depthcam.codec import ClassicEncoder, StreamDecoder
from depthcam.codec.frame import SENSOR_SHAPE, DepthUnits
from depthcam.source.frames import DiscontinuousFrame, EndOfRecording, SourceUnavailable
from depthcam.source.pump import FramePump
from depthcam.source.recording import (
    RecordingPlayer,
    open_fakenect_player,
    open_file_player,
    open_png_player,
)
from depthcam.source.recordings import PngFolder, RecordingError, open_recording_dir


class ListRecording:
    """A recording held in memory: frame i is filled with ``700 + i``, at the given times."""

    units = DepthUnits.RAW_DISPARITY

    def __init__(self, times_s):
        self.times_s = times_s
        self.reads = []

    def __len__(self):
        return len(self.times_s)

    def read(self, index):
        self.reads.append(index)
        return np.full(SENSOR_SHAPE, 700 + index, np.uint16)


def make_player(times_s, loop=False, every_frame=False):
    clock = task.Clock()
    clock.advance(1000)
    player = RecordingPlayer(ListRecording(times_s), "list", loop, clock,
                             run_blocking=defer.maybeDeferred, every_frame=every_frame)
    return player, clock


def collect(deferred):
    results = []
    deferred.addBoth(results.append)
    return results


def test_frames_come_at_their_recorded_spacing_stamped_now():
    """Frame i is handed out times[i] - times[0] after the first, stamped with the clock's now."""
    player, clock = make_player([50.0, 50.1, 50.3])
    handed = [collect(player.next_frame())]
    clock.advance(0)
    assert handed[0][0].captured_at == 1000
    handed.append(collect(player.next_frame()))
    clock.advance(0.09)
    assert handed[1] == []
    clock.advance(0.01)
    assert handed[1][0].captured_at == pytest.approx(1000.1)
    assert int(handed[1][0].depth[0, 0]) == 701
    handed.append(collect(player.next_frame()))
    clock.advance(0.2)
    assert handed[2][0].captured_at == pytest.approx(1000.3)


def late_requests(every_frame):
    """The values of the frames handed out when asked 0.25 s apart for frames 0.1 s apart."""
    player, clock = make_player([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], every_frame=every_frame)
    handed = []
    for _ in range(3):
        handed.append(collect(player.next_frame()))
        clock.advance(0)
        clock.advance(0.25)
    return [int(results[0].depth[0, 0]) - 700 for results in handed]


def test_late_requests_skip_to_the_newest_due_frame():
    """Asked late, the player hands out at once the newest frame that is due, as a camera would."""
    assert late_requests(every_frame=False) == [0, 2, 5]


def test_every_frame_hands_out_each_frame_however_late():
    """With every_frame, late requests get the frames in turn, none skipped."""
    assert late_requests(every_frame=True) == [0, 1, 2]


def test_without_loop_the_end_is_end_of_recording():
    """After the last frame, next_frame fails with EndOfRecording, which names the recording."""
    player, clock = make_player([0.0])
    collect(player.next_frame())
    clock.advance(0)
    end = collect(player.next_frame())
    assert end[0].check(EndOfRecording) and "list" in str(end[0].value)


def test_loop_starts_over_one_frame_interval_later_with_a_discontinuous_frame():
    """With loop, frame 0 follows the last after the median spacing, marked as a discontinuity."""
    player, clock = make_player([0.0, 0.1, 0.2], loop=True)
    handed = []
    for _ in range(5):
        handed.append(collect(player.next_frame()))
        clock.advance(0)
        clock.advance(0.1)
    frames = [result for results in handed for result in results]
    assert [int(frame.depth[0, 0]) for frame in frames] == [700, 701, 702, 700, 701]
    assert [type(frame) is DiscontinuousFrame for frame in frames] == [False] * 3 + [True, False]
    assert frames[3].captured_at == pytest.approx(1000.3)


def test_pump_sends_a_keyframe_at_the_seam_and_stops_at_the_end():
    """Through the pump, a looped recording gets a keyframe at its seam; an unlooped one stops it."""

    class Sink:
        messages = []

        def send_frame(self, header, message):
            self.messages.append(message)

    for loop in (True, False):
        player, clock = make_player([0.0, 0.1, 0.2], loop=loop)
        sink = Sink()
        sink.messages = []
        pump = FramePump(player, ClassicEncoder(keyframe_interval=100), [sink], fps=10, clock=clock)
        stopped = collect(pump.start())
        for _ in range(60):
            clock.advance(0.05)
        decoder = StreamDecoder()
        keyframes = [decoder.decode(message).header.is_keyframe for message in sink.messages]
        if loop:
            assert keyframes[:7] == [True, False, False, True, False, False, True]
            assert pump.running
        else:
            assert keyframes == [True, False, False]
            assert stopped[0].check(EndOfRecording) and not pump.running


def test_an_unreadable_frame_ends_playback_with_one_line():
    """A frame that cannot be read turns into SourceUnavailable carrying the reader's message."""

    class Broken(ListRecording):
        def read(self, index):
            raise RecordingError("broken.dcrec: frame 0: damaged (checksum mismatch)")

    player = RecordingPlayer(Broken([0.0]), "broken", clock=task.Clock(),
                             run_blocking=defer.maybeDeferred)
    failed = collect(player.next_frame())
    assert failed[0].check(SourceUnavailable) and "frame 0" in str(failed[0].value)


def test_missing_or_empty_recordings_are_one_line_errors(tmp_path):
    """Opening a missing folder, an empty one or a missing file raises SourceUnavailable."""
    for opening in (
        lambda: open_fakenect_player(tmp_path / "nowhere"),
        lambda: open_fakenect_player(tmp_path),
        lambda: open_png_player(tmp_path),
        lambda: open_file_player(tmp_path / "none.dcrec"),
    ):
        with pytest.raises(SourceUnavailable) as raised:
            opening()
        assert str(tmp_path) in str(raised.value) and "\n" not in str(raised.value)


def write_png(path, values):
    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)


def test_tum_folder_is_read_at_5000_per_metre_with_its_timestamps(tmp_path):
    """A folder with depth.txt plays its PNGs in its order and times, at 5000 units a metre."""
    (tmp_path / "depth").mkdir()
    write_png(tmp_path / "depth" / "b.png", np.full(SENSOR_SHAPE, 10000))
    write_png(tmp_path / "depth" / "a.png", np.full(SENSOR_SHAPE, 65535))
    (tmp_path / "depth.txt").write_text(
        "# depth maps\n# timestamp filename\n"
        "1305031102.160407 depth/b.png\n1305031102.194330 depth/a.png\n"
    )
    recording = open_recording_dir(tmp_path)
    assert isinstance(recording, PngFolder) and recording.depth_scale == 5000
    assert recording.times_s == [1305031102.160407, 1305031102.194330]
    assert int(recording.read(0)[0, 0]) == 2000 and int(recording.read(1)[0, 0]) == 0
    assert int(PngFolder(tmp_path, depth_scale=10000).read(0)[0, 0]) == 1000


def test_png_folder_without_index_is_millimetres_at_30_hz(tmp_path):
    """A plain PNG folder reads in name order at 1000 units a metre, 1/30 s apart; 65535 is none."""
    write_png(tmp_path / "frame-1.png", np.full(SENSOR_SHAPE, 1234))
    write_png(tmp_path / "frame-0.png", np.full(SENSOR_SHAPE, 65535))
    recording = PngFolder(tmp_path)
    assert recording.units is DepthUnits.MILLIMETRES
    assert recording.times_s == pytest.approx([0.0, 1 / 30])
    assert int(recording.read(0)[0, 0]) == 0 and int(recording.read(1)[0, 0]) == 1234
    assert int(PngFolder(tmp_path, depth_scale=2000).read(1)[0, 0]) == 617
