"""The built-in synthetic scene, the default FrameSource: a Kinect's view of a room with a walker.

What the sensor would deliver, as 640 x 480 raw Kinect disparity (2047 = no reading) at 30 Hz:
a room (floor, back wall, side walls, a table, a bookshelf, a box on the floor) seen from a
camera 1.3 m above the floor, tilted down, with a figure of capsules that walks a loop through it.
Kinect artefacts come with it:

- quantization: the values are raw disparity, so they are quantized as the sensor's are;
- shadows: the IR projector sits ``PROJECTOR_BASELINE_M`` to the right of the IR camera, so the
  background just left of every nearer edge gets no pattern and reads nothing;
- noise: about a third of the readings move by one disparity count from frame to frame;
- speckle: a few small clusters of pixels read nothing, in different places each frame;
- range: nothing nearer than ``MIN_RANGE_MM`` reads.

``SyntheticScene.render(t)`` is a pure function of the scene time ``t`` (and the seed), so tests
can ask for any moment; ``SceneSource`` asks for "now" from a clock.

Speed: the room is static, so its ray intersections, shadows and a few noisy copies of it are
computed once. A frame copies one of those and re-renders only the figure's bounding rectangle
(plus the band its shadow can reach), each body part only within its own projected rectangle.
"""

import math
from dataclasses import dataclass

import numpy as np
from twisted.python import runtime

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits
from depthcam.codec.units import RAW_NO_READING, mm_to_raw
from depthcam.source.frames import FrameSource

# Kinect v1 depth-camera intrinsics at 640 x 480 in pixels (focal lengths from Burrus's
# calibration; the principal point is taken as the image centre).
FOCAL_X_PX = 594.2
FOCAL_Y_PX = 591.0
CENTRE_X_PX = 320.0
CENTRE_Y_PX = 240.0
# The IR projector sits this far from the IR camera, to its right as the camera looks.
PROJECTOR_BASELINE_M = 0.075
# A background pixel is in shadow when a nearer surface to its right covers its projector ray by
# more than this (a fraction of a pixel keeps smooth, slanted surfaces from shadowing themselves).
SHADOW_TOLERANCE_PX = 0.25
# Kinect v1 reads nothing nearer than about this.
MIN_RANGE_MM = 450

CAMERA_HEIGHT_M = 1.3
CAMERA_PITCH_DOWN_DEG = 8.0

