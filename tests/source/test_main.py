"""Tests for source/__main__.py: the command line, the config it builds, and the program it runs."""

import os
import re
import sys
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.web.client import Agent, readBody

from depthcam.codec import ClassicEncoder, LegacyEncoder, Profile, StreamDecoder, contextcoding
from depthcam.codec.legacy import LEGACY_HEIGHT, LEGACY_WIDTH, decode_legacy
from depthcam.codec.reduction import Reduction
from depthcam.source import __main__ as program
from depthcam.source.config import DeviceSpec, SourceConfig, Wire
from depthcam.source.__main__ import (
    build_parser,
    make_encoder,
    parse_config,
    serve,
)
from tests.source.viewers import within

FLAGS = (
    "--host", "--port", "--fps", "--keyframe-interval", "--near-mm", "--far-mm", "--reduction",
    "--wire", "--device", "--scene-seed", "--client-dir", "--log-level", "--loop", "--depth-scale",
    "--tilt", "--retry",
)
# Command lines the program must refuse with a usage error.
BAD_COMMAND_LINES = [
    ["server"],
    ["server", "http://localhost:9000"],
    ["server", "ws://localhost:notaport"],
    ["serve", "ws://localhost:9000"],
    ["push"],
    ["--device", "webcam"],
    ["--device", "file"],
    ["--device", "png:"],
    ["--device", "kinect:first"],
    ["--depth-scale", "0"],
    ["--device", "scene:extra"],
    ["--wire", "json"],
    ["--reduction", "mean"],
    ["--fps", "0"],
    ["--keyframe-interval", "-1"],
    ["--near-mm", "9000"],
    ["--port", "70000"],
    ["--log-level", "loud"],
]
URL_LINE = re.compile(rb"depthcam: open (http://localhost:\d+/) in Chrome or Firefox")


def test_help_mentions_every_flag_and_command(capsys):
    """--help lists every flag and both spellings of direct mode."""
    with pytest.raises(SystemExit) as exited:
        parse_config(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for word in (*FLAGS, "serve", "server ws://"):
        assert word in text, word


def test_every_flag_has_help_with_its_default():
    """No flag is left without help text, and each help text states the default."""
    for action in build_parser()._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            assert action.help and "default" in action.help, action.option_strings


def test_no_arguments_give_the_default_config():
    """No arguments: direct mode with SourceConfig's defaults (2 s keyframes at 30 fps)."""
    config = parse_config([])
    assert config == SourceConfig()
    assert config.command == "serve" and config.host == "127.0.0.1" and config.port == 9000
    assert config.keyframe_interval_frames == 60


def test_2012_server_url_form_takes_host_and_port_from_the_url():
    """`server ws://localhost:9001` is direct mode listening on localhost:9001."""
    config = parse_config(["server", "ws://localhost:9001"])
    assert (config.command, config.host, config.port) == ("server", "localhost", 9001)
    assert program.COMMANDS[config.command] is serve


def test_flags_may_follow_the_command():
    """Flags after `serve` are read, and the keyframe interval is rounded to whole frames."""
    config = parse_config([
        "serve", "--port", "9100", "--fps", "20", "--keyframe-interval", "1.5", "--wire", "legacy",
        "--reduction", "subsample", "--near-mm", "400", "--far-mm", "6000", "--scene-seed", "3",
        "--client-dir", "/tmp/client", "--device", "scene",
    ])
    assert config.port == 9100 and config.fps == 20
    assert config.keyframe_interval_frames == 30
    assert config.wire is Wire.LEGACY and config.reduction is Reduction.SUBSAMPLE
    assert (config.near_mm, config.far_mm, config.scene_seed) == (400, 6000, 3)
    assert config.client_dir == Path("/tmp/client")
    assert config.device == DeviceSpec("scene")


def test_device_flags_build_the_config():
    """--device KIND:ARGUMENT and the recording and Kinect flags land in the SourceConfig."""
    config = parse_config(["--device", "png:/data/kitchen", "--loop", "--depth-scale", "5000"])
    assert config.device == DeviceSpec("png", "/data/kitchen")
    assert config.loop and config.depth_scale == 5000
    config = parse_config(["--device", "kinect:1", "--tilt", "-10", "--retry"])
    assert config.device == DeviceSpec("kinect", "1") and config.tilt_deg == -10 and config.retry
    assert parse_config(["--device", "file:a:b.dcrec"]).device == DeviceSpec("file", "a:b.dcrec")


def test_bad_command_lines_exit_with_a_usage_error(capsys):
    """Each malformed command line exits with status 2 and a message, before anything starts."""
    for argv in BAD_COMMAND_LINES:
        with pytest.raises(SystemExit) as exited:
            parse_config(argv)
        assert exited.value.code == 2, argv
        assert "error:" in capsys.readouterr().err, argv


def test_wire_picks_the_encoder():
    """--wire classic makes a ClassicEncoder with the config's range, legacy a LegacyEncoder."""
    classic = make_encoder(SourceConfig(near_mm=400, far_mm=6000, fps=10)).depth_encoder
    assert isinstance(classic, ClassicEncoder)
    assert (classic.quantizer.near_mm, classic.quantizer.far_mm) == (400, 6000)
    assert classic.keyframe_interval == 20
    assert isinstance(make_encoder(SourceConfig(wire=Wire.LEGACY)), LegacyEncoder)


def test_classic_says_when_it_falls_back_to_lzma(monkeypatch):
    """Without the compiled coder, --profile classic sends profile 1 and logs one warning naming
    the fix; with it, classic-cm and no warning."""
    events = []
    monkeypatch.setattr(program, "log", Logger(observer=events.append))
    assert make_encoder(SourceConfig()).profile is Profile.CLASSIC_CM
    assert events == []
    monkeypatch.setattr(contextcoding, "ContextCoder", None)
    assert make_encoder(SourceConfig()).profile is Profile.CLASSIC
    assert [e["log_level"] for e in events] == [LogLevel.warn]
    assert "C compiler" in formatEvent(events[0])


def test_default_client_dir_is_the_repository_client_folder():
    """By default the client is served from client/ beside the package's folders."""
    repository = Path(program.__file__).resolve().parent.parent
    assert SourceConfig().client_dir == repository / "client"


@pytest_twisted.ensureDeferred
async def test_serve_serves_index_html_and_frames(tmp_path, connect_viewer):
    """serve() puts the client dir's index.html at / and decodable frames at /ws, on one port."""
    (tmp_path / "index.html").write_text("<!doctype html><title>depthcam viewer</title>")
    running = serve(SourceConfig(port=0, client_dir=tmp_path, fps=20), reactor)
    try:
        agent = Agent(reactor)
        response = await within(agent.request(b"GET", running.url.encode()))
        assert response.code == 200
        assert b"depthcam viewer" in await within(readBody(response))
        viewer = await connect_viewer(running.port.getHost().port)
        await viewer.received(3)
        decoder = StreamDecoder()
        assert decoder.decode(viewer.frames()[0]).header.is_keyframe
        for message in viewer.frames()[1:]:
            decoder.decode(message)
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_legacy_wire_sends_2012_frames(tmp_path, connect_viewer):
    """With --wire legacy a viewer gets the 2012 bytes: a keyframe first, then deltas that apply."""
    running = serve(SourceConfig(port=0, client_dir=tmp_path, wire=Wire.LEGACY), reactor)
    try:
        viewer = await connect_viewer(running.port.getHost().port)
        await viewer.received(4)
    finally:
        await running.stop()
    codes = None
    for index, message in enumerate(viewer.frames()):
        keyframe, _, codes = decode_legacy(message, codes)
        assert keyframe == (index == 0)
    assert codes.shape == (LEGACY_HEIGHT, LEGACY_WIDTH)


class ProgramRun(protocol.ProcessProtocol):
    """A depthcam-source process: its output, a Deferred for the URL line, and one for its end."""

    def __init__(self):
        self.stdout = self.stderr = b""
        self.url = defer.Deferred()
        self.ended = defer.Deferred()  # fires with the exit status

    def outReceived(self, data):
        self.stdout += data
        found = URL_LINE.search(self.stdout)
        if found and not self.url.called:
            self.url.callback(found.group(1))

    def errReceived(self, data):
        self.stderr += data

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)


