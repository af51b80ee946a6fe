"""The command that starts one of bench/relay.py's load generators: the C one (built here when needed) or node's.

Both hold K viewer WebSockets and speak the same stdin lines and stdout JSON (see bench/loadgen.mjs);
the C one (bench/loadgen.c) costs several times less CPU per viewer-frame, CPU that on a small
machine the relay under test would otherwise not get.
"""

import os
import shutil
import subprocess
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
C_SOURCE = BENCH_DIR / "loadgen.c"
NODE_SOURCE = BENCH_DIR / "loadgen.mjs"
C_BINARY = BENCH_DIR / "build" / "loadgen"  # ignored by git (.gitignore)
KINDS = ("c", "node")
COMPILE_TIMEOUT_S = 120


class LoadgenBuildError(Exception):
    """bench/loadgen.c could not be built (no C compiler, or it failed); the message says which."""


def build_c_loadgen(compiler=None):
    """The path of the C load generator, compiled with ``cc -O2`` if missing or older than its source."""
    if C_BINARY.exists() and C_BINARY.stat().st_mtime >= C_SOURCE.stat().st_mtime:
        return C_BINARY
    compiler = compiler or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise LoadgenBuildError(
            f"no C compiler ({compiler!r} is not on PATH) to build {C_SOURCE.name}: install one "
            "(Debian: apt-get install gcc) or pass --loadgen node")
    C_BINARY.parent.mkdir(exist_ok=True)
    # Written beside the binary and renamed over it, so an interrupted build leaves no half binary.
    partial = C_BINARY.with_suffix(".partial")
    completed = subprocess.run([compiler, "-O2", "-o", str(partial), str(C_SOURCE)],
                               capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    if completed.returncode != 0:
        raise LoadgenBuildError(f"{compiler} -O2 {C_SOURCE} failed ({completed.returncode}):\n"
                                f"{completed.stderr[-2000:]}")
    partial.replace(C_BINARY)
    return C_BINARY


def loadgen_argv(kind, url, viewers, concurrency, client="raw", node="node"):
    """argv of a load generator of ``kind`` (c or node) holding ``viewers`` viewers of ``url``.

    ``client`` is loadgen.mjs's --client (raw or ws); the C generator has only the raw client.
    """
    flags = ["--url", url, "--viewers", str(viewers), "--concurrency", str(concurrency), "--client", client]
    if kind == "c":
        if client != "raw":
            raise LoadgenBuildError(f"--loadgen c has only the raw client; --loadgen-client {client} "
                                    "needs --loadgen node")
        return [str(build_c_loadgen())] + flags
    if kind == "node":
        return [node, str(NODE_SOURCE)] + flags
    raise ValueError(f"load generator kind {kind!r}: one of {', '.join(KINDS)}")
