"""Turning a CAM into pictures: coloured overlays, frame | overlay videos, a per-frame importance curve.

The overlay blends a colour-mapped CAM over every frame with one ``alpha``; the CAM is used as
it comes (clip-normalised by default, see :mod:`exercise_rec.explain.cam`), so a quiet frame
stays blue instead of being stretched to full colour. On full frames (a CAM mapped back with
:func:`exercise_rec.explain.video.cam_to_frames`) the model's crop is outlined and only its
inside is coloured: outside it the model saw nothing, and blue there would read as "looked, found
nothing".
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from exercise_rec import display as frame_tools
from exercise_rec.data.framing import CropBox
from exercise_rec.data.video import write_video
from exercise_rec.explain.cam import CamError, CamInfo

__all__ = ["cam_frames", "cam_title", "cam_video", "crop_mask", "frame_importance", "importance_figure", "overlay"]


def _colormap(colormap: str) -> matplotlib.colors.Colormap:
    """A matplotlib colormap by name (a :class:`CamError` naming a few when it does not exist)."""
    try:
        return matplotlib.colormaps[colormap]
    except KeyError:
        raise CamError(f"unknown colormap {colormap!r}; e.g. jet, turbo, inferno, viridis") from None


def _lut(colormap: str) -> np.ndarray:
    """A matplotlib colormap as a uint8 [256, 3] lookup table."""
    return (_colormap(colormap)(np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def _as_frames(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    array = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise CamError(f"expected uint8 RGB frames [T, H, W, 3], got {array.shape} {array.dtype}")
    return array


def overlay(
    frames: np.ndarray | torch.Tensor, cam: np.ndarray, alpha: float = 0.5, colormap: str = "jet"
) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: ``(1 - alpha) * frame + alpha * colormap(cam)``.

    ``cam`` is ``[T, H, W]`` in [0, 1] at the frames' size (``[1, H, W]`` applies to every frame).
    """
    pixels = _as_frames(frames)
    heat = np.asarray(cam, dtype=np.float32)
    if heat.ndim != 3 or heat.shape[1:] != pixels.shape[1:3] or heat.shape[0] not in (1, pixels.shape[0]):
        raise CamError(f"CAM {heat.shape} does not match frames {pixels.shape[:3]} ([T, H, W])")
    if not 0.0 <= alpha <= 1.0:
        raise CamError(f"alpha must be in [0, 1], got {alpha}")
    colours = _lut(colormap)[(np.clip(heat, 0.0, 1.0) * 255).round().astype(np.uint8)]
    blended = (1.0 - alpha) * pixels.astype(np.float32) + alpha * colours.astype(np.float32)
    return blended.round().astype(np.uint8)


def crop_mask(crop: CropBox, frame_size: tuple[int, int]) -> np.ndarray:
    """bool ``[H, W]``: the pixels of frames of ``frame_size`` whose centre lies inside ``crop``."""
    rows = np.arange(frame_size[0]) + 0.5
    cols = np.arange(frame_size[1]) + 0.5
    inside_y = (rows >= crop.top) & (rows < crop.top + crop.height)
    inside_x = (cols >= crop.left) & (cols < crop.left + crop.width)
    return inside_y[:, None] & inside_x[None, :]


def frame_importance(cam: np.ndarray) -> np.ndarray:
    """Mean CAM value of each frame, float64 ``[T]``: *when* the model looks (its temporal profile)."""
    heat = np.asarray(cam, dtype=np.float64)
    if heat.ndim != 3:
        raise CamError(f"expected a CAM [T, H, W], got {heat.shape}")
    return heat.mean(axis=(1, 2))


def importance_figure(importance: np.ndarray, info: CamInfo | None = None) -> Figure:
    """A bar chart of per-frame importance; the title names layer, method, target and T'."""
    values = np.asarray(importance, dtype=np.float64)
    figure = Figure(figsize=(6, 2.4), layout="constrained")
    axes = figure.add_subplot()
    axes.bar(np.arange(len(values)), values, color="#d9534f")
    axes.set_xlabel("frame")
    axes.set_ylabel("mean CAM")
    axes.set_ylim(0, max(1e-6, float(values.max(initial=0.0))) * 1.1)
    axes.set_xlim(-0.5, len(values) - 0.5)
    if info is not None:
        axes.set_title(cam_title(info), fontsize=8)
    return figure


def cam_title(info: CamInfo) -> str:
    """One line naming a CAM's method, layer, target and T' (the charts' title)."""
    target = info.target_name or f"class {info.target}"
    note = " (layer has 1 time step: same map on every frame)" if info.temporal_resolution == 1 else ""
    return f"{info.method} @ {info.layer} for {target}: T'={info.temporal_resolution}{note}"


def cam_frames(
    frames: np.ndarray | torch.Tensor,
    cam: np.ndarray,
    alpha: float = 0.5,
    colormap: str = "jet",
    caption: str = "",
    crop: CropBox | None = None,
) -> np.ndarray:
    """uint8 ``[T, H', W', 3]``: frame | overlay side by side, scaled up for viewing, captioned.

    ``crop``: ``frames`` are the full frames the model's input was cut from and ``cam`` is mapped
    onto them; both panels outline the crop and the overlay colours only its inside.
    """
    pixels = _as_frames(frames)
    mixed = overlay(pixels, cam, alpha, colormap)
    if crop is None:
        return frame_tools.side_by_side([pixels, mixed], ["input", caption])
    inside = crop_mask(crop, pixels.shape[1:3])[None, :, :, None]
    mixed = frame_tools.draw_box(np.where(inside, mixed, pixels), crop)
    return frame_tools.side_by_side([frame_tools.draw_box(pixels, crop), mixed], ["frame, model's crop", caption])


def cam_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | torch.Tensor,
    cam: np.ndarray,
    fps: float = 8.0,
    alpha: float = 0.5,
    colormap: str = "jet",
    crop: CropBox | None = None,
) -> Path:
    """Write frame | overlay as browser-playable H.264 mp4 (atomically); returns the path.

    The caption comes from the CAM's ``info`` when it has one (a :class:`CamArray`); ``crop`` as
    in :func:`cam_frames`.
    """
    info = getattr(cam, "info", None)
    caption = f"{info.method} {info.layer} -> {info.target_name or info.target}" if info else "CAM"
    return write_video(path, cam_frames(frames, cam, alpha, colormap, caption, crop), fps)
