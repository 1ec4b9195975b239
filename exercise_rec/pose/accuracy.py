"""The estimator's error against the synthetic generator's ground-truth joints.

Why normalised by torso length: videos come at many sizes and distances, so pixels do not compare;
PCK@0.2-torso is the usual scale-free score (a keypoint counts as right within 20% of the torso).
The mannequins' two sides look alike, so besides the error as labelled we report it with each
frame's left/right labels swapped when that fits better (a mirrored answer is a different mistake
from a misplaced joint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from exercise_rec.pose.keypoints import KEYPOINT, SYNTHETIC_JOINT
from exercise_rec.pose.track import PoseTrack

PCK_TORSO_FRACTION = 0.2


@dataclass(frozen=True)
class KeypointError:
    frames: int  # frames where both the estimator and the ground truth have the person
    missed: int  # frames where the estimator found nobody
    median_torso: float  # median error over the 12 shared joints, in torso lengths, as labelled
    median_torso_unmirrored: float  # the same with each frame's left/right swap that fits better
    pck: float  # share of joints within PCK_TORSO_FRACTION torso lengths (unmirrored)
    median_px: float  # unmirrored, in pixels of the original frame


def _swap(names: Sequence[str]) -> list[int]:
    """Index permutation that exchanges left and right among ``names``."""
    mirrored = [n.replace("left", "#").replace("right", "left").replace("#", "right") for n in names]
    return [list(names).index(m) for m in mirrored]


def keypoint_error(track: PoseTrack, joints: np.ndarray, joint_names: Sequence[str]) -> KeypointError:
    """Compare ``track`` with ground-truth pixel joints [T, J, 2] named ``joint_names`` (same frames)."""
    names = list(SYNTHETIC_JOINT)
    truth = joints[:, [list(joint_names).index(SYNTHETIC_JOINT[n]) for n in names], :2]
    guess = track.keypoints[:, [KEYPOINT[n] for n in names], :2]
    found = track.found
    truth, guess = truth[found], guess[found]
    hips = truth[:, [names.index("left_hip"), names.index("right_hip")]].mean(axis=1)
    shoulders = truth[:, [names.index("left_shoulder"), names.index("right_shoulder")]].mean(axis=1)
    torso = np.linalg.norm(shoulders - hips, axis=1, keepdims=True)
    as_labelled = np.linalg.norm(guess - truth, axis=2)
    mirrored = np.linalg.norm(guess[:, _swap(names)] - truth, axis=2)
    better = np.where((mirrored.mean(axis=1) < as_labelled.mean(axis=1))[:, None], mirrored, as_labelled)
    return KeypointError(
        frames=int(found.sum()),
        missed=int((~found).sum()),
        median_torso=float(np.median(as_labelled / torso)) if len(truth) else float("nan"),
        median_torso_unmirrored=float(np.median(better / torso)) if len(truth) else float("nan"),
        pck=float((better / torso <= PCK_TORSO_FRACTION).mean()) if len(truth) else float("nan"),
        median_px=float(np.median(better)) if len(truth) else float("nan"),
    )
