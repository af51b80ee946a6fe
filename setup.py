"""Builds what setup.cfg cannot declare: the compiled coder, and the viewer's files in the wheel."""

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent
# viewer_bundle.py sits beside this file (in the sdist too); it is build-time code, not installed.
sys.path.insert(0, str(ROOT))
from viewer_bundle import bundle  # noqa: E402

CLIENT_DIR = ROOT / "client"
# Where the wheel's viewer lives inside the package: the `depthcam.client` package in setup.cfg.
CLIENT_PACKAGE_PATH = Path("depthcam", "client")
# --ignore-scripts: only the browser's files are wanted, never a native build of a package.
NPM_CI_ARGS = ["ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]


class BuildPyWithViewer(build_py):
    """build_py, then the viewer page and the npm files it loads into the package's client folder.

    The npm packages come from a fresh ``npm ci`` of client/package-lock.json in a staging folder,
    so the wheel has the pinned versions whatever client/node_modules holds. An editable install
    serves the checkout's client/ itself and skips this.
    """

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        staging = Path(self.get_finalized_command("build").build_temp) / "client"
        stage_client(staging)
        files = bundle(staging)
        target = Path(self.build_lib) / CLIENT_PACKAGE_PATH
        # A file an earlier build left there would go into this wheel as well.
        shutil.rmtree(target, ignore_errors=True)
        self._viewer_outputs = []
        for path in files:
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staging / path, destination)
            self._viewer_outputs.append(str(destination))
        print(f"depthcam: {len(files)} viewer files in {target}", flush=True)

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + getattr(self, "_viewer_outputs", [])


def stage_client(staging):
    """client/ without node_modules, copied to ``staging``, with its npm packages installed there."""
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("building a depthcam wheel needs npm, to gather the viewer's libraries at "
                         "the versions client/package-lock.json pins (Debian: apt-get install npm)")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(CLIENT_DIR, staging, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run([npm, *NPM_CI_ARGS], cwd=staging, check=True)


setup(
    ext_modules=[
        # optional: without a C compiler the package still installs, and the classic profile
        # falls back to its LZMA coding (profile 1), which every decoder reads.
        Extension("depthcam.codec._contextmodel", ["codec/_contextmodel.c"],
                  extra_compile_args=["-O2"], optional=True),
    ],
    cmdclass={"build_py": BuildPyWithViewer},
)
