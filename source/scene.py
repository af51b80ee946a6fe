"""The built-in synthetic scene, the default FrameSource: a Kinect's view of a room with people.

What the sensor would deliver, as 640 x 480 raw Kinect disparity (2047 = no reading) at 30 Hz:
a room (floor, back wall, side walls, a table with a black screen on it, a bookshelf, a box on the
floor) seen from a camera 1.3 m above the floor, tilted down, with a figure of capsules that walks
a loop through it (2.5–4.3 m away, every ``LOOP_PERIOD_S``). Every second loop a visitor comes in
from the right and stands 0.8–1 m in front of the camera for about four seconds: its torso is a
large near surface covering a third to nearly half of the view, it shifts its weight, waves an arm
(hand speeds up to about 2 m/s), leans in and reaches a hand nearer than the sensor can read, then
walks out to the left. Kinect artefacts come with it:

- quantization and flicker: a reading is the true disparity plus Gaussian noise
  (``FLICKER_SIGMA_COUNTS``), rounded, so about a quarter of readings differ by one count from the
  last frame; pixels whose true value lies near a half count flicker in most frames, those near a
  whole count hardly ever;
- shadows: the IR projector sits ``PROJECTOR_BASELINE_M`` to the right of the IR camera, so the
  background just left of every nearer edge gets no pattern and reads nothing;
- ragged holes: pixels on the edge of a hole (one or two pixels deep) read nothing in some frames;
- dark surfaces: the black screen returns no pattern and reads nothing;
- speckle: a few small clusters of pixels read nothing, in different places each frame;
- range: nothing nearer than ``MIN_RANGE_MM`` reads, and the rightmost
  ``NO_READING_RIGHT_COLUMNS`` never do.

The flicker, hole and near-person figures were compared with the kinect1-raw-walkin recording
(the raw disparity of a real Kinect v1; a person 1–1.5 m from it covers about 40 % of the view).
Its room has far more dark surfaces (about 16 % of its pixels read nothing when it is empty, the
scene's room about 4 %); that is the room, not the sensor, and the scene does not copy it.

``SyntheticScene.render(t)`` is a pure function of the scene time ``t`` (and the seed), so tests
can ask for any moment; ``SceneSource`` asks for "now" from a clock. The scene repeats every
``VISIT_PERIOD_S``.

Speed: the room is static, so its ray intersections, shadows and a few noisy copies of it are
computed once. A frame copies one of those and re-renders only the figures' bounding rectangle
(plus the band their shadows can reach), each body part only within its own projected rectangle.
"""

import math
from dataclasses import dataclass

import numpy as np
from twisted.python import runtime

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits
from depthcam.codec.units import (
    MAX_RAW_DEPTH_MM,
    RAW_NO_READING,
    RAW_OFFSET_PER_M,
    RAW_SLOPE_PER_M,
    mm_to_raw,
)
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
# Kinect v1 reads nothing nearer than about this: no raw disparity below MIN_RANGE_RAW comes out.
MIN_RANGE_MM = 450
MIN_RANGE_RAW = int(mm_to_raw(MIN_RANGE_MM))

CAMERA_HEIGHT_M = 1.3
CAMERA_PITCH_DOWN_DEG = 8.0

