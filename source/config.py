"""SourceConfig: everything the source's command line sets, as one frozen value."""

import enum
from dataclasses import dataclass
from pathlib import Path

from twisted.logger import LogLevel

from depthcam.broadcast.admission import AddressCaps
from depthcam.broadcast.clientdir import find_client_dir
from depthcam.broadcast.fanout import Fanout
from depthcam.codec.reduction import Reduction


class Wire(enum.Enum):
    """What the source sends: FORMAT.md's classic profile, or the 2012 bytes."""

    CLASSIC = "classic"
    LEGACY = "legacy"


@dataclass(frozen=True)
class DeviceSpec:
    """Where frames come from: ``KIND`` or ``KIND:ARGUMENT`` (say, a device index or a file)."""

    kind: str
    argument: str | None = None

    def __str__(self):
        return self.kind if self.argument is None else f"{self.kind}:{self.argument}"


@dataclass(frozen=True)
class SourceConfig:
    """Everything the command line sets, with the command line's defaults."""

    command: str = "serve"
    host: str = "127.0.0.1"
    port: int = 9000
    fps: float = 30.0
    keyframe_interval_s: float = 2.0
    near_mm: int = 500
    far_mm: int = 8000
    reduction: Reduction = Reduction.NEAREST_SURFACE
    profile: str = "classic"
    error_mm: float | None = None  # fine profile's bound; None: FineEncoder.ERROR_MM
    wire: Wire = Wire.CLASSIC
    # The colour picture sent with each frame of a camera that has one: "jpeg", "webp" or "off";
    # its quality (1-100) and its size as a multiple of the profile's depth grid.
    colour: str = "jpeg"
    colour_quality: int = 75
    colour_scale: int = 1
    device: DeviceSpec = DeviceSpec("scene")
    scene_seed: int = 0
    client_dir: Path = find_client_dir()
    log_level: LogLevel = LogLevel.info
    # Recordings (file:, fakenect:, png:) and the Kinect.
    loop: bool = False
    depth_scale: float | None = None  # PNG units per metre; None: 1000, or 5000 for TUM folders
    tilt_deg: float | None = None
    # kinect with colour: "registered" (libfreenect's DEPTH_REGISTERED, mm) or "raw" (11-bit,
    # beside an unregistered picture; for a fakenect that cannot register).
    kinect_depth: str = "registered"
    retry: bool = False
    # Push mode: the relay's ws://HOST:PORT/source/NAME, and where the publish token is (None:
    # $DEPTHCAM_RELAY_TOKEN). The token itself is read when pushing starts, never kept here.
    relay_url: str | None = None
    token_file: Path | None = None
    # Direct mode: how far behind live a viewer may fall before it skips to the newest keyframe.
    max_lag_s: float = Fanout.MAX_LAG_S
    # Direct mode: the per-address caps on connections and handshakes (a public host's defaults).
    caps: AddressCaps = AddressCaps()
    # Direct mode: Origins (scheme://host[:port]) whose pages may watch besides its own and this
    # machine's; a PEM certificate chain and key to listen with TLS (https://, wss://).
    allowed_origins: tuple = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Push mode: a PEM file of the CA(s) that signed the relay's certificate (None: the system's),
    # and whether plain ws:// to another machine is allowed (the token crosses it readable).
    ca_file: Path | None = None
    insecure: bool = False

    @property
    def keyframe_interval_frames(self):
        return max(1, round(self.keyframe_interval_s * self.fps))
