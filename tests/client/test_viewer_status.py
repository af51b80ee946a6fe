"""The viewer's status line in Chromium: every state it can be in, reached as a user would reach it.

A relay with no source, a source that starts, pauses (SIGSTOP) and resumes, a relay that dies, an
address where nothing listens and one where nothing answers, and a browser without WebGL.
"""

import os
import re
import signal
import socket

from tests.client.test_browser import CHROMIUM, CHROMIUM_ARGS, browser, open_viewer  # noqa: F401
from tests.e2e.conftest import Programs

# The viewer's own thresholds (client/ViewerStatus.js stallTime, client/connection.js connectTimeout), s.
STALL_TIME_S = 3
CONNECT_TIMEOUT_S = 10
# Every wait below has this much room beyond the thresholds, ms: a loaded machine is slow.
SLACK_MS = 30000


def keep_screenshot(page, name):
    """Save a screenshot to $DEPTHCAM_SCREENSHOTS/NAME.png when that folder is given (for people to look at)."""
    folder = os.environ.get("DEPTHCAM_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}.png"))


def wait_for_state(page, state, timeout_ms=SLACK_MS):
    """Wait until window.depthcam.viewerState is ``state``; return the status line then."""
    page.wait_for_function(f"() => window.depthcam && window.depthcam.viewerState === '{state}'", timeout=timeout_ms)
    return page.evaluate("window.depthcam.statusText")


def hud_text(page):
    return page.inner_text(".depthcam-hud .state")


def saturation(pixels):
    """Mean spread between a pixel's largest and smallest channel: 0 for a grey picture."""
    return float((pixels.max(axis=2) - pixels.min(axis=2)).mean())


def screenshot_pixels(page):
    """The page as the user sees it (CSS filters included), as an RGB array."""
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(np.int16)


def test_status_walks_from_waiting_to_live_to_stalled_to_reconnecting(browser, tmp_path):  # noqa: F811
    """Through a relay: no source yet, live, stalled while the source is stopped (the picture greys
    out), live again, and reconnecting with the close code when the relay dies."""
    programs = Programs(tmp_path)
    try:
        relay = programs.relay()
        page, errors = open_viewer(browser, f"http://127.0.0.1:{relay.port}/")
        address = f"ws://127.0.0.1:{relay.port}/ws"
        text = wait_for_state(page, "waiting")
        assert text == f"connected to {address} · no source yet: waiting for its first frame"
        page.wait_for_function("() => document.querySelector('.depthcam-hud .state').textContent.includes('no source yet')",
                               timeout=SLACK_MS)
        keep_screenshot(page, "status-waiting")

        source = programs.push_source(relay.port)
        assert wait_for_state(page, "live") == "live"
        page.wait_for_function("() => window.depthcam.framesDrawn >= 10", timeout=SLACK_MS)
        assert not page.evaluate("document.querySelector('canvas').classList.contains('depthcam-stale')")
        live_saturation = saturation(screenshot_pixels(page))
        keep_screenshot(page, "status-live")

        os.kill(source.process.pid, signal.SIGSTOP)
        try:
            text = wait_for_state(page, "stalled", STALL_TIME_S * 1000 + SLACK_MS)
            assert re.fullmatch(r"stalled: no frame for \d+ s \(source paused or gone\)", text), text
            page.wait_for_function("() => document.querySelector('.depthcam-hud .state').textContent.startsWith('stalled')",
                                   timeout=SLACK_MS)
            assert "grayscale(1)" in page.evaluate("getComputedStyle(document.querySelector('canvas')).filter")
            stalled_saturation = saturation(screenshot_pixels(page))
            keep_screenshot(page, "status-stalled")
            assert stalled_saturation < live_saturation / 4, (stalled_saturation, live_saturation)
        finally:
            os.kill(source.process.pid, signal.SIGCONT)
        assert wait_for_state(page, "live") == "live"

        relay.kill()
        text = wait_for_state(page, "reconnecting")
        assert re.fullmatch(rf"reconnecting to {re.escape(address)} \(next try in \d+ s\) · closed with code \d+.*", text), text
        keep_screenshot(page, "status-reconnecting-closed")
        assert not errors, errors
        page.close()
    finally:
        programs.kill_all()


def test_nothing_listening_is_refused(browser, tmp_path):  # noqa: F811
    """?ws= at a port where nothing listens: reconnecting, with the address and "refused"."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The page itself comes from a relay; only its ?ws= points nowhere.
    programs = Programs(tmp_path)
    try:
        relay = programs.relay()
        address = f"ws://127.0.0.1:{port}/ws"
        page, errors = open_viewer(browser, f"http://127.0.0.1:{relay.port}/?ws={address}")
        text = wait_for_state(page, "reconnecting")
        assert text.startswith(f"reconnecting to {address} (next try in ")
        assert "· refused: nothing accepted the connection, or the server turned it away" in text
        page.wait_for_function("() => document.querySelector('.depthcam-hud .state').textContent.includes('refused')",
                               timeout=SLACK_MS)
        keep_screenshot(page, "status-refused")
        assert not errors, errors
        page.close()
    finally:
        programs.kill_all()


def test_nothing_answering_is_connecting_then_unreachable(browser, tmp_path):  # noqa: F811
    """?ws= at a port that takes the TCP connection but never answers the handshake: "connecting
    to" the address, then, after the connect timeout, reconnecting with "unreachable"."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the TCP handshake; nothing ever reads or replies
    programs = Programs(tmp_path)
    try:
        relay = programs.relay()
        address = f"ws://127.0.0.1:{silent.getsockname()[1]}/ws"
        page, errors = open_viewer(browser, f"http://127.0.0.1:{relay.port}/?ws={address}")
        assert wait_for_state(page, "connecting") == f"connecting to {address}…"
        page.wait_for_function("() => document.querySelector('.depthcam-hud .state').textContent.startsWith('connecting to')",
                               timeout=SLACK_MS)
        keep_screenshot(page, "status-connecting")
        text = wait_for_state(page, "reconnecting", CONNECT_TIMEOUT_S * 1000 + SLACK_MS)
        assert text.startswith(f"reconnecting to {address}")
        assert text.endswith(f"· unreachable: no answer in {CONNECT_TIMEOUT_S} s"), text
        assert not errors, errors
        page.close()
    finally:
        programs.kill_all()
        silent.close()


def test_without_webgl_the_page_says_so(browser, tmp_path):  # noqa: F811
    """Chromium with WebGL turned off: the page says "WebGL not available" and what to do, not "loading…"."""
    programs = Programs(tmp_path)
    no_webgl = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-webgl"])
    try:
        relay = programs.relay()
        page, errors = open_viewer(no_webgl, f"http://127.0.0.1:{relay.port}/")
        assert wait_for_state(page, "no-webgl").startswith("WebGL not available: ")
        text = page.inner_text("#boot")
        assert text.startswith("WebGL not available: ")
        assert "hardware acceleration" in text and "INSTALL.md" in text
        keep_screenshot(page, "status-no-webgl")
        assert not errors, errors
    finally:
        no_webgl.close()
        programs.kill_all()
