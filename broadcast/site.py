"""The Site both doors listen with: quiet (no access log), and direct mode's root that takes a
WebSocket upgrade on any path while plain GETs get the page.
"""

from twisted.web.resource import Resource
from twisted.web.server import Site

from depthcam.broadcast.admission import GuardedChannel
from depthcam.broadcast.ratelimitedlog import RateLimitedLog
from depthcam.broadcast.request import PlainRequest


class QuietSite(Site):
    """A Site that logs no line per HTTP request.

    Twisted's ``Site`` logs one at info level for every file a page loads and every /stats poll;
    the log has one line per viewer (and source) connection instead. Its requests send no
    Server header and refuse bad paths (``request.PlainRequest``), and its channel tells an
    ``admission.AddressGuard`` around it when a request is whole. ``host_policy`` (optional,
    with ``allows(host)``) refuses other Hosts with 421.
    """

    protocol = GuardedChannel
    requestFactory = PlainRequest
    host_policy = None

    def __init__(self, resource, *args, host_policy=None, reactor=None, **kwargs):
        # No form parsing: nothing here takes a POST, and parsing an upload can take much memory.
        super().__init__(resource, *args, reactor=reactor, parsePOSTFormSubmission=False, **kwargs)
        self.host_policy = host_policy
        self.refusal_log = RateLimitedLog(clock=self.reactor)

    def log(self, request):
        """Log nothing (Twisted's access-log hook)."""


def is_websocket_upgrade(request):
    """Whether ``request`` asks to become a WebSocket (``Upgrade: websocket``)."""
    upgrade = request.getHeader(b"upgrade") or b""
    return upgrade.strip().lower() == b"websocket"


class UpgradeAnywhere(Resource):
    """A root that hands a WebSocket upgrade on any path to ``sockets`` and the rest to ``pages``.

    The 2012 client opens ``ws://host:9000/``; today's opens ``/ws``: both reach the viewers,
    while a browser's GET of ``/`` still gets the page. Children put on this resource (``/stats``)
    come first.
    """

    def __init__(self, pages, sockets):
        super().__init__()
        self._pages = pages
        self._sockets = sockets

    def getChildWithDefault(self, path, request):
        if is_websocket_upgrade(request):
            request.postpath = []
            return self._sockets
        if path in self.children:
            return self.children[path]
        return self._pages.getChildWithDefault(path, request)

    def render(self, request):
        if is_websocket_upgrade(request):
            return self._sockets.render(request)
        return self._pages.render(request)
