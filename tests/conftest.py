"""Fixtures shared by every room's tests: the real recordings in ../shared/data/."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
RECORDINGS = ("kinect1-raw-walkin", "7scenes-redkitchen")


def recording_path(name):
    """The folder of a shared recording, or skip the test when ../shared is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real recording {path} not present")
    return path


@pytest.fixture(scope="session", params=RECORDINGS)
def real_recording(request):
    """(name, DepthFrames) of each real recording."""
    from depthcam.source.recordings import read_recording_dir

    return request.param, read_recording_dir(recording_path(request.param))
