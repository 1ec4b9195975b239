"""Pose heatmap volumes: where keypoints land, visibility, flips, augmentation draws, sampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exercise_rec.data.framing import CropBox, TransformError
from exercise_rec.pose import PoseTrack
from exercise_rec.pose.heatmaps import (
    COCO_KEYPOINTS,
    COCO_LIMBS,
    HeatmapConfig,
    PoseAugmentation,
    PoseAugmentConfig,
    affine_keypoints,
    clip_box,
    coco_keypoints,
    fill_gaps,
    flip_keypoints,
    flip_volume,
    heatmap_volume,
    sample_frames,
    track_volume,
)
from exercise_rec.pose.keypoints import KEYPOINT, KEYPOINT_NAMES

BOX = CropBox(top=100.0, left=200.0, height=160.0, width=160.0)  # 10 original pixels per heatmap pixel at 16
SMALL = HeatmapConfig(size=16, frames=4)


def _pixel(row: int, col: int) -> tuple[float, float]:
    """Original-frame (x, y) of the centre of heatmap pixel (row, col) of ``BOX`` at size 16."""
    return BOX.left + (col + 0.5) * 10, BOX.top + (row + 0.5) * 10


def _random_keypoints(frames: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.empty((frames, len(KEYPOINT_NAMES), 3), dtype=np.float32)
    kp[..., 0] = rng.uniform(BOX.left, BOX.left + BOX.width, kp.shape[:2])
    kp[..., 1] = rng.uniform(BOX.top, BOX.top + BOX.height, kp.shape[:2])
    kp[..., 2] = rng.uniform(0.2, 1.0, kp.shape[:2])
    return kp


def test_a_keypoint_peaks_at_its_pixel_with_its_visibility() -> None:
    kp = np.zeros((2, len(KEYPOINT_NAMES), 3), dtype=np.float32)
    wrist, channel = KEYPOINT["left_wrist"], COCO_KEYPOINTS.index("left_wrist")
    kp[0, wrist] = (*_pixel(row=3, col=11), 0.8)
    kp[1, wrist] = (*_pixel(row=12, col=2), 1.0)
    volume = heatmap_volume(kp, BOX, SMALL)
    for t, (row, col), peak in ((0, (3, 11), 0.8), (1, (12, 2), 1.0)):
        frame = volume[channel, t]
        assert np.unravel_index(frame.argmax(), frame.shape) == (row, col)
        assert frame.max() == pytest.approx(peak)
        # sigma 0.6 heatmap pixels: one pixel away is exp(-1 / 0.72) of the peak
        assert frame[row, col + 1] == pytest.approx(peak * np.exp(-1 / 0.72), rel=1e-5)
    others = np.delete(volume, channel, axis=0)
    assert not others.any()


def test_matches_a_per_pixel_gaussian_reference() -> None:
    kp = _random_keypoints()
    volume = heatmap_volume(kp, BOX, SMALL)
    coco = coco_keypoints(kp)
    rows, cols = np.mgrid[0:16, 0:16]
    t, k = 2, 7
    x, y, v = coco[t, k]
    gx, gy = (x - BOX.left) / 10 - 0.5, (y - BOX.top) / 10 - 0.5
    expected = v * np.exp(-((cols - gx) ** 2 + (rows - gy) ** 2) / (2 * 0.6**2))
    np.testing.assert_allclose(volume[k, t], expected, atol=1e-6)


def test_limb_maps_follow_the_segment_and_the_weaker_end() -> None:
    kp = np.zeros((1, len(KEYPOINT_NAMES), 3), dtype=np.float32)
    kp[0, KEYPOINT["left_hip"]] = (*_pixel(8, 3), 0.9)
    kp[0, KEYPOINT["right_hip"]] = (*_pixel(8, 12), 0.5)
    volume = heatmap_volume(kp, BOX, HeatmapConfig(size=16, with_limbs=True))
    assert volume.shape == (34, 1, 16, 16)
    hips = len(COCO_KEYPOINTS) + COCO_LIMBS.index((COCO_KEYPOINTS.index("left_hip"), COCO_KEYPOINTS.index("right_hip")))
    limb = volume[hips, 0]
    np.testing.assert_allclose(limb[8, 3:13], 0.5, rtol=1e-6)  # on the segment: min of the two ends
    assert limb[8, 14] == pytest.approx(0.5 * np.exp(-4 / 0.72), rel=1e-5)  # 2 pixels past its end
    assert limb[9, 7] == pytest.approx(0.5 * np.exp(-1 / 0.72), rel=1e-5)  # 1 pixel beside it
    assert not np.delete(volume[len(COCO_KEYPOINTS) :], hips - len(COCO_KEYPOINTS), axis=0).any()


def test_invisible_keypoints_and_empty_frames_give_zero_maps() -> None:
    kp = _random_keypoints()
    kp[:, KEYPOINT["nose"], 2] = 0.0
    kp[1] = 0.0  # a frame without a person: the estimator's all-zero keypoints
    kp[2, KEYPOINT["left_knee"], :2] = np.nan
    volume = heatmap_volume(kp, BOX, HeatmapConfig(size=16, with_limbs=True))
    assert not volume[COCO_KEYPOINTS.index("nose")].any()
    assert not volume[:, 1].any()
    assert not volume[COCO_KEYPOINTS.index("left_knee"), 2].any()
    assert np.isfinite(volume).all()
    assert volume[COCO_KEYPOINTS.index("left_knee"), 0].max() > 0


def test_shape_dtype_and_config_checks() -> None:
    volume = heatmap_volume(_random_keypoints(frames=3), BOX, HeatmapConfig(size=12))
    assert volume.shape == (17, 3, 12, 12) and volume.dtype == np.float32 and volume.flags.c_contiguous
    assert HeatmapConfig().channels == 17 and HeatmapConfig(with_limbs=True).channels == 34
    assert (HeatmapConfig().size, HeatmapConfig().frames, HeatmapConfig().sigma) == (56, 32, 0.6)
    with pytest.raises(TransformError, match="keypoints"):
        heatmap_volume(np.zeros((3, 12, 3)), BOX, SMALL)
    with pytest.raises(TransformError, match="sigma"):
        HeatmapConfig(sigma=0)


@pytest.mark.parametrize("with_limbs", [False, True])
def test_flip_swaps_left_and_right_and_mirrors(with_limbs: bool) -> None:
    config = HeatmapConfig(size=16, with_limbs=with_limbs)
    kp = _random_keypoints()
    centre_x = BOX.left + BOX.width / 2
    flipped = heatmap_volume(flip_keypoints(kp, centre_x), BOX, config)
    np.testing.assert_allclose(flipped, flip_volume(heatmap_volume(kp, BOX, config)), atol=1e-5)  # float32 pixels

    left, right = KEYPOINT["left_wrist"], KEYPOINT["right_wrist"]
    mirrored = flip_keypoints(kp, centre_x)
    np.testing.assert_allclose(mirrored[:, right, 0], 2 * centre_x - kp[:, left, 0])
    np.testing.assert_array_equal(mirrored[:, right, 1:], kp[:, left, 1:])
    np.testing.assert_allclose(flip_keypoints(mirrored, centre_x), kp)
    coco_flipped = flip_keypoints(coco_keypoints(kp), centre_x)  # the COCO-17 layout flips too
    np.testing.assert_allclose(coco_flipped, coco_keypoints(mirrored))


def test_augmentation_is_one_draw_per_clip_and_seeded() -> None:
    config = PoseAugmentConfig(flip=1.0, joint_dropout=0.3, frame_dropout=0.0)
    draw = config.draw(np.random.default_rng(7))
    assert draw == config.draw(np.random.default_rng(7))
    assert draw != config.draw(np.random.default_rng(8))
    assert draw.flip and 0.9 <= draw.scale <= 1.15 and abs(draw.degrees) <= 10
    assert len(draw.dropped) == len(KEYPOINT_NAMES) and any(draw.dropped)

    still = np.repeat(_random_keypoints(frames=1), 5, axis=0)  # a person standing still
    out = draw.apply(still, BOX)
    np.testing.assert_array_equal(out, np.repeat(out[:1], 5, axis=0))  # same transform every frame
    np.testing.assert_array_equal(out[:, np.array(draw.dropped), 2], 0)
    np.testing.assert_allclose(out, draw.apply(still, BOX))  # pure: the input is untouched
    assert not np.array_equal(out, still)

    identity = PoseAugmentation(flip=False, scale=1.0, degrees=0.0, shift=(0.0, 0.0), dropped=(False,) * 33)
    np.testing.assert_allclose(identity.apply(still, BOX), still, atol=1e-4)


def test_back_view_mirrors_positions_and_keeps_joint_names() -> None:
    """Seen from behind, the left wrist is still the left wrist, on the other side of the body;
    combined with a flip only the names change sides."""
    still = _random_keypoints(frames=3)
    centre_x = BOX.left + BOX.width / 2
    plain = dict(scale=1.0, degrees=0.0, shift=(0.0, 0.0), dropped=(False,) * 33)
    behind = PoseAugmentation(flip=False, back_view=True, **plain).apply(still, BOX)
    np.testing.assert_allclose(behind[..., 0], 2 * centre_x - still[..., 0], atol=1e-4)
    np.testing.assert_array_equal(behind[..., 1:], still[..., 1:])
    names_swapped = PoseAugmentation(flip=True, back_view=True, **plain).apply(still, BOX)
    left, right = KEYPOINT["left_wrist"], KEYPOINT["right_wrist"]
    np.testing.assert_allclose(names_swapped[:, right], still[:, left], atol=1e-4)
    draws = [PoseAugmentConfig(back_view=0.5).draw(np.random.default_rng(seed)) for seed in range(200)]
    assert 0.35 < np.mean([d.back_view for d in draws]) < 0.65
    assert not any(PoseAugmentConfig().draw(np.random.default_rng(s)).back_view for s in range(50))  # off by default
    plain_draw = PoseAugmentConfig().draw(np.random.default_rng(3))
    assert replace(PoseAugmentConfig(back_view=1.0).draw(np.random.default_rng(3)), back_view=False) == plain_draw
    with pytest.raises(TransformError, match="back_view"):
        PoseAugmentConfig(back_view=1.5)


def test_frame_dropout_blanks_whole_frames_and_aspect_stretches_vertically() -> None:
    still = np.repeat(_random_keypoints(frames=1), 200, axis=0)
    config = PoseAugmentConfig(flip=0.0, scale=(1.0, 1.0), degrees=0.0, shift=0.0, joint_dropout=0.0,
                               aspect=(1.2, 1.2), frame_dropout=1.0)  # fmt: skip
    draw = config.draw(np.random.default_rng(1))
    out = draw.apply(still, BOX)
    blank = ~out.any(axis=(1, 2))
    assert 0 < blank.mean() <= draw.frame_dropout + 0.1 and abs(blank.mean() - draw.frame_dropout) < 0.1
    np.testing.assert_array_equal(blank, ~draw.apply(still, BOX).any(axis=(1, 2)))  # the same frames each time
    kept = out[~blank][0]
    centre_y = BOX.top + BOX.height / 2
    np.testing.assert_allclose(kept[:, 0], still[0, :, 0], atol=1e-3)  # x untouched
    np.testing.assert_allclose(kept[:, 1] - centre_y, (still[0, :, 1] - centre_y) * 1.2, atol=1e-3)
    with pytest.raises(TransformError, match="aspect"):
        PoseAugmentConfig(aspect=(1.2, 0.8))
    with pytest.raises(TransformError, match="frame_dropout"):
        PoseAugmentConfig(frame_dropout=1.5)


def test_short_gaps_are_interpolated_long_ones_stay_empty() -> None:
    frames = 20
    kp = np.zeros((frames, len(KEYPOINT_NAMES), 3), dtype=np.float32)
    kp[:, :, 0] = np.arange(frames, dtype=np.float32)[:, None] * 10  # moving right, 10 px a frame
    kp[:, :, 1] = 50.0
    kp[:, :, 2] = 1.0
    presence = np.ones(frames, np.float32)
    gone = np.zeros(frames, bool)
    gone[[0, 4, 5, 6]] = True  # a 1-frame gap at the start and a 3-frame one inside
    gone[10:16] = True  # 6 frames: longer than max_gap 4
    kp[gone], presence[gone] = 0, 0
    track = PoseTrack(keypoints=kp, presence=presence, frame_size=(100, 400))
    filled = fill_gaps(track, max_gap=4)
    np.testing.assert_allclose(filled.keypoints[4:7, 0, 0], [40, 50, 60])  # on the line between frames 3 and 7
    np.testing.assert_allclose(filled.keypoints[0, 0], track.keypoints[1, 0])  # the start holds frame 1
    assert not filled.keypoints[10:16].any() and not filled.presence[10:16].any()
    assert fill_gaps(track, max_gap=0) is track
    np.testing.assert_array_equal(track.keypoints[gone], 0)  # the input is untouched
    assert not track_volume(track, HeatmapConfig(size=16, frames=frames, max_gap=0))[:, 5].any()
    assert track_volume(track, HeatmapConfig(size=16, frames=frames, max_gap=4))[:, 5].any()
    with pytest.raises(TransformError, match="max_gap"):
        HeatmapConfig(max_gap=-1)


def test_affine_turns_about_the_centre() -> None:
    kp = np.zeros((1, 17, 3), dtype=np.float32)
    kp[0, 0] = (110.0, 100.0, 1.0)
    out = affine_keypoints(kp, centre=(100.0, 100.0), scale=2.0, degrees=90.0, shift=(1.0, -1.0))
    np.testing.assert_allclose(out[0, 0], (101.0, 119.0, 1.0), atol=1e-4)  # x right -> y down, doubled


def test_uniform_sampling_with_and_without_jitter() -> None:
    np.testing.assert_array_equal(sample_frames(8, 4), [1, 3, 5, 7])
    np.testing.assert_array_equal(sample_frames(3, 6), [0, 0, 1, 1, 2, 2])  # short: repeats, in order
    jittered = sample_frames(40, 32, np.random.default_rng(0))
    assert len(jittered) == 32 and (np.diff(jittered) >= 0).all() and jittered.max() < 40
    np.testing.assert_array_equal(jittered, sample_frames(40, 32, np.random.default_rng(0)))
    with pytest.raises(TransformError):
        sample_frames(0, 4)


def test_track_volume_crops_around_the_person() -> None:
    kp = _random_keypoints(frames=10)
    kp[..., 2] = 1.0
    track = PoseTrack(keypoints=kp, presence=np.ones(10, np.float32), frame_size=(480, 640))
    box = clip_box(track)
    assert box.height == pytest.approx(box.width)
    assert box.left <= kp[..., 0].min() and box.left + box.width >= kp[..., 0].max()
    volume = track_volume(track, SMALL)
    assert volume.shape == (17, 4, 16, 16) and volume.max() > 0.5
    rng = np.random.default_rng(3)
    augmented = track_volume(track, SMALL, rng=rng, augment=PoseAugmentConfig())
    assert augmented.shape == volume.shape
    with pytest.raises(TransformError, match="rng"):
        track_volume(track, SMALL, augment=PoseAugmentConfig())
    empty = PoseTrack(keypoints=np.zeros_like(kp), presence=np.zeros(10, np.float32), frame_size=(480, 640))
    assert clip_box(empty) == CropBox(top=0.0, left=80.0, height=480.0, width=480.0)
    assert not track_volume(empty, SMALL).any()
