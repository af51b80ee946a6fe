"""The Content-Security-Policy of the client page, derived from its ``index.html``.

The page may run only its own files (``'self'``), its inline import map (allowed by its SHA-256,
computed here from the file as served, so an edit of the page keeps its policy right), its one
inline ``onerror`` handler (``'unsafe-hashes'`` with that handler's hash), inline styles,
workers from its own origin, and WebAssembly (the coders). It may open WebSockets to any host
(``?ws=`` picks the server) and fetch ``data:`` URLs (a decoder's embedded WebAssembly), and be
framed by nobody (``frame-ancestors 'none'``). ``tests/security/test_page_policy.py`` checks in
Chromium that the page draws with no violation.
"""

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _hash(text):
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(page):
    """The CSP header value (str) for the page whose HTML is ``page`` (str)."""
    scripts = [_hash(text) for text in _INLINE_SCRIPT.findall(page)]
    handlers = [_hash(a or b) for a, b in _HANDLER.findall(page)]
    script_src = ["'self'", "'wasm-unsafe-eval'", *scripts]
    if handlers:
        script_src += ["'unsafe-hashes'", *handlers]
    directives = [
        "default-src 'none'",
        f"script-src {' '.join(script_src)}",
        # The page's modules (hud.js, Toolbar.js) insert <style> elements of their own, and a
        # hash would turn 'unsafe-inline' off: inline styles pass (CSS runs no script).
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self'",
        # data: for zstddec, which fetches its WebAssembly from a data: URL it carries.
        "connect-src 'self' ws: wss: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)
