"""Relay benchmark: frames/s, latency and CPU of the Python relay and a node.js `ws` relay, K viewers each.

For each relay and each K: start the relay, one publisher sending real classic frames (LZMA-coded,
the larger coding) at 30 fps, and a load generator holding K viewer WebSockets; once every viewer is
connected and a warm-up has passed, measure over a steady window: frames/s received per viewer (min / median),
latency from each frame's capture timestamp to its receipt (p50 / p99), and the relay's CPU.
Everything runs on 127.0.0.1 and on this machine's cores, so the load generator and the publisher take
CPU from the relay; their CPU is printed beside the relay's.

The load generator is bench/loadgen.c (``--loadgen c``, the default), built here with ``cc -O2`` into
bench/build/ when missing or older than its source; ``--loadgen node`` runs bench/loadgen.mjs, the
generator that made the README's relay tables. Both make one read per viewer-frame; the C one
spends almost none of its CPU outside the kernel, node about half (on a 2-core VM, K = 400-500:
~7 against ~11 µs per viewer-frame).

    python bench/relay.py                       # K = 500,1000,1500,2000, both relays, 10 s each
    python bench/relay.py --viewers 10,50 --duration 5 --relays node

Needs a C compiler (``--loadgen c``), and bench/node_modules (cd bench && npm ci) for the node relay
and ``--loadgen node``. Each run's first line and closing note say which generator made it.
``bench/relay.py --publish-to URL`` is the publisher the benchmark starts; it is not meant to be run by hand.
"""

import argparse
import json
import os
import queue
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from loadgens import KINDS as LOADGEN_KINDS, LoadgenBuildError, build_c_loadgen, loadgen_argv

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_RECORDING = REPO_DIR.parent / "shared" / "data" / "kinect1-raw-walkin"
STREAM_NAME = "bench"
TOKEN_ENV = "DEPTHCAM_RELAY_TOKEN"

FAKENECT_HEADER_BYTES = 17  # "P5 640 480 65535\n"
SENSOR_SHAPE = (480, 640)
SEQUENCE_OFFSET = 8  # FORMAT.md: u32 LE
CAPTURE_TIME_OFFSET = 12  # FORMAT.md: u64 LE, µs since the Unix epoch
FRAME_LENGTH = struct.Struct("<I")  # the publisher's frame file: length, then the frame

# What "every viewer keeps up" means in the closing line (issue 3).
KEEPS_UP_MIN_FPS = 29.0
KEEPS_UP_MAX_P99_MS = 100.0

# Other programs' CPU (% of one core) during a window above which its row is marked as disturbed.
BUSY_MACHINE_OTHER_CPU = 25.0

RELAY_START_TIMEOUT_S = 20.0
PUBLISHER_OPEN_TIMEOUT_S = 20.0
CONNECT_TIMEOUT_S = 90.0
RESULT_TIMEOUT_S = 20.0
STOP_GRACE_S = 3.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
LOADGEN_NAMES = {"c": "C (bench/loadgen.c)", "node": "node (bench/loadgen.mjs)"}


# ---------------------------------------------------------------------------------------------
# Publisher (a child process): one source connection, frames paced by LoopingCall.

