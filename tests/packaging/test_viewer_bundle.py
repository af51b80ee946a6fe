"""viewer_bundle.py on small made-up clients: what the wheel would carry, and every reason to refuse."""

import json

import pytest

from tests.broadcast.test_pagefiles import page, write
from viewer_bundle import BundleError, bundle

IMPORT_MAP = {"lib": "./node_modules/lib/index.js", "@scope/tool": "./node_modules/@scope/tool/t.js"}


def client(folder, lib_version="1.2.3", pinned="1.2.3", licences=("LICENSE",), extra=None):
    """A client folder whose page uses two npm packages (one scoped), as npm ci leaves it."""
    lock = {"packages": {"node_modules/lib": {"version": pinned},
                         "node_modules/@scope/tool": {"version": "0.1.0"}}}
    files = {
        "index.html": page(IMPORT_MAP),
        "main.js": "import 'lib'; import '@scope/tool';",
        "package-lock.json": json.dumps(lock),
        "node_modules/lib/package.json": json.dumps({"version": lib_version}),
        "node_modules/lib/index.js": "", "node_modules/lib/README.md": "",
        "node_modules/@scope/tool/package.json": json.dumps({"version": "0.1.0"}),
        "node_modules/@scope/tool/t.js": "", "node_modules/@scope/tool/COPYING.txt": "",
        **{f"node_modules/lib/{name}": "" for name in licences},
        **(extra or {}),
    }
    write(folder, files)
    return folder


def test_the_bundle_is_the_page_its_modules_and_each_packages_licences(tmp_path):
    """The page's files, then each bundled package's licence files; no README, no package.json."""
    assert bundle(client(tmp_path, licences=("LICENSE", "NOTICE.md"))) == [
        "index.html", "main.js", "node_modules/@scope/tool/t.js", "node_modules/lib/index.js",
        "node_modules/@scope/tool/COPYING.txt", "node_modules/lib/LICENSE",
        "node_modules/lib/NOTICE.md",
    ]


@pytest.mark.parametrize("arguments, message", [
    ({"extra": {"main.js": "import 'lib'; import './gone.js';"}}, "gone.js"),
    ({"extra": {"main.js": "import 'unmapped';"}}, "unmapped"),
    ({"lib_version": "1.2.4"}, "pins 1.2.3"),
    ({"licences": ()}, "node_modules/lib has no licence"),
])
def test_a_client_that_cannot_be_shipped_is_refused(tmp_path, arguments, message):
    """A missing file, an unmapped name, a package not at its pinned version, or one without a
    licence stops the build, and the error names it."""
    with pytest.raises(BundleError, match=message):
        bundle(client(tmp_path, **arguments))


def test_a_folder_without_the_page_is_refused(tmp_path):
    """No index.html (say, the wrong folder) is an error, not an empty viewer."""
    with pytest.raises(BundleError, match="no index.html"):
        bundle(tmp_path)
