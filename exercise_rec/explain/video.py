"""Explaining a video file with a deployable checkpoint: the frames the model saw, and their CAM.

Why here and not in the app or CLI: both need the same thing, framed exactly as a prediction is
(the crop around the person, :mod:`exercise_rec.data.framing`, else the centre crop). The CAM is
aligned with the model's input; :func:`cam_to_frames` carries it back onto the full decoded frames
through that crop, so an overlay shows where in the user's own video the model looked.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Literal

import cv2
import numpy as np
import torch

from exercise_rec.data.framing import CropBox
from exercise_rec.data.transforms import denormalize
from exercise_rec.explain.cam import CamArray, CamError, Normalization, compute_cam
from exercise_rec.explain.overlay import crop_mask
from exercise_rec.inference import Predictor

__all__ = ["VideoExplanation", "cam_to_frames", "explain_video"]


@dataclass(frozen=True)
class VideoExplanation:
    """A CAM with the frames it belongs to and the model's class probabilities for the clip."""

    frames: np.ndarray  # uint8 [T, h, w, 3]: the model's input, un-normalised
    cam: CamArray  # float32 [T, h, w] in [0, 1], aligned with ``frames``; ``cam.info`` says how
    probs: np.ndarray  # [num_classes] softmax of the same forward pass
    class_names: tuple[str, ...]
    clip: np.ndarray  # uint8 [T, H, W, 3]: the decoded frames the input was cut from
    crop: CropBox  # the model's input in pixels of ``clip`` (may extend past it: padded)
    framed: bool = False  # ``crop`` was chosen around the person; False: the centre crop

    @property
    def predicted(self) -> str:
        return self.class_names[int(self.probs.argmax())]

    def frame_cam(self) -> CamArray:
        """The CAM on ``clip``'s full frames, float32 [T, H, W], zero outside ``crop``."""
        return cam_to_frames(self.cam, self.crop, self.clip.shape[1:3])


def cam_to_frames(cam: np.ndarray, crop: CropBox, frame_size: tuple[int, int]) -> CamArray:
    """A CAM ``[T, h, w]`` aligned with the model input, warped onto frames of ``frame_size``
    (H, W) that ``crop`` (pixels of those frames) was cut from; zero where the model saw nothing.

    Model-input pixel ``(i, j)`` covers ``crop.top + [i, i + 1) * crop.height / h`` (and likewise
    across), so its centre lands at ``crop.top + (i + 0.5) * s - 0.5`` (``s = crop.height / h``)
    in cv2's pixel-centre coordinates. Bilinear inside the crop (the border replicated, so the map does not fade at the
    crop's edge), then every pixel whose centre lies outside the crop is set to zero.
    """
    heat = np.asarray(cam, dtype=np.float32)
    if heat.ndim != 3:
        raise CamError(f"expected a CAM [T, h, w], got {heat.shape}")
    height, width = int(frame_size[0]), int(frame_size[1])
    scale_y, scale_x = crop.height / heat.shape[1], crop.width / heat.shape[2]
    affine = np.array(
        [[scale_x, 0.0, crop.left + 0.5 * scale_x - 0.5], [0.0, scale_y, crop.top + 0.5 * scale_y - 0.5]]
    )  # model-input pixels -> frame pixels
    warped = np.stack([
        cv2.warpAffine(frame, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for frame in heat
    ])  # fmt: skip
    warped *= crop_mask(crop, (height, width))
    info = getattr(cam, "info", None)
    return CamArray(warped, info) if info is not None else warped.view(CamArray)


def explain_video(
    predictor: Predictor,
    video: str | PathLike[str] | torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    target: int | str | None = None,
    normalize: Normalization = "clip",
    person: CropBox | Literal["find", "centre"] = "find",
) -> VideoExplanation:
    """Decode ``video`` (a path or a uint8 clip ``[T, H, W, 3]``) as the predictor does, frame it
    and explain it. ``person``: ``"find"`` frames it as a prediction is (:meth:`Predictor.clip_box`),
    ``"centre"`` takes the centre crop, a box (pixels of the clip, e.g. a prediction's ``framing``)
    is used as given, so the CAM explains exactly the input that was classified."""
    clip = video if isinstance(video, torch.Tensor) else predictor.decode(video)
    box = predictor.clip_box(clip) if person == "find" else None if person == "centre" else person
    x, params = predictor.transform.with_params(clip, person=box)
    cam = compute_cam(
        predictor.model, x.to(predictor.device), layer, method, target, class_names=predictor.class_names,
        normalize=normalize, temperature=predictor.rule.temperature,
    )  # fmt: skip
    frames = denormalize(x, predictor.meta.mean, predictor.meta.std).numpy()
    return VideoExplanation(
        frames=frames, cam=cam, probs=np.asarray(cam.info.probs), class_names=predictor.class_names,
        clip=clip.numpy(), crop=params.crop, framed=params.framed,
    )  # fmt: skip
