"""Tests for source/push.py (and the `push` command): the sink's policy alone, the backoff under a
task.Clock, then push mode against a real relay on loopback.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor, task
from twisted.internet.error import ConnectionRefusedError
from twisted.python.failure import Failure

from depthcam.codec import ClassicEncoder, StreamDecoder
from depthcam.codec.header import parse_header
from depthcam.codec.vectors import synthetic_frames
from depthcam.protocol.tokens import TOKEN_ENV_VAR, TokenConfigError
from depthcam.protocol.closecodes import CloseCode as RelayCloseCode
from depthcam.source.__main__ import parse_config, push
from depthcam.source.config import SourceConfig
from depthcam.source.push import PushFactory, RelaySink
from tests.relay.clients import assert_decodes_in_order
from tests.relay.conftest import TOKEN, start_relay  # noqa: F401 (a fixture)

# The backoff in these tests: short, so a reconnect takes tenths of a second, not seconds.
TEST_INITIAL_DELAY_S = 0.05
TEST_MAX_DELAY_S = 0.3
FPS = 30
# So long that every keyframe in a test is one the push asked for (on each connect).
NO_INTERVAL_KEYFRAME_S = 1000
# Refusals to see before judging how they are spaced and logged.
REFUSALS_OBSERVED = 4
# Timer slack: a reconnect due after the backoff may come this much later on a loaded machine.
RECONNECT_SLACK_S = 1.0

# Push URLs as typed, and the relay address each one means.
PUSH_URLS = [
    ("ws://relay.example:9000/source/kitchen", "ws://relay.example:9000/source/kitchen"),
    ("ws://relay.example:9000", "ws://relay.example:9000/source/default"),  # the 2012 form
    ("ws://relay.example:9000/", "ws://relay.example:9000/source/default"),
    ("ws://127.0.0.1:9001/source/cam_2-b", "ws://127.0.0.1:9001/source/cam_2-b"),
    ("wss://relay.example/source/kitchen", "wss://relay.example/source/kitchen"),
    ("wss://relay.example:8443", "wss://relay.example:8443/source/default"),
]
BAD_PUSH_COMMAND_LINES = [
    ["push", "http://relay:9000/source/default"],
    ["push", "wss://relay:9000/view/default"],
    ["push", "ws://relay:9000/source/default"],  # plain ws:// to another machine, no --insecure
    ["push", "ws://relay:9000/view/default"],
    ["push", "ws://relay:9000/source/"],
    ["push", "ws://relay:9000/source/two words"],
    ["push", "ws://relay:9000/source/default?token=x"],
    ["push", "ws://user:secret@relay:9000/source/default"],
    ["push", "ws://relay:notaport"],
    ["push", "ws://relay:9000", "--wire", "legacy"],
]


# The command line.


def test_push_urls_name_a_relay_stream_and_the_2012_form_means_the_default():
    """`push URL` keeps /source/NAME, and a URL without a path (the 2012 form) means /source/default."""
    for typed, meant in PUSH_URLS:
        # --insecure: plain ws:// to another machine is refused without it (tests/security).
        config = parse_config(["push", typed, "--token-file", "/etc/depthcam/token", "--insecure"])
        assert (config.command, config.relay_url) == ("push", meant)
        assert str(config.token_file) == "/etc/depthcam/token"


def test_bad_push_command_lines_exit_with_a_usage_error(capsys):
    """A URL that is not a relay's ws://HOST:PORT/source/NAME, or the legacy wire, is refused."""
    for argv in BAD_PUSH_COMMAND_LINES:
        with pytest.raises(SystemExit) as exited:
            parse_config(argv)
        assert exited.value.code == 2, argv
        assert "error:" in capsys.readouterr().err, argv


def test_push_without_a_token_stops_before_anything_starts(monkeypatch):
    """With neither --token-file nor $DEPTHCAM_RELAY_TOKEN, push raises TokenConfigError at once."""
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    config = parse_config(["push", "ws://127.0.0.1:1/source/default"])
    with pytest.raises(TokenConfigError, match=TOKEN_ENV_VAR):
        push(config, task.Clock())


# RelaySink's policy, with a stand-in connection and a real encoder.


class PlainConnection:
    """What the sink needs of a relay connection, recording what it is sent."""

    def __init__(self):
        self.received = []

    def send_frame(self, message):
        self.received.append(message)


