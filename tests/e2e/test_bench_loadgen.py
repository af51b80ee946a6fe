"""bench/loadgen.c, the relay bench's C load generator: built as bench/relay.py builds it, run as a real
process against a scripted WebSocket server (every framing case) and against a real relay.

The scripted server is a plain blocking socket in this process; it waits on the generator's pongs,
which it can only send after reading everything before the ping, so no wait here is a sleep.
"""

import base64
import importlib.util
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
# How long one step (a connect, a line from the generator, a pong) may take on a loaded machine.
STEP_TIMEOUT_S = 30
HEAD = struct.Struct("<6sBBIQ")  # FORMAT.md's first 20 bytes: ..., flags (6), -, sequence (8), capture_time_us (12)
FLAG_CATCHUP = 0x02
OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
LATENCY_BUCKETS = 100_000  # loadgen's catch-all last bucket (10 s of 100 µs buckets)
# Capture times this far back put a frame well inside the histogram (and below its 10 s catch-all).
CAPTURED_AGO_US = 2_000_000
# Pause between the small sends of a split stream (see send_in_pieces), seconds.
PIECE_PACING_S = 0.001
# Frames the real relay's reference viewer waits for while the window is open.
WINDOW_FRAMES = 30
# A generator viewer's frames in the window against the reference viewer's: both see the same
# stream, but "start" and "stop" reach the generator a few frames apart from the reference's count
# on a loaded machine; double counting would be twice as many.
WINDOW_FRAMES_SLACK = 10


def load_loadgens():
    """bench/loadgens.py (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_loadgens", BENCH_DIR / "loadgens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loadgen_binary():
    if shutil.which(os.environ.get("CC") or "cc") is None:
        pytest.skip("no C compiler to build bench/loadgen.c")
    return load_loadgens().build_c_loadgen()


class Loadgen:
    """The generator as a process: lines to its stdin, JSON events from its stdout."""

    def __init__(self, binary, url, viewers, concurrency):
        self.process = subprocess.Popen(
            [str(binary), "--url", url, "--viewers", str(viewers), "--concurrency", str(concurrency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def event(self, name):
        """The next stdout line, which must be the JSON event ``name``."""
        ready, _, _ = select.select([self.process.stdout], [], [], STEP_TIMEOUT_S)
        assert ready, f"no '{name}' from loadgen within {STEP_TIMEOUT_S} s"
        line = self.process.stdout.readline()
        assert line, f"loadgen exited ({self.process.wait()}): {self.process.stderr.read()!r}"
        message = json.loads(line)
        assert message["event"] == name, message
        return message

    def send(self, command):
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


# ---------------------------------------------------------------------------------------------
# A scripted server.

def server_frame(opcode, payload, length_bytes=None):
    """An unmasked server frame; ``length_bytes`` 0, 2 or 8 picks the length's encoding (default: the smallest)."""
    if length_bytes is None:
        length_bytes = 0 if len(payload) < 126 else 2 if len(payload) < 65536 else 8
    first = bytes([0x80 | opcode])
    if length_bytes == 0:
        return first + bytes([len(payload)]) + payload
    if length_bytes == 2:
        return first + bytes([126]) + struct.pack(">H", len(payload)) + payload
    return first + bytes([127]) + struct.pack(">Q", len(payload)) + payload


