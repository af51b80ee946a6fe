"""The files the viewer page loads, found by following its imports from client/index.html.

The wheel carries these and nothing else of ``client/node_modules``: the page's own modules, the
import-map targets it uses and every module, worker and WebAssembly file those reach, plus the
licence files of each npm package they come from. ``setup.py`` copies them into the wheel; the
packaging tests compare them with what Chromium really requests.

``python viewer_bundle.py [CLIENT_DIR]`` prints the list (CLIENT_DIR: client/, after npm ci).
"""

import json
import posixpath
import re
import sys
from pathlib import Path

# Module specifiers in JavaScript source: ``import ... from 'x'``, ``export ... from 'x'``,
# ``import 'x'`` and ``import('x')``. Only string literals: a specifier computed at run time cannot
# be followed here, and the bundled libraries' only such imports (node-liblzma's Node built-ins)
# never run in a browser.
MODULE_PATTERNS = (
    re.compile(r"""\bfrom\s*(['"])([^'"\n]+)\1"""),
    re.compile(r"""\bimport\s*(['"])([^'"\n]+)\1"""),
    re.compile(r"""\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)"""),
)
# ``new URL('x', import.meta.url)``: a file beside the module (a worker, a WebAssembly binary),
# which is a plain relative URL rather than a module specifier.
MODULE_URL_PATTERN = re.compile(
    r"""\bnew\s+URL\s*\(\s*(['"])([^'"\n]+)\1\s*,\s*import\.meta\.url\s*\)"""
)
# What index.html loads by itself: scripts by src, and the import map naming the libraries.
SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*(['"])([^'"]+)\1""", re.IGNORECASE)
IMPORT_MAP = re.compile(r"""<script\b[^>]*\btype\s*=\s*(['"])importmap\1[^>]*>(.*?)</script>""",
                        re.IGNORECASE | re.DOTALL)
# A URL with a scheme (node:fs, data:, https:) names no file of the client.
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
RELATIVE = ("./", "../", "/")
# Licence files an npm package carries at its top (npm always packs these names).
LICENCE_NAME = re.compile(r"^(licen[cs]e|copying|notice)([.-].*)?$", re.IGNORECASE)
PAGE = "index.html"
NODE_MODULES = "node_modules"


class BundleError(Exception):
    """The page names a file that is not there, or a module its import map does not resolve."""


def import_map(html):
    """The ``imports`` of the page's import map: bare specifier or prefix → URL."""
    match = IMPORT_MAP.search(html)
    return json.loads(match.group(2)).get("imports", {}) if match else {}


def references(source):
    """``(is_module, text)`` for each literal import specifier and module-relative URL in
    JavaScript ``source``, in the order they appear."""
    found = [(match.start(), True, match.group(2))
             for pattern in MODULE_PATTERNS for match in pattern.finditer(source)]
    found += [(match.start(), False, match.group(2)) for match in MODULE_URL_PATTERN.finditer(source)]
    return [(is_module, text) for _, is_module, text in sorted(found)]


def join(base_file, relative):
    """The client-relative path of URL ``relative`` seen from client-relative ``base_file``."""
    if relative.startswith("/"):
        path = posixpath.normpath(relative.lstrip("/"))
    else:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), relative))
    if path == ".." or path.startswith("../"):
        raise BundleError(f"{base_file} reaches {relative!r}, outside the client folder")
    return path


def map_bare(specifier, imports):
    """The URL a bare ``specifier`` maps to: its exact import-map entry, else the longest prefix
    entry ending in ``/`` (the WHATWG import-map rule)."""
    if specifier in imports:
        return imports[specifier]
    prefixes = [key for key in imports if key.endswith("/") and specifier.startswith(key)]
    if not prefixes:
        raise BundleError(f"the import map does not name {specifier!r}")
    key = max(prefixes, key=len)
    return imports[key] + specifier[len(key):]


def resolve(is_module, text, importer, imports):
    """The client-relative path that ``text`` in client-relative ``importer`` names; None for a URL
    with a scheme. Module specifiers that are not relative go through the import map, as in a
    browser; ``new URL`` arguments are always relative."""
    if SCHEME.match(text):
        return None
    if is_module and not text.startswith(RELATIVE):
        # The import map's URLs are relative to the page, which sits at the client's top.
        return join(PAGE, map_bare(text, imports))
    return join(importer, text)


def page_files(client_dir):
    """Every file the page in ``client_dir`` loads, as sorted client-relative POSIX paths."""
    client_dir = Path(client_dir)
    html = (client_dir / PAGE).read_text(encoding="utf-8")
    imports = import_map(html)
    pending = [join(PAGE, src) for _, src in SCRIPT_SRC.findall(html) if not SCHEME.match(src)]
    seen = {PAGE}
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        file = client_dir / path
        if not file.is_file():
            raise BundleError(f"the page loads {path}, which is not in {client_dir}")
        seen.add(path)
        if file.suffix in (".js", ".mjs"):
            for is_module, text in references(file.read_text(encoding="utf-8")):
                target = resolve(is_module, text, path, imports)
                if target is not None:
                    pending.append(target)
    return sorted(seen)


def package_root(path):
    """The ``node_modules/NAME`` (or ``node_modules/@SCOPE/NAME``) folder ``path`` is in, or None."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != NODE_MODULES:
        return None
    size = 3 if parts[1].startswith("@") else 2
    return "/".join(parts[:size])


def licence_files(client_dir, paths):
    """The licence files of each npm package that ``paths`` come from, as client-relative paths.

    Raises BundleError for a package that has none: its files cannot be passed on without one.
    """
    client_dir = Path(client_dir)
    found = []
    for root in sorted({package_root(path) for path in paths} - {None}):
        names = sorted(entry.name for entry in (client_dir / root).iterdir()
                       if entry.is_file() and LICENCE_NAME.match(entry.name))
        if not names:
            raise BundleError(f"{root} has no licence file to ship with its files")
        found += [f"{root}/{name}" for name in names]
    return found


def bundled_versions(client_dir, paths):
    """``{package folder: version}`` of each npm package that ``paths`` come from."""
    roots = sorted({package_root(path) for path in paths} - {None})
    return {root: json.loads((Path(client_dir) / root / "package.json").read_text())["version"]
            for root in roots}


def check_pinned(client_dir, paths):
    """Raise BundleError unless every package ``paths`` come from is at its package-lock.json version."""
    lock = json.loads((Path(client_dir) / "package-lock.json").read_text())["packages"]
    for root, version in bundled_versions(client_dir, paths).items():
        pinned = lock.get(root, {}).get("version")
        if version != pinned:
            raise BundleError(f"{root} is {version}, but package-lock.json pins {pinned}: run npm ci")


def main(argv=None):
    """Print the page's files and the licences shipped with them, one path a line."""
    args = sys.argv[1:] if argv is None else argv
    client_dir = Path(args[0]) if args else Path(__file__).resolve().parent / "client"
    files = page_files(client_dir)
    check_pinned(client_dir, files)
    for path in files + licence_files(client_dir, files):
        print(path)


if __name__ == "__main__":
    main()