class EncodedFrames:
    """Feeds a ClassicEncoder the synthetic frames, one per call, as the pump would."""

    def __init__(self, sink_for):
        self.encoder = ClassicEncoder(keyframe_interval=10_000)
        self.sink = sink_for(self.encoder)
        self._frames = synthetic_frames(8)
        self._count = 0

    def pump(self, count=1):
        for _ in range(count):
            self.sink.send_frame(*self.encoder.encode_with_header(self._frames[self._count % len(self._frames)]))
            self._count += 1


def headers(messages):
    return [parse_header(message)[0] for message in messages]


def test_sink_drops_frames_while_disconnected_and_each_connection_starts_with_a_keyframe():
    """Nothing is queued without a connection, and the first frame on every connection is absolute."""
    frames = EncodedFrames(RelaySink)
    frames.pump(3)
    assert frames.sink.frames_dropped == 3
    for _ in range(2):
        connection = PlainConnection()
        frames.sink.attach(connection)
        frames.pump(4)
        frames.sink.detach(connection)
        frames.pump(2)
        assert [header.is_keyframe for header in headers(connection.received)] == [True] + [False] * 3
    assert frames.sink.frames_dropped == 3 + 2 + 2


def test_backed_up_connection_skips_frames_and_resumes_at_a_keyframe():
    """While its transport is full the sink sends nothing; once drained it resumes with a keyframe."""
    frames = EncodedFrames(RelaySink)
    connection = PlainConnection()
    frames.sink.attach(connection)
    frames.pump(3)
    frames.sink.connection_full(connection)  # the transport's pauseProducing
    frames.pump(5)
    assert len(connection.received) == 3 and frames.sink.frames_skipped == 5
    frames.sink.connection_drained(connection)  # its resumeProducing: the next frame is absolute
    frames.pump(2)
    sent = headers(connection.received)
    assert [header.is_keyframe for header in sent] == [True, False, False, True, False]
    assert [header.sequence for header in sent] == [0, 1, 2, 8, 9]
    decoder = StreamDecoder()
    for message in connection.received:
        decoder.decode(message)


# PushFactory's backoff under a task.Clock.


class PlainConnector:
    """A connector that only counts its connection attempts."""

    state = "disconnected"

    def __init__(self):
        self.attempts = 0

    def connect(self):
        self.attempts += 1

    def stopConnecting(self):
        pass


def test_backoff_doubles_to_max_delay_and_resets_on_open():
    """Failed attempts wait 0.5, 1, 2, 4, 4 s (never over maxDelay); an opened connection resets it."""
    clock = task.Clock()
    factory = PushFactory("ws://127.0.0.1:9/source/default", TOKEN, RelaySink(ClassicEncoder()),
                          reactor=clock)
    connector = PlainConnector()
    waits = []
    for _ in range(6):
        factory.clientConnectionFailed(connector, Failure(ConnectionRefusedError()))
        (call,) = clock.getDelayedCalls()
        waits.append(call.getTime() - clock.seconds())
        clock.advance(waits[-1])
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert connector.attempts == 6
    factory.connection_opened(PlainConnection())
    assert factory.delay == PushFactory.initialDelay
    assert factory.sink.connected


# Push mode against a real relay.


@pytest.fixture
def fast_backoff(monkeypatch):
    """PushFactory's backoff shortened for these tests (class attributes, as Twisted intends)."""
    monkeypatch.setattr(PushFactory, "initialDelay", TEST_INITIAL_DELAY_S)
    monkeypatch.setattr(PushFactory, "maxDelay", TEST_MAX_DELAY_S)


@pytest_twisted.async_yield_fixture
async def start_push(tmp_path, fast_backoff):
    """``start_push(relay, token=TOKEN)``: run push mode, as the program does, to the relay's default stream."""
    running = []

    def start(relay, token=TOKEN, stream="default"):
        token_file = tmp_path / f"token-{len(running)}"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)  # read_token refuses a file others may read
        config = SourceConfig(
            command="push", relay_url=f"ws://127.0.0.1:{relay.port}/source/{stream}",
            token_file=token_file, fps=FPS, keyframe_interval_s=NO_INTERVAL_KEYFRAME_S,
        )
        running.append(push(config, reactor))
        return running[-1]

    yield start
    for source in running:
        await source.stop()


