"""Fixtures and hooks shared by every room's tests: the real recordings in ../shared/data/, a
deadline on every test, and a last line that says when tests were skipped.

Deadlines. Each wait in a test has its own deadline that names what it waited for; pytest-timeout
(``timeout`` in setup.cfg, ``@pytest.mark.timeout(S)`` on the slow tests) is the backstop for a wait
that has none. Its SIGALRM cannot end a test that is waiting in the reactor: the alarm's exception
lands in the reactor's poll, which logs it and polls on. So when the alarm comes while a test's
Deferred is pending, the Deferred is cancelled (from the reactor, as a signal handler may), which
raises CancelledError at the ``await`` that hung, the test fails there, its fixtures tear down and the
run goes on. A test still running ``BACKSTOP_GRACE_S`` later is stuck beyond that: pytest-timeout's
thread method prints every thread's stack and ends the run.

Skips. ``-rfEs`` lists each skip's reason. A run that skipped anything ends with a line that says
so; under CI (the ``CI`` environment variable, which .ci/run sets), where every requirement is
installed, a skip means a broken install and the run fails.
"""

import os
import signal
import threading
from pathlib import Path

import pytest
import pytest_timeout
from twisted.internet import defer, reactor

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
RECORDINGS = ("kinect1-raw-walkin", "7scenes-redkitchen")
# After a test's timeout has cancelled its Deferred, the seconds its teardown may take before the
# run is ended with every thread's stack.
BACKSTOP_GRACE_S = 30
# Tests that run real processes and browsers, or whole recordings, take up to 14 s on an idle
# machine and ten times that with the machine's two cores shared by many: their timeout (seconds)
# instead of setup.cfg's, unless a test sets its own.
SLOW_TEST_TIMEOUTS_S = {
    "tests/e2e/": 300,
    "tests/client/": 300,
    "tests/codec/test_js_decoder.py": 300,
}


def recording_path(name):
    """The folder of a shared recording, or skip the test when ../shared is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real recording {path} not present")
    return path


@pytest.fixture(scope="session", params=RECORDINGS)
def real_recording(request):
    """(name, DepthFrames) of each real recording."""
    from depthcam.source.recordings import read_recording_dir

    return request.param, read_recording_dir(recording_path(request.param))


def pytest_collection_modifyitems(config, items):
    """Give the slow tests SLOW_TEST_TIMEOUTS_S."""
    root = config.rootpath
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        where = item.path.relative_to(root).as_posix()
        for prefix, seconds in SLOW_TEST_TIMEOUTS_S.items():
            if where.startswith(prefix):
                item.add_marker(pytest.mark.timeout(seconds))
                break


class TestTimedOut(AssertionError):
    """A test ran past its pytest-timeout; the traceback ends at the await it was in."""

    __test__ = False  # not a pytest class


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Keep the Deferred of a test that returns one, so that its timeout can cancel it."""
    test = pyfuncitem.obj
    if getattr(test, "hypothesis", None) is not None:
        return None  # hypothesis drives its own inner test; none of ours returns a Deferred

    def recorded(**kwargs):
        result = test(**kwargs)
        if hasattr(result, "__await__") and not isinstance(result, defer.Deferred):
            result = defer.ensureDeferred(result)
        if isinstance(result, defer.Deferred):
            pyfuncitem.pending_deferred = result
            result.addErrback(_report_timeout, pyfuncitem)
        return result

    # pytest-twisted calls ``obj`` with the fixtures and waits on a Deferred it returns; ``recorded``
    # already made the coroutine one, so it carries no pytest-twisted mark.
    pyfuncitem.obj = recorded
    return None


def _report_timeout(failure, item):
    # The cancel surfaces as CancelledError, or wrapped (gatherResults' FirstError, a wait's own
    # errback): whatever it became, the test failed because its time ran out.
    if getattr(item, "timed_out_after_s", None) is None:
        return failure
    raise TestTimedOut(
        f"timed out after {item.timed_out_after_s:g} s (pytest-timeout); "
        "the await it was waiting on is the last line of the test in the traceback above"
    ) from failure.value


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """pytest-timeout's signal timer, cancelling a pending test Deferred instead of raising in the reactor."""
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own
    backstop = threading.Timer(settings.timeout + BACKSTOP_GRACE_S, pytest_timeout.timeout_timer,
                               (item, settings))
    backstop.daemon = True

    def alarm(signum, frame):
        pending = getattr(item, "pending_deferred", None)
        try:
            if pending is not None and not pending.called:
                item.timed_out_after_s = settings.timeout
                reactor.callFromThread(pending.cancel)
            else:
                # Raises in the test's own code; raised into the reactor's poll (a hung async
                # fixture), it is only logged, and the backstop ends the run.
                pytest_timeout.timeout_sigalrm(item, settings)
        finally:
            backstop.start()

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        backstop.cancel()

    item.cancel_timeout = cancel
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def _skipped_count(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return 0
    return len([report for report in reporter.stats.get("skipped", []) if report.skipped])


def pytest_sessionfinish(session, exitstatus):
    """Under CI, a run that skipped a test fails: CI installs everything every test needs."""
    if os.environ.get("CI") and _skipped_count(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config):
    """After pytest's own summary line, one more that says how many tests did not run, and why not."""
    skipped = _skipped_count(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if skipped and reporter is not None:
        verdict = "so this CI run fails" if os.environ.get("CI") else "so not every test ran"
        reporter.write_sep("!", f"{skipped} skipped ({verdict}): the reasons are listed above",
                           red=True, bold=True)
