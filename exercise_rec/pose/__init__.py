"""A real pose estimator (BlazePose, run offline on weights from the ``mediapipe`` wheel) and the
keypoint tracks the verdicts, the app and the pose stream build on."""

from exercise_rec.pose.blazepose import MIN_PRESENCE
from exercise_rec.pose.keypoints import KEYPOINT_NAMES, SKELETON, SYNTHETIC_JOINT
from exercise_rec.pose.model_files import PoseUnavailable, model_files
from exercise_rec.pose.track import PoseEstimator, PoseTrack

__all__ = [
    "KEYPOINT_NAMES",
    "MIN_PRESENCE",
    "SKELETON",
    "SYNTHETIC_JOINT",
    "PoseEstimator",
    "PoseTrack",
    "PoseUnavailable",
    "model_files",
]
