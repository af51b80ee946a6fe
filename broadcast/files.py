"""ClientFiles: the browser client's files, and only those the page needs, with their MIME types.

What is reachable is derived from ``client/index.html``: the page itself, the module scripts it
loads, and every module those reach, followed through static imports (``from '...'``,
``import '...'``, ``import('...')``) and ``new URL('...', import.meta.url)`` (workers,
WebAssembly), with bare names (``three``, ``three/addons/...``) resolved through the page's
import map. Nothing else answers: no directory listing, no ``package.json``, no other file of a
package in ``node_modules``. The list is computed once, when the resource is made.
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
MODULE_SUFFIXES = (".js", ".mjs")

_IMPORT_MAP = re.compile(r'<script\s+type="importmap"\s*>(.*?)</script>', re.S)
_MODULE_SCRIPT = re.compile(r'<script\s+type="module"\s+src="([^"]+)"')
_IMPORTED = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"\s]+)['"]""")
_URL_OF_MODULE = re.compile(r"""new\s+URL\(\s*['"]([^'"\s:]+)['"]\s*,\s*import\.meta\.url""")


def default_client_dir():
    """Where the browser client lives: the repository's ``client/`` beside this package's folder."""
    return Path(__file__).resolve().parent.parent / "client"


def reachable_files(client_dir):
    """The relative POSIX paths under ``client_dir`` that ``index.html`` loads, directly or not."""
    client_dir = Path(client_dir)
    index = client_dir / "index.html"
    if not index.is_file():
        return frozenset()
    page = index.read_text(encoding="utf-8")
    found = _IMPORT_MAP.search(page)
    import_map = json.loads(found.group(1)).get("imports", {}) if found else {}
    files = {"index.html"}
    pending = [_normalize(PurePosixPath(src)) for src in _MODULE_SCRIPT.findall(page)]
    while pending:
        path = pending.pop()
        if path is None or str(path) in files or not (client_dir / path).is_file():
            continue
        files.add(str(path))
        if path.suffix in MODULE_SUFFIXES:
            text = (client_dir / path).read_text(encoding="utf-8", errors="replace")
            pending.extend(_resolve(name, path, import_map) for name in _IMPORTED.findall(text))
            pending.extend(_normalize(path.parent / name) for name in _URL_OF_MODULE.findall(text))
    return frozenset(files)


def _resolve(specifier, importer, import_map):
    """Where ``specifier``, imported by ``importer``, lives; None for what the map does not name."""
    if specifier.startswith(("./", "../")):
        return _normalize(importer.parent / specifier)
    if specifier in import_map:
        return _normalize(PurePosixPath(import_map[specifier]))
    for prefix, target in import_map.items():
        if prefix.endswith("/") and specifier.startswith(prefix):
            return _normalize(PurePosixPath(target + specifier[len(prefix):]))
    return None


def _normalize(path):
    parts = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None  # above the client folder
            parts.pop()
            continue
        parts.append(part)
    return PurePosixPath(*parts)


class ClientFiles(resource.Resource):
    """The page and what it loads (see the module docstring); 404 for everything else."""

    def __init__(self, client_dir=None):
        super().__init__()
        self.client_dir = Path(client_dir) if client_dir is not None else default_client_dir()
        self._files = reachable_files(self.client_dir)

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
