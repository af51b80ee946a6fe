"""Tests for source/scene.py: the synthetic room and walker, as a Kinect would deliver them."""

import numpy as np
import pytest
from twisted.internet import task

from depthcam.codec import ClassicEncoder, DepthUnits, StreamDecoder
from depthcam.codec.frame import SENSOR_SHAPE
from depthcam.codec.units import RAW_NO_READING, mm_to_raw, raw_to_mm
from depthcam.source.frames import FrameSource
from depthcam.source.scene import (
    CAMERA_HEIGHT_M,
    CAMERA_PITCH_DOWN_DEG,
    CENTRE_Y_PX,
    FOCAL_Y_PX,
    LOOP_PERIOD_S,
    MIN_RANGE_MM,
    NO_READING_RIGHT_COLUMNS,
    SCENE_FPS,
    VISIT_PERIOD_S,
    SceneSource,
    SyntheticScene,
    visitor_pose,
)

# Raw disparity steps bigger than this are a surface moving, not the sensor's ±1 noise.
MOVED_RAW_COUNTS = 20


def hole_runs(row):
    """(first column, end column) of each run of no-reading pixels in one row."""
    holes = np.concatenate([[False], row == RAW_NO_READING, [False]])
    edges = np.flatnonzero(np.diff(holes.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def test_frames_are_raw_disparity_of_the_sensor_shape(scene):
    """A frame is a 480 x 640 uint16 array of 11-bit raw disparity, as the source declares."""
    source = SceneSource(scene, clock=task.Clock())
    frame = source.next_frame()
    assert isinstance(source, FrameSource)
    assert source.units is DepthUnits.RAW_DISPARITY
    assert source.shape == SENSOR_SHAPE
    assert source.nominal_fps == SCENE_FPS
    assert frame.units is DepthUnits.RAW_DISPARITY
    assert frame.depth.shape == SENSOR_SHAPE and frame.depth.dtype == np.uint16
    assert frame.depth.max() <= RAW_NO_READING


def test_same_time_gives_the_same_frame(scene):
    """render(t) is a pure function of t: the same t twice, or in a same-seed scene, agrees."""
    first = scene.render(1.234)
    scene.render(5.0)
    assert np.array_equal(first, scene.render(1.234))
    assert np.array_equal(first, SyntheticScene(seed=scene.seed).render(1.234))


def test_seed_changes_only_the_noise(scene):
    """Another seed gives other noise: most pixels within a couple of counts, but not all equal."""
    first = scene.render(2.0).astype(np.int32)
    other = SyntheticScene(seed=scene.seed + 1).render(2.0).astype(np.int32)
    both_read = (first != RAW_NO_READING) & (other != RAW_NO_READING)
    assert not np.array_equal(first, other)
    assert np.mean(np.abs(first - other)[both_read] <= 2) > 0.99


def test_walker_moves(scene):
    """Frames a second apart differ by more than noise over a walker-sized area."""
    for t in np.arange(0, LOOP_PERIOD_S, 1.0):
        now = scene.render(t).astype(np.int32)
        later = scene.render(t + 1.0).astype(np.int32)
        moved = np.abs(now - later) > MOVED_RAW_COUNTS
        assert moved.sum() > 2000, f"little moved between t={t} and t={t + 1}"


def test_background_has_noise_and_fresh_speckle_each_frame(scene):
    """Consecutive frames differ by a count or so in many pixels, and their small holes move."""
    now = scene.render(3.0)
    next_frame = scene.render(3.0 + 1 / SCENE_FPS)
    step = np.abs(now.astype(np.int32) - next_frame.astype(np.int32))
    both_read = (now != RAW_NO_READING) & (next_frame != RAW_NO_READING)
    assert 0.1 < np.mean(step[both_read] == 1) < 0.6
    assert np.any((now == RAW_NO_READING) != (next_frame == RAW_NO_READING))


def test_no_reading_share_is_kinect_like(scene):
    """Some pixels read nothing (shadows, speckle), but only a few percent of them."""
    for t in (0.0, 2.5, 5.0):
        share = np.mean(scene.render(t) == RAW_NO_READING)
        assert 0.002 < share < 0.1


def test_shadows_fall_left_of_nearer_edges(scene):
    """Wide holes have the nearer surface on their right: the projector sits right of the camera."""
    # At t = 3/4 of the loop the walker is at the front, 2.5 m from the camera: wide shadows.
    raw = scene.render(LOOP_PERIOD_S * 3 / 4).astype(np.int32)
    nearer_on_right = nearer_on_left = 0
    for row in raw:
        for start, end in hole_runs(row):
            if end - start >= 3 and start > 0 and end < len(row):
                # Smaller raw disparity is nearer.
                if row[end] < row[start - 1] - MOVED_RAW_COUNTS:
                    nearer_on_right += 1
                elif row[start - 1] < row[end] - MOVED_RAW_COUNTS:
                    nearer_on_left += 1
    assert nearer_on_right > 100
    assert nearer_on_left < nearer_on_right / 20


def test_floor_is_where_the_camera_geometry_puts_it(scene):
    """The floor at the bottom of the frame reads the depth a camera 1.3 m up, tilted down, sees."""
    # At t = LOOP_PERIOD_S / 4 the walker is at the back of its loop, clear of the bottom rows.
    raw = scene.render(LOOP_PERIOD_S / 4)
    row, col = 470, 480
    mm = raw_to_mm(raw[row - 2:row + 3, col - 2:col + 3]).astype(float)
    measured_mm = np.median(mm[mm > 0])
    # The pixel's ray, per metre of depth, drops this far below the optical axis's height.
    pitch = np.radians(CAMERA_PITCH_DOWN_DEG)
    drop_per_m = (row - CENTRE_Y_PX) / FOCAL_Y_PX * np.cos(pitch) + np.sin(pitch)
    expected_mm = 1000 * CAMERA_HEIGHT_M / drop_per_m
    assert measured_mm == pytest.approx(expected_mm, rel=0.02)


def test_source_shows_the_scene_at_the_clock_time(scene):
    """SceneSource renders the scene at the time its clock has advanced since it was made."""
    clock = task.Clock()
    clock.advance(1000.0)
    source = SceneSource(scene, clock=clock)
    clock.advance(2.5)
    frame = source.next_frame()
    assert np.array_equal(frame.depth, scene.render(2.5))
    assert frame.captured_at == 1002.5


def test_scene_frames_encode_and_decode(scene):
    """A second of scene frames goes through the classic encoder and decoder without error."""
    encoder, decoder = ClassicEncoder(keyframe_interval=15), StreamDecoder()
    clock = task.Clock()
    source = SceneSource(scene, clock=clock)
    for _ in range(int(SCENE_FPS)):
        decoded = decoder.decode(encoder.encode(source.next_frame()))
        clock.advance(1 / SCENE_FPS)
    assert decoded.codes.shape == (120, 160)
    assert np.mean(decoded.codes == 255) < 0.1


def visit_times():
    """Scene times, a quarter second apart, over one whole visit cycle."""
    return np.arange(0.0, VISIT_PERIOD_S, 0.25)


def test_visitor_comes_close_and_fills_much_of_the_view(scene):
    """For seconds of each cycle a third of the view is nearer than 1 m (a person at a desk)."""
    near_shares = []
    for t in visit_times():
        mm = raw_to_mm(scene.render(t))
        near_shares.append(np.mean((mm > 0) & (mm < 1000)))
    close_s = 0.25 * np.sum(np.array(near_shares) > 1 / 3)
    assert close_s >= 2.0
    # ... and the rest of the cycle is the walker's room alone.
    assert min(near_shares) == 0


def test_nothing_reads_nearer_than_the_minimum_range(scene):
    """The visitor's hand comes nearer than the sensor's minimum range, and reads nothing there."""
    camera_z_m = []
    for t in visit_times():
        for part in visitor_pose(t):
            for end in (part.start, part.end):
                camera_z_m.append(scene._to_camera(end)[2] - part.radius_m)
        raw = scene.render(t)
        read = raw != RAW_NO_READING
        assert np.all(raw[read] >= mm_to_raw(MIN_RANGE_MM)), f"too near a reading at t={t}"
    assert min(camera_z_m) < MIN_RANGE_MM / 1000


def test_close_visitor_moves_fast(scene):
    """Frames 1/30 s apart while the visitor is close differ by more than noise in many pixels."""
    moved = []
    for t in visit_times():
        now, next_frame = scene.render(t), scene.render(t + 1 / SCENE_FPS)
        both_read = (now != RAW_NO_READING) & (next_frame != RAW_NO_READING)
        step = np.abs(now.astype(np.int32) - next_frame.astype(np.int32))
        moved.append(np.sum((step > MOVED_RAW_COUNTS) & both_read))
    # The walker alone, 2.5 m away or more, never moves this much in one frame.
    assert max(moved) > 10000


def test_flicker_is_between_neighbouring_counts_and_varies_by_pixel(scene):
    """Readings flicker by one count, some pixels in most frames and others hardly ever."""
    frames = np.stack([scene.render(3.0 + k / SCENE_FPS) for k in range(9)]).astype(np.int32)
    read = np.all(frames != RAW_NO_READING, axis=0)
    steps = np.abs(np.diff(frames, axis=0))[:, read]
    assert np.mean(steps >= 2) < 0.02
    flicker_share = np.mean(steps == 1, axis=0)
    assert 0.15 < flicker_share.mean() < 0.4
    assert np.mean(flicker_share == 0) > 0.1
    assert np.mean(flicker_share >= 0.5) > 0.1


def test_rightmost_columns_read_nothing(scene):
    """As on a Kinect v1, the rightmost columns never read, and the column before them does."""
    raw = scene.render(1.0)
    assert np.all(raw[:, -NO_READING_RIGHT_COLUMNS:] == RAW_NO_READING)
    assert np.mean(raw[:, -NO_READING_RIGHT_COLUMNS - 1] != RAW_NO_READING) > 0.5
