"""A wheel alone gives a working viewer: installed in a fresh virtualenv outside the checkout and run
with no Node on the PATH, depthcam-source and depthcam-relay serve a page that Chromium draws.

Each test runs for the wheel built from the checkout and for the one built from the sdist.
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.client.test_browser import CHROMIUM, browser, canvas_pixels, cloud_share, wait_for_frames  # noqa: F401
from tests.packaging.conftest import wheel_names

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it)")

CLIENT_PREFIX = "depthcam/client/"
LICENCE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE")


def shipped_page_files(wheel):
    """The viewer files in ``wheel``, client-relative, leaving out the bundled licences."""
    return {name[len(CLIENT_PREFIX):] for name in wheel_names(wheel)
            if name.startswith(CLIENT_PREFIX) and not Path(name).name.startswith(LICENCE_NAMES)}


def watch(browser, url):
    """A page open on ``url`` and the (path, HTTP status) of every response it got, workers' too."""
    page = browser.new_page(viewport={"width": 800, "height": 600})
    responses, errors = [], []
    page.context.on("response", lambda response: responses.append(
        (urlsplit(response.url).path, response.status)))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, responses, errors


def assert_draws_the_cloud(page, errors):
    """The page decodes frames and draws a cloud of points over the background."""
    wait_for_frames(page, 10)
    assert cloud_share(canvas_pixels(page)) > 0.02, "the canvas shows only background"
    status = page.evaluate("window.depthcam")
    assert status["connectionState"] == "open" and status["points"] > 1000, status
    assert not errors, errors


def assert_loaded_exactly(responses, wheel):
    """Every file the page asked for was there, and it asked for every file the wheel ships."""
    failed = [(path, code) for path, code in responses if code >= 400]
    assert not failed, failed
    requested = {path.lstrip("/") or "index.html" for path, _ in responses}
    assert requested == shipped_page_files(wheel)


def test_the_page_is_found_in_the_installed_package(installed):
    """The installed depthcam locates its page in its own site-packages, not in the checkout."""
    code = "from depthcam.broadcast.clientdir import find_client_dir; print(find_client_dir())"
    folder = Path(installed.command("python", "-c", code).strip())
    assert installed.venv in folder.parents and (folder / "index.html").is_file()


def test_both_programs_print_the_wheels_version(installed):
    """``--version`` names the installed distribution's version, for both programs."""
    version = installed.wheel.name.split("-")[1]
    assert installed.command("depthcam-source", "--version") == f"depthcam-source {version}\n"
    assert installed.command("depthcam-relay", "--version") == f"depthcam-relay {version}\n"


def test_direct_mode_page_draws_the_cloud(installed_programs, browser):
    """``depthcam-source serve`` from the wheel serves a page that draws the built-in scene, and the
    page loads exactly the files the wheel ships, none missing."""
    source = installed_programs.source()
    page, responses, errors = watch(browser, source.url)
    try:
        assert_draws_the_cloud(page, errors)
        assert_loaded_exactly(responses, installed_programs.wheel)
    finally:
        page.close()
    assert "no index.html" not in source.output()


def test_relay_page_draws_the_pushed_cloud(installed_programs, browser):
    """``depthcam-relay`` from the wheel, fed by ``depthcam-source push``, serves a page that draws
    the pushed scene, loading exactly the files the wheel ships."""
    relay = installed_programs.relay()
    installed_programs.push_source(relay.port)
    page, responses, errors = watch(browser, f"http://127.0.0.1:{relay.port}/")
    try:
        assert_draws_the_cloud(page, errors)
        assert_loaded_exactly(responses, installed_programs.wheel)
    finally:
        page.close()
