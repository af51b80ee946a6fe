"""The page passes its own Content-Security-Policy: in Debian's Chromium it draws frames with no
violation reported, in the console or by a ``securitypolicyviolation`` event."""

import os

import pytest

from depthcam.broadcast.clientdir import find_client_dir

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK) or not (find_client_dir() / "node_modules").is_dir(),
    reason="needs Debian's chromium and client/node_modules (make test installs both)",
)
# Every event the page reports as a violation, gathered from before its first script runs.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
    window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
});
"""


@pytest.mark.parametrize("profile", ["classic", "classic-lzma"])
def test_the_page_draws_under_its_policy_with_no_violation(programs, profile):
    """classic (WebAssembly coder) and classic-lzma (LZMA in WebAssembly, a worker) both draw."""
    from playwright.sync_api import sync_playwright

    source = programs.source("--profile", profile)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 640, "height": 480})
            console, errors = [], []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.add_init_script(COLLECT_VIOLATIONS)
            response = page.goto(f"http://localhost:{source.port}/")
            assert "content-security-policy" in response.headers
            # A function, not an expression string: Playwright evaluates strings with eval(),
            # which the page's policy (rightly) forbids.
            page.wait_for_function("() => window.depthcam && window.depthcam.framesDrawn >= 5",
                                   timeout=60000)
            violations = page.evaluate("window.__violations")
        finally:
            browser.close()
    policy_lines = [line for line in console if "Content Security Policy" in line]
    assert violations == [] and policy_lines == [], (violations, policy_lines)
    assert errors == []