SCENE_FPS = 30.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in room coordinates: metres, x right, y up, z away from the camera."""

    low: tuple
    high: tuple
    # False for surfaces that return no IR pattern (a black screen): they read nothing.
    reflects: bool = True


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
    Box((1.1, 0.78, 3.7), (1.65, 1.12, 3.74), reflects=False),  # a black screen on the table
)

# The walker's loop: an ellipse on the floor (room coordinates, metres).
PATH_CENTRE_X_M = -0.1
PATH_CENTRE_Z_M = 3.4
PATH_RADIUS_X_M = 0.7
PATH_RADIUS_Z_M = 0.9
LOOP_PERIOD_S = 8.0
GAIT_CYCLES_PER_LOOP = 6  # two steps each: about 0.9 m per cycle on this loop

# The visitor's visit repeats every two walker loops: away for the first loop (so the walker's
# loop alone is what t in [0, LOOP_PERIOD_S) shows), then in, close to the camera, and out.
VISIT_PERIOD_S = 2 * LOOP_PERIOD_S
VISIT_ENTER_S = (8.0, 9.5)  # walks from the right to close in front of the camera
VISIT_LEAVE_S = (13.5, 15.0)  # walks out to the left
VISIT_STAND_M = (0.05, 1.05)  # where it stands: room x, and z (its distance from the camera)
VISIT_FROM_M = (1.4, 1.9)
VISIT_TO_M = (-1.3, 1.6)
VISIT_LEAN_IN = (11.0, 12.5)  # when it leans in to look at the camera (its chest to about 0.75 m)
VISIT_REACH = (12.0, 13.2)  # when it reaches its right hand towards the camera (under 0.45 m)
WAVE_HZ = 1.2  # the raised left arm's wave: its hand moves at up to about 2 m/s

# Artefacts are drawn from a few precomputed patterns, one per 1/SCENE_FPS of scene time. With 8,
# 30 % of pixels never flickered in the cycle (the pixels near a whole count need a rare draw);
# with 16, 15 % (the real recording: 9 % over 40 frames), for 20 MB more.
NOISE_PATTERNS = 16
# Each reading is the true (unrounded) disparity plus Gaussian noise of this many counts, rounded:
# readings whose true value lies near a half count flicker between two values, those near a whole
# count rarely. At 0.25 about a quarter of readings differ by one count from the last frame, and
# per pixel the share ranges from a few to 50 % (the kinect1-raw-walkin recording: 26 %, with
# per-pixel deciles 5 % and 46 %, in the empty room and with a person close alike).
FLICKER_SIGMA_COUNTS = 0.25
# Hole edges are ragged and flicker: a pixel next to a hole reads nothing in this share of frames,
# and one next to those in the second share.
EDGE_DROP_SHARES = (0.3, 0.2)
SPECKLES_PER_FRAME = 30  # 2 x 2 clusters of no reading, away from any edge
# The Kinect v1's depth image has no reading in its rightmost 8 columns.
NO_READING_RIGHT_COLUMNS = 8

# Body parts whose near side is closer than this to the camera are not drawn (nothing in the scene
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


def _smoothstep(t, span):
    """0 before ``span``, 1 after it, and a smooth S-curve between."""
    x = min(1.0, max(0.0, (t - span[0]) / (span[1] - span[0])))
    return x * x * (3 - 2 * x)


def _bump(t, span):
    """0 outside ``span``, rising smoothly to 1 over its first quarter and back over its last."""
    quarter = (span[1] - span[0]) / 4
    rise = _smoothstep(t, (span[0], span[0] + quarter))
    return rise * (1 - _smoothstep(t, (span[1] - quarter, span[1])))


def visitor_pose(t):
    """The visitor's body parts at scene time ``t`` (seconds), in room coordinates; [] if away.

    The visitor walks in from the right, stands close in front of the camera (its torso a large
    near surface filling much of the view), sways, waves, leans in and reaches a hand nearer than
    the sensor can read, then walks out to the left.
    """
    t = t % VISIT_PERIOD_S
    if not VISIT_ENTER_S[0] <= t < VISIT_LEAVE_S[1]:
        return []
    stand = np.array([VISIT_STAND_M[0], 0.0, VISIT_STAND_M[1]])
    if t < VISIT_ENTER_S[1]:
        share = _smoothstep(t, VISIT_ENTER_S)
        start = np.array([VISIT_FROM_M[0], 0.0, VISIT_FROM_M[1]])
        position, walking = start + share * (stand - start), 1.0 - share
    elif t >= VISIT_LEAVE_S[0]:
        share = _smoothstep(t, VISIT_LEAVE_S)
        end = np.array([VISIT_TO_M[0], 0.0, VISIT_TO_M[1]])
        position, walking = stand + share * (end - stand), share
    else:
        position, walking = stand, 0.0
    forward = np.array([0.0, 0.0, -1.0])  # it faces the camera
    right = np.array([-1.0, 0.0, 0.0])
    up = np.array([0.0, 1.0, 0.0])
    gait = 2 * math.pi * 1.8 * t

    lean_m = 0.06 * math.sin(2 * math.pi * 0.5 * t) + 0.25 * _bump(t, VISIT_LEAN_IN)
    # It shifts its weight from foot to foot while it stands.
    sway_m = (1 - walking) * 0.06 * math.sin(2 * math.pi * 0.35 * t)
    position = position + sway_m * np.array([1.0, 0.0, 0.0])

    def place(x, y, z):
        # Leaning pivots at the hips: higher points move further forward.
        return position + x * right + y * up + (z + lean_m * max(0.0, y - 0.9) / 0.6) * forward

    def limb(top, length_m, forward_angle, side_angle=0.0, side=1):
        """The far end of a limb from ``top``, swung forward and out sideways (radians)."""
        hang = -math.cos(forward_angle) * math.cos(side_angle) * up
        out = math.cos(forward_angle) * math.sin(side_angle) * side * right
        return top + length_m * (hang + math.sin(forward_angle) * forward + out)

    hip_y = 0.95
    parts = [
        Capsule(place(0, hip_y + 0.08, 0), place(0, hip_y + 0.45, 0), 0.18),  # torso, in a coat
        Capsule(place(0, hip_y + 0.78, 0.02), place(0, hip_y + 0.78, 0.02), 0.11),  # head
    ]
    reach = _bump(t, VISIT_REACH)
    wave = math.sin(2 * math.pi * WAVE_HZ * t)
    for side in (-1, 1):
        phase = gait if side < 0 else gait + math.pi
        hip = place(side * 0.1, hip_y, 0)
        thigh = 0.4 * walking * math.sin(phase)
        knee = limb(hip, 0.46, thigh)
        ankle = limb(knee, 0.46, thigh - 0.6 * walking * max(0.0, math.cos(phase)))
        shoulder = place(side * 0.24, hip_y + 0.47, 0)
        if side > 0:  # the right arm swings, then reaches straight at the camera
            upper_arm = (1 - reach) * -0.35 * walking * math.sin(phase) + reach * 1.45
            elbow = limb(shoulder, 0.3, upper_arm)
            wrist = limb(elbow, 0.28, upper_arm + 0.3 * (1 - reach))
        else:  # the left arm is raised out sideways and waves from the elbow
            elbow = limb(shoulder, 0.3, 0.3 + 0.3 * wave, 1.2, side)
            wrist = limb(elbow, 0.28, 0.6 + 0.6 * wave, 2.3, side)
        parts += [
            Capsule(hip, knee, 0.08),
            Capsule(knee, ankle, 0.06),
            Capsule(shoulder, elbow, 0.05),
            Capsule(elbow, wrist, 0.045),
        ]
    return parts


def _dot(rays, point):
    """Each ray's dot product with ``point``; rays are (x per column, y per row, z = 1)."""
    ray_x, ray_y = rays[:2]
    return ray_x * point[0] + (ray_y * point[1] + point[2])


