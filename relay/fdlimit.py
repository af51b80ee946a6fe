"""raise_fd_limit: lift this process's soft limit on open files to its hard limit.

Every viewer, page load and handshake holds a file descriptor. Linux starts most processes with a
soft limit of 1,024 (the hard limit is often far higher, 524,288 on Debian), and a relay out of
descriptors cannot accept anyone, not even ``/stats``. A process may raise its own soft limit up
to the hard one without privileges; the relay does so at start and logs what it got.
"""

import resource


def raise_fd_limit():
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; return (before, after) soft limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard
