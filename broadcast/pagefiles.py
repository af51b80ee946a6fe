"""page_files(): what the viewer page loads, found by following its imports from index.html.

The page itself, the scripts it names, and every module those reach, followed through static
imports (``from '...'``, ``import '...'``), dynamic ones with a literal name (``import('...')``)
and ``new URL('...', import.meta.url)`` (workers, WebAssembly), with bare names (``three``,
``three/addons/...``) resolved through the page's import map as a browser resolves them. Only
literal names: a name computed at run time cannot be followed (node-liblzma's only ones load
Node built-ins, which never run in a browser).

Two users: ``files.py`` serves this list and nothing else; ``setup.py`` (through
``viewer_bundle.py``) copies it into the wheel. Standard library only, so that a build can load
this file before depthcam is installed.
"""

import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

PAGE = "index.html"
MODULE_SUFFIXES = (".js", ".mjs")
# Module specifiers: ``import ... from 'x'``, ``export ... from 'x'``, ``import 'x'``, ``import('x')``.
_MODULE_NAMES = (
    re.compile(r"""\bfrom\s*(['"])([^'"\n]+)\1"""),
    re.compile(r"""\bimport\s*(['"])([^'"\n]+)\1"""),
    re.compile(r"""\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)"""),
)
# A file beside the module: a plain relative URL, never looked up in the import map.
_URL_OF_MODULE = re.compile(r"""\bnew\s+URL\s*\(\s*(['"])([^'"\n]+)\1\s*,\s*import\.meta\.url\s*\)""")
_SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*(['"])([^'"]+)\1""", re.IGNORECASE)
_IMPORT_MAP = re.compile(r"""<script\b[^>]*\btype\s*=\s*(['"])importmap\1[^>]*>(.*?)</script>""",
                         re.IGNORECASE | re.DOTALL)
# A URL with a scheme (node:fs, data:, https:) names no file of the client.
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_RELATIVE = ("./", "../", "/")


@dataclass(frozen=True)
class PageFiles:
    """What the page loads, as client-relative POSIX paths: ``present`` files, and what it names
    but cannot load from the folder: ``absent`` paths, ``unresolved`` names (bare names the import
    map does not give, paths above the folder)."""

    present: frozenset
    absent: frozenset
    unresolved: frozenset


def page_files(client_dir):
    """The PageFiles of the page in ``client_dir`` (all empty when it has no index.html)."""
    client_dir = Path(client_dir)
    index = client_dir / PAGE
    if not index.is_file():
        return PageFiles(frozenset(), frozenset(), frozenset())
    html = index.read_text(encoding="utf-8")
    found = _IMPORT_MAP.search(html)
    imports = json.loads(found.group(2)).get("imports", {}) if found else {}
    present, absent, unresolved = {PAGE}, set(), set()
    pending = [(False, src, PAGE) for _, src in _SCRIPT_SRC.findall(html)]
    while pending:
        is_module, name, importer = pending.pop()
        if _SCHEME.match(name):
            continue
        path = _resolve(is_module, name, importer, imports)
        if path is None:
            unresolved.add(name)
        elif path in present or path in absent:
            continue
        elif not (client_dir / path).is_file():
            absent.add(path)
        else:
            present.add(path)
            if posixpath.splitext(path)[1] in MODULE_SUFFIXES:
                text = (client_dir / path).read_text(encoding="utf-8", errors="replace")
                pending.extend((is_module, name, path) for is_module, name in _references(text))
    return PageFiles(frozenset(present), frozenset(absent), frozenset(unresolved))


def _references(source):
    """``(is_module, name)`` of each literal module specifier and module-relative URL in ``source``."""
    found = [(match.start(), True, match.group(2))
             for pattern in _MODULE_NAMES for match in pattern.finditer(source)]
    found += [(match.start(), False, match.group(2)) for match in _URL_OF_MODULE.finditer(source)]
    return [(is_module, name) for _, is_module, name in sorted(found)]


def _resolve(is_module, name, importer, imports):
    """The client-relative path ``name`` in ``importer`` stands for, or None when it has none.

    A module specifier that is not relative is a bare name: the import map's exact entry, else its
    longest prefix entry ending in ``/`` (the WHATWG rule), relative to the page.
    """
    if is_module and not name.startswith(_RELATIVE):
        if name in imports:
            name = imports[name]
        else:
            prefixes = [key for key in imports if key.endswith("/") and name.startswith(key)]
            if not prefixes:
                return None
            prefix = max(prefixes, key=len)
            name = imports[prefix] + name[len(prefix):]
        importer = PAGE
    if name.startswith("/"):
        path = posixpath.normpath(name.lstrip("/"))
    else:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(importer), name))
    if path == ".." or path.startswith("../"):
        return None
    return path
