"""find_client_dir(): the folder of the viewer page, found through the installed depthcam package."""

from importlib.util import find_spec
from pathlib import Path

# setup.cfg maps this package to the checkout's client/ (an editable install sees that folder);
# a wheel holds the page and the npm files it loads there (setup.py).
CLIENT_PACKAGE = "depthcam.client"
PAGE = "index.html"


def find_client_dir():
    """The folder holding the viewer page (``index.html``) of the installed depthcam.

    Found through the import system, as ``importlib.resources`` finds a package's data, so the
    working directory and any checkout nearby do not matter: from a wheel it is
    ``site-packages/depthcam/client``, from an editable install the checkout's ``client/``. It is a
    namespace package (client/ holds no Python), so it is looked up by its search path.
    Raises LookupError when the installed depthcam has no client package (reinstall it).
    """
    spec = find_spec(CLIENT_PACKAGE)
    # An editable install's namespace path also holds a placeholder entry that is no folder.
    folders = [Path(entry) for entry in (spec.submodule_search_locations or ())] if spec else []
    folders = [folder for folder in folders if folder.is_dir()]
    if not folders:
        raise LookupError(f"{CLIENT_PACKAGE} is not installed: reinstall depthcam (in a checkout: "
                          "make setup, or pip install -e .)")
    return next((folder for folder in folders if (folder / PAGE).is_file()), folders[0])
