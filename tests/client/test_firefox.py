"""The live-page browser tests again, in Debian's firefox-esr (headful on Xvfb, Mesa llvmpipe).

The tests are test_browser.py's own, collected here a second time with this module's ``browser``
fixture: Firefox through puppeteer-core (``firefox.py``) in place of Chromium through Playwright.
"""

import pytest

from tests.client.firefox import FirefoxBrowser, firefox_missing
from tests.client.test_browser import (  # noqa: F401 (pytest collects these here, with Firefox)
    source, test_page_draws_a_moving_cloud, test_page_follows_the_profile_when_the_source_restarts,
    test_the_worker_decodes_the_classic_cm_vectors, test_ws_parameter_picks_the_server,
)
from tests.client.test_legacy_page import (  # noqa: F401
    legacy_source, static_server, test_2012_style_page_draws_the_legacy_stream,
)

pytestmark = pytest.mark.skipif(firefox_missing() is not None, reason=firefox_missing() or "")


@pytest.fixture(scope="module")
def browser():
    firefox = FirefoxBrowser()
    yield firefox
    firefox.close()
