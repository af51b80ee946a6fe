"""Short copies of the real recordings in tmp_path, for tests that play or replay them."""

import shutil

from depthcam.source.recordings import FakenectDump, PngFolder
from tests.conftest import recording_path


def fakenect_dump(folder, count):
    """The first ``count`` frames of kinect1-raw-walkin as a fakenect dump (INDEX.txt included);
    returns their depth arrays."""
    source = FakenectDump(recording_path("kinect1-raw-walkin"))
    folder.mkdir(parents=True, exist_ok=True)
    names = [path.name for path in source._paths[:count]]
    for name in names:
        shutil.copyfile(source.path / name, folder / name)
    (folder / "INDEX.txt").write_text("".join(f"{name}\n" for name in names))
    return [source.read(index) for index in range(count)]


def png_folder(folder, count):
    """The first ``count`` frames of 7scenes-redkitchen; returns their depth arrays (mm)."""
    source = PngFolder(recording_path("7scenes-redkitchen"))
    folder.mkdir(parents=True, exist_ok=True)
    for path in source._paths[:count]:
        shutil.copyfile(path, folder / path.name)
    return [source.read(index) for index in range(count)]
