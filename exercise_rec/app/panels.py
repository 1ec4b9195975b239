"""Explanation panels a class can read: frame number and time on each, a colour bar, the clip's timing.

Why on the pictures themselves: a screenshot or a projected frame must carry its own legend; the
frame slider's number alone says nothing about where in the video the frame is, and a heatmap
without a colour bar leaves "what does red mean, compared with what?" to guesswork.
Why the timing strip is drawn into every panel (not a plot redrawn on each slider move): the
slider only picks stored pictures (no matplotlib per scrub), and the mp4 carries the marker too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exercise_rec import display
from exercise_rec.data.video import probe, sample_indices

LEGEND_HEIGHT = 44  # px of the strip under each panel: importance bars on the left, colour bar on the right
SCALES = {
    "clip": ("0: lowest", "1: clip's highest"),
    "frame": ("0: frame's lowest", "1: frame's highest"),
}  # what 0 and 1 of the colour bar are, by normalisation


def frame_times(video: Path, frames: int) -> np.ndarray:
    """Seconds into ``video`` of the ``frames`` frames a clip samples uniformly (as ``read_clip`` does)."""
    info = probe(video)
    return sample_indices(info.frames, frames) / max(info.fps, 1e-6)


def decorate(
    panels: np.ndarray, importance: np.ndarray, times: np.ndarray, colormap: str | None, normalize: str = "clip"
) -> np.ndarray:
    """``panels`` [T, H, W, 3] with "frame k/T · s" in the bottom-left corner and a strip below:
    the per-frame importance with this frame highlighted, and (``colormap`` given) the colour bar
    saying what 0 and 1 are under ``normalize`` (``"clip"`` or ``"frame"``)."""
    count, _, width, _ = panels.shape
    stamped = panels.copy()
    for k in range(count):
        display.label_frames(stamped[k : k + 1], f"frame {k + 1}/{count} - {times[k]:.1f} s", bottom=True)
    bars_width = width // 2 if colormap else width
    bar = display.colour_bar(width - bars_width - 8, LEGEND_HEIGHT - 8, colormap, *SCALES[normalize]) if colormap else None
    values = np.nan_to_num(np.asarray(importance, np.float64))
    out = np.zeros((count, panels.shape[1] + LEGEND_HEIGHT, width, 3), np.uint8)
    out[:, : panels.shape[1]] = stamped
    for k in range(count):
        out[k, panels.shape[1] :, :bars_width] = display.importance_bars(values, k, bars_width, LEGEND_HEIGHT)
        if bar is not None:
            out[k, panels.shape[1] + 4 : -4, bars_width + 4 : width - 4] = bar
    return out
