"""Device kinds: what ``--device KIND[:ARGUMENT]`` names, and how each is opened as a FrameSource."""

from depthcam.source.config import DeviceSpec
from depthcam.source.scene import SceneSource, SyntheticScene


def open_scene(spec, config, clock):
    """The synthetic scene (takes no argument)."""
    return SceneSource(SyntheticScene(config.scene_seed), clock=clock)


def open_kinect(spec, config, clock):
    """A Kinect v1 through freenect; ARGUMENT is its index (default 0). With ``--colour`` on, its
    colour camera too, and depth registered to it (unless ``--kinect-depth raw``)."""
    from depthcam.source.kinect import KinectSource

    index = int(spec.argument) if spec.argument is not None else 0
    return KinectSource(index, config.tilt_deg, config.retry, reactor=clock,
                        colour=config.colour != "off", registered=config.kinect_depth != "raw")


def open_file(spec, config, clock):
    """A depthcam recording file (``depthcam-record``); ARGUMENT is its path."""
    from depthcam.source.recording import open_file_player

    return open_file_player(spec.argument, config.loop, clock)


def open_fakenect(spec, config, clock):
    """A libfreenect dump folder (d-*.pgm); ARGUMENT is the folder."""
    from depthcam.source.recording import open_fakenect_player

    return open_fakenect_player(spec.argument, config.loop, clock)


def open_png(spec, config, clock):
    """A folder of 16-bit depth PNGs (a TUM folder with depth.txt too); ARGUMENT is the folder."""
    from depthcam.source.recording import open_png_player

    return open_png_player(spec.argument, config.loop, config.depth_scale, clock)


def open_realsense(spec, config, clock):
    """An Intel RealSense through its SDK; ARGUMENT is its serial number (default: the first)."""
    from depthcam.source.realsense import RealSenseSource

    return RealSenseSource(serial=spec.argument)


def open_rsfile(spec, config, clock):
    """A RealSense recording (.db3 or .bag) played through the SDK; ARGUMENT is its path."""
    from depthcam.source.realsense import RealSenseSource

    return RealSenseSource(path=spec.argument, loop=config.loop)


# Device kinds: name → opener(spec, config, clock) → FrameSource. An opener imports what its
# device needs itself, so a missing driver only matters to whoever asks for that device. An
# opener raises ``SourceUnavailable`` (one line: what is wrong, how to fix it) if it cannot open.
DEVICES = {
    "scene": open_scene, "kinect": open_kinect, "file": open_file, "fakenect": open_fakenect,
    "png": open_png, "realsense": open_realsense, "rsfile": open_rsfile,
}
DEVICES_TAKING_ARGUMENTS = frozenset({"kinect", "file", "fakenect", "png", "realsense", "rsfile"})
# These cannot do without their ARGUMENT.
DEVICES_NEEDING_ARGUMENTS = frozenset({"file", "fakenect", "png", "rsfile"})
DEVICE_SYNTAX = ("scene, kinect[:INDEX], file:PATH (a depthcam-record file), fakenect:DIR, png:DIR, "
                 "realsense[:SERIAL], rsfile:PATH (a RealSense recording)")


def open_device(config, reactor):
    """The FrameSource ``config.device`` names, opened (``SourceUnavailable`` if it cannot be)."""
    return DEVICES[config.device.kind](config.device, config, reactor)


def parse_device_spec(text):
    """The DeviceSpec of ``KIND`` or ``KIND:ARGUMENT``; ValueError says what is wrong."""
    kind, _, argument = text.partition(":")
    if kind not in DEVICES:
        raise ValueError(
            f"unknown device {kind!r} (choose from {', '.join(sorted(DEVICES))})"
        )
    if argument and kind not in DEVICES_TAKING_ARGUMENTS:
        raise ValueError(f"device {kind!r} takes no ':ARGUMENT'")
    if not argument and kind in DEVICES_NEEDING_ARGUMENTS:
        raise ValueError(f"device {kind!r} needs one: {kind}:PATH")
    if kind == "kinect" and argument and not argument.isdigit():
        raise ValueError(f"kinect:INDEX wants a device number, got {argument!r}")
    return DeviceSpec(kind, argument or None)
