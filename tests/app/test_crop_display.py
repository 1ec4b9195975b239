"""The app shows where the model looked: the framing crop on the Predict strip and on the CAM panels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from exercise_rec.app.cam_tab import render_cam
from exercise_rec.app.panels import LEGEND_HEIGHT
from exercise_rec.app.predict_tab import frame_strip, strip_image
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.framing import CropBox
from exercise_rec.data.video import write_video
from exercise_rec.display import CROP_COLOUR, GAP, MIN_HEIGHT, draw_box
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model


def _read(path: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


def test_draw_box_outlines_the_crop_thinly_and_clips_it_at_the_frame():
    frames = np.full((2, 90, 160, 3), 40, np.uint8)
    drawn = draw_box(frames, CropBox(top=10, left=100, height=50, width=80))  # leaves the frame on the right
    assert (frames == 40).all() and drawn.shape == frames.shape  # a copy
    changed = (drawn != frames).any(axis=-1)
    assert changed[:, 10, 110:150].all() and changed[:, 20:50, 100].all()  # top and left edges
    assert not changed[:, 20:50, 105:155].any() and not changed[:, 62:].any()  # inside and below stay
    assert (drawn[0, 10, 130] == CROP_COLOUR).all()


def test_the_strip_outlines_the_prediction_framing():
    frames = np.full((16, 48, 64, 3), 40, np.uint8)
    box = CropBox(top=4, left=30, height=40, width=30)
    plain = frame_strip(frames)
    assert (_read(strip_image((frames, None), True)) == plain).all()  # (clip, pose) as before
    assert (_read(strip_image((frames, None, None), True)) == plain).all()  # centre crop: nothing drawn
    boxed = _read(strip_image((frames, None, box), False))  # drawn with the skeleton off too
    changed = (boxed != plain).any(axis=-1)
    assert changed[4, 35:55].all() and changed[48 + 4, 64 * 3 + 35 : 64 * 3 + 55].all()  # every frame
    assert 0.01 < changed.mean() < 0.2  # an outline, not a repaint


def test_cam_panels_are_the_full_frame_with_the_crop(tmp_path, tiny_model):
    meta = CheckpointMeta(
        model_name=tiny_model, model_kwargs={}, class_names=("a", "b"), clip_len=4, input_size=(16, 16),
        mean=(0.5,) * 3, std=(0.25,) * 3,
    )  # fmt: skip
    checkpoint = save_checkpoint(tmp_path / "c.pt", build_model(tiny_model, 2), meta)
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu", person_check=False)
    pixels = np.random.default_rng(0).integers(0, 255, (8, 48, 80, 3), dtype=np.uint8)
    video = write_video(tmp_path / "v.mp4", pixels, 8)
    clip = predictor.decode(video)
    box = CropBox(top=2.0, left=float(clip.shape[2] - 12), height=16.0, width=16.0)  # at the right edge
    rendered = render_cam(predictor, Path(video), None, "gradcam", None, clip=clip, person=box)
    assert rendered.explanation.crop == box and rendered.explanation.framed
    height = max(MIN_HEIGHT, clip.shape[1])
    width = 2 * round(clip.shape[2] * height / clip.shape[1]) + GAP
    assert rendered.panels.shape == (4, height + LEGEND_HEIGHT, width, 3)  # the legend strip under each panel
    assert rendered.save_mp4().is_file() and len(rendered.importance) == 4
