"""Video data: decoding and writing, datasets, clip transforms and the synthetic generator.

``ExerciseVideoDataModule`` is imported on first use (PEP 562): it needs Lightning, which only
training uses, so decoding, prediction and the app start without it.
"""

from typing import Any

from exercise_rec.data.dataset import (
    DatasetError,
    ExerciseVideoDataset,
    LongLayoutConfig,
    SplitConfig,
)
from exercise_rec.data.synthetic import CLASS_NAMES, generate_dataset
from exercise_rec.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugParams,
    ClipTransform,
    build_transforms,
    denormalize,
)
from exercise_rec.data.video import (
    DecodeLimits,
    VideoError,
    VideoInfo,
    probe,
    read_clip,
    read_windows,
    write_video,
)

__all__ = [
    "CLASS_NAMES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugParams",
    "AugmentConfig",
    "ClipTransform",
    "DatasetError",
    "DecodeLimits",
    "ExerciseVideoDataModule",
    "ExerciseVideoDataset",
    "LongLayoutConfig",
    "SplitConfig",
    "VideoError",
    "VideoInfo",
    "build_transforms",
    "denormalize",
    "generate_dataset",
    "probe",
    "read_clip",
    "read_windows",
    "write_video",
]


def __getattr__(name: str) -> Any:
    if name == "ExerciseVideoDataModule":
        from exercise_rec.data.datamodule import ExerciseVideoDataModule

        return ExerciseVideoDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