def run_publisher(url, frames_file, fps):
    """Send the frames in ``frames_file`` in a loop to ``url`` at ``fps``, fresh capture times and sequences."""
    from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
    from twisted.internet import reactor, task

    frames = read_frames(frames_file)
    token = os.environ.get(TOKEN_ENV, "")
    state = {"sent": 0, "loop": None}

    class PublisherProtocol(WebSocketClientProtocol):
        def onOpen(self):
            print(json.dumps({"event": "open"}), flush=True)
            state["loop"] = task.LoopingCall(self.send_next)
            state["loop"].start(1 / fps, now=True)

        def send_next(self):
            message = frames[state["sent"] % len(frames)]
            struct.pack_into("<I", message, SEQUENCE_OFFSET, state["sent"] & 0xFFFFFFFF)
            struct.pack_into("<Q", message, CAPTURE_TIME_OFFSET, time.time_ns() // 1000)
            self.sendMessage(bytes(message), isBinary=True)
            state["sent"] += 1

        def onClose(self, wasClean, code, reason):
            print(json.dumps({"event": "closed", "code": code, "reason": reason, "sent": state["sent"]}),
                  file=sys.stderr, flush=True)
            if state["loop"] is not None and state["loop"].running:
                state["loop"].stop()
            if reactor.running:
                reactor.stop()

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    factory = WebSocketClientFactory(url, headers=headers)
    factory.protocol = PublisherProtocol
    factory.setProtocolOptions(perMessageCompressionOffers=[])
    connectWS(factory)
    reactor.run()


def read_frames(path):
    """The frames of a publisher frame file, as bytearrays the publisher rewrites in place."""
    data = Path(path).read_bytes()
    frames, offset = [], 0
    while offset < len(data):
        (length,) = FRAME_LENGTH.unpack_from(data, offset)
        offset += FRAME_LENGTH.size
        frames.append(bytearray(data[offset:offset + length]))
        offset += length
    return frames


def encode_frames(recording, first, count):
    """``count`` classic frames from the fakenect recording, starting at file ``first``: a keyframe, then deltas.

    Two frames before ``first`` prime the temporal median, so the first frames are full-size.
    """
    import numpy as np

    from depthcam.codec import ClassicEncoder, DepthFrame, DepthUnits

    paths = sorted(Path(recording).glob("d-*.pgm"))
    if len(paths) < first + count:
        raise SystemExit(f"{recording}: {len(paths)} d-*.pgm frames, need {first + count}")
    encoder = ClassicEncoder(keyframe_interval=count)  # LZMA coding; keyframes stay every `count` frames when looped
    messages = []
    for index in range(max(0, first - 2), first + count):
        pixels = Path(paths[index]).read_bytes()[FAKENECT_HEADER_BYTES:]
        depth = np.frombuffer(pixels, "<u2").reshape(SENSOR_SHAPE)
        if index == first:
            encoder.request_keyframe()
        message = encoder.encode(DepthFrame(depth, DepthUnits.RAW_DISPARITY, 0.0))
        if index >= first:
            messages.append(message)
    return messages


# ---------------------------------------------------------------------------------------------
# Child processes.

@dataclass
class Child:
    """A child process in its own process group, its stdout read line by line on a thread."""

    name: str
    process: subprocess.Popen
    log_path: Path
    lines: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, name, argv, log_dir, env=None, stdin=False):
        log_path = log_dir / f"{name}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env=env, cwd=REPO_DIR, start_new_session=True,
        )
        log.close()
        child = cls(name, process, log_path)
        threading.Thread(target=child._read_stdout, daemon=True).start()
        return child

    def _read_stdout(self):
        for raw in self.process.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def wait_for_event(self, event, timeout_s):
        """The first JSON line on stdout whose ``event`` is ``event``; raise BenchError on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{self.name}: no '{event}' within {timeout_s:.0f} s\n{self.log_tail()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise BenchError(f"{self.name} exited ({self.process.wait()}) before '{event}'\n{self.log_tail()}")
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("event") == event:
                return message

    def send_line(self, text):
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def cpu_seconds(self):
        """utime + stime of the process so far, from /proc/<pid>/stat."""
        return sum(self.user_system_seconds())

    def user_system_seconds(self):
        """(utime, stime) so far of the process and every process of its session (relay workers,
        a bus pair's redis-server and relays): fields 14 and 15 of /proc/<pid>/stat (proc(5))."""
        user = system = 0
        for stat_path in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_path.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended meanwhile
            if int(fields[3]) == self.process.pid:  # its session: start_new_session made it the leader
                user += int(fields[11])
                system += int(fields[12])
        return user / CLOCK_TICKS_PER_S, system / CLOCK_TICKS_PER_S

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        """SIGTERM the process group, SIGKILL it if still there after STOP_GRACE_S."""
        for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # the group may outlive its leader
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines=15):
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"  {self.name}| {line}" for line in text[-lines:])


class BenchError(Exception):
    """A run could not be measured (a child failed or timed out); the message says which."""


