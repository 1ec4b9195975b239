"""Person-centred framing: the crop a model sees is chosen around the person, not the frame's centre.

Why: phone videos are filmed every which way (wide, portrait, the person small and off-centre),
and a centre crop of such a frame cuts the person or leaves them a few pixels tall. The crop is
the union of the person's boxes over the clip (one crop per clip: a moving crop would add camera
motion the 3D CNN would read as movement), after a running median over time that drops one-frame
detector glitches, grown by a margin and to the model's aspect. Where it leaves the frame the clip
is padded with the normalisation mean, which the model sees as zeros (no made-up edges).

One implementation for every user: the eval transform (``Predictor``: predict, evaluate, timeline,
CAM, app) takes its person box from the pose estimator, training takes it from the generator's
joints (or the estimator for other data) and jitters it (:meth:`FramingConfig.jitter`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from exercise_rec.errors import ExerciseRecError


class TransformError(ExerciseRecError, ValueError):
    """A clip or an augmentation/framing setting the transforms cannot work with."""


@dataclass(frozen=True)
class CropBox:
    """A crop rectangle in pixels of the *input* clip (what the app draws over the original)."""

    top: float
    left: float
    height: float
    width: float


@dataclass(frozen=True)
class FramingConfig:
    """How the crop is grown around the person, and how training jitters it.

    ``margin``: added on every side, as a fraction of the person box's longer side (keypoint boxes
    stop at the wrists, ankles and eyes: the margin brings back hands, feet and the top of the head).
    ``smooth``: frames of the running median over per-frame boxes. ``jitter_scale``/``jitter_shift``:
    training draws the crop's side factor and its shift (a fraction of its side) from these, so the
    model does not learn one exact framing.
    """

    margin: float = 0.15
    smooth: int = 5
    jitter_scale: tuple[float, float] = (0.9, 1.2)
    jitter_shift: float = 0.08

    def __post_init__(self) -> None:
        if not 0 <= self.margin <= 2:
            raise TransformError(f"framing margin must be in [0, 2], got {self.margin}")
        if self.smooth < 1:
            raise TransformError(f"framing smooth must be >= 1 frame, got {self.smooth}")
        if not 0 < self.jitter_scale[0] <= self.jitter_scale[1]:
            raise TransformError(f"framing jitter_scale must satisfy 0 < min <= max, got {self.jitter_scale}")
        if not 0 <= self.jitter_shift <= 1:
            raise TransformError(f"framing jitter_shift must be in [0, 1], got {self.jitter_shift}")

    def jitter(self, box: CropBox) -> CropBox:
        """``box`` scaled and shifted by one draw from torch's RNG (the caller seeds or forks it)."""
        low, high = self.jitter_scale
        factor = low + (high - low) * float(torch.rand(()))
        dy, dx = ((torch.rand(2) * 2 - 1) * self.jitter_shift).tolist()
        height, width = box.height * factor, box.width * factor
        centre_y = box.top + box.height / 2 + dy * height
        centre_x = box.left + box.width / 2 + dx * width
        return CropBox(top=centre_y - height / 2, left=centre_x - width / 2, height=height, width=width)


def _running_median(boxes: np.ndarray, frames: int) -> np.ndarray:
    """Per-coordinate median over a centred window of ``frames`` boxes (edges use what exists)."""
    if frames <= 1 or len(boxes) < 3:
        return boxes
    half = frames // 2
    padded = np.pad(boxes, ((half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, frames, axis=0)  # [T, 4, frames]
    return np.median(windows, axis=-1)


def person_crop(boxes: np.ndarray, aspect: float, config: FramingConfig = FramingConfig()) -> CropBox | None:
    """The crop (pixels of the frames the boxes are in) around the person of a clip, or None.

    ``boxes``: [T, 4] (x0, y0, x1, y1) per frame, NaN rows where no person was found (e.g.
    ``PoseTrack.boxes()``); ``aspect``: height / width of the model input. None when no frame has
    a person (the caller falls back to the centre crop). The crop may extend past the frame.
    """
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise TransformError(f"expected person boxes [T, 4], got {array.shape}")
    if aspect <= 0:
        raise TransformError(f"aspect must be > 0, got {aspect}")
    found = array[~np.isnan(array).any(axis=1)]
    if not len(found):
        return None
    found = _running_median(found, config.smooth)
    x0, y0 = found[:, 0].min(), found[:, 1].min()
    x1, y1 = found[:, 2].max(), found[:, 3].max()
    pad = config.margin * max(x1 - x0, y1 - y0, 1.0)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    if height / width < aspect:
        height = width * aspect
    else:
        width = height / aspect
    top, left = (y0 + y1 - height) / 2, (x0 + x1 - width) / 2
    return CropBox(top=float(top), left=float(left), height=float(height), width=float(width))


def scale_box(box: CropBox, factor_y: float, factor_x: float) -> CropBox:
    """``box`` in pixels of frames scaled by (factor_y, factor_x), e.g. original -> decoded size."""
    return CropBox(box.top * factor_y, box.left * factor_x, box.height * factor_y, box.width * factor_x)


def crop_clip(clip: torch.Tensor, box: CropBox, fill: tuple[int, int, int]) -> tuple[torch.Tensor, CropBox]:
    """Cut ``box`` out of every frame of ``clip`` [T, C, H, W] (any dtype), padding with ``fill``
    (one value per channel) where the box leaves the frame. Returns the crop and the box as cut,
    rounded to whole pixels (what a CAM must be mapped back with)."""
    top, left = int(np.floor(box.top)), int(np.floor(box.left))
    height, width = max(1, int(round(box.height))), max(1, int(round(box.width)))
    frame_h, frame_w = clip.shape[-2:]
    out = torch.empty((*clip.shape[:-2], height, width), dtype=clip.dtype)
    out[:] = torch.tensor(fill, dtype=clip.dtype).view(-1, 1, 1)
    src_y, src_x = slice(max(top, 0), min(top + height, frame_h)), slice(max(left, 0), min(left + width, frame_w))
    if src_y.start < src_y.stop and src_x.start < src_x.stop:
        dst_y = slice(src_y.start - top, src_y.stop - top)
        dst_x = slice(src_x.start - left, src_x.stop - left)
        out[..., dst_y, dst_x] = clip[..., src_y, src_x]
    return out, CropBox(float(top), float(left), float(height), float(width))


def decode_short_side(box: CropBox | None, frame_size: tuple[int, int], input_side: int) -> int:
    """Short side to decode a clip at so that ``box`` (original pixels) covers at least
    ``input_side`` pixels, never above the original's short side (no upscaling at decode)."""
    short = min(frame_size)
    if box is None:
        return min(short, input_side)
    needed = input_side * short / max(min(box.height, box.width), 1.0)
    return int(min(short, max(input_side, np.ceil(needed))))


__all__ = ["CropBox", "FramingConfig", "TransformError", "crop_clip", "decode_short_side", "person_crop", "scale_box"]
