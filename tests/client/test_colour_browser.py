"""Colour in a real browser: Debian's Chromium draws a colour stream's points in the picture's colours.

A live source plays 7-Scenes' kitchen (depth with its colour pictures) as a real process; the page
decodes the JPEGs with the browser's own decoder and the shader looks each point's colour up. The
test tells true colour from depth colour by the colours themselves: it computes every colour the
depth ramp (with fog towards the background) can give, and counts the drawn pixels that are far
from all of them, such as the kitchen's grey walls, green-grey and dark red (the cabinets).
"""

import numpy as np
import pytest

from tests.client.test_browser import (browser, canvas_pixels, cloud_share, open_viewer,  # noqa: F401
                                       start_source, stop)
from tests.conftest import recording_path
from tests.source.rsrecordings import FX, make_recording, require_sdk

# client/PointCloud.js's RAMP_STOPS and main.js's BACKGROUND_COLOUR, sRGB.
RAMP_STOPS = [(0.0, "#ffe066"), (0.3, "#fa7f38"), (0.6, "#cc3885"), (1.0, "#4852db")]
BACKGROUND = "#0b0d12"
# A drawn pixel this far (RGB distance, 0-255 a channel) from every depth colour is not one.
NOT_DEPTH_DISTANCE = 40


# Views of the kitchen looked at for the red cabinets, 5 drawn frames apart.
RED_VIEWS = 5


def wait_for_drawn(page, count, timeout_ms=180000):
    """Wait until the viewer has drawn ``count`` frames (a function predicate: the page's CSP
    forbids the eval a string expression would need)."""
    page.wait_for_function(f"() => window.depthcam && window.depthcam.framesDrawn >= {count}",
                           timeout=timeout_ms)


def _rgb(hex_colour):
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], float)


def _to_linear(srgb):
    c = srgb / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear):
    c = np.clip(linear, 0, 1)
    return 255 * np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def depth_colours():
    """Every colour depth colouring can draw: the ramp (mixed in linear light, as three.js does),
    each mixed with the background by any share of fog, in sRGB and in linear light."""
    stops = np.array([t for t, _ in RAMP_STOPS])
    linear = np.array([_to_linear(_rgb(c)) for _, c in RAMP_STOPS])
    t = np.linspace(0, 1, 128)
    ramp = np.stack([np.interp(t, stops, linear[:, k]) for k in range(3)], axis=1)
    fog = np.linspace(0, 1, 32)[:, None, None]
    background = _rgb(BACKGROUND)
    in_srgb = _to_srgb(ramp)[None] * (1 - fog) + background * fog
    in_linear = _to_srgb(ramp[None] * (1 - fog) + _to_linear(background) * fog)
    return np.concatenate([in_srgb.reshape(-1, 3), in_linear.reshape(-1, 3)])


