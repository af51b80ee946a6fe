"""PlainRequest: Twisted Web's request, minus what a public host must not do with one.

- **No versions**: Twisted names itself and its version in a ``Server`` header of every answer;
  a PlainRequest sends none (an attacker learns nothing to match against a list of known bugs).
  Every answer says ``X-Content-Type-Options: nosniff``.
- **Bad paths are 400**: a path with a NUL byte, or that is not UTF-8 once unquoted, is answered
  ``400 Bad Request`` in one line, never passed on (``GET /x%00`` once raised deep in the file
  serving and logged a 16-line critical traceback per request).
- **The door's Host only**: when the Site has a ``host_policy`` (direct mode: a camera in
  someone's room), a request whose ``Host`` it refuses is answered ``421 Misdirected Request``;
  a DNS-rebinding page reaches the camera's address under its own name, and is refused here.

Each refusal logs through the Site's RateLimitedLog (``site.refusal_log``), one line per cause.
"""

from twisted.web import server
from twisted.web.http import unquote


class PlainRequest(server.Request):
    """A request that sends no Server header and refuses bad paths and Hosts (module docstring)."""

    def process(self):
        site = self.channel.site
        refusal = self._refusal(site)
        if refusal is None:
            super().process()
            return
        status, message, cause = refusal
        log = getattr(site, "refusal_log", None)
        if log is not None:
            log.info(cause, "{peer}: {status} {message}", peer=self.getClientAddress().host,
                     status=status, message=message)
        self.site = site
        self.setResponseCode(status)
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self.write(f"{status} {message}\n".encode())
        self.finish()

    def _refusal(self, site):
        path = unquote(self.path)
        if b"\x00" in path:
            return 400, "NUL byte in the path", "bad-path"
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "path is not UTF-8", "bad-path"
        host_policy = getattr(site, "host_policy", None)
        if host_policy is not None:
            host = (self.getHeader(b"host") or b"").decode("latin-1").strip()
            if not host_policy.allows(host):
                return 421, "this server does not answer for that Host", "bad-host"
        return None

    def write(self, data):
        if not self.startedWriting:
            self.responseHeaders.removeHeader(b"server")
            # Every answer is the type it says, never sniffed into a script or a page.
            self.setHeader(b"x-content-type-options", b"nosniff")
        super().write(data)
