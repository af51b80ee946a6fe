"""The viewer in a real browser: Debian's Chromium, headless, WebGL through SwiftShader.

A live source runs as a real process; Playwright opens its page and the test reads the canvas.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import numpy as np
import pytest

from tests.wire_profiles import WIRE_PROFILES

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIENT_DIR = Path(__file__).resolve().parents[2] / "client"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
STARTUP_TIMEOUT_S = 30
URL_LINE = re.compile(r"open (http://\S+?:(\d+)/)")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or not (CLIENT_DIR / "node_modules").is_dir(),
    reason="needs Debian's chromium and client/node_modules (make test installs both)",
)


def start_source(*extra_args, port=0):
    """Start `python -m depthcam.source` on a port (0: a free one); return (process, page URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "depthcam.source", "serve", "--port", str(port), *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if match := URL_LINE.search(line):
            return process, match.group(1)
    process.kill()
    raise AssertionError("source did not print its URL:\n" + "".join(seen))


@pytest.fixture(scope="module")
def source():
    process, url = start_source()
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def canvas_pixels(page):
    """The rendered canvas as an RGB array (from the page's own drawing buffer)."""
    from PIL import Image

    data_url = page.evaluate("document.querySelector('canvas').toDataURL('image/png')")
    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def cloud_share(pixels):
    """Share of pixels that differ from the background colour (the most common one)."""
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    return float((np.abs(flat - background).sum(axis=1) > 30).mean())


def wait_for_frames(page, count, timeout_ms=30000):
    # A function, not an expression: Playwright evals an expression in the page, which the page's
    # Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function(
        f"() => window.depthcam && window.depthcam.framesDrawn >= {count}", timeout=timeout_ms
    )


def stop(process):
    process.terminate()
    process.wait(timeout=10)


def open_viewer(browser, url):
    page = browser.new_page(viewport={"width": 800, "height": 600})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def test_page_draws_a_moving_cloud(browser, source):
    """The page served by a live source decodes frames and draws a cloud that changes over time."""
    page, errors = open_viewer(browser, source)
    wait_for_frames(page, 10)
    first = canvas_pixels(page)
    assert cloud_share(first) > 0.02, "the canvas shows only background"
    decoded = page.evaluate("window.depthcam.framesDrawn")
    wait_for_frames(page, decoded + 20)
    second = canvas_pixels(page)
    changed = float((np.abs(second - first).sum(axis=2) > 30).mean())
    assert changed > 0.002, "the picture did not change between two moments"
    status = page.evaluate("window.depthcam")
    assert status["connectionState"] == "open"
    assert status["points"] > 1000
    # The scene comes as classic-cm, decoded off the page's thread: every frame so far by the worker.
    assert status["profile"] == "classic-cm"
    assert 0 < status["framesDecoded"] <= status["workerDecodes"]
    assert not errors, errors
    page.close()


DECODE_VECTORS_IN_WORKER = """async ( streams ) => {
    const { StreamDecoder } = await import( './decoder.js' );
    const { ContextWorker } = await import( './ContextWorker.js' );
    const worker = new ContextWorker();
    const results = [];
    for ( const stream of streams ) {
        const decoder = new StreamDecoder( { contextWorker: worker } );
        const outcomes = [];
        for ( const frame of stream.frames ) {
            const message = Uint8Array.from( atob( frame.message ), ( c ) => c.charCodeAt( 0 ) ).buffer;
            try {
                const { codes } = await decoder.decodeAsync( message );
                let binary = '';
                for ( const code of codes ) binary += String.fromCharCode( code );
                outcomes.push( { codes: btoa( binary ) } );
            } catch ( error ) {
                outcomes.push( { error: error.name } );
            }
        }
        results.push( outcomes );
    }
    worker.dispose();
    return { results, decoded: worker.decoded };
}"""


