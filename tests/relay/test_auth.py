"""relay/auth.py: loading the publish token, checking the Bearer header, and the Origin policy."""

import hmac

import pytest

from depthcam.relay import auth
from depthcam.protocol.tokens import TOKEN_ENV_VAR, TokenConfigError
from depthcam.protocol.tokens import read_token as load_token
from depthcam.broadcast.origins import OriginPolicy, OriginRefused
from depthcam.relay.auth import AuthError, BearerTokenCheck

TOKEN = "0123456789abcdef0123"


def test_token_from_a_file_loses_its_trailing_newline(tmp_path):
    """The token file's contents, stripped of surrounding whitespace, are the token."""
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)  # read_token refuses a file others may read
    assert load_token(path, environ={}) == TOKEN


def test_token_file_wins_over_the_environment(tmp_path):
    """An explicit --token-file is used even when the environment variable is set."""
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o600)  # read_token refuses a file others may read
    assert load_token(path, environ={TOKEN_ENV_VAR: "other-token-0123456789"}) == TOKEN


def test_token_from_the_environment():
    """Without a token file, DEPTHCAM_RELAY_TOKEN is the token."""
    assert load_token(None, environ={TOKEN_ENV_VAR: TOKEN}) == TOKEN


BAD_TOKEN_SETUPS = [
    # (file contents or None for no file, environment, message fragment)
    (None, {}, "no publish token"),
    (None, {TOKEN_ENV_VAR: ""}, "no publish token"),
    (None, {TOKEN_ENV_VAR: "short"}, "shorter than"),
    ("   \n", {}, "shorter than"),
    ("0123456789 abcdef0123", {}, "printable ASCII"),
    (None, {TOKEN_ENV_VAR: "0123456789abcdef\u00e90123"}, "printable ASCII"),
]


@pytest.mark.parametrize("contents, environ, message", BAD_TOKEN_SETUPS)
def test_unusable_tokens_are_refused_at_startup(tmp_path, contents, environ, message):
    """A missing, short or odd token stops the relay from starting, with a message that says why."""
    path = None
    if contents is not None:
        path = tmp_path / "token"
        path.write_text(contents)
        path.chmod(0o600)  # read_token refuses a file others may read
    with pytest.raises(TokenConfigError, match=message):
        load_token(path, environ=environ)


def test_an_unreadable_token_file_is_refused(tmp_path):
    """A token file that cannot be read is a TokenConfigError naming the file."""
    with pytest.raises(TokenConfigError, match="cannot read"):
        load_token(tmp_path / "missing", environ={TOKEN_ENV_VAR: TOKEN})


AUTHORIZATIONS = [
    # (Authorization header value, HTTP status or None when accepted)
    (f"Bearer {TOKEN}", None),
    (f"bearer {TOKEN}", None),
    (f"  Bearer   {TOKEN}  ", None),
    (None, 401),
    ("", 401),
    ("Bearer", 401),
    ("Bearer ", 401),
    (f"Basic {TOKEN}", 401),
    (TOKEN, 401),
    ("Bearer wrong", 403),
    (f"Bearer {TOKEN}0", 403),
    (f"Bearer {TOKEN[:-1]}", 403),
    (f"Bearer {TOKEN.upper()}", 403),
    ("Bearer \u00e9\u00e9", 403),
]


@pytest.mark.parametrize("authorization, status", AUTHORIZATIONS)
def test_bearer_check(authorization, status):
    """Only ``Bearer <token>`` passes; a missing or malformed header is 401, a wrong token 403."""
    check = BearerTokenCheck(TOKEN)
    if status is None:
        check.check(authorization)
    else:
        with pytest.raises(AuthError) as raised:
            check.check(authorization)
        assert raised.value.http_status == status


def test_the_token_is_compared_in_constant_time(monkeypatch):
    """The check goes through hmac.compare_digest."""
    calls = []
    compare_digest = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    BearerTokenCheck(TOKEN).check(f"Bearer {TOKEN}")
    assert calls == [(TOKEN.encode(), TOKEN.encode())]


def test_without_allowed_origins_every_page_may_watch():
    """An empty Origin list lets any Origin, and none, through."""
    policy = OriginPolicy()
    for origin in (None, "null", "https://anywhere.example", "garbage"):
        policy.check(origin)


ORIGINS = [
    # (Origin header, allowed by ("https://depth.example.org", "http://localhost:9000"))
    ("https://depth.example.org", True),
    ("https://depth.example.org:443", True),
    ("HTTPS://DEPTH.example.ORG", True),
    ("http://localhost:9000", True),
    (None, True),
    ("http://depth.example.org", False),
    ("https://depth.example.org:8443", False),
    ("https://evil.example.org", False),
    ("https://depth.example.org.evil.example", False),
    ("http://localhost", False),
    ("null", False),
    ("not an origin", False),
]


@pytest.mark.parametrize("origin, allowed", ORIGINS)
def test_allowed_origins(origin, allowed):
    """With a list, only those origins (scheme, host and port; default ports implied) may watch."""
    policy = OriginPolicy(("https://depth.example.org", "http://localhost:9000"))
    if allowed:
        policy.check(origin)
    else:
        with pytest.raises(OriginRefused) as raised:
            policy.check(origin)
        assert raised.value.http_status == 403


def test_a_listed_origin_must_be_an_origin():
    """A --allowed-origin that is not scheme://host[:port] is a configuration error."""
    with pytest.raises(ValueError, match="not an origin"):
        OriginPolicy(("depth.example.org",))
