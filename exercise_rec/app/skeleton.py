"""The person check's keypoints drawn on the frames the model saw.

Why draw them: the verdict rests on the pose estimator (``no_person`` when it finds a person in too
few frames), so the user should see what it found: a skeleton on the mannequin makes a label
believable, a skeleton on a coat stand or none on a real person says why the verdict is what it is.
Why only keypoints with visibility >= ``MIN_VISIBILITY`` on frames where ``PoseTrack.found``: the
estimator places all 33 keypoints on every frame it tracks, guessing the hidden ones; drawing the
guesses would show a person on frames the person check did not count, and the picture must agree
with the verdict.
Why cv2 and not a vectorised raster: 16 frames of 16 limbs are 256 anti-aliased line calls (well
under a millisecond in total), and cv2 draws them with sub-pixel endpoints.
"""

from __future__ import annotations

import cv2
import numpy as np

from exercise_rec.pose import KEYPOINT_NAMES, SKELETON, PoseTrack
from exercise_rec.pose.track import MIN_VISIBILITY

# RGB. Left and right limbs in different colours: a mirrored or swapped skeleton is visible at once.
LEFT = (255, 140, 0)
RIGHT = (0, 170, 255)
CENTRE = (60, 220, 60)
SHIFT = 4  # cv2's fixed-point bits: endpoints at 1/16 pixel
FAR_PX = 16384  # keypoints beyond the frame are clamped this far out (cv2 takes int32 fixed-point coordinates)


def _limb_colour(a: int, b: int) -> tuple[int, int, int]:
    sides = {KEYPOINT_NAMES[a].split("_")[0], KEYPOINT_NAMES[b].split("_")[0]}
    return LEFT if sides == {"left"} else RIGHT if sides == {"right"} else CENTRE


LIMB_COLOURS = tuple(_limb_colour(a, b) for a, b in SKELETON)
DRAWN_KEYPOINTS = tuple(sorted({k for limb in SKELETON for k in limb}))


def draw_skeleton(frames: np.ndarray, pose: PoseTrack, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """A copy of uint8 RGB ``frames`` [T, H, W, 3] with ``pose``'s limbs (``SKELETON`` pairs whose
    two keypoints are both visible) and visible keypoints drawn on the frames where ``pose.found``.

    ``pose`` must have one entry per frame; its keypoints are in pixels of ``pose.frame_size`` and
    are scaled to these frames (the estimator may have run on larger frames of the same video).
    Line width follows the frame size, so a 128-pixel frame and a 720p frame look alike.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    if len(pose.keypoints) != len(frames):
        raise ValueError(f"the pose has {len(pose.keypoints)} frames, the clip {len(frames)}")
    out = np.ascontiguousarray(frames).copy()
    height, width = frames.shape[1:3]
    scale = np.array([width / pose.frame_size[1], height / pose.frame_size[0]], dtype=np.float64)
    xy = np.clip(np.nan_to_num(pose.keypoints[..., :2] * scale), -FAR_PX, FAR_PX)
    xy = np.round(xy * (1 << SHIFT)).astype(np.int64)
    visible = (pose.keypoints[..., 2] >= min_visibility) & pose.found[:, None]
    thickness = max(1, round(min(height, width) / 96))
    radius = round(1.5 * thickness * (1 << SHIFT))
    for t in np.flatnonzero(visible.any(axis=1)):
        frame, points, seen = out[t], [tuple(p) for p in xy[t].tolist()], visible[t]
        for (a, b), colour in zip(SKELETON, LIMB_COLOURS):
            if seen[a] and seen[b]:
                cv2.line(frame, points[a], points[b], colour, thickness, cv2.LINE_AA, SHIFT)
        for k in DRAWN_KEYPOINTS:
            if seen[k]:
                cv2.circle(frame, points[k], radius, (255, 255, 255), -1, cv2.LINE_AA, SHIFT)
    return out
