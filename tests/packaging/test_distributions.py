"""The sdist and the wheels: what they hold, their metadata, and a build with no C compiler."""

import hashlib
import os
import sys
import tarfile
import zipfile

import pytest

from tests.packaging.conftest import (
    BUILD_TIMEOUT_S, BUILDING_TEST_TIMEOUT_S, REPO, only_file, run, wheel_names,
)
from viewer_bundle import bundle

pytestmark = pytest.mark.timeout(BUILDING_TEST_TIMEOUT_S)

CLIENT = REPO / "client"
CLIENT_PREFIX = "depthcam/client/"
CODER = "depthcam/codec/_contextmodel"
needs_node_modules = pytest.mark.skipif(not (CLIENT / "node_modules").is_dir(),
                                        reason="needs client/node_modules (make setup runs npm ci)")


def client_files(wheel):
    """``{client-relative path: sha256}`` of the viewer files in ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return {name[len(CLIENT_PREFIX):]: hashlib.sha256(archive.read(name)).hexdigest()
                for name in archive.namelist() if name.startswith(CLIENT_PREFIX)}


def checkout_files(paths):
    """``{client-relative path: sha256}`` of ``paths`` in the checkout's client/."""
    return {path: hashlib.sha256((CLIENT / path).read_bytes()).hexdigest() for path in paths}


@needs_node_modules
@pytest.mark.parametrize("kind", ["wheel", "sdist-wheel"])
def test_wheel_holds_the_pages_files_and_their_licences_and_nothing_else(dists, kind):
    """Each wheel's depthcam/client is the page, exactly the node_modules files it loads (at the
    versions package-lock.json pins: byte for byte those `npm ci` put in client/node_modules) and
    each bundled package's licence."""
    expected = checkout_files(bundle(CLIENT))
    assert client_files(dists.wheels()[kind]) == expected
    assert {"node_modules/three/LICENSE", "node_modules/node-liblzma/LICENSE",
            "node_modules/zstddec/LICENSE"} <= expected.keys()
    assert any(path.endswith(".wasm") for path in expected)


@pytest.mark.parametrize("kind", ["wheel", "sdist-wheel"])
def test_wheel_has_the_compiled_coder_and_its_licence(dists, kind):
    """Built with a compiler (as here), the wheel carries the classic profile's coder and LICENSE."""
    names = wheel_names(dists.wheels()[kind])
    assert any(name.startswith(CODER) and name.endswith(".so") for name in names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_sdist_holds_the_sources_and_the_lock_but_no_node_modules(dists):
    """The sdist has what a wheel is built from (client sources, package-lock.json, the C coder,
    the bundler, deploy/) and none of client/node_modules."""
    with tarfile.open(dists.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"client/index.html", "client/main.js", "client/package-lock.json", "setup.py",
            "viewer_bundle.py", "codec/_contextmodel.c", "LICENSE",
            "deploy/depthcam-relay.service"} <= names
    assert not [name for name in names if "node_modules" in name]


def test_twine_accepts_the_sdist_and_wheels(dists):
    """``twine check --strict`` passes the metadata and README rendering of all three files."""
    output = run([sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel,
                  dists.sdist_wheel], REPO, BUILD_TIMEOUT_S)
    assert output.count("PASSED") == 3, output


def test_without_a_c_compiler_the_sdist_builds_a_wheel_without_the_coder(dists, tmp_path):
    """With no working C compiler the sdist still builds a wheel, with the viewer and without the
    coder (the classic profile then sends its LZMA coding, as tests/codec and tests/source test)."""
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    output = run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path, dists.sdist],
                 tmp_path, BUILD_TIMEOUT_S, env)
    names = wheel_names(only_file(tmp_path, "*.whl"))
    assert not [name for name in names if name.startswith(CODER)], output
    assert client_files(only_file(tmp_path, "*.whl")) == client_files(dists.sdist_wheel)
    assert 'building extension "depthcam.codec._contextmodel" failed' in output
