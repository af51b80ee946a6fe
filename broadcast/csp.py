"""The Content-Security-Policy of the client page, derived from its ``index.html``.

The page may run only its own files (``'self'``), its inline import map and style (each allowed
by its SHA-256, computed here from the file as served, so an edit of the page keeps its policy
right), its one inline ``onerror`` handler (``'unsafe-hashes'`` with that handler's hash),
workers from its own origin, and WebAssembly (the LZMA decoder). It may open WebSockets to any
host (``?ws=`` picks the server), and be framed by nobody (``frame-ancestors 'none'``).
"""

import base64
import hashlib
import re

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
_INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _hash(text):
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(page):
    """The CSP header value (str) for the page whose HTML is ``page`` (str)."""
    scripts = [_hash(text) for text in _INLINE_SCRIPT.findall(page)]
    handlers = [_hash(a or b) for a, b in _HANDLER.findall(page)]
    styles = [_hash(text) for text in _INLINE_STYLE.findall(page)]
    script_src = ["'self'", "'wasm-unsafe-eval'", *scripts]
    if handlers:
        script_src += ["'unsafe-hashes'", *handlers]
    directives = [
        "default-src 'none'",
        f"script-src {' '.join(script_src)}",
        f"style-src 'self' {' '.join(styles)}".rstrip(),
        "img-src 'self' data:",
        "worker-src 'self'",
        # data: for zstddec, which fetches its inlined WebAssembly from a data: URL at import.
        "connect-src 'self' ws: wss: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)
