"""ClientFiles: the browser client's files, and only those the page needs, with their MIME types.

What is reachable is derived from ``client/index.html``: the page itself, the module scripts it
loads and, following their relative imports (``from './x.js'``, ``new URL('./x.js',
import.meta.url)``), every client module they reach; and for each entry of the page's import
map, the folder its target sits in (``three``'s ``build/``, the ``three/addons/`` tree, ...),
files with a web extension only. Nothing else answers: no directory listing, no
``package.json``, no other package in ``node_modules``. The list is computed once, when the
resource is made.
"""

import json
import mimetypes
import re
from pathlib import Path, PurePosixPath

from twisted.web import pages, resource
from twisted.web.static import File

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
# Inside an import-map target's folder, only what a module graph loads.
PACKAGE_EXTENSIONS = frozenset({".js", ".mjs", ".wasm"})

_IMPORT_MAP = re.compile(r'<script\s+type="importmap"\s*>(.*?)</script>', re.S)
_MODULE_SCRIPT = re.compile(r'<script\s+type="module"\s+src="([^"]+)"')
_RELATIVE_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*|new\s+URL\(\s*)['"](\.{1,2}/[^'"]+)['"]"""
)


def default_client_dir():
    """Where the browser client lives: the repository's ``client/`` beside this package's folder."""
    return Path(__file__).resolve().parent.parent / "client"


def reachable_files(client_dir):
    """The relative POSIX paths under ``client_dir`` the page may load, and the folders (prefixes)
    whose files with PACKAGE_EXTENSIONS it may load; both derived from ``index.html``."""
    client_dir = Path(client_dir)
    index = client_dir / "index.html"
    if not index.is_file():
        return frozenset(), ()
    page = index.read_text(encoding="utf-8")
    prefixes = []
    found = _IMPORT_MAP.search(page)
    if found:
        for target in json.loads(found.group(1)).get("imports", {}).values():
            path = _normalize(PurePosixPath(target))
            prefixes.append(path if target.endswith("/") else path.parent)
    files = {"index.html"}
    pending = [_normalize(PurePosixPath(src)) for src in _MODULE_SCRIPT.findall(page)]
    while pending:
        path = pending.pop()
        if str(path) in files or not (client_dir / path).is_file():
            continue
        files.add(str(path))
        if path.suffix in (".js", ".mjs") and not _under(path, prefixes):
            text = (client_dir / path).read_text(encoding="utf-8", errors="replace")
            pending.extend(_normalize(path.parent / found) for found in _RELATIVE_IMPORT.findall(text))
    return frozenset(files), tuple(prefixes)


def _normalize(path):
    parts = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return PurePosixPath(*parts)


def _under(path, prefixes):
    return any(prefix in path.parents for prefix in prefixes)


class ClientFiles(resource.Resource):
    """The page and what it loads (see the module docstring); 404 for everything else."""

    def __init__(self, client_dir=None):
        super().__init__()
        self.client_dir = Path(client_dir) if client_dir is not None else default_client_dir()
        self._files, self._prefixes = reachable_files(self.client_dir)

    def allows(self, relative):
        """Whether the relative POSIX path ``relative`` may be served."""
        path = PurePosixPath(relative)
        if str(path) in self._files:
            return True
        return path.suffix in PACKAGE_EXTENSIONS and _under(path, self._prefixes) and ".." not in path.parts

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