def depth_message(sequence, capture_time_us, size, flags=0):
    """A binary message of ``size`` bytes that starts with FORMAT.md's header fields (cut short below 20)."""
    head = HEAD.pack(b"DCAM\x03\x00", flags, 0, sequence, capture_time_us)
    if size < HEAD.size:
        return head[:size]
    body = size - HEAD.size
    return head + bytes(range(256)) * (body // 256) + bytes(body % 256)


def scripted_stream(first_sequence, now_us):
    """(bytes, frames counted, gaps, latency classes) of one pass over every framing case."""
    ago = now_us - CAPTURED_AGO_US
    s = first_sequence
    frames = [
        server_frame(OPCODE_BINARY, depth_message(s, ago, 20)),  # exactly the 20 bytes read
        server_frame(OPCODE_BINARY, depth_message(s + 1, ago, 300)),  # 16-bit length
        server_frame(OPCODE_BINARY, depth_message(s + 3, ago, 70_000)),  # 64-bit length, after a gap
        server_frame(OPCODE_TEXT, b"not a frame: ignored"),
        server_frame(OPCODE_BINARY, depth_message(s + 4, ago, 12)),  # too short to read: ignored
        server_frame(OPCODE_PING, b"hi"),
        server_frame(OPCODE_BINARY, depth_message(s + 100, ago, 500, FLAG_CATCHUP)),  # a jump, but catch-up
        server_frame(OPCODE_BINARY, depth_message(s + 101, 0, 40)),  # 56 years old: the catch-all bucket
        server_frame(OPCODE_BINARY, depth_message(s + 102, now_us + 60_000_000, 40)),  # from the future: bucket 0
        server_frame(OPCODE_BINARY, depth_message(s + 103, ago, 40), length_bytes=8),  # a long length, small
    ]
    return b"".join(frames), 7, 1, {"inside": 5, "catch-all": 1, "zero": 1}, s + 104


def accept_viewer(listener):
    """Accept one viewer and read its handshake request; (socket, request lines)."""
    listener.settimeout(STEP_TIMEOUT_S)
    connection, _ = listener.accept()
    connection.settimeout(STEP_TIMEOUT_S)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = connection.recv(4096)
        assert chunk, "viewer closed during its handshake"
        request += chunk
    return connection, request.decode("latin1").split("\r\n")


def accept_handshake(connection, lines):
    key = next(line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sec-websocket-key:"))
    assert len(base64.b64decode(key, validate=True)) == 16
    connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: not-checked\r\n\r\n")
    return key


def read_client_frame(connection):
    """(opcode, payload) of one client frame, which must be masked; None at end of stream."""
    def exactly(count):
        data = b""
        while len(data) < count:
            chunk = connection.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    start = exactly(2)
    if start is None:
        return None
    assert start[1] & 0x80, "a client frame must be masked"
    length = start[1] & 0x7F
    assert length < 126, "a viewer sends only control frames"
    mask = exactly(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(length)))
    return start[0] & 0x0F, payload


def ping_barrier(connection, payload):
    """Ping and wait for the pong: the generator has read everything sent before the ping."""
    connection.sendall(server_frame(OPCODE_PING, payload))
    while True:
        frame = read_client_frame(connection)
        assert frame is not None, "the viewer closed before answering a ping"
        if frame == (OPCODE_PONG, payload):
            return


def send_in_pieces(connection, data, sizes=(1, 2, 3, 5, 8, 13, 997)):
    """``data`` in many small sends, so frame headers and message heads are cut at every place.

    The pause between sends is pacing, not waiting: it lets the generator read each piece alone
    (sent back to back, the pieces reach it as one read). Its counts must be the same either way.
    """
    position, turn = 0, 0
    while position < len(data):
        size = sizes[turn % len(sizes)]
        connection.sendall(data[position:position + size])
        position += size
        turn += 1
        time.sleep(PIECE_PACING_S)


def test_loadgen_counts_frames_gaps_and_latency_of_every_framing_case(loadgen_binary):
    """Split and joined frames, every length encoding, gaps, catch-up, pings, a close and a refusal
    are counted as loadgen.mjs counts them."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    loadgen = Loadgen(loadgen_binary, f"ws://127.0.0.1:{port}/view/scripted", viewers=3, concurrency=1)
    try:
        # concurrency 1: viewers connect in index order.
        streaming, lines = accept_viewer(listener)
        assert lines[0] == "GET /view/scripted HTTP/1.1"
        assert f"Host: 127.0.0.1:{port}" in lines and "Sec-WebSocket-Version: 13" in lines
        keys = [accept_handshake(streaming, lines)]
        closing, lines = accept_viewer(listener)
        keys.append(accept_handshake(closing, lines))
        assert keys[0] != keys[1]
        refused, _ = accept_viewer(listener)
        refused.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        refused.close()

        connected = loadgen.event("connected")
        assert (connected["opened"], connected["failed"]) == (2, 1)
        assert connected["errors"] == {"HTTP 403 Forbidden": 1}

        loadgen.send("start")
        ping_barrier(streaming, b"started")  # "start" was in the pipe before the ping was sent
        joined, frames, gaps, latencies, next_sequence = scripted_stream(100, time.time_ns() // 1000)
        streaming.sendall(joined)  # several messages per read
        pieces, more_frames, more_gaps, more_latencies, _ = scripted_stream(next_sequence, time.time_ns() // 1000)
        send_in_pieces(streaming, pieces)
        assert read_client_frame(streaming) == (OPCODE_PONG, b"hi")  # the first pass's ping
        ping_barrier(streaming, b"read all")

        closing.sendall(server_frame(OPCODE_CLOSE, struct.pack(">H", 1001) + b"going away"))
        assert read_client_frame(closing) == (OPCODE_CLOSE, struct.pack(">H", 1001))
        assert read_client_frame(closing) is None  # then it shut its side
        closing.close()
        ping_barrier(streaming, b"closed")  # the close was readable before this ping was sent

        loadgen.send("stop")
        result = loadgen.event("result")
    finally:
        loadgen.kill()
        listener.close()

    assert (result["viewers"], result["opened"], result["failed"], result["closedEarly"]) == (3, 2, 1, 1)
    assert result["framesPerViewer"] == [frames + more_frames, 0, 0]
    assert result["gapsPerViewer"] == [gaps + more_gaps, 0, 0]
    assert result["errors"] == {"HTTP 403 Forbidden": 1, "closed by relay": 1}
    assert result["latencyBucketUs"] == 100
    histogram = dict(result["latencyHistogram"])
    inside = {bucket: count for bucket, count in histogram.items() if 0 < bucket < LATENCY_BUCKETS}
    assert histogram.get(0) == latencies["zero"] + more_latencies["zero"]
    assert histogram.get(LATENCY_BUCKETS) == latencies["catch-all"] + more_latencies["catch-all"]
    assert sum(inside.values()) == latencies["inside"] + more_latencies["inside"]
    assert min(inside) >= CAPTURED_AGO_US // 100  # at least as old as they were made
    assert result["windowS"] > 0 and 0 <= result["eventLoopUtilization"] <= 1


# ---------------------------------------------------------------------------------------------
# A real relay.

def open_reference_viewer(port, path):
    """A blocking WebSocket viewer in this process, open once the 101 is read; (socket, bytes after it)."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT_S)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                       .encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = connection.recv(65536)
        assert chunk, "the relay closed the reference viewer's handshake"
        response += chunk
    head, rest = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return connection, rest


def reference_sequences(connection, pending):
    """The sequence of each binary message the reference viewer gets, as they come."""
    def fill(count):
        nonlocal pending
        while len(pending) < count:
            chunk = connection.recv(65536)
            assert chunk, "the relay closed the reference viewer"
            pending += chunk

    while True:
        fill(2)
        length, offset = pending[1] & 0x7F, 2
        if length >= 126:
            extra = 2 if length == 126 else 8
            fill(2 + extra)
            length = int.from_bytes(pending[2:2 + extra], "big")
            offset += extra
        fill(offset + length)
        opcode, payload = pending[0] & 0x0F, pending[offset:offset + length]
        pending = pending[offset + length:]
        if opcode == OPCODE_BINARY:
            yield HEAD.unpack_from(payload)[3]


def test_loadgen_viewers_of_a_real_relay_get_every_frame_in_order(loadgen_binary, programs):
    """Five generator viewers of a relay count about the frames a reference viewer gets, with no
    gaps and latencies inside the histogram."""
    relay = programs.relay()
    programs.push_source(relay.port)
    loadgen = Loadgen(loadgen_binary, f"ws://127.0.0.1:{relay.port}/view/default", viewers=5, concurrency=2)
    try:
        connected = loadgen.event("connected")
        assert (connected["opened"], connected["failed"]) == (5, 0), connected
        reference, pending = open_reference_viewer(relay.port, "/view/default")
        sequences = reference_sequences(reference, pending)
        next(sequences)  # the stream flows (the source wakes when someone watches)
        loadgen.send("start")
        seen = [next(sequences) for _ in range(WINDOW_FRAMES)]
        loadgen.send("stop")
        result = loadgen.event("result")
        reference.close()
    finally:
        loadgen.kill()

    assert seen == list(range(seen[0], seen[0] + WINDOW_FRAMES))  # the reference read the stream right
    assert (result["opened"], result["failed"], result["closedEarly"]) == (5, 0, 0)
    frames = result["framesPerViewer"]
    assert all(abs(count - WINDOW_FRAMES) <= WINDOW_FRAMES_SLACK for count in frames), frames
    assert result["gapsPerViewer"] == [0] * 5
    histogram = dict(result["latencyHistogram"])
    assert sum(histogram.values()) == sum(frames)
    # A misread capture time lands in bucket 0 (from the future) or the 10 s catch-all.
    assert 0 not in histogram and LATENCY_BUCKETS not in histogram, histogram
