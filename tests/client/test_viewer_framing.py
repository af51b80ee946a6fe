"""The viewer's first view in Chromium: the whole cloud fills the screen, on a desktop and a phone.

Each scene (the built-in room, a person walking up to a Kinect, a handheld kitchen recording) is
drawn by a real source; the test finds the cloud's bounding box in the canvas and checks that it
fills most of the view with nothing cut off, that zooming out leaves the cloud out of the fog, and
that the motion-following camera still moves. The view is fitted to one frame, and a moving scene
may leave it a moment later, so the strict check pauses the source (SIGSTOP) and presses R: the
view is then fitted to the very frame that stays on screen.
"""

import contextlib
import math
import os
import signal

import numpy as np
import pytest

from tests.client.test_browser import browser, canvas_pixels, start_source, stop, wait_for_frames  # noqa: F401
from tests.client.test_viewer_status import keep_screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
# The fitted cloud spans at least this share of the view's width or height (ViewFitter.fill is 0.85).
LEAST_FILL = 0.7
# ... and keeps at least this many pixels from every edge: nothing is cut off.
EDGE_PX = 3
DEVICES = {
    "scene": ("scene",),
    "walk-in": ("fakenect", "kinect1-raw-walkin"),
    "kitchen": ("png", "7scenes-redkitchen"),
}
WAIT_MS = 60000


def source_args(device):
    from tests.conftest import recording_path

    if device == "scene":
        return ()
    kind, name = DEVICES[device]
    return ("--device", f"{kind}:{recording_path(name)}", "--loop")


def open_page(browser, url, context_options):  # noqa: F811
    """A page in a fresh context; console errors and page errors both land in the returned list."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(url)
    return page, problems


def cloud_box(pixels, background):
    """(left, top, right, bottom) of the pixels that differ from the background colour, inclusive."""
    drawn = np.abs(pixels - np.array(background)).sum(axis=2) > 30
    rows = np.flatnonzero(drawn.any(axis=1))
    columns = np.flatnonzero(drawn.any(axis=0))
    assert rows.size and columns.size, "nothing drawn"
    return columns[0], rows[0], columns[-1], rows[-1]


def background_rgb(page):
    colour = page.evaluate("window.depthcam.background")
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def check_framing(page):
    """The cloud spans LEAST_FILL of the canvas's width or height and touches no edge."""
    pixels = canvas_pixels(page)
    height, width = pixels.shape[:2]
    left, top, right, bottom = cloud_box(pixels, background_rgb(page))
    assert left >= EDGE_PX and top >= EDGE_PX and right < width - EDGE_PX and bottom < height - EDGE_PX, \
        f"cut off: box {left, top, right, bottom} in {width} x {height}"
    fill = max((right - left + 1) / width, (bottom - top + 1) / height)
    assert fill >= LEAST_FILL, f"the cloud fills only {fill:.0%}"
    return fill


