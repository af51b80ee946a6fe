"""The publish token: its rules, and ``read_token()``, the one place that reads it.

A source proves it may publish with ``Authorization: Bearer <token>``. Both the relay and a
pushing source take the token from a file or from ``$DEPTHCAM_RELAY_TOKEN``, never from argv.
"""

import os
import string
from pathlib import Path

TOKEN_ENV_VAR = "DEPTHCAM_RELAY_TOKEN"
# Short enough to type, long enough not to guess (e.g. `openssl rand -hex 16` gives 32).
MIN_TOKEN_CHARS = 16
# Permission bits a token file may not have: any access for its group or for other users.
TOKEN_FILE_FORBIDDEN_MODE = 0o077
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class TokenConfigError(Exception):
    """No usable publish token was configured."""


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


def read_token(token_file=None, environ=None):
    """The publish token from ``token_file`` (a path) if given, else ``$DEPTHCAM_RELAY_TOKEN``.

    ``environ`` defaults to ``os.environ``. Raises TokenConfigError (an unreadable file included,
    and one that its group or other users may read: anyone who reads it may publish).
    """
    environ = os.environ if environ is None else environ
    if token_file is None:
        return choose_token(environ=environ)
    try:
        if os.stat(token_file).st_mode & TOKEN_FILE_FORBIDDEN_MODE:
            raise TokenConfigError(
                f"the token file {token_file} may be read by other users: chmod 600 {token_file}")
        text = Path(token_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenConfigError(f"cannot read the token file {token_file}: {exc}") from exc
    return choose_token(text, token_file)
