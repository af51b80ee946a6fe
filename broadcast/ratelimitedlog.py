"""RateLimitedLog: one log line per cause, then a count of the repeats every ``interval_s``.

A public host is sent junk on purpose: refused handshakes, bad paths, slow clients. Logging each
one lets a single client fill the disk (the relay once wrote 85.8 MB in 8 s for ``GET /x%00``).
Here, the first event of a cause is logged as it comes; the repeats in the next ``interval_s``
are counted and logged as one line ("... 532 more in the last 10 s"), and so on while the flood
lasts. A flood of one cause therefore logs at most ``1 + 60 / interval_s`` lines a minute
(7 with the default 10 s), whatever its rate; a cause that stops goes quiet.
"""

from twisted.logger import Logger, LogLevel


class RateLimitedLog:
    """Logs events by cause, at most one line per cause per ``interval_s`` (see the module docstring).

    ``clock`` is the reactor, or a ``task.Clock`` in tests; ``logger`` a ``twisted.logger.Logger``.
    """

    # The window in which repeats of one cause are counted instead of logged, in seconds.
    INTERVAL_S = 10.0

    def __init__(self, logger=None, interval_s=None, clock=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self._logger = logger or Logger(namespace="depthcam")
        self.interval_s = self.INTERVAL_S if interval_s is None else interval_s
        self._repeats = {}  # cause -> repeats counted in its open window

    def info(self, cause, text, **fields):
        """Log ``text`` (a twisted.logger format) at info level, unless ``cause`` was just logged."""
        self.emit(LogLevel.info, cause, text, **fields)

    def warn(self, cause, text, **fields):
        """As ``info``, at warn level."""
        self.emit(LogLevel.warn, cause, text, **fields)

    def emit(self, level, cause, text, **fields):
        """Log one event of ``cause`` at ``level`` (see the module docstring)."""
        if cause in self._repeats:
            self._repeats[cause] += 1
            return
        self._logger.emit(level, text, **fields)
        self._repeats[cause] = 0
        self._clock.callLater(self.interval_s, self._close_window, cause, level)

    def _close_window(self, cause, level):
        repeats = self._repeats.pop(cause, 0)
        if repeats:
            self._logger.emit(level, "{cause}: {repeats} more in the last {seconds:g} s",
                              cause=cause, repeats=repeats, seconds=self.interval_s)
            # The flood goes on: keep counting instead of logging its next event in full.
            self._repeats[cause] = 0
            self._clock.callLater(self.interval_s, self._close_window, cause, level)
