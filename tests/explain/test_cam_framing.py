"""CAMs under person framing: the model's input is framed as a prediction is, the CAM maps back onto
the full original frame through that crop, and the faithfulness masks are cut with the same crop."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from exercise_rec.cam import main as cam_main
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.framing import CropBox, FramingConfig
from exercise_rec.data.limits import DEFAULT_LIMITS
from exercise_rec.data.transforms import build_transforms, denormalize
from exercise_rec.data.video import AtMost, probe, read_clip, sample_indices, write_video
from exercise_rec.display import GAP, MIN_HEIGHT, draw_box
from exercise_rec.explain import CamArray, CamInfo, metrics
from exercise_rec.explain.metrics import clip_masks, evaluate_faithfulness, in_view
from exercise_rec.explain.overlay import cam_frames, crop_mask
from exercise_rec.explain.video import cam_to_frames, explain_video
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model

CLASSES = ("jumping_jack", "squat")
CLIP_LEN = 4
INPUT_SIZE = (32, 32)


def _blob_clip(height: int = 90, width: int = 256, frames: int = CLIP_LEN) -> tuple[torch.Tensor, np.ndarray]:
    """A bright rectangle near the right edge of a wide, dark frame: the clip and its mask."""
    mask = np.zeros((frames, height, width), dtype=bool)
    mask[:, 30:70, 220:244] = True
    clip = torch.from_numpy(np.repeat(mask[..., None], 3, axis=-1).astype(np.uint8) * 230 + 10)
    return clip, mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


# -- cam_to_frames: pixel geometry --------------------------------------------------------------------


def test_one_model_pixel_lands_where_the_crop_put_it():
    crop = CropBox(top=10, left=200, height=40, width=40)  # 5 frame pixels per model pixel
    cam = np.zeros((2, 8, 8), np.float32)
    cam[0, 2, 5] = 1.0
    full = cam_to_frames(cam, crop, (90, 256))
    assert full.shape == (2, 90, 256) and full.dtype == np.float32
    # model pixel (2, 5) covers rows 10 + [10, 15) and columns 200 + [25, 30): its centre is pixel (22, 227)
    assert np.unravel_index(full[0].argmax(), full[0].shape) == (22, 227) and full[0, 22, 227] == pytest.approx(1)
    # bilinear: two frame pixels off the centre is 2/5 of the way to the next model pixel, on every side
    for y, x in ((20, 227), (24, 227), (22, 225), (22, 229)):
        assert full[0, y, x] == pytest.approx(0.6, abs=1e-3)
    assert full[0, 30:].max() == 0 and full[0, :, 240:].max() == 0 and full[1].max() == 0
    # a flat map covers exactly the crop: not faded at its edges, zero outside it
    flat = cam_to_frames(np.ones((1, 8, 8), np.float32), crop, (90, 256))
    np.testing.assert_array_equal(flat[0], crop_mask(crop, (90, 256)))
    assert flat[0, 10:50, 200:240].all() and flat[0].sum() == 40 * 40


def test_a_crop_past_the_frame_edge_keeps_the_frame_size_and_info():
    info = CamInfo("conv", "gradcam", 1, "squat", 0.0, 0.6, (0.4, 0.6), (4, 8, 8), 4, "clip")
    cam = CamArray(np.ones((4, 8, 8), np.float32), info)
    crop = CropBox(top=-20, left=216, height=80, width=80)  # leaves the frame at the top and the right
    full = cam_to_frames(cam, crop, (90, 256))
    assert full.shape == (4, 90, 256) and full.info is info
    assert full[:, :60, 216:].min() == 1 and full[:, 60:].max() == 0 and full[:, :, :216].max() == 0


def test_the_model_input_maps_back_onto_the_original_blob():
    """Through the real transform: the model input's bright pixels, carried back with the crop it
    reports, cover the blob in the original frame (the affine matches resize, cut and padding)."""
    clip, mask = _blob_clip()
    box = CropBox(top=20.3, left=195.6, height=62.0, width=62.0)  # leaves the frame on the right: padded
    x, params = build_transforms(False, INPUT_SIZE).with_params(clip, person=box)
    assert params.framed and params.crop.left + params.crop.width > 256
    brightness = denormalize(x).numpy().mean(axis=-1) / 255.0  # [T, 32, 32]
    back = cam_to_frames(brightness, params.crop, clip.shape[1:3]) > 0.5
    assert _iou(back, mask) > 0.85
    assert not back[:, :, :190].any()  # nothing outside the crop


# -- explain_video frames as predict does ---------------------------------------------------------------


def _checkpoint(path: Path, name: str, **model_kwargs) -> Path:
    meta = CheckpointMeta(
        model_name=name, model_kwargs=model_kwargs, class_names=CLASSES, clip_len=CLIP_LEN,
        input_size=INPUT_SIZE, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    return save_checkpoint(path, build_model(name, len(CLASSES), **model_kwargs), meta)


@pytest.fixture
def framing_predictor(tmp_path, tiny_model, monkeypatch) -> Predictor:
    """A predictor that frames every clip around the blob of :func:`_blob_clip` (the estimator's box
    stood in for, so the test does not depend on it)."""
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model), device="cpu", person_check=False)
    monkeypatch.setattr(predictor, "framing", FramingConfig())
    track = SimpleNamespace(found=np.ones(CLIP_LEN, bool), frame_indices=None)  # a person in every frame
    monkeypatch.setattr(predictor, "track", lambda clip: track)
    monkeypatch.setattr(predictor, "person_box", lambda track, size, *span: CropBox(24.0, 196.0, 52.0, 52.0))
    return predictor


def test_explain_video_frames_the_clip_as_predict_does(framing_predictor):
    clip, _ = _blob_clip()
    prediction = framing_predictor.predict(clip)
    result = explain_video(framing_predictor, clip)
    assert prediction.framing == CropBox(24.0, 196.0, 52.0, 52.0)
    assert result.framed and result.crop == prediction.framing  # cut on whole pixels: the same box
    np.testing.assert_allclose(result.probs, prediction.probs, rtol=1e-4)  # the very input that was classified
    expected = denormalize(framing_predictor.transform(clip, person=prediction.framing), (0.5,) * 3, (0.25,) * 3)
    np.testing.assert_array_equal(result.frames, expected.numpy())
    assert result.frames.shape == (CLIP_LEN, *INPUT_SIZE, 3) and result.cam.shape == (CLIP_LEN, *INPUT_SIZE)
    np.testing.assert_array_equal(result.clip, clip.numpy())

    full = result.frame_cam()
    assert full.shape == (CLIP_LEN, 90, 256) and full.info == result.cam.info
    outside = ~crop_mask(result.crop, (90, 256))
    assert full[:, outside].max() == 0 and full.max() > 0

    centred = explain_video(framing_predictor, clip, person="centre")
    crop = centred.crop  # the centre crop (to within the resize's rounding)
    assert not centred.framed and (crop.top, crop.height, crop.width) == pytest.approx((0, 90, 90), abs=0.1)
    assert crop.left + crop.width / 2 == pytest.approx(128, abs=0.5 * 90 / 32 + 0.01)  # the crop's anchor: whole pixels
    given = explain_video(framing_predictor, clip, person=CropBox(0.0, 0.0, 45.0, 45.0))
    assert given.framed and given.crop == CropBox(0.0, 0.0, 45.0, 45.0)


def test_cam_panels_show_the_full_frame_with_the_crop(framing_predictor):
    clip, _ = _blob_clip()
    result = explain_video(framing_predictor, clip)
    panels = cam_frames(result.clip, result.frame_cam(), caption="cam", crop=result.crop)
    height = max(MIN_HEIGHT, 90)
    assert panels.shape == (CLIP_LEN, height, 2 * round(256 * height / 90) + GAP, 3)
    # the left panel is the frame with the crop outlined: the outline is the only change
    boxed = draw_box(result.clip, result.crop)
    assert (boxed != result.clip).any() and (boxed[:, :, :190] == result.clip[:, :, :190]).all()


def test_cam_cli_writes_the_overlay_on_the_full_frame(tmp_path, tiny_model):
    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model)
    clip, _ = _blob_clip(frames=12)
    video, out = write_video(tmp_path / "wide.mp4", clip.numpy(), 10), tmp_path / "out.mp4"
    assert cam_main([str(video), "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"]) == 0
    decoded = Predictor.from_checkpoint(checkpoint, device="cpu").decode(video)  # as the CLI decodes it
    height = max(MIN_HEIGHT, decoded.shape[1])
    info = probe(out, limits=replace(DEFAULT_LIMITS, max_aspect=8.0))  # two wide frames side by side
    assert info.frames == CLIP_LEN and info.height == height
    assert info.width == 2 * round(decoded.shape[2] * height / decoded.shape[1]) + GAP  # frame | overlay, full width


# -- faithfulness: masks cut with the image's crop ----------------------------------------------------------


def _edge_video(tmp_path: Path, height: int = 96, width: int = 256, frames: int = 20) -> tuple[Path, np.ndarray]:
    """A white box moving down near the right edge of a wide frame (outside any centre crop), with
    the ``.npz`` ground truth the metrics read."""
    mask = np.zeros((frames, height, width), dtype=bool)
    for t in range(frames):
        top = 15 + t
        mask[t, top : top + 40, 215:245] = True
    pixels = np.repeat(mask[..., None], 3, axis=-1).astype(np.uint8) * 255
    folder = tmp_path / "squat"
    folder.mkdir(exist_ok=True)
    video = write_video(folder / "edge.mp4", pixels, 10, crf=12)
    joints = np.zeros((frames, 2, 2), np.float32)
    joints[:, 1, 1] = np.arange(frames)
    np.savez(video.with_suffix(".npz"), mask=mask, joints=joints, joint_names=np.array(["l_wrist", "r_knee"]))
    return video, mask


@pytest.mark.parametrize("read_size", [AtMost(360), 48])  # decoded as it is, and shrunk at decode
def test_clip_masks_follow_the_framing_crop(tmp_path, read_size):
    video, mask = _edge_video(tmp_path)
    clip = read_clip(video, CLIP_LEN, size=read_size)
    factor = clip.shape[1] / 96
    box = CropBox(top=5 * factor, left=190 * factor, height=80 * factor, width=80 * factor)  # past the right edge
    x = build_transforms(False, INPUT_SIZE)(clip, person=box)
    seen = denormalize(x).numpy().mean(axis=-1) > 127
    indices = sample_indices(len(mask), CLIP_LEN, "uniform")
    aligned = clip_masks(mask, indices, read_size, INPUT_SIZE, box).numpy()
    assert aligned.shape == (CLIP_LEN, *INPUT_SIZE) and _iou(seen, aligned) > 0.85
    assert in_view(aligned).all()
    assert not in_view(clip_masks(mask, indices, read_size, INPUT_SIZE)).any()  # the centre crop cuts it away


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the centre crop: no frame to score
def test_faithfulness_scores_a_person_at_the_edge_with_the_framing_crop(tmp_path, tiny_model, monkeypatch):
    """A "perfect" CAM (the model input's white pixels) scores ~1 once image and masks share the crop;
    with the centre crop the same video has no frame to score."""
    video, _ = _edge_video(tmp_path)
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model), device="cpu", person_check=False)
    seen: list[torch.Tensor] = []

    def perfect_cam(model, x, layer, method, target, **kwargs):
        seen.append(x)
        pixels = denormalize(x.cpu(), predictor.meta.mean, predictor.meta.std).numpy()
        white = pixels.mean(axis=-1) > 192  # the box, not the grey padding
        return CamArray(white, CamInfo(layer, method, 1, target, 0.0, 1.0, (0.0, 1.0), (4, 8, 8), 4, "clip"))

    monkeypatch.setattr(metrics, "compute_cam", perfect_cam)
    clip = predictor.decode(video)
    factor = clip.shape[1] / 96
    box = CropBox(top=5 * factor, left=190 * factor, height=80 * factor, width=80 * factor)
    monkeypatch.setattr(predictor, "clip_box", lambda clip: box)
    (framed,) = evaluate_faithfulness(predictor, [video], ["conv"], methods=["gradcam"], progress=False)
    assert torch.equal(seen[-1], predictor.transform(clip, person=box))  # the image the model saw: framed
    assert (framed.frames_scored, framed.frames) == (CLIP_LEN, CLIP_LEN)
    assert framed.energy_inside > 0.95 and framed.pointing == 1.0 and framed.chance < 0.6

    monkeypatch.setattr(predictor, "clip_box", lambda clip: None)
    (centred,) = evaluate_faithfulness(predictor, [video], ["conv"], methods=["gradcam"], progress=False)
    assert centred.frames_scored == 0 and math.isnan(centred.pointing)
