"""The deadline on a test's wait: a Deferred that, when it is late, fails saying what it waited for."""

from twisted.internet import defer, reactor


def within(deferred, seconds, what):
    """``deferred``, failing with AssertionError after ``seconds`` if it has not fired.

    ``what`` names the awaited thing: a string, or a callable returning one when the deadline
    passes, so that the message can say how far the wait got ("60 frames (got 12)").
    """

    def timed_out(failure):
        failure.trap(defer.TimeoutError)
        described = what() if callable(what) else what
        raise AssertionError(f"timed out after {seconds:g} s waiting for {described}")

    return deferred.addTimeout(seconds, reactor).addErrback(timed_out)
