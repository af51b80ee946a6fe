"""Run the source's programs as real processes in tests, and wait on what they print."""

import os
import sys

from twisted.internet import defer, protocol, reactor

from tests.source.viewers import within


class ProgramRun(protocol.ProcessProtocol):
    """A process: its output so far, Deferreds for text it prints, and one for its exit status."""

    def __init__(self):
        self.stdout = self.stderr = b""
        self.ended = defer.Deferred()  # fires with the exit status
        self._waiting = []  # (bytes, Deferred)

    def printed(self, text, seconds=30):
        """A Deferred that fires once ``text`` (bytes) has appeared on stdout."""
        waiting = defer.Deferred()
        self._waiting.append((text, waiting))
        self._check()
        return within(waiting, seconds, f"{text!r} on the program's stdout")

    def _check(self):
        for entry in list(self._waiting):
            if entry[0] in self.stdout:
                self._waiting.remove(entry)
                entry[1].callback(self.stdout)

    def outReceived(self, data):
        self.stdout += data
        self._check()

    def errReceived(self, data):
        self.stderr += data

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)


def run_module(module, *args, env=None, use_pty=False):
    """Start ``python -m module args`` with this environment plus ``env``."""
    run = ProgramRun()
    argv = [sys.executable, "-m", module, *map(str, args)]
    reactor.spawnProcess(run, sys.executable, argv, env={**os.environ, **(env or {})},
                         usePTY=use_pty)
    return run
