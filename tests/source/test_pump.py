"""Tests for source/pump.py: the LoopingCall from source to encoder to sinks, under task.Clock."""

import numpy as np
import pytest
from twisted.internet import defer, task
from twisted.logger import Logger

from depthcam.codec import ClassicEncoder, DepthFrame, DepthUnits, StreamDecoder
from depthcam.codec.frame import SENSOR_SHAPE
from depthcam.codec.header import parse_header
from depthcam.source.frames import FrameSource
from depthcam.source.pump import FramePump

FPS = 10.0
TICK_S = 1 / FPS


class RampSource(FrameSource):
    """Frames of one raw disparity each, a step nearer every frame; ``fail_on`` calls raise."""

    units = DepthUnits.RAW_DISPARITY
    nominal_fps = FPS

    def __init__(self, fail_on=()):
        self.calls = 0
        self.fail_on = set(fail_on)

    def next_frame(self):
        self.calls += 1
        if self.calls in self.fail_on:
            raise OSError("device hiccup")
        depth = np.full(SENSOR_SHAPE, 700 + self.calls, np.uint16)
        return DepthFrame(depth, self.units, self.calls)


class DeferredSource(RampSource):
    """A source whose reads finish when the test says (as a deferToThread read would)."""

    def __init__(self):
        super().__init__()
        self.pending = []

    def next_frame(self):
        reading = defer.Deferred()
        self.pending.append((reading, super().next_frame()))
        return reading

    def finish(self):
        reading, frame = self.pending.pop(0)
        reading.callback(frame)


class RecordingSink:
    def __init__(self):
        self.messages = []

    def send_frame(self, header, message):
        self.messages.append(message)


class FailingSink:
    def __init__(self):
        self.calls = 0

    def send_frame(self, header, message):
        self.calls += 1
        raise ConnectionError("sink is gone")


def make_pump(source, sinks, events=None):
    clock = task.Clock()
    pump = FramePump(source, ClassicEncoder(keyframe_interval=5), sinks, clock=clock)
    if events is not None:
        pump.log = Logger(observer=events.append)
    return pump, clock


def run_ticks(clock, count):
    for _ in range(count):
        clock.advance(TICK_S)


def decode_all(messages):
    decoder = StreamDecoder()
    return [decoder.decode(message) for message in messages]


def test_pump_sends_one_decodable_frame_per_tick():
    """Started, the pump sends a frame at once and one per 1/fps, a stream that decodes in order."""
    sink = RecordingSink()
    pump, clock = make_pump(RampSource(), [sink])
    pump.start()
    run_ticks(clock, 9)
    assert len(sink.messages) == 10
    decoded = decode_all(sink.messages)
    assert decoded[0].header.is_keyframe
    assert [frame.header.sequence for frame in decoded] == list(range(10))


def test_pump_runs_at_the_rate_it_is_given():
    """A pump told 5 frames/s sends 5 frames in a second whatever its source's nominal rate."""
    sink = RecordingSink()
    clock = task.Clock()
    pump = FramePump(RampSource(), ClassicEncoder(), [sink], fps=5, clock=clock)
    pump.start()
    for _ in range(9):
        clock.advance(0.1)
    assert len(sink.messages) == 5


def test_failing_sink_does_not_stop_the_others_and_is_logged_once():
    """A sink that raises every frame costs only its own copy, and is logged once, not per frame."""
    failing, first, last = FailingSink(), RecordingSink(), RecordingSink()
    events = []
    pump, clock = make_pump(RampSource(), [first, failing, last], events)
    pump.start()
    run_ticks(clock, 4)
    assert failing.calls == 5
    assert len(first.messages) == len(last.messages) == 5
    assert pump.running
    assert len([event for event in events if "log_failure" in event]) == 1


def test_failing_source_costs_one_frame_and_the_stream_stays_whole():
    """A read that raises skips that tick; later frames still form a gap-free stream."""
    sink = RecordingSink()
    events = []
    pump, clock = make_pump(RampSource(fail_on={2, 3}), [sink], events)
    pump.start()
    run_ticks(clock, 5)
    assert pump.running
    assert len(sink.messages) == 4
    assert [frame.header.sequence for frame in decode_all(sink.messages)] == [0, 1, 2, 3]
    assert len([event for event in events if "log_failure" in event]) == 1
    assert any("recovered" in event["log_format"] for event in events)


