"""Who may connect: sources by one secret token, viewers by their page's Origin.

A source proves it may publish by sending the token in its opening handshake as::

    Authorization: Bearer <token>

(an Autobahn client: ``WebSocketClientFactory(url, headers={"Authorization": f"Bearer {token}"})``).
Nothing else is accepted: no query parameter (URLs end up in logs) and no subprotocol trick. The
relay reads the token with ``depthcam.protocol.tokens.read_token`` (``--token-file`` or, failing
that, ``DEPTHCAM_RELAY_TOKEN``); never from the command line, where other users can read it. Missing or
malformed header: HTTP 401; wrong token: HTTP 403.

Viewers need no token. When ``--allowed-origin`` is given, a viewer whose handshake carries an
``Origin`` header that is not in the list is refused with HTTP 403, so other sites cannot embed
the stream; a handshake without ``Origin`` (not a browser) is let through, since anyone outside a
browser can send any Origin anyway. That policy lives in ``depthcam.broadcast.origins``.
"""

import hmac


class AuthError(Exception):
    """A source's handshake carries no valid token; ``http_status`` is 401 or 403."""

    def __init__(self, http_status, reason):
        super().__init__(reason)
        self.http_status = http_status
        self.reason = reason


class BearerTokenCheck:
    """Checks a handshake's ``Authorization`` header against the one publish token."""

    SCHEME = "bearer"

    def __init__(self, token):
        self._token = token.encode("ascii")

    def check(self, authorization):
        """Return if ``authorization`` (the header's value, or None) carries the token; else raise AuthError."""
        scheme, _, given = (authorization or "").strip().partition(" ")
        given = given.strip()
        if scheme.lower() != self.SCHEME or not given:
            raise AuthError(401, "publishing needs an Authorization: Bearer token")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._token):
            raise AuthError(403, "wrong publish token")
