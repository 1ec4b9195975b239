"""Debug videos: each sample's clip before and after augmentation, side by side, for a human to check.

Why: augmentation bugs (per-frame flicker, a crop that loses the person, wrong colours after
normalisation) are obvious to the eye and invisible in a loss curve. The trainer's ``--debug``
calls :func:`write_debug_videos` once; the "after" half is un-normalised so it looks like video.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from exercise_rec import display as frames
from exercise_rec.data.transforms import (
    AugParams,
    ClipTransform,
    TransformError,
    denormalize,
)
from exercise_rec.data.video import write_video

log = logging.getLogger(__name__)


def _clip_and_label(item: Any, index: int, names: Sequence[str] | None) -> tuple[torch.Tensor, str]:
    """A dataset item ``(clip, label)`` or a bare clip -> (uint8 [T, H, W, 3] tensor, label text or "")."""
    clip, label = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
    if label is not None and not isinstance(label, str) and hasattr(label, "__index__"):
        label = int(label)  # python, numpy or 0-d torch integer
    tensor = torch.as_tensor(clip)
    if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise TransformError(
            f"item {index}: expected a uint8 clip [T, H, W, 3], got {tuple(tensor.shape)} {tensor.dtype}; "
            "build the dataset with transform=None so the debug video can show the clip before augmentation"
        )
    if label is None:
        return tensor, ""
    return tensor, names[label] if names is not None and isinstance(label, int) else str(label)


def _caption(params: AugParams) -> str:
    crop = params.crop
    return (
        f"crop y{crop.top:.0f} x{crop.left:.0f} {crop.height:.0f}x{crop.width:.0f}"
        f"{' flip' if params.flipped else ''} {params.angle:+.1f}deg"
    )


def side_by_side(before: torch.Tensor, after: torch.Tensor, params: AugParams, title: str = "") -> np.ndarray:
    """uint8 frames [T, H, W1 + gap + W2, 3]: the input clip | the augmented clip (both un-normalised)."""
    captions = (f"before {title}".strip(), f"after: {_caption(params)}")
    return frames.side_by_side([before.numpy(), after.numpy()], captions)


def write_debug_videos(
    dataset_or_clips: Sequence[Any],
    transform: ClipTransform,
    out_dir: str | os.PathLike[str] = "debug_output",
    n: int = 4,
    fps: float = 8,
) -> list[Path]:
    """Write ``n`` before|after mp4s (samples spread over the dataset) into ``out_dir``; returns their paths.

    ``dataset_or_clips``: anything indexable with ``len`` whose items are uint8 clips [T, H, W, 3]
    or ``(clip, label)`` pairs, e.g. ``ExerciseVideoDataset(..., transform=None)``. Every call
    draws fresh augmentations (torch's global RNG), as training would.
    """
    total = len(dataset_or_clips)
    if total == 0 or n < 1:
        raise TransformError(f"nothing to write: {total} samples, n={n}")
    names = getattr(dataset_or_clips, "class_names", None)
    out = Path(out_dir)
    paths = []
    for k, index in enumerate(sorted({int(i) for i in np.linspace(0, total - 1, min(n, total))})):
        clip, name = _clip_and_label(dataset_or_clips[index], index, names)
        tensor, params = transform.with_params(clip)
        after = denormalize(tensor, transform.config.mean, transform.config.std)
        frames = side_by_side(clip, after, params, title=name)
        suffix = f"_{name}" if name else ""
        paths.append(write_video(out / f"debug_{k:03d}{suffix}.mp4", frames, fps))
        log.info("debug video %s: %s", paths[-1], params.as_dict())
    return paths