SCENE_FPS = 30.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in room coordinates: metres, x right, y up, z away from the camera."""

    low: tuple
    high: tuple


ROOM = Box((-1.7, 0.0, -1.0), (2.3, 2.6, 5.0))


def _bookshelf(left_m, right_m, front_m, back_m, height_m, shelf_heights_m, board_m=0.03):
    """A bookshelf against the back wall: a back panel, two sides and its boards."""
    boards = [Box((left_m, y, front_m), (right_m, y + board_m, back_m)) for y in shelf_heights_m]
    return [
        Box((left_m, 0.0, back_m - board_m), (right_m, height_m, back_m)),
        Box((left_m, 0.0, front_m), (left_m + board_m, height_m, back_m)),
        Box((right_m - board_m, 0.0, front_m), (right_m, height_m, back_m)),
        *boards,
    ]


def _table(left_m, right_m, front_m, back_m, height_m, top_m=0.05, leg_m=0.05):
    """A table: its top and four legs."""
    legs = [
        Box((x, 0.0, z), (x + leg_m, height_m - top_m, z + leg_m))
        for x in (left_m + 0.03, right_m - 0.03 - leg_m)
        for z in (front_m + 0.03, back_m - 0.03 - leg_m)
    ]
    return [Box((left_m, height_m - top_m, front_m), (right_m, height_m, back_m)), *legs]


FURNITURE = (
    *_table(0.9, 1.8, 3.2, 4.0, 0.76),
    *_bookshelf(-1.6, -0.8, 4.62, 5.0, 1.9, (0.08, 0.5, 0.92, 1.34, 1.87)),
    Box((-1.35, 0.0, 2.4), (-0.9, 0.5, 2.9)),  # a crate on the floor
)

# The walker's loop: an ellipse on the floor (room coordinates, metres).
PATH_CENTRE_X_M = -0.1
PATH_CENTRE_Z_M = 3.4
PATH_RADIUS_X_M = 0.7
PATH_RADIUS_Z_M = 0.9
LOOP_PERIOD_S = 8.0
GAIT_CYCLES_PER_LOOP = 6  # two steps each: about 0.9 m per cycle on this loop

# Artefacts are drawn from a few precomputed patterns, one per 1/SCENE_FPS of scene time.
NOISE_PATTERNS = 8
NOISE_SHARE = 0.3  # of readings that move by one disparity count in a frame
SPECKLES_PER_FRAME = 120  # 2 x 2 clusters of no reading (about 0.15 % of the pixels)

# Body parts whose near side is closer than this to the camera are not drawn (the walker never
# comes that close; it only guards the projection).
MIN_DRAW_DEPTH_M = 0.2


@dataclass(frozen=True)
class Capsule:
    """A segment swept by a sphere (metres); a capsule whose ends coincide is a sphere."""

    start: np.ndarray
    end: np.ndarray
    radius_m: float


def _camera_axes(pitch_down_deg):
    """Room-coordinate unit vectors of the camera's right, image-down and forward axes."""
    pitch = math.radians(pitch_down_deg)
    right = np.array([1.0, 0.0, 0.0])
    down = np.array([0.0, -math.cos(pitch), -math.sin(pitch)])
    forward = np.array([0.0, -math.sin(pitch), math.cos(pitch)])
    return np.stack([right, down, forward])


def walker_pose(t):
    """The walking figure's body parts at scene time ``t`` (seconds), in room coordinates."""
    loop = 2 * math.pi * t / LOOP_PERIOD_S
    gait = loop * GAIT_CYCLES_PER_LOOP
    position = np.array([
        PATH_CENTRE_X_M + PATH_RADIUS_X_M * math.cos(loop),
        0.0,
        PATH_CENTRE_Z_M + PATH_RADIUS_Z_M * math.sin(loop),
    ])
    heading = np.array([-PATH_RADIUS_X_M * math.sin(loop), 0.0, PATH_RADIUS_Z_M * math.cos(loop)])
    forward = heading / np.linalg.norm(heading)
    right = np.array([forward[2], 0.0, -forward[0]])
    up = np.array([0.0, 1.0, 0.0])

    def place(x, y, z):
        return position + x * right + y * up + z * forward

    def limb(top, length_m, angle):
        """The far end of a limb hanging from ``top``, swung forward by ``angle`` radians."""
        return top + length_m * (math.sin(angle) * forward - math.cos(angle) * up)

    hip_y = 0.92 + 0.025 * math.cos(2 * gait)  # the body rises over each straight leg
    parts = [
        Capsule(place(0, hip_y + 0.08, 0), place(0, hip_y + 0.48, 0.03), 0.15),  # torso
        Capsule(place(0, hip_y + 0.75, 0.04), place(0, hip_y + 0.75, 0.04), 0.11),  # head
    ]
    for side, phase in ((-1, gait), (1, gait + math.pi)):
        hip = place(side * 0.1, hip_y, 0)
        thigh = 0.42 * math.sin(phase)
        knee = limb(hip, 0.44, thigh)
        # The knee bends while the leg swings forward.
        ankle = limb(knee, 0.44, thigh - 0.6 * max(0.0, math.cos(phase)))
        shoulder = place(side * 0.215, hip_y + 0.46, 0)
        upper_arm = -0.35 * math.sin(phase)  # arms swing against the leg on their side
        elbow = limb(shoulder, 0.29, upper_arm)
        wrist = limb(elbow, 0.27, upper_arm + 0.35)
        parts += [
            Capsule(hip, knee, 0.075),
            Capsule(knee, ankle, 0.055),
            Capsule(shoulder, elbow, 0.045),
            Capsule(elbow, wrist, 0.04),
        ]
    return parts