def test_the_worker_decodes_the_classic_cm_vectors(browser, source):
    """In Chromium, StreamDecoder.decodeAsync with a ContextWorker gives every classic-cm vector
    its expected codes or error, as the Python and the in-page decoders do."""
    vectors = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "classic.json").read_text())
    streams = [stream for stream in vectors["streams"] if stream["name"].startswith("cm-")]
    page, errors = open_viewer(browser, source)
    outcome = page.evaluate(DECODE_VECTORS_IN_WORKER, streams)
    for stream, results in zip(streams, outcome["results"], strict=True):
        expected = [{"error": f["expect"]["error"]} if "error" in f["expect"] else {"codes": f["expect"]["codes"]}
                    for f in stream["frames"]]
        assert results == expected, stream["name"]
    assert outcome["decoded"] >= 10  # the worker decoded them, not the page
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("device", ["fakenect:kinect1-raw-walkin", "png:7scenes-redkitchen"])
def test_page_draws_a_real_recording(browser, device):
    """A real Kinect recording, looping through the source, is drawn as a cloud in the page."""
    from tests.conftest import recording_path

    kind, name = device.split(":")
    process, url = start_source("--device", f"{kind}:{recording_path(name)}", "--loop")
    try:
        page, errors = open_viewer(browser, url)
        wait_for_frames(page, 10)
        assert cloud_share(canvas_pixels(page)) > 0.02, "the canvas shows only background"
        assert page.evaluate("window.depthcam.points") > 1000
        assert not errors, errors
        page.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ws_parameter_picks_the_server(browser, source):
    """?ws= points a page served from elsewhere (a plain static server) at the source's WebSocket."""
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(CLIENT_DIR)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        static_port = re.search(r"port (\d+)", static.stdout.readline()).group(1)
        ws_url = source.replace("http://", "ws://") + "ws"
        page, errors = open_viewer(browser, f"http://127.0.0.1:{static_port}/?ws={quote(ws_url, safe='')}")
        wait_for_frames(page, 5)
        assert page.evaluate("window.depthcam.wsUrl") == ws_url
        assert cloud_share(canvas_pixels(page)) > 0.02
        assert not errors, errors
        page.close()
    finally:
        static.terminate()
        static.wait(timeout=10)


# Each profile's frame size, and the fewest points the built-in scene shows in it (the room fills
# most of the frame: classic shows about 18 600 of 19 200, fine about 74 000, lossless about
# 295 000; about 16 000, 64 000 and 252 000 while the visitor stands close and its shadows widen).
PROFILE_FRAMES = {
    "classic": ((160, 120), 10_000),
    "classic-lzma": ((160, 120), 10_000),
    "lossless": ((640, 480), 100_000),
    "fine": ((320, 240), 25_000),
}


def test_page_follows_the_profile_when_the_source_restarts(browser):
    """One page draws each profile in turn as the source restarts on the same port with another one
    (and names the profile it shows: --profile classic sends classic-cm)."""
    process, url = start_source("--profile", "classic")
    port = urlparse(url).port
    page = None
    try:
        page, errors = open_viewer(browser, url)
        for index, profile in enumerate(["classic", "classic-lzma", "lossless", "fine"]):
            if index > 0:
                stop(process)
                process, _ = start_source("--profile", profile, port=port)
            (width, height), fewest_points = PROFILE_FRAMES[profile]
            # A few frames of the new size: the viewer reconnected and rebuilt its cloud.
            page.wait_for_function(
                f"() => window.depthcam && window.depthcam.frameWidth === {width} && window.depthcam.frameHeight === {height}"
                f" && window.depthcam.profile === '{WIRE_PROFILES[profile]}'",
                timeout=30000,
            )
            drawn = page.evaluate("window.depthcam.framesDrawn")
            wait_for_frames(page, drawn + 2)
            assert cloud_share(canvas_pixels(page)) > 0.02, f"{profile}: the canvas shows only background"
            points = page.evaluate("window.depthcam.points")
            assert fewest_points < points <= width * height, f"{profile}: {points} points"
            # The camera looks at a metric point in front of the sensor (the cloud's centre, or the motion).
            target = page.evaluate("window.depthcam.cameraTarget")
            assert all(np.isfinite(target)) and -10 < target[2] < 0, f"{profile}: camera target {target}"
        assert page.evaluate("window.depthcam.lastError") is None
        assert not errors, errors
    finally:
        if page is not None:
            page.close()
        stop(process)
