"""The worker supervisor: N relay processes on one port, restarted when they die.

``depthcam-relay --workers N`` (``auto``: one per core) starts N copies of itself, each a whole
relay listening on the same address with ``SO_REUSEPORT``, so the kernel spreads new connections
over them. Viewers and sources may land on any worker; the workers join their streams through
``--bus`` (Redis) when it is given, else through a local hub (``hub.py``) that the supervisor
runs on a Unix socket, so nothing else has to be installed.

A worker that exits is started again after ``RESTART_DELAY_S`` (doubling, up to
``MAX_RESTART_DELAY_S``, while it keeps dying young); its viewers' and sources' connections died
with it, and clients reconnect by themselves (the browser client and ``depthcam-source push`` do),
landing on the workers that are alive. The supervisor prints the relay's ready line once every
worker listens; on SIGTERM or SIGINT it stops the workers and waits for them.
"""

import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer, protocol
from twisted.logger import Logger

log = Logger(namespace="depthcam.relay.workers")

WORKER_READY = b"relay on http"  # http:// or https://


def worker_count(text):
    """The number of workers ``--workers`` asks for: a positive integer, or ``auto`` (one per core)."""
    if text == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    value = int(text)
    if value <= 0:
        raise ValueError(f"{text} is not a positive number of workers")
    return value


def reuse_port_socket(host, port):
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listen_reuse_port(reactor, host, port, factory, backlog=1024):
    """Listen with ``factory`` on (host, port) beside other processes bound there with SO_REUSEPORT."""
    sock = reuse_port_socket(host, port)
    sock.listen(backlog)
    sock.setblocking(False)
    try:
        return reactor.adoptStreamPort(sock.fileno(), sock.family, factory)
    finally:
        sock.close()  # adoptStreamPort took a copy of the descriptor


class _SupervisorGone(protocol.Protocol):
    """A worker's stdin, the supervisor's pipe: when it closes, the supervisor is gone, so stop."""

    def __init__(self, reactor):
        self._reactor = reactor

    def connectionLost(self, reason):
        log.info("the supervisor is gone; stopping")
        if self._reactor.running:
            self._reactor.stop()


def stop_with_supervisor(reactor):
    """In a worker: stop once the supervisor's pipe on stdin closes (even if it was SIGKILLed)."""
    from twisted.internet import stdio

    stdio.StandardIO(_SupervisorGone(reactor), reactor=reactor)


class _WorkerProcess(protocol.ProcessProtocol):
    """One worker: its output goes to the supervisor's, marked with its number."""

    def __init__(self, supervisor, index):
        self.supervisor = supervisor
        self.index = index
        self.ended = defer.Deferred()
        self._partial = b""

    def outReceived(self, data):
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        # Straight to the supervisor's own stderr: the global log publisher has replaced sys.stderr.
        out = sys.__stderr__.buffer
        for line in lines:
            out.write(b"[worker %d] %s\n" % (self.index, line))
            if WORKER_READY in line:
                self.supervisor.worker_ready(self.index)
        out.flush()

    errReceived = outReceived

    def processEnded(self, reason):
        self.supervisor.worker_ended(self, reason.value)
        self.ended.callback(None)


class Supervisor:
    """Starts ``count`` workers with ``worker_argv(index)``, restarts those that end, stops them all."""

    RESTART_DELAY_S = 0.5
    MAX_RESTART_DELAY_S = 10.0
    # A worker that lived less than this before dying is "dying young": the delay doubles.
    HEALTHY_AFTER_S = 10.0

    def __init__(self, reactor, count, worker_argv, on_all_ready):
        self._reactor = reactor
        self.count = count
        self._worker_argv = worker_argv
        self._on_all_ready = on_all_ready
        self._ready = set()
        self._announced = False
        self._stopping = False
        self.processes = {}
        self._started_at = {}
        self._delay = {}
        self.restarts = 0

    def start(self):
        for index in range(self.count):
            self._spawn(index)

    def worker_ready(self, index):
        self._ready.add(index)
        if not self._announced and len(self._ready) == self.count:
            self._announced = True
            self._on_all_ready()

    def worker_ended(self, worker, reason):
        index = worker.index
        if self.processes.get(index) is worker:
            del self.processes[index]
        self._ready.discard(index)
        if self._stopping:
            return
        lived = self._reactor.seconds() - self._started_at[index]
        delay = self._delay.get(index, self.RESTART_DELAY_S)
        delay = self.RESTART_DELAY_S if lived >= self.HEALTHY_AFTER_S else delay
        self._delay[index] = min(delay * 2, self.MAX_RESTART_DELAY_S)
        self.restarts += 1
        log.warn("worker {index} ended ({reason}); starting it again in {delay} s",
                 index=index, reason=reason, delay=delay)
        self._reactor.callLater(delay, self._spawn, index)

    def stop(self, timeout_s=5.0):
        """SIGTERM every worker; the Deferred fires once all ended (SIGKILL after ``timeout_s``)."""
        self._stopping = True
        workers = list(self.processes.values())
        for worker in workers:
            self._signal(worker, signal.SIGTERM)
        kill = self._reactor.callLater(timeout_s, lambda: [self._signal(w, signal.SIGKILL) for w in workers])
        done = defer.DeferredList([worker.ended for worker in workers])
        done.addBoth(lambda _: kill.active() and kill.cancel())
        return done

    def _signal(self, worker, signum):
        try:
            worker.transport.signalProcess(signum)
        except Exception:
            pass  # it ended already

    def _spawn(self, index):
        if self._stopping:
            return
        worker = _WorkerProcess(self, index)
        argv = self._worker_argv(index)
        self._started_at[index] = self._reactor.seconds()
        self.processes[index] = worker
        self._reactor.spawnProcess(worker, argv[0], argv, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                   childFDs={0: "w", 1: "r", 2: "r"})


def run_supervisor(config, argv, reactor):
    """Run ``config.workers`` workers of the relay command line ``argv`` until told to stop."""
    from depthcam.relay.hub import HubFactory

    count = config.workers
    # Hold the port (bound, not listening, so it takes no connections) while workers come and go;
    # with port 0 this also picks the port every worker then binds.
    reserved = reuse_port_socket(config.host, config.port)
    port = reserved.getsockname()[1]
    extra = ["--workers", "1", "--port", str(port), "--reuse-port", "--worker"]
    folder = None
    if config.bus is None:
        folder = tempfile.TemporaryDirectory(prefix="depthcam-hub-")
        hub_path = Path(folder.name) / "hub.sock"
        reactor.listenUNIX(str(hub_path), HubFactory(), mode=0o600)
        extra += ["--worker-hub", str(hub_path)]

    def worker_argv(index):
        # One feed per stream: worker 0 watches the upstream, the others get it over the bus
        # (each watching it would take the stream from the others in turn: newest source wins).
        upstream_off = ["--upstream", ""] if index and config.upstream else []
        return [sys.executable, "-m", "depthcam.relay", *argv, *extra, *upstream_off]

    def all_ready():
        log.info("relay on {scheme}://{host}:{port}/ ({count} workers, joined through {bus})",
                 scheme="https" if config.tls_cert else "http", host=config.host, port=port, count=count,
                 bus="the local hub" if config.bus is None else "the bus")

    supervisor = Supervisor(reactor, count, worker_argv, all_ready)
    reactor.addSystemEventTrigger("before", "shutdown", supervisor.stop)
    reactor.callWhenRunning(supervisor.start)
    reactor.run()
    reserved.close()
    if folder is not None:
        folder.cleanup()
