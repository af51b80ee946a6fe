"""A --wire legacy source watched by a page that decodes it the 2012 client's way, in a real browser.

The page (tests/client/legacy2012/) is served by a plain static server, as the 2012 client was,
and pointed at the source with ``?ws=``; it decompresses each whole message with js-lzma (the
2012 client's LZMA decoder), reads the keyframe flag and quadrant means from the first 5 bytes,
applies deltas mod 256 and draws every code but 255.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.client.test_browser import (  # noqa: F401 (the Chromium fixture)
    browser, canvas_pixels, cloud_share, start_source, stop,
)

TESTS_CLIENT_DIR = Path(__file__).resolve().parent
PAGE_TIMEOUT_MS = 30000

pytestmark = pytest.mark.skipif(
    not (TESTS_CLIENT_DIR / "node_modules" / "js-lzma").is_dir(),
    reason="needs tests/client/node_modules (make test installs it)",
)


@pytest.fixture(scope="module")
def legacy_source():
    process, url = start_source("--wire", "legacy")
    yield url
    stop(process)


@pytest.fixture(scope="module")
def static_server():
    """A plain static server of tests/client/ (the page and js-lzma); yields its base URL."""
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(TESTS_CLIENT_DIR)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    port = re.search(r"port (\d+)", static.stdout.readline()).group(1)
    yield f"http://127.0.0.1:{port}"
    stop(static)


# "/" is what the 2012 client opened by default (ws://host:9000); direct mode answers an upgrade on any path.
@pytest.mark.parametrize("ws_path", ["/", "/ws"])
def test_2012_style_page_draws_the_legacy_stream(browser, legacy_source, static_server, ws_path):
    """The 2012-style page draws the --wire legacy stream, which changes over time, with no error."""
    ws_url = legacy_source.replace("http://", "ws://").rstrip("/") + ws_path
    page = browser.new_page(viewport={"width": 700, "height": 520})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{static_server}/legacy2012/index.html?ws={ws_url}")
    page.wait_for_function("window.legacy2012.framesDrawn >= 10 || window.legacy2012.errors.length > 0"
                           " || window.legacy2012.closed === true", timeout=PAGE_TIMEOUT_MS)
    status = page.evaluate("window.legacy2012")
    assert status["errors"] == [] and not status.get("closed"), status
    assert status["wsUrl"] == ws_url
    # A late joiner's first message is the catch-up keyframe: it draws from the first message.
    assert status["keyframes"] >= 1 and status["framesDrawn"] == status["framesReceived"]
    first = canvas_pixels(page)
    assert cloud_share(first) > 0.3, "the canvas shows only background"
    drawn = status["framesDrawn"]
    page.wait_for_function(f"window.legacy2012.framesDrawn >= {drawn + 20}", timeout=PAGE_TIMEOUT_MS)
    second = canvas_pixels(page)
    assert float((np.abs(second - first).sum(axis=2) > 30).mean()) > 0.002, "the picture did not change"
    assert page.evaluate("window.legacy2012.errors") == []
    assert not errors, errors
    page.close()
