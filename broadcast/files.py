"""ClientFiles: the browser client's files, and only those the page needs, with their MIME types.

What is reachable is what ``pagefiles.page_files`` finds the page loads: the page itself, the
module scripts it loads, and every module, worker and WebAssembly file those reach, bare names
resolved through the page's import map. Nothing else answers: no directory listing, no
``package.json``, no other file of a package in ``node_modules``. The list is computed once, when
the resource is made. Without a folder given, it is the viewer installed with depthcam
(``clientdir.find_client_dir``).

Every answer carries ``X-Frame-Options: DENY`` (and, from ``request.PlainRequest``,
``X-Content-Type-Options: nosniff``); the page
carries its Content-Security-Policy (``csp.py``). A file is served only if its real path (links
resolved) is inside the client folder, with its MIME type from ``CONTENT_TYPES`` (anything else
goes out as ``application/octet-stream``, never as HTML). Packages under ``node_modules`` are
pinned by ``package-lock.json``, so browsers may keep them a day (``NODE_MODULES_MAX_AGE_S``);
the page and its own modules are revalidated on every load. A ``Range`` of more than one range is
ignored (the whole file is sent): a thousand overlapping ranges once made a 2.39 GB answer.
"""

import mimetypes
from pathlib import Path

from twisted.web import pages, resource
from twisted.web.static import File

from depthcam.broadcast.clientdir import find_client_dir
from depthcam.broadcast.csp import content_security_policy
from depthcam.broadcast.pagefiles import page_files

# Files a page may load, with the MIME types browsers require (modules must be JavaScript; the
# system's table, which File reads, may lack .mjs).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".json": "application/json",
}
# How long browsers may keep a file of client/node_modules without asking again.
NODE_MODULES_MAX_AGE_S = 24 * 3600

class ClientFiles(resource.Resource):
    """The page and what it loads (see the module docstring); 404 for everything else."""

    def __init__(self, client_dir=None):
        super().__init__()
        self.client_dir = Path(client_dir) if client_dir is not None else find_client_dir()
        self._files = page_files(self.client_dir).present
        self._real_dir = self.client_dir.resolve()
        index = self.client_dir / "index.html"
        self._policy = (content_security_policy(index.read_text(encoding="utf-8")).encode("ascii")
                        if index.is_file() else None)

    def allows(self, relative):
        """Whether the relative POSIX path ``relative`` may be served."""
        return relative in self._files

    def getChild(self, name, request):
        request.setHeader(b"x-frame-options", b"DENY")
        segments = [name, *request.postpath]
        request.postpath = []
        try:
            relative = "/".join(segment.decode("utf-8") for segment in segments) or "index.html"
        except UnicodeDecodeError:
            return pages.notFound()
        if relative.endswith("/") or not self.allows(relative):
            return pages.notFound()
        path = (self.client_dir / relative).resolve()
        if not path.is_relative_to(self._real_dir) or not path.is_file():
            return pages.notFound()
        range_header = request.getHeader(b"range")
        if range_header is not None and b"," in range_header:
            request.requestHeaders.removeHeader(b"range")
        if relative.startswith("node_modules/"):
            request.setHeader(b"cache-control", f"public, max-age={NODE_MODULES_MAX_AGE_S}".encode())
        else:
            request.setHeader(b"cache-control", b"no-cache")
        if relative == "index.html" and self._policy is not None:
            request.setHeader(b"content-security-policy", self._policy)
        served = File(str(path), defaultType="application/octet-stream")
        served.type = (CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
                       or "application/octet-stream")
        served.encoding = None
        return served

    def render(self, request):
        """``GET /`` (the root's own address): the page."""
        return self.getChild(b"", request).render(request)
