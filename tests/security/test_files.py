"""Only the page is served: bad paths, ranges, listings, links out, MIME types, headers, versions."""

import re

import pytest

from depthcam.broadcast.clientdir import find_client_dir
from tests.security.wire import request

CLIENT_DIR = find_client_dir()
needs_client = pytest.mark.skipif(
    not (CLIENT_DIR / "node_modules").is_dir(), reason="client/node_modules missing (make setup)")
# Words that would give away what the server runs and which version.
VERSION_WORDS = re.compile(rb"twisted|autobahn|python|\d+\.\d+\.\d+", re.I)


@pytest.fixture
def planted_client(tmp_path):
    """A client folder whose page loads a module that is a link to a file outside the folder."""
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:secret\n")
    client = tmp_path / "client"
    client.mkdir()
    (client / "index.html").write_text('<script type="module" src="./main.js"></script>\n')
    (client / "main.js").symlink_to(outside)
    (client / "inside.js").write_text("export const inside = 1;\n")
    (client / "linked.js").symlink_to(client / "inside.js")
    (client / "package.json").write_text("{}\n")
    (client / ".npmrc").write_text("//registry/:_authToken=secret\n")
    (client / "node_modules").mkdir()
    return client


BAD_PATHS = ["/x%00", "/%00", "/index.html%00.js", "/%ff%fe", "/stats%00"]


def test_nul_and_non_utf8_paths_get_400_and_one_line(programs):
    """GET /x%00 and friends: 400, no traceback; a flood of them logs one line."""
    relay = programs.relay("--max-handshakes-per-address", 1000)
    for _ in range(20):
        for path in BAD_PATHS:
            status, headers, body = request(relay.port, path)
            assert status == 400, (path, status, body[:200])
    relay.wait_for(r"400 ")
    output = relay.output()
    assert "Traceback" not in output and "CRITICAL" not in output.upper().replace("CRITICAL:", "")
    assert len([line for line in relay.lines() if " 400 " in line]) == 1, output[-2000:]


def test_many_ranges_are_ignored_and_one_range_is_served(programs):
    """A thousand overlapping ranges get the whole file once (200); one range gets 206."""
    relay = programs.relay("--client-dir", CLIENT_DIR)
    size = (CLIENT_DIR / "index.html").stat().st_size
    ranges = "bytes=" + ",".join(["0-"] * 1000)
    status, headers, body = request(relay.port, "/index.html", [("Range", ranges)])
    assert status == 200 and int(headers["content-length"]) == size == len(body)
    status, headers, body = request(relay.port, "/index.html", [("Range", "bytes=0-9")])
    assert status == 206 and body == (CLIENT_DIR / "index.html").read_bytes()[:10]
    assert "Traceback" not in relay.output()


def test_links_out_of_the_client_folder_and_other_files_are_not_served(programs, planted_client):
    """A module that links outside client/, package files and folders: 404; a link inside: served."""
    (planted_client / "index.html").write_text(
        '<script type="module" src="./main.js"></script>\n'
        '<script type="module" src="./linked.js"></script>\n')
    relay = programs.relay("--client-dir", planted_client)
    for path in ("/main.js", "/package.json", "/.npmrc", "/node_modules/", "/node_modules",
                 "/../secret.txt", "/%2e%2e/secret.txt"):
        status, _, body = request(relay.port, path)
        assert status == 404 and b"secret" not in body, (path, status)
    status, headers, body = request(relay.port, "/linked.js")
    assert status == 200 and body == b"export const inside = 1;\n"


@needs_client
def test_direct_mode_lists_no_folder_and_serves_no_package_files(programs):
    """Direct mode: folders, package.json and files the page does not load answer 404."""
    source = programs.source()
    for path in ("/node_modules/", "/node_modules/three/", "/node_modules/three/package.json",
                 "/package.json", "/package-lock.json", "/.npmrc", "/node_modules/.package-lock.json"):
        assert request(source.port, path)[0] == 404, path


@needs_client
def test_page_and_modules_have_their_types_and_safe_headers(programs):
    """MIME types from the table; nosniff and DENY everywhere; a CSP on the page; cache headers."""
    relay = programs.relay("--client-dir", CLIENT_DIR)
    status, headers, _ = request(relay.port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = request(relay.port, "/main.js")
    assert status == 200 and headers["content-type"] == "text/javascript"
    assert "content-security-policy" not in headers
    status, headers, _ = request(relay.port, "/node_modules/three/build/three.module.js")
    assert status == 200 and headers["content-type"] == "text/javascript"
    assert headers["cache-control"].startswith("public, max-age=")
    for path in ("/", "/main.js", "/missing", "/stats"):
        status, headers, _ = request(relay.port, path)
        assert headers.get("x-content-type-options") == "nosniff", path
    for path in ("/", "/main.js"):
        assert request(relay.port, path)[1]["x-frame-options"] == "DENY"


def test_no_versions_in_headers_or_pages(programs):
    """No Server header naming Twisted or Autobahn, on pages, errors, /ws or a handshake."""
    relay = programs.relay("--client-dir", CLIENT_DIR)
    for path in ("/", "/missing", "/ws", "/view/s", "/view/bad.name", "/stats", "/x%00"):
        status, headers, body = request(relay.port, path)
        assert "server" not in headers, (path, headers)
        assert not VERSION_WORDS.search(body) or path == "/stats", (path, body[:300])
        assert not any(VERSION_WORDS.search(value.encode()) for name, value in headers.items()
                       if name not in ("date", "last-modified", "content-security-policy",
                                       "content-length", "cache-control")), (path, headers)
    from tests.security.wire import websocket

    status, headers, reader = websocket(relay.port, "/view/s")
    reader.close()
    assert status == 101 and "server" not in headers
