"""Person framing: the crop geometry, the padding, the transform around a box, and training's box source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exercise_rec.data.dataset import ExerciseVideoDataset
from exercise_rec.data.framing import (
    CropBox,
    FramingConfig,
    TransformError,
    crop_clip,
    decode_short_side,
    person_crop,
)
from exercise_rec.data.people import PersonBoxes
from exercise_rec.data.synthetic import Layout, SynthConfig, generate_dataset
from exercise_rec.data.transforms import build_transforms
from exercise_rec.data.video import write_video


def test_the_crop_is_the_union_of_the_boxes_grown_by_the_margin_to_the_aspect():
    boxes = np.array([[100, 50, 120, 100], [110, 40, 140, 90], [np.nan] * 4])  # x0, y0, x1, y1
    crop = person_crop(boxes, aspect=1.0, config=FramingConfig(margin=0.1, smooth=1))
    # union x 100..140, y 40..100 -> longer side 60, margin 6: 52 x 72, widened to a 72 square
    assert (crop.height, crop.width) == pytest.approx((72, 72))
    assert crop.top + crop.height / 2 == pytest.approx(70) and crop.left + crop.width / 2 == pytest.approx(120)
    portrait = person_crop(boxes, aspect=2.0, config=FramingConfig(margin=0.1, smooth=1))
    assert portrait.height / portrait.width == pytest.approx(2.0) and portrait.height >= 72


def test_one_frame_glitch_does_not_widen_the_crop():
    boxes = np.tile([100.0, 50, 120, 100], (9, 1))
    boxes[4] = [0, 0, 300, 200]  # a false detection in one frame
    smooth = person_crop(boxes, 1.0, FramingConfig(margin=0.0, smooth=5))
    raw = person_crop(boxes, 1.0, FramingConfig(margin=0.0, smooth=1))
    assert smooth.width == pytest.approx(50) and raw.width == pytest.approx(300)


def test_no_person_gives_no_crop_and_bad_input_is_refused():
    assert person_crop(np.full((4, 4), np.nan), 1.0) is None
    with pytest.raises(TransformError, match="boxes"):
        person_crop(np.zeros((4, 3)), 1.0)
    with pytest.raises(TransformError, match="margin"):
        FramingConfig(margin=-1)


def test_crop_pads_with_the_fill_where_the_box_leaves_the_frame():
    clip = torch.arange(2 * 3 * 4 * 5, dtype=torch.int32).view(2, 3, 4, 5)  # [T, C, H, W]
    out, cut = crop_clip(clip, CropBox(top=-1, left=3, height=3, width=4), fill=(7, 8, 9))
    assert out.shape == (2, 3, 3, 4) and cut == CropBox(-1.0, 3.0, 3.0, 4.0)
    assert (out[:, 0, 0] == 7).all() and (out[:, 2, :, 2:] == 9).all()  # the row above, the columns right of the frame
    assert torch.equal(out[:, :, 1:, :2], clip[:, :, 0:2, 3:5])  # the part inside is the frame's own pixels


def test_eval_transform_frames_an_off_centre_person_and_reports_the_crop():
    clip = torch.zeros(4, 90, 160, 3, dtype=torch.uint8)
    clip[:, 40:80, 130:150] = 255  # a small bright "person" near the right edge
    crop = person_crop(np.tile([130.0, 40, 150, 80], (4, 1)), 1.0)
    transform = build_transforms(False, 32)
    framed, params = transform.with_params(clip, person=crop)
    centred = transform(clip)
    assert params.framed and params.crop == crop  # the crop the model saw, in the clip's pixels
    bright = framed[0].mean().item()
    assert bright > centred[0].mean().item()  # the centre crop cuts most of the person away
    # the crop leaves the frame on the right: padded with the mean, which normalises to zero
    assert framed[:, :, :, -2:].abs().max().item() < 0.03


def test_training_jitters_the_box_once_per_clip():
    clip = torch.randint(0, 255, (6, 90, 160, 3), dtype=torch.uint8)
    crop = CropBox(top=20, left=60, height=50, width=50)
    transform = build_transforms(True, 32, framing=FramingConfig(jitter_scale=(0.8, 1.25), jitter_shift=0.1))
    seen = {transform.with_params(clip, generator=torch.Generator().manual_seed(k), person=crop)[1].crop for k in range(6)}
    assert len(seen) > 1  # a fresh draw per clip
    for box in seen:
        assert 0.8 * 50 - 1 <= box.height <= 1.25 * 50 + 1


def test_decode_size_gives_a_small_person_enough_pixels():
    small = CropBox(top=500, left=900, height=270, width=270)  # in a 1080x1920 frame
    assert decode_short_side(small, (1080, 1920), 128) == 512
    assert decode_short_side(CropBox(0, 0, 2000, 2000), (1080, 1920), 128) == 128
    assert decode_short_side(None, (1080, 1920), 128) == 128
    assert decode_short_side(CropBox(0, 0, 10, 10), (240, 320), 128) == 240  # never above the original


def test_person_boxes_come_from_the_generators_joints(tmp_path):
    config = SynthConfig(width=64, height=48, duration=0.5, vary_resolution=False)
    root = generate_dataset(tmp_path / "synth", 1, seed=3, config=config, classes=["squat"], workers=1)
    video = next(root.glob("squat/*.mp4"))
    boxes, size = PersonBoxes()(video)
    joints = np.load(video.with_suffix(".npz"))["joints"]
    assert size == (48, 64) and boxes.shape == (len(joints), 4)
    np.testing.assert_allclose(boxes[:, 0], joints[..., 0].min(axis=1), rtol=1e-6)
    assert len(PersonBoxes()(video, start=2, stop=5)[0]) == 3


def test_a_video_without_joints_uses_the_estimator(tmp_path):
    video = write_video(tmp_path / "noise.mp4", np.random.default_rng(0).integers(0, 255, (8, 48, 64, 3), np.uint8), 8)
    boxes, size = PersonBoxes()(video)
    assert size == (48, 64) and np.isnan(boxes).all()  # noise: nobody found, so the clip keeps the centre crop


def test_a_training_clip_is_framed_around_its_person(tmp_path):
    config = SynthConfig(width=96, height=54, duration=0.5, vary_resolution=False,
                         layout=Layout(person_scale=(0.35, 0.4)))  # fmt: skip
    root = generate_dataset(tmp_path / "synth", 3, seed=1, config=config, classes=["squat"], workers=1)
    seen: list[CropBox] = []

    def spy(clip: torch.Tensor, person: CropBox | None = None) -> torch.Tensor:
        seen.append(person)
        return clip

    dataset = ExerciseVideoDataset(root, "train", 4, transform=spy, framing=FramingConfig(), input_size=(32, 32))
    clip, _ = dataset[0]
    joints = np.load(dataset.items[0].path.with_suffix(".npz"))["joints"] * clip.shape[1] / 54  # to clip pixels
    box = seen[0]
    assert box.height == pytest.approx(box.width)  # the input's aspect
    assert box.left <= joints[..., 0].min() and joints[..., 0].max() <= box.left + box.width
    assert box.top <= joints[..., 1].min() and joints[..., 1].max() <= box.top + box.height
    assert clip.shape[1] == 54  # a person smaller than the input: decoded at full size (the clip's default is 32)
