"""Explaining a video file with a deployable checkpoint: the frames the model saw, and their CAM.

Why here and not in the app or CLI: both need the same thing, and the overlay is only correct on
the frames *after* the checkpoint's eval transform (resize + centre crop), which is what the CAM
is aligned to; showing it over the original, uncropped video would shift it.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np
import torch

from exercise_rec.data.transforms import denormalize
from exercise_rec.explain.cam import CamArray, Normalization, compute_cam
from exercise_rec.inference import Predictor

__all__ = ["VideoExplanation", "explain_video"]


@dataclass(frozen=True)
class VideoExplanation:
    """A CAM with the frames it belongs to and the model's class probabilities for the clip."""

    frames: np.ndarray  # uint8 [T, H, W, 3]: the model's input, un-normalised
    cam: CamArray  # float32 [T, H, W] in [0, 1], aligned with ``frames``; ``cam.info`` says how
    probs: np.ndarray  # [num_classes] softmax of the same forward pass
    class_names: tuple[str, ...]

    @property
    def predicted(self) -> str:
        return self.class_names[int(self.probs.argmax())]


def explain_video(
    predictor: Predictor,
    video: str | PathLike[str] | torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    target: int | str | None = None,
    normalize: Normalization = "clip",
) -> VideoExplanation:
    """Decode ``video`` (a path or a uint8 clip ``[T, H, W, 3]``) as the predictor does and explain it."""
    clip = video if isinstance(video, torch.Tensor) else predictor.decode(video)
    x = predictor.transform(clip).to(predictor.device)
    cam = compute_cam(
        predictor.model, x, layer, method, target, class_names=predictor.class_names, normalize=normalize,
        temperature=predictor.rule.temperature,
    )
    frames = denormalize(x.cpu(), predictor.meta.mean, predictor.meta.std).numpy()
    return VideoExplanation(frames=frames, cam=cam, probs=np.asarray(cam.info.probs), class_names=predictor.class_names)