@contextlib.contextmanager
def paused(process):
    """The source stopped (SIGSTOP) for the block's length, then resumed."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def wait_for_render(page):
    """Wait until the page has rendered twice more (the next animation frames)."""
    page.evaluate("new Promise( ( done ) => requestAnimationFrame( () => requestAnimationFrame( done ) ) )")


def check_layout(page, width, height):
    """The status line, details, buttons and stats panel all lie inside the screen."""
    boxes = page.evaluate("""() => [ ...document.querySelectorAll(
        '.depthcam-hud > *, .depthcam-toolbar button, .depthcam-hud ~ div canvas' ) ]
        .filter( ( element ) => element.getClientRects().length )
        .map( ( element ) => { const r = element.getBoundingClientRect();
            return [ element.className || element.tagName, r.left, r.top, r.right, r.bottom ]; } )""")
    assert len(boxes) >= 6, boxes  # state, rates, details; two buttons; a stats canvas
    for name, left, top, right, bottom in boxes:
        assert left >= 0 and top >= 0 and right <= width and bottom <= height, (name, left, top, right, bottom)


def view_direction(page):
    status = page.evaluate("window.depthcam")
    direction = np.subtract(status["cameraTarget"], status["cameraPosition"])
    return direction / np.linalg.norm(direction)


@pytest.mark.parametrize("screen, device", [
    ("phone", "scene"), ("phone", "walk-in"), ("phone", "kitchen"), ("desktop", "walk-in")])
def test_the_view_fits_the_whole_cloud(browser, screen, device):  # noqa: F811
    """The first frame frames the view, looking along the sensor's axis; R fits it again to the frame
    on screen: the cloud fills most of a portrait phone's or a desktop's view and nothing is cut
    off. The HUD (with ?stats=1) fits the screen, and the console stays clean."""
    context_options = PHONE if screen == "phone" else DESKTOP
    process, url = start_source(*source_args(device))
    try:
        page, problems = open_page(browser, url + "?stats=1", context_options)
        page.wait_for_function("window.depthcam && window.depthcam.viewFits >= 1", timeout=WAIT_MS)
        np.testing.assert_allclose(view_direction(page), [0, 0, -1], atol=1e-6)
        wait_for_frames(page, page.evaluate("window.depthcam.framesDrawn") + 2, WAIT_MS)
        page.wait_for_timeout(500)  # the HUD's text refreshes four times a second
        keep_screenshot(page, f"framing-{screen}-{device}")
        check_layout(page, **context_options["viewport"])
        with paused(process):
            # Every frame sent has been shown: the one on screen stays there.
            page.wait_for_function("window.depthcam.sequenceShown === window.depthcam.lastSequence"
                                   " && window.depthcam.framesDecoded === window.depthcam.framesReceived",
                                   timeout=WAIT_MS)
            fits = page.evaluate("window.depthcam.viewFits")
            page.keyboard.press("r")
            page.wait_for_function(f"window.depthcam.viewFits > {fits}", timeout=WAIT_MS)
            wait_for_render(page)
            check_framing(page)
            np.testing.assert_allclose(view_direction(page), [0, 0, -1], atol=1e-6)
        assert not problems, problems
        page.context.close()
    finally:
        stop(process)


def cloud_brightness(page):
    """Mean brightness of the drawn pixels, and the share of the canvas they cover."""
    pixels = canvas_pixels(page)
    drawn = np.abs(pixels - np.array(background_rgb(page))).sum(axis=2) > 30
    return float(pixels[drawn].mean()), float(drawn.mean())


def test_zooming_out_does_not_fade_the_cloud_into_the_fog(browser):  # noqa: F811
    """Three times farther away the cloud is smaller but about as bright: the fog follows the cloud."""
    process, url = start_source()
    try:
        page, problems = open_page(browser, url, DESKTOP)
        page.wait_for_function("window.depthcam && window.depthcam.viewFits >= 1", timeout=WAIT_MS)
        wait_for_frames(page, page.evaluate("window.depthcam.framesDrawn") + 2, WAIT_MS)
        near_brightness, near_share = cloud_brightness(page)
        start = page.evaluate("window.depthcam")
        distance = math.dist(start["cameraPosition"], start["cameraTarget"])
        page.mouse.move(640, 400)
        for _ in range(40):
            page.mouse.wheel(0, 200)
            if math.dist(*(page.evaluate(f"window.depthcam.{key}") for key in ("cameraPosition", "cameraTarget"))) > 3 * distance:
                break
            page.wait_for_timeout(50)
        status = page.evaluate("window.depthcam")
        assert math.dist(status["cameraPosition"], status["cameraTarget"]) > 3 * distance, "the wheel did not zoom out"
        wait_for_frames(page, status["framesDrawn"] + 2, WAIT_MS)
        far_brightness, far_share = cloud_brightness(page)
        keep_screenshot(page, "zoomed-out-desktop")
        assert far_share < near_share / 3, (far_share, near_share)
        assert far_brightness > 0.7 * near_brightness, (far_brightness, near_brightness)
        assert not problems, problems
        page.context.close()
    finally:
        stop(process)


def test_the_camera_still_follows_motion(browser):  # noqa: F811
    """With the figure walking in the built-in scene, the view pans after it (and the cloud stays whole)."""
    process, url = start_source()
    try:
        page, problems = open_page(browser, url, DESKTOP)
        page.wait_for_function("window.depthcam && window.depthcam.viewFits >= 1", timeout=WAIT_MS)
        home = page.evaluate("window.depthcam.cameraTarget")
        page.wait_for_function(
            f"window.depthcam.following && Math.hypot( ...window.depthcam.cameraTarget.map( ( v, i ) => v - {home}[ i ] ) ) > 0.01",
            timeout=WAIT_MS,
        )
        check_framing(page)
        np.testing.assert_allclose(view_direction(page), [0, 0, -1], atol=1e-6)
        assert not problems, problems
        page.context.close()
    finally:
        stop(process)
