"""broadcast/files.py against the real client/: what the page loads is served with its MIME type,
and nothing else is reachable."""

from pathlib import Path

import pytest
from twisted.web.test.requesthelper import DummyRequest

from depthcam.broadcast.clientdir import find_client_dir
from depthcam.broadcast.files import ClientFiles
from depthcam.broadcast.pagefiles import page_files

CLIENT_DIR = find_client_dir()
needs_client = pytest.mark.skipif(not (CLIENT_DIR / "node_modules").is_dir(),
                                  reason="client/node_modules is missing: run make setup")


def fetch(files, path):
    """(status, content type) of a GET of ``path`` through ``files``, as Site's traversal does."""
    segments = [segment.encode() for segment in path.lstrip("/").split("/")]
    request = DummyRequest(segments[1:])
    child = files.getChildWithDefault(segments[0], request)
    child.render(request)
    content_type = request.responseHeaders.getRawHeaders(b"content-type", [None])[0]
    return request.responseCode or 200, content_type


def test_the_client_dir_is_the_repositorys_client_folder():
    """find_client_dir() finds client/index.html (an editable install: the checkout's)."""
    assert (CLIENT_DIR / "index.html").is_file()
    assert Path(CLIENT_DIR).name == "client"


def test_the_page_and_every_module_it_loads_are_reachable():
    """main.js, what it imports, the worker loaded through new URL(), and the packages' modules
    reached through the import map are all on the list; package metadata is not."""
    files = page_files(CLIENT_DIR).present
    for name in ("index.html", "main.js", "decoder.js", "decodeWorker.js", "ContextStream.js"):
        assert name in files
    assert "package.json" not in files


@needs_client
def test_the_import_map_and_package_internal_imports_are_followed():
    """three (and its core), an addon, and node-liblzma's ../errors.js and .wasm are reachable."""
    files = page_files(CLIENT_DIR).present
    for name in ("node_modules/three/build/three.module.js", "node_modules/three/build/three.core.js",
                 "node_modules/three/examples/jsm/controls/OrbitControls.js",
                 "node_modules/node-liblzma/lib/errors.js",
                 "node_modules/node-liblzma/lib/wasm/liblzma.wasm"):
        assert name in files


@needs_client
@pytest.mark.parametrize("path, content_type", [
    ("/", b"text/html; charset=utf-8"),
    ("/main.js", b"text/javascript"),
    ("/node_modules/three/build/three.module.js", b"text/javascript"),
    ("/node_modules/three/examples/jsm/controls/OrbitControls.js", b"text/javascript"),
    ("/node_modules/zstddec/dist/zstddec.mjs", b"text/javascript"),
    ("/node_modules/node-liblzma/lib/wasm/liblzma.wasm", b"application/wasm"),
])
def test_what_the_page_loads_is_served_with_its_mime_type(path, content_type):
    """Modules are JavaScript (browsers refuse anything else for an import), WebAssembly is wasm."""
    assert fetch(ClientFiles(CLIENT_DIR), path) == (200, content_type)


@needs_client
@pytest.mark.parametrize("path", [
    "/package.json", "/package-lock.json", "/node_modules/", "/node_modules/three/package.json",
    "/node_modules/three/build/", "/node_modules/.package-lock.json", "/../setup.cfg",
    "/node_modules/three/build/../../../../setup.cfg", "/node_modules/node-liblzma/lib/wasm/index.d.ts",
    "/node_modules/three/examples/jsm/loaders/GLTFLoader.js", "/node_modules/three/src/Three.js",
    "/missing.js",
])
def test_nothing_else_is_reachable(path):
    """Package metadata, folders, other files and escapes answer 404."""
    assert fetch(ClientFiles(CLIENT_DIR), path)[0] == 404
