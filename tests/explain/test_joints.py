"""Joint-level explanations: CAM under each keypoint's heatmap, absent joints, drawing, the joints x time chart."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from exercise_rec.data.framing import CropBox
from exercise_rec.explain import CamError, compute_cam
from exercise_rec.explain.joints import (
    draw_joint_importance,
    joint_importance,
    joint_summary,
    joints_time_figure,
)
from exercise_rec.models import build_model
from exercise_rec.pose.heatmaps import COCO_FROM_BLAZEPOSE, COCO_KEYPOINTS, HeatmapConfig, heatmap_volume
from exercise_rec.pose.keypoints import KEYPOINT_NAMES

K = len(COCO_KEYPOINTS)
BOX = CropBox(top=100.0, left=200.0, height=160.0, width=160.0)  # 10 frame pixels per heatmap pixel at 16
SMALL = HeatmapConfig(size=16, frames=4)
# 25 heatmap pixels 3 apart: blobs of sigma 0.6 do not overlap (exp(-9 / 0.72) ~ 4e-6 at the neighbour)
GRID = [(row, col) for row in (1, 4, 7, 10, 13) for col in (1, 4, 7, 10, 13)]


def _keypoints(frames: int = 4, seed: int = 0) -> np.ndarray:
    """COCO keypoints [T, 17, 3] at distinct, well separated heatmap pixels (shuffled per frame), visible."""
    rng = np.random.default_rng(seed)
    kp = np.ones((frames, K, 3), dtype=np.float32)
    for t in range(frames):
        cells = np.asarray(GRID)[rng.permutation(len(GRID))[:K]]
        kp[t, :, 0] = BOX.left + (cells[:, 1] + 0.5) * 10
        kp[t, :, 1] = BOX.top + (cells[:, 0] + 0.5) * 10
    return kp


def test_a_cam_hot_on_one_keypoint_makes_it_that_frames_top_joint() -> None:
    volume = heatmap_volume(_keypoints(), BOX, SMALL)
    hot = [3, 9, 16, 0]  # the keypoint the CAM is hot on, frame by frame
    cam = np.stack([volume[k, t] for t, k in enumerate(hot)]) * np.array([1.0, 0.5, 0.8, 0.2])[:, None, None]
    importance = joint_importance(cam, volume)
    assert importance.shape == (K, 4) and importance.dtype == np.float64
    np.testing.assert_array_equal(importance.argmax(axis=0), hot)
    assert importance.max() == pytest.approx(1.0)  # clip-normalised: frame 0's keypoint is the clip's top
    others = importance.copy()
    others[hot, np.arange(4)] = 0
    assert others.max() < 0.01  # the other blobs, 3 pixels away, overlap the hot one by exp(-9 / 4 sigma^2) ~ 0.002

    per_frame = joint_importance(cam, volume, normalize="frame")
    np.testing.assert_allclose(per_frame[hot, np.arange(4)], 1.0)
    raw = joint_importance(cam, volume, normalize=None)
    heat = volume[hot, np.arange(4)]
    expected = (heat * cam).sum(axis=(1, 2)) / heat.sum(axis=(1, 2))
    np.testing.assert_allclose(raw[hot, np.arange(4)], expected, rtol=1e-5)
    np.testing.assert_allclose(importance, raw / raw.max(), rtol=1e-6)


def test_limb_channels_are_ignored() -> None:
    keypoints = _keypoints(seed=1)
    volume = heatmap_volume(keypoints, BOX, SMALL)
    with_limbs = heatmap_volume(keypoints, BOX, HeatmapConfig(size=16, frames=4, with_limbs=True))
    cam = np.random.default_rng(2).random((4, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(joint_importance(cam, with_limbs), joint_importance(cam, volume))


def test_absent_keypoints_are_nan_and_left_out_of_the_summary() -> None:
    keypoints = _keypoints()
    wrist, nose, ankle = (COCO_KEYPOINTS.index(name) for name in ("left_wrist", "nose", "right_ankle"))
    keypoints[1, wrist, 2] = 0.0  # invisible in frame 1
    keypoints[2, wrist, :2] = np.nan  # not estimated in frame 2
    keypoints[:, nose, 0] = BOX.left - 200  # outside the crop in every frame: faint tails only
    keypoints[3, ankle, 2] = 0.01  # rendered, but too faint to count
    volume = heatmap_volume(keypoints, BOX, SMALL)
    cam = np.ones((4, 16, 16), np.float32)  # everything equally hot: every present joint scores 1
    importance = joint_importance(cam, volume)
    absent = np.zeros((K, 4), bool)
    absent[wrist, [1, 2]] = absent[nose] = absent[ankle, 3] = True
    np.testing.assert_array_equal(np.isnan(importance), absent)
    np.testing.assert_allclose(importance[~absent], 1.0)

    summary = joint_summary(importance)
    assert summary.shape == (K,)
    assert np.isnan(summary[nose]) and np.isfinite(np.delete(summary, nose)).all()
    np.testing.assert_allclose(np.delete(summary, nose), 1.0)  # means over the present frames only
    nothing = joint_importance(np.zeros((4, 16, 16), np.float32), volume)  # a CAM with no evidence
    np.testing.assert_array_equal(np.isnan(nothing), absent)
    assert (nothing[~absent] == 0).all()


def test_bad_shapes_are_refused() -> None:
    volume = heatmap_volume(_keypoints(), BOX, SMALL)
    with pytest.raises(CamError, match="does not match"):
        joint_importance(np.zeros((4, 8, 8)), volume)
    with pytest.raises(CamError, match="17 or 34"):
        joint_importance(np.zeros((4, 16, 16)), volume[:5])
    with pytest.raises(CamError, match="normalize"):
        joint_importance(np.zeros((4, 16, 16)), volume, normalize="video")  # type: ignore[arg-type]


def _jet(value: float) -> np.ndarray:
    return np.round(np.asarray(matplotlib.colormaps["jet"](value)[:3]) * 255).astype(np.uint8)


def test_drawing_marks_each_joint_by_its_importance() -> None:
    frames = np.full((2, 120, 160, 3), 40, np.uint8)
    coco = np.zeros((2, K, 3), np.float32)
    coco[..., 0] = 10 + 8 * np.arange(K)  # integer pixel centres along a row
    coco[..., 1] = 60
    coco[..., 2] = 1
    importance = np.tile(np.linspace(0, 1, K)[:, None], (1, 2))
    importance[5, 1] = np.nan  # not shown to the model in frame 1
    out = draw_joint_importance(frames, coco, importance)
    assert out.shape == frames.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(frames, 40)  # the input is not drawn on
    changed = (out != frames).any(axis=-1)
    assert not changed[:, :50].any() and not changed[:, 70:].any()  # far from the joints nothing changes
    x = coco[0, :, 0].astype(int)
    for k in (0, 8, K - 1):  # each joint's centre has its importance's colour
        np.testing.assert_array_equal(out[0, 60, x[k]], _jet(importance[k, 0]))
    assert changed[0, 60, x[5]] and not (out[1, 60, x[5]] == _jet(importance[5, 0])).all()
    # a more important joint is a bigger disc: count the pixels of its colour around it
    low, high = (np.all(out[0, 40:80, x[k] - 4 : x[k] + 5] == _jet(importance[k, 0]), axis=-1).sum() for k in (1, K - 1))
    assert high > low

    blazepose = np.zeros((2, len(KEYPOINT_NAMES), 3), np.float32)
    blazepose[:, COCO_FROM_BLAZEPOSE] = coco
    np.testing.assert_array_equal(draw_joint_importance(frames, blazepose, importance), out)
    with pytest.raises(CamError, match="importance"):
        draw_joint_importance(frames, coco, importance[:, :1])


def test_joints_time_figure_has_a_labelled_row_per_joint() -> None:
    importance = np.random.default_rng(0).random((K, 6))
    importance[2, 3] = np.nan
    figure = joints_time_figure(importance)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == list(COCO_KEYPOINTS)
    assert axes.get_images()[0].get_array().shape == (K, 6)
    assert axes.get_xlabel() and axes.get_ylabel() == "joint"
    assert len(figure.axes) == 2  # the colourbar
    with pytest.raises(CamError, match="names"):
        joints_time_figure(importance, names=COCO_KEYPOINTS[:3])


def test_compute_cam_on_a_pose_volume_gives_joint_importance() -> None:
    torch.manual_seed(0)
    model = build_model("posec3d_slowonly", num_classes=3, width=4).eval()
    config = HeatmapConfig(size=32, frames=8)
    keypoints = np.concatenate([_keypoints(4), _keypoints(4, seed=3)])
    volume = heatmap_volume(keypoints, CropBox(top=100.0, left=200.0, height=160.0, width=160.0), config)
    for layer in model.cam_layers:
        cam = compute_cam(model, torch.from_numpy(volume), layer, "hirescam", target=1)
        assert cam.shape == (8, 32, 32) and cam.info.target == 1
        importance = joint_importance(cam, volume)
        assert importance.shape == (K, 8)
        assert np.isfinite(importance).all() and 0 <= importance.min() and importance.max() <= 1 + 1e-9