@pytest_twisted.ensureDeferred
async def test_pushed_frames_reach_a_viewer_and_decode(start_relay, start_push, log_capture):
    """Frames from push mode's pump go through a real relay to a viewer, which decodes them all in order."""
    relay = start_relay()
    viewer = await relay.clients.viewer(stream="default")
    start_push(relay)
    await log_capture.wait_for_line("connected to relay")
    await viewer.wait_for_frames(10)
    assert_decodes_in_order(viewer)
    assert relay.stream("default").deltas_dropped_broken_chain == 0


@pytest_twisted.ensureDeferred
async def test_wrong_token_is_refused_logged_once_and_retried_every_max_delay(
    start_relay, start_push, log_capture
):
    """A refused token gives one log line, nothing is broadcast, and attempts go on every maxDelay."""
    relay = start_relay()
    viewer = await relay.clients.viewer(stream="default")
    start_push(relay, token="wrong-token-0123456789")
    await log_capture.wait_for_line("refused (403)", count=REFUSALS_OBSERVED)
    lines = log_capture.lines("relay refused the token")
    assert len(lines) == 1
    assert "check --token-file / DEPTHCAM_RELAY_TOKEN" in lines[0]
    refusals = log_capture.times("refused (403)")
    gaps = [later - earlier for earlier, later in zip(refusals, refusals[1:])]
    assert min(gaps) >= TEST_MAX_DELAY_S, gaps
    assert relay.stream("default").publisher is None
    assert viewer.frames == [] and not viewer.closed
    assert relay.registry.sources_refused >= REFUSALS_OBSERVED


@pytest_twisted.ensureDeferred
async def test_source_reconnects_when_the_relay_comes_back_and_restarts_with_a_keyframe(
    start_relay, start_push, log_capture
):
    """The relay's port closes (its connections dropped) and reopens: the source is back, keyframe first."""
    relay = start_relay()
    running = start_push(relay)
    before = await relay.clients.viewer(stream="default")
    await before.wait_for_frames(5)
    last_before = before.sequences[-1]

    # The relay goes away: no listening port, every connection cut.
    port = relay.port
    await relay.listening_port.stopListening()
    for connection in list(relay.registry.connections()):
        connection.transport.abortConnection()
    await log_capture.wait_for_line("disconnected from relay")
    await log_capture.wait_for_line("unreachable")  # it tried while the relay was away
    assert not running.uplink.sink.connected

    relay.listening_port = reactor.listenTCP(port, relay.relay.site, interface="127.0.0.1")
    listening_at = reactor.seconds()
    await log_capture.wait_for_line("connected to relay", count=2)
    assert log_capture.times("connected to relay")[1] - listening_at < TEST_MAX_DELAY_S + RECONNECT_SLACK_S

    after = await relay.clients.viewer(stream="default")
    await after.wait_for_frames(5)
    assert_decodes_in_order(after)
    # No keyframe falls due in this test: this one is the reconnect's, mid-stream.
    assert after.sequences[0] > last_before
    assert relay.stream("default").deltas_dropped_broken_chain == 0
    assert len(log_capture.lines("unreachable")) == 1  # one line for the whole outage


@pytest_twisted.ensureDeferred
async def test_replaced_source_waits_max_delay_then_takes_the_stream_back(
    start_relay, start_push, log_capture
):
    """Closed with 4001 by a newer source, the push logs it and reconnects only after maxDelay."""
    relay = start_relay()
    start_push(relay)
    await log_capture.wait_for_line("connected to relay")
    newer = await relay.clients.source(stream="default", token=TOKEN)
    await log_capture.wait_for_line("another source took this stream over (4001)")
    (replaced_at,) = log_capture.times("another source took this stream over")

    await newer.closed_d  # the push came back and replaced it in turn
    assert newer.close_code == RelayCloseCode.SOURCE_REPLACED
    assert reactor.seconds() - replaced_at >= TEST_MAX_DELAY_S
    await log_capture.wait_for_line("connected to relay", count=2)
    viewer = await relay.clients.viewer(stream="default")
    await viewer.wait_for_frames(3)
    assert_decodes_in_order(viewer)


def test_sink_wants_frames_only_while_connected_and_watched():
    """on_demand hears False with no connection or zero viewers, True otherwise, once per change."""
    demand = []
    sink = RelaySink(ClassicEncoder(), on_demand=demand.append)
    connection = PlainConnection()
    sink.attach(connection)  # the relay has not said yet: assume someone watches
    sink.viewers_changed(0)
    sink.viewers_changed(0)
    sink.viewers_changed(2)
    sink.viewers_changed(1)
    sink.detach(connection)
    assert demand == [True, False, True, False]
