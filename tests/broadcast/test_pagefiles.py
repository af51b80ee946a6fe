"""broadcast/pagefiles.py on small made-up pages: every way a module names a file, and what cannot load."""

import json

from depthcam.broadcast.pagefiles import page_files

IMPORT_MAP = {"lib": "./node_modules/lib/index.js", "lib/addons/": "./node_modules/lib/addons/",
              "lib/addons/special/": "./vendor/special/"}


def write(folder, files):
    """Write ``{relative path: text}`` under ``folder``."""
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)


def page(import_map=IMPORT_MAP, script="./main.js"):
    return (f'<script type="importmap">{json.dumps({"imports": import_map})}</script>\n'
            f'<script type="module" src="{script}"></script>')


def test_every_kind_of_reference_is_followed(tmp_path):
    """Static, side-effect, re-export and dynamic imports, new URL(), the import map's exact and
    longest-prefix entries, and ../ inside a package are all followed."""
    write(tmp_path, {
        "index.html": page(),
        "main.js": "import { a } from 'lib';\nimport './side.js';\n"
                   "import {\n  b,\n  c,\n} from \"lib/addons/b.js\";\n"
                   "const w = new URL( './worker.js', import.meta.url );\n"
                   "import('lib/addons/special/s.js');\n",
        "side.js": "", "worker.js": "",
        "node_modules/lib/index.js": "export * from './core.js';",
        "node_modules/lib/core.js": "const wasm = new URL(\"core.wasm\",import.meta.url);"
                                    "import('../lib/glue.js')",
        "node_modules/lib/core.wasm": "", "node_modules/lib/glue.js": "",
        "node_modules/lib/addons/b.js": "import { a } from 'lib';",
        "vendor/special/s.js": "",
        "node_modules/lib/unused.js": "", "package.json": "{}",
    })
    found = page_files(tmp_path)
    assert found.present == {
        "index.html", "main.js", "side.js", "worker.js", "node_modules/lib/index.js",
        "node_modules/lib/core.js", "node_modules/lib/core.wasm", "node_modules/lib/glue.js",
        "node_modules/lib/addons/b.js", "vendor/special/s.js",
    }
    assert found.absent == found.unresolved == frozenset()


def test_what_cannot_load_is_told_apart_and_urls_elsewhere_are_skipped(tmp_path):
    """A missing file is absent; an unmapped bare name and a path above the folder are unresolved;
    node: and https: URLs are no files of the client."""
    write(tmp_path, {
        "index.html": page(),
        "main.js": "import 'missing.js';\nimport './gone.js';\nimport x from 'unmapped';\n"
                   "import '../../outside.js';\nimport('node:fs');\nimport 'https://cdn.example/x.js';",
    })
    found = page_files(tmp_path)
    assert found.present == {"index.html", "main.js"}
    assert found.absent == {"gone.js"}
    assert found.unresolved == {"missing.js", "unmapped", "../../outside.js"}


def test_a_folder_without_a_page_loads_nothing(tmp_path):
    """No index.html: nothing is reachable, and nothing is reported missing."""
    found = page_files(tmp_path)
    assert found.present == found.absent == found.unresolved == frozenset()
