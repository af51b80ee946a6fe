"""Tests for depthcam.protocol.tokens and streams: the rules a source and a relay share."""

import pytest

from depthcam.protocol.streams import is_valid_stream_name
from depthcam.protocol.tokens import MIN_TOKEN_CHARS, TOKEN_ENV_VAR, TokenConfigError, choose_token

TOKEN = "0123456789abcdef0123"


def test_file_text_wins_over_the_environment():
    """A token file's text, stripped, is used even when the variable is set."""
    assert choose_token(TOKEN + "\n", "f", {TOKEN_ENV_VAR: "x" * 20}) == TOKEN


def test_environment_is_used_without_a_file():
    """Without a file the variable gives the token."""
    assert choose_token(environ={TOKEN_ENV_VAR: f" {TOKEN} "}) == TOKEN


@pytest.mark.parametrize("text, environ, message", [
    (None, {}, "no publish token"),
    ("short", {}, "shorter than"),
    ("x" * (MIN_TOKEN_CHARS - 1), {}, "shorter than"),
    ("0123456789 abcdef012", {}, "printable ASCII"),
    (None, {TOKEN_ENV_VAR: "é" * 20}, "printable ASCII"),
])
def test_unusable_tokens_are_refused(text, environ, message):
    """Missing, short or non-ASCII tokens raise TokenConfigError saying why."""
    with pytest.raises(TokenConfigError, match=message):
        choose_token(text, "token.txt", environ)


@pytest.mark.parametrize("name, valid", [
    ("default", True), ("kitchen-cam_2", True), ("x" * 64, True),
    ("", False), ("x" * 65, False), ("a/b", False), ("café", False), ("..", False),
])
def test_stream_names(name, valid):
    """Stream names are 1–64 letters, digits, '-' or '_'."""
    assert is_valid_stream_name(name) is valid
