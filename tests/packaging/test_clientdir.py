"""broadcast/clientdir.py: the page is found through the installed package (here, editable)."""

import subprocess
import sys
from pathlib import Path

from depthcam.broadcast.clientdir import find_client_dir
from depthcam.relay.config import RelayConfig
from depthcam.source.config import SourceConfig

REPO = Path(__file__).resolve().parents[2]


def test_an_editable_install_finds_the_checkouts_client_folder():
    """Installed editable (make setup), the page is the checkout's client/index.html."""
    assert find_client_dir() == REPO / "client"
    assert (find_client_dir() / "index.html").is_file()


def test_the_working_directory_does_not_matter(tmp_path):
    """From an unrelated working directory the same folder is found (no path relative to it)."""
    code = "from depthcam.broadcast.clientdir import find_client_dir; print(find_client_dir())"
    printed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, check=True).stdout
    assert Path(printed.strip()) == REPO / "client"


def test_both_programs_serve_the_located_page_by_default():
    """The source's and the relay's default --client-dir are the located folder."""
    assert SourceConfig().client_dir == RelayConfig().client_dir == find_client_dir()
