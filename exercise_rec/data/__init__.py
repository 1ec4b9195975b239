"""Video data: decoding and writing, datasets, clip transforms and the synthetic generator."""

from exercise_rec.data.dataset import (
    DatasetError,
    ExerciseVideoDataModule,
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
    "write_video",
]
