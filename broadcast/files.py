"""ClientFiles: the browser client's files, and only those the page needs, with their MIME types.

What is reachable is what ``pagefiles.page_files`` finds the page loads: the page itself, the
module scripts it loads, and every module, worker and WebAssembly file those reach, bare names
resolved through the page's import map. Nothing else answers: no directory listing, no
``package.json``, no other file of a package in ``node_modules``. The list is computed once, when
the resource is made. Without a folder given, it is the viewer installed with depthcam
(``clientdir.find_client_dir``).
"""

import mimetypes
from pathlib import Path

from twisted.web import pages, resource
from twisted.web.static import File

from depthcam.broadcast.clientdir import find_client_dir
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


class ClientFiles(resource.Resource):
    """The page and what it loads (see the module docstring); 404 for everything else."""

    def __init__(self, client_dir=None):
        super().__init__()
        self.client_dir = Path(client_dir) if client_dir is not None else find_client_dir()
        self._files = page_files(self.client_dir).present

    def allows(self, relative):
        """Whether the relative POSIX path ``relative`` may be served."""
        return relative in self._files

    def getChild(self, name, request):
        segments = [name, *request.postpath]
        request.postpath = []
        try:
            relative = "/".join(segment.decode("utf-8") for segment in segments) or "index.html"
        except UnicodeDecodeError:
            return pages.notFound()
        if relative.endswith("/") or not self.allows(relative):
            return pages.notFound()
        path = self.client_dir / relative
        if not path.is_file():
            return pages.notFound()
        served = File(str(path), defaultType="application/octet-stream")
        served.type = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        served.encoding = None
        return served

    def render(self, request):
        """``GET /`` (the root's own address): the page."""
        return self.getChild(b"", request).render(request)