def _sphere_depth(rays, along, centre_sq, radius_m):
    """Depth of a sphere's near side along ``rays`` (inf where they miss).

    ``along`` is each ray's dot product with the centre, ``centre_sq`` the centre's squared
    distance from the camera (a number, or one per ray).
    """
    ray_sq = rays[2]
    discriminant = along * along - ray_sq * (centre_sq - np.float32(radius_m * radius_m))
    hit = (discriminant >= 0) & (along > 0)
    depth = (along - np.sqrt(np.maximum(discriminant, 0))) / ray_sq
    return np.where(hit, depth, np.float32(np.inf))


def _capsule_depth(rays, capsule):
    """Depth of a capsule's near side along ``rays`` (inf where they miss).

    ``rays`` are the pixels' rays with a forward component of 1, given as their x per column,
    their y per row and their squared length per pixel; a point ``depth`` along one is at that
    depth. Quilez's capsule intersection: the capsule lies inside the infinite cylinder round its
    axis, so where a ray enters that cylinder between the ends, that is where it enters the
    capsule; elsewhere it can only enter through the end sphere on the side of the axis it met the
    cylinder, and one sphere test per pixel (with that end as centre) settles it.
    """
    start, end, radius_m = capsule.start, capsule.end, capsule.radius_m
    axis = end - start
    axis_sq = float(axis @ axis)
    start_dot_ray = _dot(rays, start)
    if axis_sq == 0.0:
        return _sphere_depth(rays, start_dot_ray, float(start @ start), radius_m)
    # The rays start at the camera (the origin), so every "origin - start" term is -start.
    axis_dot_ray = _dot(rays, axis)
    axis_dot_start = float(axis @ start)
    a = np.float32(axis_sq) * rays[2] - axis_dot_ray * axis_dot_ray
    b = axis_dot_start * axis_dot_ray - axis_sq * start_dot_ray
    c = np.float32(axis_sq * (start @ start) - axis_dot_start**2 - radius_m**2 * axis_sq)
    discriminant = b * b - a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (-b - np.sqrt(np.maximum(discriminant, 0))) / a
        along_axis = depth * axis_dot_ray - axis_dot_start
        # Rays (nearly) parallel to the axis leave along_axis undefined; they enter through the
        # end they travel towards first.
        at_end = np.where(a > 0, along_axis > 0, axis_dot_ray < 0)
    body = (discriminant >= 0) & (a > 0) & (depth > 0) & (along_axis > 0) & (along_axis < axis_sq)
    # Towards the end sphere's centre: start's term plus the axis's.
    cap_along = start_dot_ray + at_end * axis_dot_ray
    cap_centre_sq = np.where(at_end, np.float32(end @ end), np.float32(start @ start))
    return np.where(body, depth, _sphere_depth(rays, cap_along, cap_centre_sq, radius_m))


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


