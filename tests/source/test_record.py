"""Tests for source/record.py: depthcam-record writes, finishes and describes recording files."""

import re

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import defer, task

from depthcam.codec import ClassicEncoder
from depthcam.source import record
from depthcam.source.recording import open_file_player
from tests.source.dumps import fakenect_dump, png_folder
from tests.source.programs import run_module
from tests.source.viewers import within

RECORD = "depthcam.source.record"
FRAMES = 15
PROGRESS_LINE = re.compile(rb"\r(\d+) frames  [\d.]+ s  [\d.]+ MB  [\d.]+ MB/s")


def replay(path):
    """Every frame of a recording file, as ``--device file:PATH`` hands them out."""
    clock = task.Clock()
    player = open_file_player(path, clock=clock, run_blocking=defer.maybeDeferred,
                              every_frame=True)
    frames = []
    try:
        for _ in range(len(player.recording)):
            player.next_frame().addCallback(frames.append)
            clock.advance(1)
    finally:
        player.close()
    return frames


def codes(frames):
    encoder = ClassicEncoder()
    result = []
    for frame in frames:
        encoder.encode(frame)
        result.append(encoder.latest_codes.copy())
    return result


@pytest.mark.parametrize("kind", ["fakenect", "png"])
@pytest_twisted.ensureDeferred
async def test_record_then_replay_gives_the_same_frames_bit_for_bit(kind, tmp_path):
    """A real recording recorded with depthcam-record replays with identical arrays and codes."""
    make = fakenect_dump if kind == "fakenect" else png_folder
    originals = make(tmp_path / "in", FRAMES)
    out = tmp_path / "out.dcrec"
    run = run_module(RECORD, "--device", f"{kind}:{tmp_path / 'in'}", "--out", out)
    assert await within(run.ended, 60) == 0, run.stderr
    replayed = replay(out)
    assert len(replayed) == FRAMES
    for original, frame in zip(originals, replayed):
        assert frame.depth.dtype == np.uint16 and np.array_equal(original, frame.depth)
    assert all(np.array_equal(a, b) for a, b in zip(codes(replayed), codes(
        [type(frame)(depth, frame.units, 0.0) for depth, frame in zip(originals, replayed)])))


@pytest_twisted.ensureDeferred
async def test_existing_file_is_kept_without_force(tmp_path):
    """--out naming an existing file exits 1 with one line and leaves it; --force overwrites it."""
    out = tmp_path / "taken.dcrec"
    out.write_bytes(b"precious")
    run = run_module(RECORD, "--device", "scene", "--out", out, "--seconds", "0.2")
    assert await within(run.ended, 30) == 1
    assert run.stderr.decode().strip().count("\n") == 0 and b"--force" in run.stderr
    assert out.read_bytes() == b"precious"
    run = run_module(RECORD, "--device", "scene", "--out", out, "--seconds", "0.2", "--force")
    assert await within(run.ended, 30) == 0, run.stderr
    assert out.read_bytes().startswith(b"DCAMREC")


@pytest_twisted.ensureDeferred
async def test_sigterm_finishes_the_file_cleanly(tmp_path):
    """SIGTERM while recording exits 0 and leaves a file whose every frame is whole."""
    out = tmp_path / "stopped.dcrec"
    run = run_module(RECORD, "--device", "scene", "--out", out)
    await run.printed(b"Ctrl-C stops")
    run.transport.signalProcess("TERM")
    assert await within(run.ended, 30) == 0, run.stderr
    text, truncated_at = record.describe(out)
    assert truncated_at is None and "frames:" in text
    assert b"Traceback" not in run.stdout + run.stderr


@pytest_twisted.ensureDeferred
async def test_progress_shows_on_a_terminal(tmp_path):
    """On a terminal, progress is one line rewritten with \\r: frames, seconds, MB and MB/s."""
    run = run_module(RECORD, "--device", "scene", "--out", tmp_path / "tty.dcrec",
                     "--seconds", "1.2", use_pty=True)
    assert await within(run.ended, 30) == 0
    progress = PROGRESS_LINE.findall(run.stdout)
    assert len(progress) >= 2, run.stdout
    assert int(progress[-1][0]) > int(progress[0][0])


def test_info_summarises_a_recording_and_refuses_bad_ones(tmp_path, capsys):
    """--info prints frames, duration and size of a good file; a bad or cut one gets one line."""
    from depthcam.codec.frame import DepthFrame, DepthUnits
    from depthcam.source.container import RecordingWriter

    good = tmp_path / "good.dcrec"
    with open(good, "wb") as file:
        writer = RecordingWriter(file)
        for index in range(3):
            writer.write_frame(DepthFrame(np.full((480, 640), 800 + index, np.uint16),
                                          DepthUnits.RAW_DISPARITY, 100 + index / 30))
    assert record.main(["--info", str(good)]) == 0
    out = capsys.readouterr().out
    assert "3 of 640 x 480, raw" in out and "0.07 s" in out and "MB an hour" in out
    bad = tmp_path / "bad.dcrec"
    bad.write_bytes(b"not a recording at all")
    cut = tmp_path / "cut.dcrec"
    cut.write_bytes(good.read_bytes()[:-10])
    for path, words in ((bad, "wrong magic"), (cut, "frame 2: cut short")):
        assert record.main(["--info", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and words in err, err


@pytest_twisted.ensureDeferred
async def test_a_full_disk_stops_recording_with_one_line(tmp_path):
    """When writes fail (/dev/full), depthcam-record says so in one line and exits 1."""
    run = run_module(RECORD, "--device", "scene", "--out", "/dev/full", "--force")
    assert await within(run.ended, 30) == 1
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot write /dev/full" in lines[0], run.stderr
    assert b"Traceback" not in run.stdout + run.stderr
