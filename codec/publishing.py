"""The publishing contract between a source and a relay: stream names, the token's form, close codes.

Both sides follow it, so it is written once here (no I/O: the callers read the token file).
A source publishes to ``/source/<name>`` and viewers watch ``/view/<name>``, with ``<name>``
matching ``STREAM_NAME``; it proves it may publish with ``Authorization: Bearer <token>``.
"""

import re
import string

DEFAULT_STREAM = "default"
STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

TOKEN_ENV_VAR = "DEPTHCAM_RELAY_TOKEN"
# Short enough to type, long enough not to guess (e.g. `openssl rand -hex 16` gives 32).
MIN_TOKEN_CHARS = 16
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)

# The relay closes a source with this when a newer source with the token takes its stream over.
CLOSE_SOURCE_REPLACED = 4001


class TokenConfigError(Exception):
    """No usable publish token was configured."""


def is_valid_stream_name(name):
    """Whether ``name`` (str) may name a stream."""
    return STREAM_NAME.fullmatch(name) is not None


def choose_token(file_text=None, file_name=None, environ=None):
    """The publish token: ``file_text`` (read from ``file_name``) if given, else ``$DEPTHCAM_RELAY_TOKEN``.

    Surrounding whitespace (a trailing newline) is stripped. Raises TokenConfigError when there is
    none, or when it is shorter than MIN_TOKEN_CHARS or holds characters other than printable ASCII.
    """
    environ = environ or {}
    if file_text is not None:
        token, origin = file_text.strip(), f"token file {file_name}"
    elif environ.get(TOKEN_ENV_VAR):
        token, origin = environ[TOKEN_ENV_VAR].strip(), f"${TOKEN_ENV_VAR}"
    else:
        raise TokenConfigError(
            f"no publish token: pass --token-file PATH or set {TOKEN_ENV_VAR} "
            f"(e.g. `openssl rand -hex 16`)"
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenConfigError(f"the token in {origin} is shorter than {MIN_TOKEN_CHARS} characters")
    if not set(token) <= _TOKEN_CHARS:
        raise TokenConfigError(f"the token in {origin} holds characters other than printable ASCII")
    return token
