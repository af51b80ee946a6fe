"""Compiles the classic-cm coder (codec/_contextmodel.c) to the browser's client/contextmodel.wasm.

Build-time code, like viewer_bundle.py: ``make`` runs it for a checkout and ``setup.py`` for a
wheel, so the flags live here once. Debian's clang and lld, ``--target=wasm32``, freestanding: no
emscripten and no libc (the C file defines the little it needs when ``__wasm__`` is set).

``python wasm_build.py [OUT]`` (default: client/contextmodel.wasm).
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "codec" / "_contextmodel.c"
DEFAULT_OUT = ROOT / "client" / "contextmodel.wasm"
# -msimd128: clang vectorizes the mixers' weight updates (7-10 % less decode time in node); every
# browser the client supports runs WebAssembly SIMD (Chromium 91, Firefox 89 and their ESRs).
CLANG_FLAGS = ["--target=wasm32", "-O3", "-msimd128", "-ffreestanding", "-fno-builtin", "-nostdlib", "-Wall",
               "-Wl,--no-entry"]


class WasmBuildError(Exception):
    """clang or its WebAssembly linker is missing, or the compile failed."""


def build(out=DEFAULT_OUT, clang=None):
    """Compile SOURCE to ``out``; return ``out``."""
    clang = clang or shutil.which("clang")
    if clang is None or shutil.which("wasm-ld") is None:
        raise WasmBuildError("the browser's classic-cm decoder needs clang and lld "
                             "(Debian: apt-get install clang lld)")
    subprocess.run([clang, *CLANG_FLAGS, "-o", str(out), str(SOURCE)], check=True)
    return Path(out)


if __name__ == "__main__":
    try:
        print(f"wrote {build(*sys.argv[1:2])}")
    except (WasmBuildError, subprocess.CalledProcessError) as exc:
        sys.exit(f"wasm_build: {exc}")