def _next_to(mask):
    """Where a pixel's left, right, upper or lower neighbour is in ``mask`` (bool)."""
    near = np.zeros_like(mask)
    near[1:] |= mask[:-1]
    near[:-1] |= mask[1:]
    near[:, 1:] |= mask[:, :-1]
    near[:, :-1] |= mask[:, 1:]
    return near


class SyntheticScene:
    """Renders the room and its people as raw Kinect disparity frames, as a pure function of time.

    Building one takes a few hundred milliseconds (the static room); rendering a frame takes a
    few milliseconds, and more while the visitor fills the view. ``seed`` picks the noise,
    ragged-edge and speckle patterns.
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
        # The same rays for the figures, kept as their parts: x per column, y per row, and the
        # squared length per pixel.
        self._ray_x = ray_x[None, :]
        self._ray_y = ray_y[:, None]
        self._ray_sq = (rays * rays).sum(axis=0)
        static_depth_m, self._static_dark = self._render_room(rays.astype(np.float64))
        self._static_depth_m = static_depth_m.astype(np.float32)
        shadow, self._static_right_min_px = _shadow(self._static_depth_m, self._columns)
        rng = np.random.default_rng(seed)
        self._noise = [
            rng.standard_normal(self.shape, dtype=np.float32) * np.float32(FLICKER_SIGMA_COUNTS)
            for _ in range(NOISE_PATTERNS)
        ]
        # One uniform draw per pixel serves both rings: the first ring drops below its share, the
        # second above one minus its own.
        self._edge_drop = [
            rng.integers(0, 256, self.shape, dtype=np.uint8) for _ in range(NOISE_PATTERNS)
        ]
        self._speckle = [self._speckle_pattern(rng) for _ in range(NOISE_PATTERNS)]
        self._static_raw = [
            self._to_raw(self._static_depth_m, shadow | self._static_dark, *artefacts)
            for artefacts in zip(self._noise, self._edge_drop, self._speckle)
        ]
        for raw in self._static_raw:
            raw[:, -NO_READING_RIGHT_COLUMNS:] = RAW_NO_READING

    def _render_room(self, rays):
        """Depth (m) of the static room along each camera-coordinate ray (shape 3 x rows x cols).

        Also where the nearest surface returns no pattern (bool).
        """
        directions = np.tensordot(self._axes.T, rays, axes=1)  # room coordinates
        origin = self._camera_m[:, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = 1.0 / directions
            # The camera is inside the room: the depth is where the ray leaves it.
            low = (np.array(ROOM.low)[:, None, None] - origin) * inverse
            high = (np.array(ROOM.high)[:, None, None] - origin) * inverse
            depth = np.maximum(low, high).min(axis=0)
            dark = np.zeros(depth.shape, bool)
            for box in FURNITURE:
                low = (np.array(box.low)[:, None, None] - origin) * inverse
                high = (np.array(box.high)[:, None, None] - origin) * inverse
                enter = np.minimum(low, high).max(axis=0)
                leave = np.maximum(low, high).min(axis=0)
                hit = (enter <= leave) & (enter > 0)
                nearest = hit & (enter < depth)
                depth = np.where(nearest, enter, depth)
                dark = np.where(nearest, not box.reflects, dark)
        return depth, dark

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
    def _to_raw(depth_m, unlit, noise_counts, edge_drop, speckle):
        """Raw disparity (uint16, 2047 = no reading) with the sensor's artefacts applied.

        ``unlit`` is where no pattern comes back (shadow, a black surface), ``noise_counts`` the
        disparity noise, ``edge_drop`` a uniform draw per pixel (uint8) that picks which pixels
        on hole edges read nothing this frame, and ``speckle`` this frame's speckle.
        """
        # units.py's formula, unrounded: the sensor rounds after its noise, not before.
        with np.errstate(divide="ignore"):
            inverse_m = np.float32(1) / depth_m
        exact = (inverse_m - np.float32(RAW_OFFSET_PER_M)) / np.float32(RAW_SLOPE_PER_M)
        exact += noise_counts
        raw = np.clip(np.rint(exact), 0, RAW_NO_READING - 1)
        hole = unlit | (raw < MIN_RANGE_RAW) | (depth_m > np.float32(MAX_RAW_DEPTH_MM / 1000))
        first_share, second_share = EDGE_DROP_SHARES
        hole |= _next_to(hole) & (edge_drop < round(256 * first_share))
        hole |= _next_to(hole) & (edge_drop >= 256 - round(256 * second_share))
        hole |= speckle
        return np.where(hole, RAW_NO_READING, raw).astype(np.uint16)

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
        for capsule in (*walker_pose(t), *visitor_pose(t)):
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
        # The figures' shadow reaches at most f·b/z pixels to the left of it.
        nearest_m = min(rect[4] for _, rect in parts)
        shadow_reach_px = math.ceil(FOCAL_X_PX * PROJECTOR_BASELINE_M / nearest_m) + 1
        col0 = max(0, min(rect[2] for _, rect in parts) - shadow_reach_px)

        depth_m = self._static_depth_m[row0:row1, col0:col1].copy()
        for capsule, (r0, r1, c0, c1, _) in parts:
            rays = (self._ray_x[:, c0:c1], self._ray_y[r0:r1], self._ray_sq[r0:r1, c0:c1])
            region = depth_m[r0 - row0:r1 - row0, c0 - col0:c1 - col0]
            np.minimum(region, _capsule_depth(rays, capsule), out=region)
        tail_min_px = (
            self._static_right_min_px[row0:row1, col1] if col1 < self.shape[1] else None
        )
        shadow, _ = _shadow(depth_m, self._columns[col0:col1], tail_min_px)
        window = (slice(row0, row1), slice(col0, col1))
        # The black screen stays dark where no figure stands in front of it.
        dark = self._static_dark[window] & (depth_m == self._static_depth_m[window])
        frame[window] = self._to_raw(
            depth_m,
            shadow | dark,
            self._noise[pattern][window],
            self._edge_drop[pattern][window],
            self._speckle[pattern][window],
        )
        frame[:, -NO_READING_RIGHT_COLUMNS:] = RAW_NO_READING
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
