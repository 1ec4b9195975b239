"""Joint-level explanations for pose models: how much of a CAM falls on each keypoint, per frame.

Why per joint: a pose model (``posec3d_slowonly``) sees a heatmap volume ``[K, T, H, W]``, one
Gaussian per COCO keypoint per frame (:mod:`exercise_rec.pose.heatmaps`). A CAM over that volume
(:func:`exercise_rec.explain.compute_cam`, ``[T, H, W]`` at the volume's size) says *where in the
crop* the model's evidence lies; since the input there is keypoint blobs, the readable answer is
*which joint*: "the knees, in the frames where they bend".

:func:`joint_importance`: for keypoint ``k`` and frame ``t``, the CAM averaged under that
keypoint's heatmap, ``sum(cam[t] * heat[k, t]) / sum(heat[k, t])``: the CAM at the keypoint's
blob, weighted by the blob itself (so a faint, low-visibility keypoint gets the CAM where it is,
not a smaller value; how *much* the model saw of it is the volume's business, not this score's).
Where the model was shown (almost) nothing of a keypoint (its map peaks below ``min_peak``:
invisible, not estimated, or outside the crop) the importance is **NaN**, not 0: 0 would read as
"seen and ignored", and a weighted mean of a few 1e-16 tails would be the CAM at the crop's edge,
not at the joint. NaN is left out of the per-joint summary (:func:`joint_summary`), drawn as no
joint (:func:`draw_joint_importance`) and as grey cells (:func:`joints_time_figure`).
Volumes with limb maps (K = 34) are scored on their 17 keypoint channels only.

Cost: one ``einsum`` over the volume (17 x 32 x 56 x 56), a few milliseconds; no loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from exercise_rec.explain.cam import CamError, CamInfo
from exercise_rec.explain.overlay import _as_frames, _colormap, _lut, cam_title
from exercise_rec.pose.heatmaps import COCO_KEYPOINTS, COCO_LIMBS, coco_keypoints

__all__ = [
    "MIN_PEAK",
    "draw_joint_importance",
    "joint_importance",
    "joint_summary",
    "joints_time_figure",
]

MIN_PEAK = 0.05  # a keypoint map peaking below this showed the model (almost) nothing: NaN importance
_SHIFT = 4  # cv2's fixed-point bits: centres at 1/16 pixel
_FAR_PX = 16384  # keypoints beyond the frame are clamped this far out (cv2 takes int32 coordinates)
LIMB_COLOUR = (235, 235, 235)  # RGB: thin light limbs, so the joints' colours carry the importance
OUTLINE = (0, 0, 0)  # each joint's rim: a blue joint stays visible on a dark frame and vice versa

JointNormalization = Literal["clip", "frame"] | None


def joint_importance(
    cam: np.ndarray,
    volume: np.ndarray,
    *,
    normalize: JointNormalization = "clip",
    min_peak: float = MIN_PEAK,
) -> np.ndarray:
    """Importance of each COCO keypoint in each frame, float64 ``[17, T]``; NaN where absent.

    ``cam``: ``[T, H, W]`` over the model's input (``compute_cam`` on ``volume``); ``volume``: the
    heatmap volume ``[K, T, H, W]`` it was computed on, K = 17 (keypoints) or 34 (keypoints and
    limbs; only the first 17 channels are used). Entry ``[k, t]`` is the CAM averaged under keypoint
    ``k``'s heatmap in frame ``t``; NaN where that map peaks below ``min_peak`` (see the module).
    ``normalize``: ``"clip"`` divides by the largest value in the clip (1 = the clip's most
    important joint in its most important frame; quiet frames stay low), ``"frame"`` by each
    frame's largest (which joint leads, frame by frame), None keeps the raw CAM averages (in
    [0, 1], comparable with the CAM's own values).
    """
    heat = np.asarray(volume, dtype=np.float32)
    keypoints = len(COCO_KEYPOINTS)
    if heat.ndim != 4 or heat.shape[0] not in (keypoints, keypoints + len(COCO_LIMBS)):
        raise CamError(f"expected a pose heatmap volume [17 or 34, T, H, W], got {heat.shape}")
    heat = heat[:keypoints]
    weights = np.asarray(cam, dtype=np.float32)
    if weights.shape != heat.shape[1:]:
        raise CamError(f"CAM {weights.shape} does not match the volume's [T, H, W] {heat.shape[1:]}")
    if normalize not in ("clip", "frame", None):
        raise CamError(f"normalize must be 'clip', 'frame' or None, got {normalize!r}")
    mass = heat.sum(axis=(2, 3), dtype=np.float64)  # [17, T]
    present = heat.max(axis=(2, 3)) >= min_peak
    weighted = np.einsum("kthw,thw->kt", heat, weights, dtype=np.float64)
    importance = np.where(present, weighted / np.where(present, mass, 1.0), np.nan)
    if normalize is None:
        return importance
    peak = np.fmax.reduce(importance, axis=None if normalize == "clip" else 0, keepdims=True, initial=-np.inf)
    scaled = importance / np.where(peak > 0, peak, 1.0)  # an all-zero (or all-absent) clip or frame stays as is
    return scaled


def joint_summary(importance: np.ndarray) -> np.ndarray:
    """Each joint's mean importance over the frames where it was present, ``[K]``; NaN for a joint
    absent in every frame."""
    values = _as_importance(importance)
    present = np.isfinite(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _as_importance(importance: np.ndarray) -> np.ndarray:
    values = np.asarray(importance, dtype=np.float64)
    if values.ndim != 2:
        raise CamError(f"expected joint importance [K, T], got {values.shape}")
    return values


def draw_joint_importance(
    frames: np.ndarray,
    keypoints: np.ndarray,
    importance: np.ndarray,
    colormap: str = "jet",
) -> np.ndarray:
    """A copy of uint8 ``frames`` ``[T, H, W, 3]`` with the COCO skeleton drawn, each joint a disc
    whose radius and colour (``colormap`` of the value in [0, 1]) grow with its importance there.

    ``keypoints``: ``[T, 17 or 33, 3]`` (BlazePose's 33 are cut to COCO's 17), x, y in pixels of
    ``frames``; ``importance``: ``[17, T]`` (:func:`joint_importance`). A joint with NaN importance
    (the model was not shown it) or no position is not drawn, nor are its limbs. The radius runs
    from 1 to 4 units of ``min(H, W) / 120`` pixels (at least 1.5), so frames of any size look
    alike; the most important joints are drawn last (on top).
    """
    pixels = _as_frames(frames)
    points = coco_keypoints(keypoints)
    values = _as_importance(importance)
    count = len(COCO_KEYPOINTS)
    if values.shape != (count, len(pixels)) or len(points) != len(pixels):
        raise CamError(
            f"{len(pixels)} frames need keypoints [{len(pixels)}, 17 or 33, 3] and importance [17, {len(pixels)}], "
            f"got {np.shape(keypoints)} and {values.shape}"
        )
    out = np.ascontiguousarray(pixels).copy()
    height, width = out.shape[1:3]
    unit = max(1.5, min(height, width) / 120)
    thickness = max(1, round(unit / 2))
    level = np.clip(np.nan_to_num(values.T, nan=0.0), 0.0, 1.0)  # [T, 17]
    shown = np.isfinite(values.T) & np.isfinite(points[..., :2]).all(axis=-1)
    radii = np.round(unit * (1 + 3 * level) * (1 << _SHIFT)).astype(np.int64)
    rim = 1 << _SHIFT  # one pixel of outline around each disc (drawn under it, so small discs keep their colour)
    colours = _lut(colormap)[np.round(level * 255).astype(np.int64)]  # [T, 17, 3]
    xy = np.round(np.clip(np.nan_to_num(points[..., :2]), -_FAR_PX, _FAR_PX) * (1 << _SHIFT)).astype(np.int64)
    for t in np.flatnonzero(shown.any(axis=1)):
        frame, centres, seen = out[t], [tuple(p) for p in xy[t].tolist()], shown[t]
        for a, b in COCO_LIMBS:
            if seen[a] and seen[b]:
                cv2.line(frame, centres[a], centres[b], LIMB_COLOUR, thickness, cv2.LINE_AA, _SHIFT)
        for k in np.argsort(level[t], kind="stable"):
            if seen[k]:
                radius = int(radii[t, k])
                cv2.circle(frame, centres[k], radius + rim, OUTLINE, -1, cv2.LINE_AA, _SHIFT)
                cv2.circle(frame, centres[k], radius, tuple(colours[t, k].tolist()), -1, cv2.LINE_AA, _SHIFT)
    return out


def joints_time_figure(
    importance: np.ndarray,
    names: Sequence[str] = COCO_KEYPOINTS,
    info: CamInfo | None = None,
    colormap: str = "jet",
) -> Figure:
    """A joints x time heatmap: one row per joint (labelled with ``names``), one column per frame of
    the model's input, colour = importance in [0, 1]; absent (NaN) cells grey. The title names the
    CAM (``info``) when given."""
    values = _as_importance(importance)
    if len(names) != values.shape[0]:
        raise CamError(f"{values.shape[0]} joint rows but {len(names)} names")
    cmap = _colormap(colormap).with_extremes(bad="0.8")
    figure = Figure(figsize=(6, 1.3 + 0.16 * len(names)), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    axes.set_yticks(np.arange(len(names)), list(names), fontsize=7)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("frame (of the model's input)")
    axes.set_ylabel("joint")
    figure.colorbar(image, ax=axes, label="importance (grey: not seen)", fraction=0.05, pad=0.02)
    if info is not None:
        axes.set_title(cam_title(info), fontsize=8)
    return figure
