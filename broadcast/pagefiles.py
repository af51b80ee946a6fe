"""page_files(): what the viewer page loads, found by following its imports from index.html.

The page itself, the scripts it names, and every module those reach, followed through static
imports (``from '...'``, ``import '...'``), dynamic ones with a literal name (``import('...')``)
and ``new URL('...', import.meta.url)`` (workers, WebAssembly), with bare names (``three``,
``three/addons/...``) resolved through the page's import map as a browser resolves them. Only
literal names in code: comments are left out (a comment quoting ``from "x"`` imports nothing), and
a name computed at run time cannot be followed (node-liblzma's only ones load Node built-ins,
which never run in a browser).

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
# After one of these (or at the start) a ``/`` begins a regular expression, not a division.
_BEFORE_REGEX = set("(,=:[!&|?{};+-*%<>~^")
_KEYWORDS_BEFORE_REGEX = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete",
                          "void", "throw", "instanceof", "yield", "await"}
_TRAILING_WORD = re.compile(r"[A-Za-z_$][\w$]*$")
# Where a comment, string, template literal or regular expression may begin.
_SPECIAL = re.compile(r"[/'\"`]")
_QUOTED = {
    "'": re.compile(r"'(?:[^'\\\n]|\\.)*'?", re.DOTALL),
    '"': re.compile(r'"(?:[^"\\\n]|\\.)*"?', re.DOTALL),
    "`": re.compile(r"`(?:[^`\\]|\\.)*`?", re.DOTALL),
}
_REGEX_LITERAL = re.compile(r"/(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\]?)*/?")


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
    source = _without_comments(source)
    found = [(match.start(), True, match.group(2))
             for pattern in _MODULE_NAMES for match in pattern.finditer(source)]
    found += [(match.start(), False, match.group(2)) for match in _URL_OF_MODULE.finditer(source)]
    return [(is_module, name) for _, is_module, name in sorted(found)]


def _without_comments(source):
    """JavaScript ``source`` with each comment replaced by a space; strings, template literals and
    regular expressions are kept as they are (a ``//`` inside one starts no comment)."""
    kept, code_before, i, size = [], "", 0, len(source)
    while i < size:
        special = _SPECIAL.search(source, i)
        if special is None:
            kept.append(source[i:])
            break
        if special.start() > i:
            # Plain code up to the next quote or slash: kept, and its last characters remembered.
            kept.append(source[i:special.start()])
            code_before = (code_before + source[i:special.start()].rstrip())[-16:]
            i = special.start()
        char = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = size if end < 0 else end
            kept.append(" ")
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = size if end < 0 else end + 2
            kept.append(" ")
            continue
        if char in "'\"`":
            end = _end_of_quoted(source, i, char)
        elif _regex_may_start(code_before):
            end = _end_of_regex(source, i)
        else:
            end = i + 1
        kept.append(source[i:end])
        code_before = (code_before + source[i:end])[-16:]
        i = end
    return "".join(kept)


def _regex_may_start(code_before):
    """Whether a ``/`` after ``code_before`` (the code's last characters) opens a regular expression."""
    code_before = code_before.rstrip()
    if not code_before or code_before[-1] in _BEFORE_REGEX:
        return True
    word = _TRAILING_WORD.search(code_before)
    return bool(word) and word.group() in _KEYWORDS_BEFORE_REGEX


def _end_of_quoted(source, start, quote):
    """The index after the string or template literal that opens at ``start`` (a string left open
    ends at its line, as a browser would refuse it)."""
    return _QUOTED[quote].match(source, start).end()


def _end_of_regex(source, start):
    """The index after the regular expression literal that opens at ``start`` (a ``/`` inside a
    character class does not end it)."""
    return _REGEX_LITERAL.match(source, start).end()


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
