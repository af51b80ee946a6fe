"""The viewer's files for the wheel: what the page loads, all present and pinned, with licences.

``broadcast/pagefiles.py`` finds what the page loads (the same list the servers serve); this adds
what a build needs on top: every such file must be there (else the build stops, naming it), each
npm package must be at the version client/package-lock.json pins, and each package's licence
files go along. ``setup.py`` copies the result into the wheel.

``python viewer_bundle.py [CLIENT_DIR]`` prints it (CLIENT_DIR: client/, after npm ci).
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NODE_MODULES = "node_modules"
# Licence files an npm package carries at its top (npm always packs these names).
LICENCE_NAME = re.compile(r"^(licen[cs]e|copying|notice)([.-].*)?$", re.IGNORECASE)


def _load_pagefiles():
    """broadcast/pagefiles.py as a module of its own: a build runs before depthcam is installed,
    and that file needs only the standard library."""
    spec = importlib.util.spec_from_file_location("_depthcam_pagefiles",
                                                  ROOT / "broadcast" / "pagefiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pagefiles = _load_pagefiles()


class BundleError(Exception):
    """The page names a file that is not there, or a package is not at its pinned version."""


def page_files(client_dir):
    """Every file the page in ``client_dir`` loads, as sorted client-relative POSIX paths.

    Raises BundleError if it names one that is missing, or a name that resolves to no file here.
    """
    found = pagefiles.page_files(client_dir)
    if not found.present:
        raise BundleError(f"no {pagefiles.PAGE} in {client_dir}")
    if found.absent or found.unresolved:
        raise BundleError(f"the page in {client_dir} loads what is not there: "
                          f"{sorted(found.absent | found.unresolved)} (run npm ci there?)")
    return sorted(found.present)


def package_root(path):
    """The ``node_modules/NAME`` (or ``node_modules/@SCOPE/NAME``) folder ``path`` is in, or None."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != NODE_MODULES:
        return None
    return "/".join(parts[:3 if parts[1].startswith("@") else 2])


def package_roots(paths):
    """The npm package folders ``paths`` come from, sorted."""
    return sorted({package_root(path) for path in paths} - {None})


def licence_files(client_dir, paths):
    """The licence files of each npm package that ``paths`` come from, as client-relative paths.

    Raises BundleError for a package that has none: its files cannot be passed on without one.
    """
    found = []
    for root in package_roots(paths):
        names = sorted(entry.name for entry in (Path(client_dir) / root).iterdir()
                       if entry.is_file() and LICENCE_NAME.match(entry.name))
        if not names:
            raise BundleError(f"{root} has no licence file to ship with its files")
        found += [f"{root}/{name}" for name in names]
    return found


def check_pinned(client_dir, paths):
    """Raise BundleError unless each package ``paths`` come from is at its package-lock.json version."""
    lock = json.loads((Path(client_dir) / "package-lock.json").read_text())["packages"]
    for root in package_roots(paths):
        version = json.loads((Path(client_dir) / root / "package.json").read_text())["version"]
        pinned = lock.get(root, {}).get("version")
        if version != pinned:
            raise BundleError(f"{root} is {version}, but package-lock.json pins {pinned}: run npm ci")


def bundle(client_dir):
    """The page's files, checked present and pinned, then the licences that go with them."""
    files = page_files(client_dir)
    check_pinned(client_dir, files)
    return files + licence_files(client_dir, files)


def main(argv=None):
    """Print the files a wheel's viewer holds, one client-relative path a line."""
    args = sys.argv[1:] if argv is None else argv
    for path in bundle(Path(args[0]) if args else ROOT / "client"):
        print(path)


if __name__ == "__main__":
    main()
