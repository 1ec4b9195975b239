"""Video data: decoding and writing, datasets, clip transforms and the synthetic generator."""

from exercise_rec.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugParams,
    ClipTransform,
    build_transforms,
    denormalize,
)
from exercise_rec.data.video import DecodeLimits, VideoError, VideoInfo, probe, read_clip, write_video

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugParams",
    "AugmentConfig",
    "ClipTransform",
    "DecodeLimits",
    "VideoError",
    "VideoInfo",
    "build_transforms",
    "denormalize",
    "probe",
    "read_clip",
    "write_video",
]