def test_failing_encoder_is_survived():
    """A frame the encoder rejects is skipped and the loop goes on."""

    class PickyEncoder(ClassicEncoder):
        def encode(self, frame):
            if frame.captured_at == 2:
                raise ValueError("bad frame")
            return super().encode(frame)

    sink = RecordingSink()
    clock = task.Clock()
    pump = FramePump(RampSource(), PickyEncoder(), [sink], clock=clock)
    pump.log = Logger(observer=lambda event: None)
    pump.start()
    run_ticks(clock, 3)
    assert pump.running
    assert len(decode_all(sink.messages)) == 3


def test_pump_waits_for_a_deferred_frame():
    """While a read's Deferred is pending the pump asks for no more; it goes on once fired."""
    source, sink = DeferredSource(), RecordingSink()
    pump, clock = make_pump(source, [sink])
    pump.start()
    run_ticks(clock, 5)
    assert source.calls == 1 and sink.messages == []
    source.finish()
    assert len(sink.messages) == 1
    clock.advance(TICK_S)
    assert source.calls == 2


def test_source_with_nothing_new_skips_the_tick():
    """A source that returns None costs that tick its frame, nothing else."""

    class SometimesEmpty(RampSource):
        def next_frame(self):
            frame = super().next_frame()
            return None if self.calls % 2 else frame

    sink = RecordingSink()
    pump, clock = make_pump(SometimesEmpty(), [sink])
    pump.start()
    run_ticks(clock, 5)
    assert len(decode_all(sink.messages)) == 3


def test_sinks_can_join_and_leave():
    """A sink added later gets the frames from then on; a removed one gets no more."""
    early, late = RecordingSink(), RecordingSink()
    pump, clock = make_pump(RampSource(), [early])
    pump.start()
    pump.add_sink(late)
    run_ticks(clock, 2)
    pump.remove_sink(early)
    run_ticks(clock, 2)
    assert len(early.messages) == 3
    assert len(late.messages) == 4


def test_stop_ends_the_loop():
    """stop() fires start()'s Deferred and no frame follows."""
    sink = RecordingSink()
    pump, clock = make_pump(RampSource(), [sink])
    stopped = pump.start()
    pump.stop()
    run_ticks(clock, 3)
    assert stopped.called and not pump.running
    assert len(sink.messages) == 1


def test_pump_refuses_a_rate_of_zero():
    """A pump needs a positive frame rate."""
    with pytest.raises(ValueError):
        FramePump(RampSource(), ClassicEncoder(), fps=0, clock=task.Clock())


class CountingSource(RampSource):
    """A RampSource that counts its reads."""

    reads = 0

    def next_frame(self):
        self.reads += 1
        return super().next_frame()


def test_paused_pump_reads_and_encodes_nothing_and_resumes_with_a_keyframe():
    """While paused no frame is read or sent; the first frame after resume() is a keyframe."""
    sink = RecordingSink()
    source = CountingSource()
    pump, clock = make_pump(source, [sink])
    stopped = pump.start()
    run_ticks(clock, 4)  # frames 0-4: a keyframe, then deltas
    pump.pause()
    reads, sent = source.reads, len(sink.messages)
    run_ticks(clock, 30)
    assert (source.reads, len(sink.messages)) == (reads, sent)
    assert not stopped.called and not pump.running
    pump.resume()
    run_ticks(clock, 2)
    headers = [parse_header(message)[0] for message in sink.messages]
    assert not headers[sent - 1].is_keyframe
    assert headers[sent].is_keyframe
    assert len(headers) == sent + 3
    assert decode_all(sink.messages)  # the stream across the pause decodes in order


def test_a_paused_pump_can_still_be_stopped():
    """stop() while paused fires start()'s Deferred, and resume() then does nothing."""
    pump, clock = make_pump(RampSource(), [RecordingSink()])
    stopped = pump.start()
    pump.pause()
    pump.stop()
    pump.resume()
    run_ticks(clock, 3)
    assert stopped.called and not pump.running


def test_resume_while_a_read_is_pending_waits_for_it():
    """Paused and resumed while a read is still on its way, the pump starts no second read until
    that one is delivered, so frames are encoded in the order they were read (a second read beside
    it could finish first and be sent as the earlier frame)."""
    source, sink = DeferredSource(), RecordingSink()
    pump, clock = make_pump(source, [sink])
    pump.start()
    pump.pause()
    pump.resume()
    run_ticks(clock, 3)
    assert source.calls == 1  # still the first read
    source.finish()
    run_ticks(clock, 1)
    assert source.calls == 2
    source.finish()
    assert [frame.header.sequence for frame in decode_all(sink.messages)] == [0, 1]
    assert source.pending == [] and pump.running
