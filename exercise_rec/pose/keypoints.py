"""The estimator's 33 body keypoints (BlazePose topology), its skeleton, and the 12 it shares with
the synthetic generator's joints (used to measure its error on rendered videos)."""

from __future__ import annotations

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
KEYPOINT = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Limbs drawn on frames: (from, to) keypoint indices; face and hands reduced to a few lines.
SKELETON: tuple[tuple[int, int], ...] = tuple(
    (KEYPOINT[a], KEYPOINT[b])
    for a, b in (
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_ankle", "left_foot_index"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_foot_index"),
        ("left_ear", "nose"), ("nose", "right_ear"),
    )
)  # fmt: skip

# Estimator keypoint -> synthetic generator joint, for the 12 joints both define the same way.
# (The mannequin's head, neck, pelvis and toes have no BlazePose twin at the same place.)
SYNTHETIC_JOINT: dict[str, str] = {
    f"{side}_{part}": f"{side[0]}_{part}"
    for side in ("left", "right")
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
}
LIMB_KEYPOINTS: tuple[int, ...] = tuple(KEYPOINT[name] for name in SYNTHETIC_JOINT)