def machine_busy_seconds():
    """CPU seconds all cores have spent busy since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / CLOCK_TICKS_PER_S  # user..steal; guest is inside user


def wait_for_quiet_machine(max_wait_s, sample_s=1.0, quiet_samples=3):
    """Wait (at most ``max_wait_s``) until other programs use under BUSY_MACHINE_OTHER_CPU for a few seconds."""
    deadline = time.monotonic() + max_wait_s
    quiet = 0
    while quiet < quiet_samples and time.monotonic() < deadline:
        before = machine_busy_seconds()
        time.sleep(sample_s)
        busy_percent = 100 * (machine_busy_seconds() - before) / sample_s
        quiet = quiet + 1 if busy_percent < BUSY_MACHINE_OTHER_CPU else 0
    return quiet >= quiet_samples


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, child, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise BenchError(f"{child.name} exited ({child.process.returncode})\n{child.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{child.name}: port {port} not open within {timeout_s:.0f} s\n{child.log_tail()}")


# ---------------------------------------------------------------------------------------------
# Relays.

class PythonRelay:
    """``python -m depthcam.relay``, with its viewer limits raised for K viewers from one address."""

    name = "python"

    def __init__(self, options):
        self.command = shlex.split(options.python_relay_cmd.replace("{python}", sys.executable))
        self.options = options
        self._flags = None

    def flags(self):
        """The flags ``--help`` lists, so the bench passes only the ones this relay has."""
        if self._flags is None:
            completed = subprocess.run(
                self.command + ["--help"], capture_output=True, text=True, cwd=REPO_DIR, timeout=30,
            )
            if completed.returncode != 0:
                raise BenchError(f"{' '.join(self.command)} --help failed ({completed.returncode}):\n"
                                 f"{completed.stderr[-2000:]}")
            help_text = completed.stdout
            self._flags = {word.rstrip(",=") for word in help_text.split() if word.startswith("--")}
        return self._flags

    def argv(self, port, viewers, token_file):
        flags = self.flags()
        argv = self.command + ["--port", str(port)]
        wanted = {
            "--host": "127.0.0.1",
            "--token-file": str(token_file),
            "--max-viewers": str(viewers + 100),
            "--max-viewers-per-stream": str(viewers + 100),
            # Every bench viewer comes from 127.0.0.1.
            "--max-connections-per-address": str(viewers + 100),
            "--max-handshakes-per-address": str(viewers + 100),
        }
        if self.options.max_unsent_bytes is not None:
            wanted["--max-unsent-bytes"] = str(self.options.max_unsent_bytes)
        for flag, value in wanted.items():
            if flag in flags:
                argv += [flag, value]
        return argv + self.options.python_relay_arg

    def stats(self, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
                return json.load(response)
        except (OSError, ValueError):
            return None


class WorkersRelay(PythonRelay):
    """The Python relay with ``--workers N`` (bench ``--workers``), joined by its local hub."""

    def __init__(self, options):
        super().__init__(options)
        self.name = f"python {options.workers} workers"

    def argv(self, port, viewers, token_file):
        return super().argv(port, viewers, token_file) + ["--workers", str(self.options.workers)]


class BusPairRelay(PythonRelay):
    """Two Python relays joined through a real redis-server: the publisher pushes to relay A, the
    viewers watch relay B, so every frame crosses the Redis hop (bench ``--bus``)."""

    name = "2 relays via redis"

    def argv(self, port, viewers, token_file):
        relay_argv = super().argv(0, viewers, token_file)[len(self.command):]
        relay_argv = relay_argv[2:]  # without the --port 0
        self.source_port = free_port()
        return [sys.executable, str(Path(__file__).resolve()), "--run-bus-pair",
                f"{self.source_port},{port},{free_port()}", "--bus-pair-relay-args",
                json.dumps(self.command + relay_argv)]


def run_bus_pair(ports, relay_argv):
    """A redis-server and two relays joined through it (ports: source relay, viewer relay, redis);
    they share this process's session, so stopping the session stops them all."""
    source_port, viewer_port, redis_port = (int(p) for p in ports.split(","))
    redis_server = shutil.which("redis-server") or "redis-server"
    bus = f"redis://127.0.0.1:{redis_port}/0"
    children = [subprocess.Popen([redis_server, "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)]
    time.sleep(0.5)
    for port in (source_port, viewer_port):
        children.append(subprocess.Popen(relay_argv + ["--port", str(port), "--bus", bus]))
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for child in children:
        child.terminate()


class DirectSource(PythonRelay):
    """``depthcam-source serve`` (direct mode): the recording encoded in-process as classic-lzma (the
    coding of the relay's frames) and sent by the same broadcast core; there is no publisher. Its
    CPU includes the encoder's, a fixed cost per frame: compare the marginal column."""

    name = "direct"
    needs_publisher = False

    def __init__(self, options):
        super().__init__(options)
        self.command = [sys.executable, "-m", "depthcam.source", "serve"]

    def argv(self, port, viewers, token_file):
        return self.command + [
            "--host", "127.0.0.1", "--port", str(port), "--fps", f"{self.options.fps:g}",
            "--device", f"fakenect:{self.options.recording}", "--loop", "--profile", "classic-lzma",
            # Every bench viewer comes from 127.0.0.1.
            "--max-connections-per-address", str(viewers + 100),
            "--max-handshakes-per-address", str(viewers + 100),
        ]


class NodeRelay:
    """bench/node_relay.mjs: the 2012 original's shape, broadcast to every viewer."""

    name = "node"

    def __init__(self, options):
        self.options = options

    def argv(self, port, viewers, token_file):
        return [self.options.node, str(BENCH_DIR / "node_relay.mjs"), "--port", str(port), "--host", "127.0.0.1"]

    def stats(self, port):
        return None


# ---------------------------------------------------------------------------------------------
# One measurement.

@dataclass
class RunResult:
    relay: str
    viewers: int
    connected: int = 0
    fps_min: float = 0.0
    fps_median: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    gaps: int = 0
    closed: int = 0
    relay_cpu: float = float("nan")
    loadgen_cpu: float = float("nan")
    loadgen_busy: float = float("nan")
    publisher_cpu: float = float("nan")
    other_cpu: float = float("nan")
    error: str = ""
    details: dict = field(default_factory=dict)

    @property
    def keeps_up(self):
        return (not self.error and self.connected == self.viewers and self.closed == 0
                and self.fps_min >= KEEPS_UP_MIN_FPS and self.p99_ms < KEEPS_UP_MAX_P99_MS)


def percentile_ms(histogram, bucket_us, total, fraction):
    """The latency (ms, bucket middle) below which ``fraction`` of the frames fall."""
    needed = fraction * total
    running = 0
    for bucket, count in histogram:
        running += count
        if running >= needed:
            return (bucket + 0.5) * bucket_us / 1000
    return float("nan")


def measure(relay, viewers, options, frames_file, work_dir, log_dir):
    """One relay at one K: start it, the publisher and the load generators, measure, stop them all."""
    result = RunResult(relay.name, viewers)
    port = free_port()
    token = secrets.token_hex(16)
    token_file = work_dir / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    env = dict(os.environ, **{TOKEN_ENV: token})
    log_dir.mkdir(parents=True, exist_ok=True)
    children = []
    try:
        relay_child = Child.start("relay", relay.argv(port, viewers, token_file), log_dir, env=env)
        children.append(relay_child)
        source_port = getattr(relay, "source_port", port)  # a bus pair: the publisher's relay
        wait_for_port(port, relay_child, RELAY_START_TIMEOUT_S)
        wait_for_port(source_port, relay_child, RELAY_START_TIMEOUT_S)

        if getattr(relay, "needs_publisher", True):
            publisher = Child.start("publisher", [
                sys.executable, str(Path(__file__).resolve()), "--publish-to",
                f"ws://127.0.0.1:{source_port}/source/{STREAM_NAME}", "--frames-file", str(frames_file),
                "--fps", str(options.fps),
            ], log_dir, env=env)
            children.append(publisher)
            publisher.wait_for_event("open", PUBLISHER_OPEN_TIMEOUT_S)

        shares = [viewers // options.loadgen_procs + (i < viewers % options.loadgen_procs)
                  for i in range(options.loadgen_procs)]
        loadgens = []
        for index, share in enumerate(s for s in shares if s):
            loadgen = Child.start(f"loadgen{index}", loadgen_argv(
                options.loadgen, f"ws://127.0.0.1:{port}/view/{STREAM_NAME}", share, options.concurrency,
                client=options.loadgen_client, node=options.node,
            ), log_dir, stdin=True)
            children.append(loadgen)
            loadgens.append(loadgen)
        for loadgen in loadgens:
            connected = loadgen.wait_for_event("connected", CONNECT_TIMEOUT_S)
            result.connected += connected["opened"]
            result.details.setdefault("connect", []).append(connected)
            if connected["failed"]:
                print(f"  {relay.name:6} K={viewers:<5} {connected['failed']} viewers not connected: "
                      f"{connected['errors']}", file=sys.stderr, flush=True)

        time.sleep(options.warmup)  # catch-up frames and the ramp's backlog drain here
        for child in children:
            if not child.alive():
                raise BenchError(f"{child.name} exited ({child.process.returncode})\n{child.log_tail()}")

        started = time.monotonic()
        split_before = {child.name: child.user_system_seconds() for child in children}
        cpu_before = {name: sum(split) for name, split in split_before.items()}
        machine_before = machine_busy_seconds()
        for loadgen in loadgens:
            loadgen.send_line("start")
        time.sleep(options.duration)
        for loadgen in loadgens:
            loadgen.send_line("stop")
        split_after = {child.name: child.user_system_seconds() for child in children}
        cpu_after = {name: sum(split) for name, split in split_after.items()}
        machine_after = machine_busy_seconds()
        window_s = time.monotonic() - started

        def cpu_percent(names):
            return 100 * sum(cpu_after[n] - cpu_before[n] for n in names) / window_s

        result.relay_cpu = cpu_percent(["relay"])
        result.details["cpu_user_system_percent"] = {
            name: [round(100 * (after - before) / window_s, 1)
                   for before, after in zip(split_before[name], split_after[name])]
            for name in split_after
        }
        result.publisher_cpu = cpu_percent([c.name for c in children if c.name == "publisher"])
        result.loadgen_cpu = cpu_percent([loadgen.name for loadgen in loadgens])
        # Whatever else ran on the machine meanwhile (other people's tests, say) took CPU from the relay.
        result.other_cpu = max(0.0, 100 * (machine_after - machine_before) / window_s
                               - cpu_percent([child.name for child in children]))
        result.details["stats"] = relay.stats(port)

        reports = [loadgen.wait_for_event("result", RESULT_TIMEOUT_S) for loadgen in loadgens]
        fps, histogram = [], {}
        for report in reports:
            fps += [frames / report["windowS"] for frames in report["framesPerViewer"]]
            fps += [0.0] * report["failed"]
            result.gaps += sum(report["gapsPerViewer"])
            result.closed += report["closedEarly"]
            for bucket, count in report["latencyHistogram"]:
                histogram[bucket] = histogram.get(bucket, 0) + count
            if report["errors"]:
                result.details.setdefault("errors", {}).update(report["errors"])
        result.loadgen_busy = max(report["eventLoopUtilization"] or 0.0 for report in reports)
        result.fps_min = min(fps) if fps else 0.0
        result.fps_median = statistics.median(fps) if fps else 0.0
        ordered = sorted(histogram.items())
        total = sum(histogram.values())
        bucket_us = reports[0]["latencyBucketUs"]
        if total:
            result.p50_ms = percentile_ms(ordered, bucket_us, total, 0.50)
            result.p99_ms = percentile_ms(ordered, bucket_us, total, 0.99)
            result.max_ms = (ordered[-1][0] + 0.5) * bucket_us / 1000
    except BenchError as error:
        result.error = str(error)
    finally:
        for child in reversed(children):
            child.stop()
    return result


# ---------------------------------------------------------------------------------------------
# Report.

def format_table(results):
    head = ("| relay | K viewers | connected | frames/s per viewer min / median | latency p50 / p99 ms "
            "| relay CPU % | relay CPU µs per viewer-frame | loadgen CPU % (busy) | publisher CPU % | other CPU % | seq gaps | closed |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.relay} | {r.viewers} | failed: {r.error.splitlines()[0]} | | | | | | | | | |")
            continue
        lines.append(
            f"| {r.relay} | {r.viewers} | {r.connected} | {r.fps_min:.1f} / {r.fps_median:.1f} "
            f"| {r.p50_ms:.1f} / {r.p99_ms:.1f} | {r.relay_cpu:.0f} | {cpu_per_viewer_frame_us(r):.1f} "
            f"| {r.loadgen_cpu:.0f} ({r.loadgen_busy:.0%}) | {r.publisher_cpu:.0f} "
            f"| {r.other_cpu:.0f}{' ⚠' if r.other_cpu > BUSY_MACHINE_OTHER_CPU else ''} | {r.gaps} | {r.closed} |"
        )
    return "\n".join(lines)


def cpu_per_viewer_frame_us(result):
    """Relay CPU (all its processes) per frame delivered to a viewer, in µs."""
    delivered_per_s = result.connected * result.fps_median
    return 1e4 * result.relay_cpu / delivered_per_s if delivered_per_s else float("nan")


def redis_hop_lines(results):
    """What the Redis hop adds to latency: the bus pair's p50/p99 minus one relay's, at each K both ran."""
    single = {r.viewers: r for r in results if r.relay == PythonRelay.name and not r.error}
    lines = []
    for r in results:
        if r.relay == BusPairRelay.name and not r.error and r.viewers in single:
            base = single[r.viewers]
            lines.append(f"- Redis hop at K = {r.viewers}: p50 +{r.p50_ms - base.p50_ms:.1f} ms, "
                         f"p99 +{r.p99_ms - base.p99_ms:.1f} ms (2 relays via redis vs 1 relay, same run)")
    return lines


def marginal_cpu_per_viewer_frame_us(result, previous):
    """CPU one more viewer-frame cost between the previous K and this one (same relay, same run):
    fixed costs (an in-process encoder, the publisher's connection) cancel out."""
    if previous is None:
        return float("nan")
    delivered = result.connected * result.fps_median - previous.connected * previous.fps_median
    return 1e4 * (result.relay_cpu - previous.relay_cpu) / delivered if delivered > 0 else float("nan")


def format_ratio_table(results, baseline="node"):
    """CPU per viewer-frame of each relay, and as a ratio to ``baseline``'s at the same K (same run);
    also the marginal cost between successive K, and its ratio."""
    ok = [r for r in results if not r.error]
    previous = {}
    marginal = {}
    for r in ok:
        marginal[id(r)] = marginal_cpu_per_viewer_frame_us(r, previous.get(r.relay))
        previous[r.relay] = r
    base = {r.viewers: r for r in ok if r.relay == baseline}
    lines = ["| relay | K viewers | CPU per viewer-frame µs | ratio to node's "
             "| marginal µs (from the previous K) | marginal ratio to node's |",
             "|---|---:|---:|---:|---:|---:|"]

    def cell(value):
        return "–" if value != value else f"{value:.2f}"  # NaN: not measured

    for r in ok:
        cost = cpu_per_viewer_frame_us(r)
        other = base.get(r.viewers)
        ratio = cost / cpu_per_viewer_frame_us(other) if other else float("nan")
        margin = marginal[id(r)]
        margin_ratio = margin / marginal[id(other)] if other else float("nan")
        lines.append(f"| {r.relay} | {r.viewers} | {cost:.2f} | {cell(ratio)} | {cell(margin)} "
                     f"| {cell(margin_ratio)} |")
    return "\n".join(lines)


def largest_keeping_up(results, relay_name, tested):
    """The closing sentence for one relay: the largest K at which every viewer kept up."""
    ran = [r for r in results if r.relay == relay_name]
    passing = [r.viewers for r in ran if r.keeps_up]
    if not passing:
        return f"- {relay_name}: no tested K (of {tested}) had every viewer at ≥ {KEEPS_UP_MIN_FPS:g} frames/s with p99 < {KEEPS_UP_MAX_P99_MS:g} ms"
    best = max(passing)
    failing_above = sorted(r.viewers for r in ran if not r.keeps_up and r.viewers > best)
    tail = f" (fails at K = {failing_above[0]})" if failing_above else " (the largest K tested)"
    return (f"- {relay_name}: largest K with every viewer at ≥ {KEEPS_UP_MIN_FPS:g} frames/s and "
            f"p99 < {KEEPS_UP_MAX_P99_MS:g} ms: **{best}**{tail}")


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Every process runs on 127.0.0.1 on this machine, so the load generator and the publisher "
               "share the CPU cores with the relay; their CPU % is printed beside the relay's.",
    )
    parser.add_argument("--viewers", default="500,1000,1500,2000",
                        help="comma-separated viewer counts K to run (default: %(default)s)")
    parser.add_argument("--relays", default="python,node",
                        help="comma-separated relays to run: python, workers (python --workers), bus "
                             "(2 relays via redis), direct (depthcam-source serve, no relay), node "
                             "(default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="measuring window per run, seconds (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds between the last viewer connecting and the window (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=30.0, help="publisher frames/s (default: %(default)s)")
    parser.add_argument("--recording", type=Path, default=DEFAULT_RECORDING,
                        help="fakenect recording folder the frames come from (default: %(default)s)")
    parser.add_argument("--first-frame", type=int, default=60,
                        help="first recording frame used, 0-based; 60 is where the person fills the view, "
                             "giving 2-4 KB frames (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=60,
                        help="frames pre-encoded and looped: one keyframe then deltas (default: %(default)s)")
    parser.add_argument("--loadgen", choices=LOADGEN_KINDS, default="c",
                        help="load generator: c (bench/loadgen.c, built with cc -O2 into bench/build/ when "
                             "missing or older than its source; ~7 µs of CPU per viewer-frame on a 2-core VM, nearly all "
                             "of it the kernel's) or node (bench/loadgen.mjs, ~11 µs) (default: %(default)s)")
    parser.add_argument("--loadgen-procs", type=int, default=1,
                        help="load-generator processes the K viewers are split across (default: %(default)s)")
    parser.add_argument("--loadgen-client", choices=("raw", "ws"), default="raw",
                        help="viewer client in the load generator: raw (minimal, cheapest) or ws (the ws "
                             "package, as a check; --loadgen node only) (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="viewer handshakes in flight at once per load generator (default: %(default)s)")
    parser.add_argument("--max-unsent-bytes", type=int, default=None,
                        help="passed to the Python relay's --max-unsent-bytes, bytes (default: the relay's own)")
    parser.add_argument("--python-relay-cmd", default="{python} -m depthcam.relay",
                        help="command that starts the Python relay; {python} is this interpreter "
                             "(e.g. '{python} -m cProfile -o relay.prof -m depthcam.relay') (default: %(default)s)")
    parser.add_argument("--python-relay-arg", action="append", default=[],
                        help="extra argument for the Python relay, e.g. --python-relay-arg=--stuck-timeout=60 "
                             "(repeat for each)")
    parser.add_argument("--node", default=shutil.which("node") or "node", help="node.js binary (default: %(default)s)")
    parser.add_argument("--quiet-wait", type=float, default=10.0,
                        help="before each run, wait up to this many seconds for other programs to leave the CPU "
                             "alone (0: don't wait) (default: %(default)s)")
    parser.add_argument("--retries", type=int, default=0,
                        help="runs again a run that other programs disturbed (more than "
                             f"{BUSY_MACHINE_OTHER_CPU:g} %% of a core), up to this many times (default: %(default)s)")
    parser.add_argument("--log-dir", type=Path,
                        help="keep each child's stderr here, one folder per run (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write every run's numbers to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print each run's connect report, errors, user/system CPU split and /stats")
    parser.add_argument("--workers", type=int, default=2,
                        help="workers of the 'workers' relay (python --workers N) (default: %(default)s)")
    parser.add_argument("--bus", action="store_true",
                        help="add the 'bus' relay: two Python relays joined through a redis-server this "
                             "bench starts (publisher on one, viewers on the other); same as adding "
                             "bus to --relays")
    parser.add_argument("--run-bus-pair", help=argparse.SUPPRESS)
    parser.add_argument("--bus-pair-relay-args", help=argparse.SUPPRESS)
    parser.add_argument("--publish-to", help=argparse.SUPPRESS)
    parser.add_argument("--frames-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    options = parse_args(argv)
    if options.publish_to:
        run_publisher(options.publish_to, options.frames_file, options.fps)
        return 0
    if options.run_bus_pair:
        run_bus_pair(options.run_bus_pair, json.loads(options.bus_pair_relay_args))
        return 0
    if options.loadgen == "c":
        if options.loadgen_client != "raw":
            raise SystemExit("--loadgen-client ws needs --loadgen node (the C generator has the raw client only)")
        try:
            build_c_loadgen()
        except LoadgenBuildError as error:
            raise SystemExit(str(error)) from error

    viewer_counts = [int(k) for k in options.viewers.split(",") if k.strip()]
    relay_types = {"python": PythonRelay, "workers": WorkersRelay, "bus": BusPairRelay,
                   "direct": DirectSource, "node": NodeRelay}
    names = [name.strip() for name in options.relays.split(",") if name.strip()]
    if options.bus and "bus" not in names:
        names.append("bus")
    if ("node" in names or options.loadgen == "node") and not (BENCH_DIR / "node_modules" / "ws").is_dir():
        raise SystemExit("bench/node_modules/ws is missing: run (cd bench && npm ci)")
    try:
        relays = [relay_types[name](options) for name in names]
    except KeyError as error:
        raise SystemExit(f"unknown relay {error}; choose from {', '.join(relay_types)}") from error

    # A SIGTERM (say, from make) unwinds like Ctrl-C, so every child's process group is stopped.
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)

    results = []
    with tempfile.TemporaryDirectory(prefix="depthcam-bench-relay-") as work:
        work_dir = Path(work)
        messages = encode_frames(options.recording, options.first_frame, options.frames)
        frames_file = work_dir / "frames.bin"
        frames_file.write_bytes(b"".join(FRAME_LENGTH.pack(len(m)) + m for m in messages))
        sizes = sorted(len(m) for m in messages)
        print(f"frames: {len(messages)} classic frames from {options.recording.name} "
              f"(files {options.first_frame}-{options.first_frame + len(messages) - 1}), "
              f"{sizes[0]}-{sizes[-1]} bytes, median {sizes[len(sizes) // 2]}; "
              f"{options.fps:g} frames/s; window {options.duration:g} s after {options.warmup:g} s warm-up; "
              f"{os.cpu_count()} CPU cores shared by relay, publisher and load generator "
              f"({LOADGEN_NAMES[options.loadgen]})", flush=True)
        try:
            for relay in relays:
                for viewers in viewer_counts:
                    for attempt in range(1 + options.retries):
                        if options.quiet_wait > 0:
                            wait_for_quiet_machine(options.quiet_wait)
                        log_dir = (options.log_dir or work_dir) / f"{relay.name}-{viewers}-try{attempt}"
                        result = measure(relay, viewers, options, frames_file, work_dir, log_dir)
                        if result.error or result.other_cpu <= BUSY_MACHINE_OTHER_CPU:
                            break
                        print(f"  {relay.name:6} K={viewers:<5} disturbed by other programs "
                              f"({result.other_cpu:.0f} % CPU); "
                              + ("again" if attempt < options.retries else "keeping it"), file=sys.stderr, flush=True)
                    results.append(result)
                    status = "failed" if result.error else (
                        f"min {result.fps_min:.1f} fps, p99 {result.p99_ms:.1f} ms, relay CPU {result.relay_cpu:.0f} %")
                    print(f"  {relay.name:6} K={viewers:<5} {status}", file=sys.stderr, flush=True)
                    if result.error:
                        print(result.error, file=sys.stderr, flush=True)
                    if options.verbose:
                        print(json.dumps(result.details, indent=1, default=str)[:4000], file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("interrupted; results so far:", file=sys.stderr)

    print()
    print(format_table(results))
    print()
    print(format_ratio_table(results))
    print()
    print(f"Each run: the relay, one publisher at {options.fps:g} frames/s and {options.loadgen_procs} "
          f"{LOADGEN_NAMES[options.loadgen]} load generator(s) share this {os.cpu_count()}-core machine on 127.0.0.1, so CPU the generator used is CPU "
          "the relay did not get. CPU % is of one core. loadgen busy = the fraction of the window it was not "
          "waiting for input (node's event-loop utilization; for C, outside epoll_wait) (near 100 %: the "
          "generator, not the relay, may be the limit). other = the rest of the machine during the window "
          "(other programs, interrupts): when it is large, rerun on a quiet machine. Latency = receipt time − the "
          "frame's capture_time_us, one clock. seq gaps = frames viewers never got; closed = viewers the relay "
          "closed during the run.")
    disturbed = [r for r in results if r.other_cpu > BUSY_MACHINE_OTHER_CPU]
    if disturbed:
        print()
        print(f"⚠ {len(disturbed)} run(s) shared the machine with more than {BUSY_MACHINE_OTHER_CPU:g} % of a core of "
              "other work: their latency and CPU figures are not the relay's alone.")
    print()
    for relay in relays:
        print(largest_keeping_up(results, relay.name, options.viewers))
    for line in redis_hop_lines(results):
        print(line)
    if options.json:
        options.json.write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