def run_program(*args):
    run = ProgramRun()
    argv = [sys.executable, "-m", "depthcam.source", *args]
    reactor.spawnProcess(run, sys.executable, argv, env=dict(os.environ))
    return run


@pytest_twisted.ensureDeferred
async def test_program_prints_the_url_serves_it_and_stops_on_sigterm(tmp_path):
    """The program prints one URL line, serves index.html there, and exits 0 on SIGTERM."""
    (tmp_path / "index.html").write_text("<!doctype html><title>from the program</title>")
    run = run_program("--port", "0", "--client-dir", str(tmp_path))
    url = await within(run.url, 30)
    response = await within(Agent(reactor).request(b"GET", url))
    assert b"from the program" in await within(readBody(response))
    run.transport.signalProcess("TERM")
    assert await within(run.ended) == 0
    assert run.stdout.count(b"depthcam: open") == 1


@pytest_twisted.ensureDeferred
async def test_taken_port_is_one_line_error_without_traceback():
    """A port already in use ends the program with status 1 and a single line on stderr."""
    taken = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    try:
        run = run_program("--host", "127.0.0.1", "--port", str(taken.getHost().port))
        assert await within(run.ended, 30) == 1
    finally:
        await taken.stopListening()
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "cannot listen" in lines[0], run.stderr
    assert b"Traceback" not in run.stdout + run.stderr


def test_colour_flags_pick_the_picture_coder():
    """--colour, --colour-quality and --colour-scale reach the encoder; off codes no pictures."""
    config = parse_config(["--colour", "webp", "--colour-quality", "60", "--colour-scale", "2"])
    encoder = make_encoder(config)
    assert (encoder.coder.coding.name, encoder.coder.quality, encoder.scale) == ("WEBP", 60, 2)
    assert make_encoder(parse_config(["--colour", "off"])).coder is None
    assert make_encoder(parse_config([])).coder.coding.name == "JPEG"


@pytest.mark.parametrize("argv", [["--colour", "png"], ["--colour-quality", "0"],
                                  ["--colour-quality", "101"], ["--colour-scale", "3"],
                                  ["--profile", "lossless", "--colour-scale", "2"]])
def test_bad_colour_flags_are_refused(argv, capsys):
    """A colour flag outside its range exits 2 with argparse's error line."""
    with pytest.raises(SystemExit) as exited:
        parse_config(argv)
    assert exited.value.code == 2 and "error:" in capsys.readouterr().err
