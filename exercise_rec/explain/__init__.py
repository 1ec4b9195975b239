"""Explanations: where and when a video model looks (Grad-CAM, HiResCAM and friends per frame)."""

from exercise_rec.explain.cam import (
    METHODS,
    CamArray,
    CamError,
    CamInfo,
    cam_layers,
    compute_cam,
    default_layer,
    model_lock,
)

__all__ = [
    "METHODS",
    "CamArray",
    "CamError",
    "CamInfo",
    "cam_layers",
    "compute_cam",
    "default_layer",
    "model_lock",
]