def not_depth_share(pixels, palette=depth_colours()):
    """Share of the drawn (non-background) pixels that no depth colour comes near, and those pixels."""
    flat = pixels.reshape(-1, 3).astype(float)
    drawn = flat[np.abs(flat - _rgb(BACKGROUND)).sum(axis=1) > 30]
    # Each distinct colour once (a frame has thousands, not hundreds of thousands).
    colours, inverse = np.unique(drawn, axis=0, return_inverse=True)
    distances = np.full(len(colours), np.inf)
    for start in range(0, len(colours), 512):
        block = colours[start:start + 512]
        d = ((block[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
        distances[start:start + 512] = d.min(axis=1)
    far = drawn[np.sqrt(distances[inverse.ravel()]) > NOT_DEPTH_DISTANCE]
    return len(far) / max(len(drawn), 1), far


def test_depth_ramp_colours_are_all_depth_colours():
    """The palette check itself: a picture of ramp colours and fogged ones has nothing far from it."""
    palette = depth_colours()
    picture = palette[::97][None].round()
    share, _ = not_depth_share(picture, palette)
    assert share == 0
    grey_and_green = np.array([[[128, 128, 128], [60, 140, 70]]], float)
    assert not_depth_share(grey_and_green, palette)[0] == 1


@pytest.fixture(scope="module")
def kitchen_source():
    """The source playing 7-Scenes' kitchen with its colour pictures, in a loop."""
    process, url = start_source("--device", f"png:{recording_path('7scenes-redkitchen')}", "--loop")
    yield url
    stop(process)


def test_kitchen_points_take_the_pictures_colours(browser, kitchen_source):  # noqa: F811
    """The 7-Scenes frames are drawn in their own colours, hues depth colouring cannot produce
    (dark red cabinets among them); the toggle brings the depth colours back."""
    page, errors = open_viewer(browser, kitchen_source)
    page.wait_for_function("() => window.depthcam && window.depthcam.colourFrames >= 3", timeout=180000)
    coloured = canvas_pixels(page)
    assert cloud_share(coloured) > 0.05, "the canvas shows only background"
    share, far = not_depth_share(coloured)
    assert share > 0.2, f"only {share:.1%} of the drawn pixels are beyond depth colouring"
    # How many reds depends on the frame and where the view sits (the handheld camera looks away
    # from the cabinets at times): the cabinets give dozens in at least one of a few views.
    red_counts = []
    for view in range(RED_VIEWS):
        if view:
            wait_for_drawn(page, page.evaluate("window.depthcam.framesDrawn") + 5)
            _, far = not_depth_share(canvas_pixels(page))
        reds = far[(far[:, 0] > 1.4 * far[:, 1]) & (far[:, 0] > 1.4 * far[:, 2]) & (far[:, 0] > 60)]
        red_counts.append(len(reds))
        if len(reds) > 20:
            break
    assert max(red_counts) > 20, f"no red that depth colouring could not draw (per view: {red_counts})"
    status = page.evaluate("window.depthcam")
    assert status["colourShown"] and status["colourErrors"] == 0
    assert status["profile"] == "classic-cm"

    page.click(".depthcam-colour-toggle")
    assert page.inner_text(".depthcam-colour-toggle") == "depth colour"
    drawn = page.evaluate("window.depthcam.framesDrawn")
    wait_for_drawn(page, drawn + 3)
    assert not page.evaluate("window.depthcam.colourShown")
    depth_share, _ = not_depth_share(canvas_pixels(page))
    assert depth_share < 0.01, f"{depth_share:.1%} of the depth-coloured pixels are not depth colours"
    assert not errors, errors
    page.close()


def test_depth_only_stream_has_no_colour_toggle(browser):  # noqa: F811
    """The built-in scene sends no pictures: no toggle, every point depth-coloured."""
    process, url = start_source()
    try:
        page, errors = open_viewer(browser, url)
        wait_for_drawn(page, 10)
        assert page.is_hidden(".depthcam-colour-toggle")
        assert not page.evaluate("window.depthcam.colourShown")
        share, _ = not_depth_share(canvas_pixels(page))
        assert share < 0.01
        assert not errors, errors
        page.close()
    finally:
        stop(process)


@pytest.fixture(scope="module")
def realsense_source(tmp_path_factory):
    """The source playing a RealSense recording (made by the SDK from the kitchen) through the SDK."""
    require_sdk()
    path = tmp_path_factory.mktemp("realsense") / "kitchen.db3"
    make_recording(path, 30)
    process, url = start_source("--device", f"rsfile:{path}", "--loop")
    yield url
    stop(process)


def test_realsense_recording_is_drawn_in_colour_with_its_lens(browser, realsense_source):  # noqa: F811
    """A RealSense recording played through the SDK shows coloured points, and the viewer
    unprojects with the camera's own intrinsics (585 px at 640 x 480: 146.25 at 160 x 120)."""
    page, errors = open_viewer(browser, realsense_source)
    page.wait_for_function("() => window.depthcam && window.depthcam.colourFrames >= 3", timeout=180000)
    share, _ = not_depth_share(canvas_pixels(page))
    assert share > 0.2, f"only {share:.1%} of the drawn pixels are beyond depth colouring"
    intrinsics = page.evaluate("window.depthcam.intrinsics")
    assert intrinsics["fx"] == FX / 4 and intrinsics["fy"] == FX / 4
    assert not errors, errors
    page.close()