def _sphere_distance(rays, centre, radius_m):
    """Distance along unit ``rays`` from the camera to a sphere (inf where they miss)."""
    ray_x, ray_y, ray_z = rays
    along = ray_x * centre[0] + ray_y * centre[1] + ray_z * centre[2]
    discriminant = along * along - np.float32(centre @ centre - radius_m * radius_m)
    hit = (discriminant >= 0) & (along > 0)
    return np.where(hit, along - np.sqrt(np.maximum(discriminant, 0)), np.float32(np.inf))


def _capsule_distance(rays, capsule):
    """Distance along unit ``rays`` from the camera to a capsule (inf where they miss).

    The capsule is the union of its two end spheres and the cylinder between them, and a ray's
    first entry into a union is the nearest of its entries into the parts (Quilez's capsule
    intersection, split that way so each part stays a few vector operations).
    """
    start, end, radius_m = capsule.start, capsule.end, capsule.radius_m
    distance = _sphere_distance(rays, start, radius_m)
    axis = end - start
    axis_sq = float(axis @ axis)
    if axis_sq == 0.0:
        return distance
    np.minimum(distance, _sphere_distance(rays, end, radius_m), out=distance)
    ray_x, ray_y, ray_z = rays
    # The rays start at the camera (the origin), so every "origin - start" term is -start.
    axis_dot_ray = ray_x * axis[0] + ray_y * axis[1] + ray_z * axis[2]
    start_dot_ray = ray_x * start[0] + ray_y * start[1] + ray_z * start[2]
    axis_dot_start = float(axis @ start)
    a = axis_sq - axis_dot_ray * axis_dot_ray
    b = axis_dot_start * axis_dot_ray - axis_sq * start_dot_ray
    c = np.float32(axis_sq * (start @ start) - axis_dot_start**2 - radius_m**2 * axis_sq)
    discriminant = b * b - a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        side = (-b - np.sqrt(np.maximum(discriminant, 0))) / a
    along_axis = side * axis_dot_ray - axis_dot_start
    hit = (discriminant >= 0) & (a > 0) & (side > 0) & (along_axis > 0) & (along_axis < axis_sq)
    np.minimum(distance, np.where(hit, side, np.float32(np.inf)), out=distance)
    return distance


def _shadow(depth_m, columns, tail_min_px=None):
    """Where the projector cannot light the surface seen at each pixel (bool).

    A surface at column u and depth z is seen by the projector at column ``u - f·b/z``. Along a
    row the projector's view keeps the camera's order, so a pixel is in shadow when some pixel to
    its right lands further left in the projector than it does. ``tail_min_px`` (per row) is the
    least projector column of the pixels right of ``columns``, when they are left out.
    """
    with np.errstate(divide="ignore"):
        projector_px = columns - np.float32(FOCAL_X_PX * PROJECTOR_BASELINE_M) / depth_m
    right_min_px = np.minimum.accumulate(projector_px[:, ::-1], axis=1)[:, ::-1]
    if tail_min_px is not None:
        np.minimum(right_min_px, tail_min_px[:, None], out=right_min_px)
    return right_min_px < projector_px - np.float32(SHADOW_TOLERANCE_PX), right_min_px


