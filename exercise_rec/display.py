"""Showing uint8 frame stacks ``[T, H, W, 3]`` to people: scale, caption, join (display code, not data).

Why shared: the augmentation debug videos, the CAM videos and the app's strips all show small
model inputs (128x128) next to each other; they scale and caption them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import matplotlib
import numpy as np

if TYPE_CHECKING:
    from exercise_rec.data.framing import CropBox

GAP = 4  # pixels of black between panels
MIN_HEIGHT = 256  # small model inputs are scaled up to at least this for viewing
CROP_COLOUR = (255, 0, 255)  # RGB magenta: the model's crop, apart from the skeleton's orange, blue, green, white
_FAR_PX = 16384  # corners beyond the frame are clamped this far out (cv2 takes int32 coordinates)


def fit_height(frames: np.ndarray, height: int) -> np.ndarray:
    """Frames scaled (aspect kept, bilinear) to ``height`` rows."""
    t, h, w, _ = frames.shape
    width = max(1, round(w * height / h))
    return np.stack([cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR) for frame in frames])


def label_frames(frames: np.ndarray, text: str, bottom: bool = False) -> None:
    """Write ``text`` in the top-left corner of every frame (``bottom``: the bottom-left one), in
    place: white with a black outline.

    The outline is the text's own mask dilated, not the text drawn again with a thicker stroke:
    OpenCV advances each glyph by its stroke thickness, so a thicker copy drifts right letter by
    letter and long captions showed a ghost. The mask is drawn once and blended into every frame.
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = frames.shape[1] / 400  # 0.64 at the 256-row minimum: still legible once a browser shrinks it
    (width, _), _ = cv2.getTextSize(text, font, scale, 1)
    scale *= min(1.0, (frames.shape[2] - 12) / max(width, 1))  # a long caption shrinks to fit its panel
    weight = max(1, round(2 * scale))
    origin = (6, int(24 * scale) + 6)
    rows = min(frames.shape[1], origin[1] + int(12 * scale) + 4)  # baseline + descenders + outline
    ink = np.zeros((rows, frames.shape[2]), np.uint8)
    cv2.putText(ink, text, origin, font, scale, 255, weight, cv2.LINE_AA)
    halo = cv2.dilate(ink, np.ones((3, 3), np.uint8), iterations=2)
    ink_alpha = ink[None, :, :, None] / 255.0
    keep = (1 - halo[None, :, :, None] / 255.0) * (1 - ink_alpha)
    band = slice(frames.shape[1] - rows, None) if bottom else slice(0, rows)
    pixels = frames[:, band].astype(np.float32)
    frames[:, band] = np.round(pixels * keep + 255.0 * ink_alpha).astype(np.uint8)


def draw_box(frames: np.ndarray, box: CropBox, colour: tuple[int, int, int] = CROP_COLOUR) -> np.ndarray:
    """A copy of uint8 ``frames`` [T, H, W, 3] with ``box`` (pixels of these frames) outlined thinly.

    Why: the user should see which part of their video the model was shown. The outline lies on
    the box's outermost pixels, so it stays visible when the box is the whole frame; a box that
    leaves the frame (padded for the model) is cut at the frame's edge.
    """
    out = np.ascontiguousarray(frames).copy()
    corners = np.array([[box.left, box.top], [box.left + box.width - 1, box.top + box.height - 1]])
    (x0, y0), (x1, y1) = np.round(np.clip(corners, -_FAR_PX, _FAR_PX)).astype(np.int64).tolist()
    thickness = max(1, round(min(frames.shape[1:3]) / 180))
    for frame in out:
        cv2.rectangle(frame, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_8)  # crisp: an axis-aligned box
    return out


def side_by_side(panels: Sequence[np.ndarray], captions: Sequence[str]) -> np.ndarray:
    """Panels ``[T, H_i, W_i, 3]`` scaled to one height, captioned, joined left to right with a gap.

    The height is the smallest panel's, but at least ``MIN_HEIGHT``: a 128-pixel model input is
    enlarged to be seen, and a full-HD source next to it does not blow the result up.
    """
    height = max(MIN_HEIGHT, min(panel.shape[1] for panel in panels))
    scaled = [fit_height(np.asarray(panel), height) for panel in panels]
    frames = min(len(panel) for panel in scaled)
    for panel, caption in zip(scaled, captions):
        if caption:
            label_frames(panel, caption)
    gap = np.zeros((frames, height, GAP, 3), np.uint8)
    parts: list[np.ndarray] = []
    for k, panel in enumerate(scaled):
        parts += [gap, panel[:frames]] if k else [panel[:frames]]
    return np.concatenate(parts, axis=2)


def colour_bar(width: int, height: int, colormap: str, low: str, high: str) -> np.ndarray:
    """uint8 [height, width, 3]: ``colormap`` from 0 (left, captioned ``low``) to 1 (right, ``high``).

    Why: an overlay's colours mean nothing without saying what red is and how the map was scaled.
    """
    lut = (matplotlib.colormaps[colormap](np.linspace(0, 1, width))[:, :3] * 255).round().astype(np.uint8)
    bar = np.repeat(lut[None], height, axis=0)[None].copy()
    label_frames(bar, low)
    (text_width, _), _ = cv2.getTextSize(high, cv2.FONT_HERSHEY_SIMPLEX, height / 400, 1)
    right = bar[:, :, -min(width, text_width + 16) :]
    label_frames(right, high)
    return bar[0]


def importance_bars(values: np.ndarray, current: int, width: int, height: int) -> np.ndarray:
    """uint8 [height, width, 3]: one bar per frame of ``values`` (in [0, 1]) on black, the frame
    ``current`` in white and the others grey: where a panel's frame sits in the clip's timing."""
    image = np.zeros((height, width, 3), np.uint8)
    count = len(values)
    top = max(values.max(initial=0.0), 1e-6)
    for k, value in enumerate(values):
        left, right = round(k * width / count) + 1, round((k + 1) * width / count) - 1
        bar = max(1, round((height - 4) * float(value) / top))
        colour = (255, 255, 255) if k == current else (110, 110, 110)
        cv2.rectangle(image, (left, height - 2 - bar), (max(left, right - 1), height - 2), colour, -1)
    return image
