"""Where a training clip's person boxes come from, for person framing (:mod:`exercise_rec.data.framing`).

Why the generator's joints first: a synthetic video carries its exact 2D joints in its ``.npz``
(free, every frame, never a missed detection), and a keypoint box is what the estimator gives at
inference too (joints, not silhouettes), so the crop trains the way it is used; the training
jitter spans the estimator's box noise. Running the estimator over a training set instead costs
~12 ms a frame (about half an hour for 1,700 three-second clips on 2 cores) and would teach its
rare tracking failures as framings. Videos without joints (a user's own footage) use the
estimator's track, sampled at ``ESTIMATOR_FPS`` and cached on disk per video like every track.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.video import probe

ESTIMATOR_FPS = 4.0  # frames a second the estimator samples a video without ground-truth joints


def joint_boxes(joints: np.ndarray) -> np.ndarray:
    """Boxes [T, 4] (x0, y0, x1, y1) around joints [T, J, 2]."""
    return np.concatenate([joints.min(axis=1), joints.max(axis=1)], axis=1).astype(np.float64)


class PersonBoxes:
    """Per-frame person boxes of a video's frames ``[start, stop)`` in original pixels, with the
    frame size (H, W); results are kept per file for the process's lifetime (a training set is read
    every epoch)."""

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._videos: dict[Path, tuple[np.ndarray, np.ndarray, tuple[int, int]]] = {}

    def __call__(self, path: Path, start: int | None = None, stop: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
        boxes, frames, size = self._video(path)
        inside = np.ones(len(frames), dtype=bool)
        if start is not None:
            inside &= frames >= start
        if stop is not None:
            inside &= frames < stop
        return boxes[inside], size

    def _video(self, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        if path not in self._videos:
            info = probe(path, limits=self.limits)
            truth = path.with_suffix(".npz")
            if truth.is_file():
                with np.load(truth, allow_pickle=False) as data:
                    boxes = joint_boxes(data["joints"])
                frames = np.arange(len(boxes))
            else:
                from exercise_rec.pose import PoseEstimator  # only for footage without joints

                every = max(1, round(info.fps / ESTIMATOR_FPS))
                track = PoseEstimator().video(path, every=every, info=info, limits=self.limits, progress=False)
                boxes, frames = track.boxes().astype(np.float64), track.frame_indices
            self._videos[path] = (boxes, np.asarray(frames), (info.height, info.width))
        return self._videos[path]


__all__ = ["ESTIMATOR_FPS", "PersonBoxes", "joint_boxes"]