class SyntheticScene:
    """Renders the room and its walker as raw Kinect disparity frames, as a pure function of time.

    Building one takes a few hundred milliseconds (the static room); rendering a frame takes a
    few milliseconds. ``seed`` picks the noise and speckle patterns.
    """

    units = DepthUnits.RAW_DISPARITY
    shape = SENSOR_SHAPE

    def __init__(self, seed=0):
        self.seed = seed
        rows, cols = self.shape
        self._axes = _camera_axes(CAMERA_PITCH_DOWN_DEG)
        self._camera_m = np.array([0.0, CAMERA_HEIGHT_M, 0.0])
        self._columns = np.arange(cols, dtype=np.float32)
        # Camera-coordinate rays through each pixel with a forward component of 1, so the distance
        # along one to a surface is that surface's depth along the optical axis.
        ray_x = (self._columns - CENTRE_X_PX) / FOCAL_X_PX
        ray_y = (np.arange(rows, dtype=np.float32) - CENTRE_Y_PX) / FOCAL_Y_PX
        rays = np.stack(np.broadcast_arrays(ray_x[None, :], ray_y[:, None], np.float32(1.0)))
        norm = np.sqrt((rays * rays).sum(axis=0))
        self._unit_rays = (rays / norm).astype(np.float32)
        self._static_depth_m = self._render_room(rays.astype(np.float64)).astype(np.float32)
        shadow, self._static_right_min_px = _shadow(self._static_depth_m, self._columns)
        rng = np.random.default_rng(seed)
        self._noise = [self._noise_pattern(rng) for _ in range(NOISE_PATTERNS)]
        self._speckle = [self._speckle_pattern(rng) for _ in range(NOISE_PATTERNS)]
        self._static_raw = [
            self._to_raw(self._static_depth_m, shadow, noise, speckle)
            for noise, speckle in zip(self._noise, self._speckle)
        ]

    def _render_room(self, rays):
        """Depth (m) of the static room along each camera-coordinate ray (shape 3 x rows x cols)."""
        directions = np.tensordot(self._axes.T, rays, axes=1)  # room coordinates
        origin = self._camera_m[:, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = 1.0 / directions
            # The camera is inside the room: the depth is where the ray leaves it.
            low = (np.array(ROOM.low)[:, None, None] - origin) * inverse
            high = (np.array(ROOM.high)[:, None, None] - origin) * inverse
            depth = np.maximum(low, high).min(axis=0)
            for box in FURNITURE:
                low = (np.array(box.low)[:, None, None] - origin) * inverse
                high = (np.array(box.high)[:, None, None] - origin) * inverse
                enter = np.minimum(low, high).max(axis=0)
                leave = np.maximum(low, high).min(axis=0)
                hit = (enter <= leave) & (enter > 0)
                depth = np.where(hit & (enter < depth), enter, depth)
        return depth

    def _noise_pattern(self, rng):
        """Disparity counts to add to each pixel: -1, 0 or +1 (int16)."""
        draw = rng.random(self.shape, dtype=np.float32)
        return (draw > 1 - NOISE_SHARE / 2).astype(np.int16) - (draw < NOISE_SHARE / 2)

    def _speckle_pattern(self, rng):
        """Where this frame's speckle clusters read nothing (bool)."""
        rows, cols = self.shape
        speckle = np.zeros(self.shape, bool)
        speckle[rng.integers(0, rows - 1, SPECKLES_PER_FRAME),
                rng.integers(0, cols - 1, SPECKLES_PER_FRAME)] = True
        speckle[1:, :] |= speckle[:-1, :]
        speckle[:, 1:] |= speckle[:, :-1]
        return speckle

    @staticmethod
    def _to_raw(depth_m, shadow, noise, speckle):
        """Raw disparity (uint16, 2047 = no reading) with the sensor's artefacts applied."""
        depth_mm = depth_m * np.float32(1000)
        raw = mm_to_raw(depth_mm)
        readable = (raw != RAW_NO_READING) & (depth_mm >= MIN_RANGE_MM) & ~shadow & ~speckle
        noisy = np.clip(raw.astype(np.int16) + noise, 0, RAW_NO_READING - 1)
        return np.where(readable, noisy, RAW_NO_READING).astype(np.uint16)

    def _to_camera(self, point_m):
        """Camera coordinates (x right, y down, z forward; metres) of a room-coordinate point."""
        return self._axes @ (point_m - self._camera_m)

    def _image_rect(self, capsule):
        """Rows and columns (half-open) a camera-coordinate capsule covers, and its least depth.

        The capsule lies in the box spanned by its ends grown by its radius, and over such a box
        x/z and y/z are extreme at its corners, so those bound its image. None if it is out of
        view or too near to draw.
        """
        ends = np.stack([capsule.start, capsule.end])
        low = ends.min(axis=0) - capsule.radius_m
        high = ends.max(axis=0) + capsule.radius_m
        if low[2] < MIN_DRAW_DEPTH_M:
            return None
        xs = [x / z for x in (low[0], high[0]) for z in (low[2], high[2])]
        ys = [y / z for y in (low[1], high[1]) for z in (low[2], high[2])]
        rows, cols = self.shape
        col0 = max(0, math.floor(CENTRE_X_PX + FOCAL_X_PX * min(xs)))
        col1 = min(cols, math.ceil(CENTRE_X_PX + FOCAL_X_PX * max(xs)) + 1)
        row0 = max(0, math.floor(CENTRE_Y_PX + FOCAL_Y_PX * min(ys)))
        row1 = min(rows, math.ceil(CENTRE_Y_PX + FOCAL_Y_PX * max(ys)) + 1)
        if row0 >= row1 or col0 >= col1:
            return None
        return row0, row1, col0, col1, float(low[2])

    def render(self, t):
        """The raw disparity frame (480 x 640 uint16) at scene time ``t`` in seconds."""
        pattern = math.floor(t * SCENE_FPS) % NOISE_PATTERNS
        frame = self._static_raw[pattern].copy()
        parts = []
        for capsule in walker_pose(t):
            # float32 ends keep the per-pixel arithmetic in float32 (NumPy 2 would promote it).
            start = self._to_camera(capsule.start).astype(np.float32)
            end = self._to_camera(capsule.end).astype(np.float32)
            capsule = Capsule(start, end, capsule.radius_m)
            rect = self._image_rect(capsule)
            if rect is not None:
                parts.append((capsule, rect))
        if not parts:
            return frame
        row0 = min(rect[0] for _, rect in parts)
        row1 = max(rect[1] for _, rect in parts)
        col1 = max(rect[3] for _, rect in parts)
        # The walker's shadow reaches at most f·b/z pixels to the left of it.
        nearest_m = min(rect[4] for _, rect in parts)
        shadow_reach_px = math.ceil(FOCAL_X_PX * PROJECTOR_BASELINE_M / nearest_m) + 1
        col0 = max(0, min(rect[2] for _, rect in parts) - shadow_reach_px)

        depth_m = self._static_depth_m[row0:row1, col0:col1].copy()
        for capsule, (r0, r1, c0, c1, _) in parts:
            rays = self._unit_rays[:, r0:r1, c0:c1]
            region = depth_m[r0 - row0:r1 - row0, c0 - col0:c1 - col0]
            np.minimum(region, _capsule_distance(rays, capsule) * rays[2], out=region)
        tail_min_px = (
            self._static_right_min_px[row0:row1, col1] if col1 < self.shape[1] else None
        )
        shadow, _ = _shadow(depth_m, self._columns[col0:col1], tail_min_px)
        window = (slice(row0, row1), slice(col0, col1))
        frame[window] = self._to_raw(
            depth_m, shadow, self._noise[pattern][window], self._speckle[pattern][window]
        )
        return frame


class SceneSource(FrameSource):
    """The synthetic scene as a FrameSource: each frame shows the scene at the clock's "now".

    ``clock`` is anything with ``seconds()`` (the reactor, or ``task.Clock`` in tests); by
    default the wall clock. Scene time starts at 0 when the source is made.
    """

    units = SyntheticScene.units
    shape = SyntheticScene.shape
    nominal_fps = SCENE_FPS

    def __init__(self, scene=None, clock=None, seed=0):
        self.scene = scene if scene is not None else SyntheticScene(seed)
        self._seconds = clock.seconds if clock is not None else runtime.seconds
        self._started_s = self._seconds()

    def next_frame(self):
        now_s = self._seconds()
        return DepthFrame(self.scene.render(now_s - self._started_s), self.units, now_s)
