"""Captions on viewing frames: the outline must sit on the letters, not drift beside them."""

from __future__ import annotations

import numpy as np
import pytest

from exercise_rec.display import label_frames


@pytest.mark.parametrize("text", ["input", "gradcam features.18 -> high_knees"])
def test_caption_outline_hugs_the_white_letters(text: str) -> None:
    frames = np.full((3, 256, 400, 3), 128, np.uint8)  # wide enough that the caption keeps its size
    label_frames(frames, text)
    assert (frames[0] == frames[2]).all()  # the same caption on every frame
    grey = frames[0, :, :, 0].astype(int)
    white_cols = np.flatnonzero((grey > 230).any(axis=0))
    black_cols = np.flatnonzero((grey < 25).any(axis=0))
    assert white_cols.size and black_cols.size
    # a thicker re-drawn copy advances further per glyph and ends 12 px right of this caption;
    # a dilated mask ends within its dilation radius (2 px) plus anti-aliasing
    assert black_cols.max() - white_cols.max() <= 3
    assert white_cols.min() - black_cols.min() <= 3
    assert (frames[:, 60:] == 128).all()  # nothing below the caption band is touched
