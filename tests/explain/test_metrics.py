"""Faithfulness metrics: the ground truth lines up with the model input, and the scores mean what they say."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec import faithfulness
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.data.transforms import build_transforms, denormalize
from exercise_rec.data.video import read_clip, sample_indices, write_video
from exercise_rec.explain.metrics import (
    bootstrap_interval,
    clip_masks,
    dilate,
    energy_inside,
    evaluate_faithfulness,
    in_view,
    limb_speed,
    load_ground_truth,
    motion_correlation,
    pointing_hits,
)
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model

CLASSES = ("jumping_jack", "squat")


def _box_video(tmp_path: Path, height: int, width: int, frames: int = 20) -> tuple[Path, np.ndarray]:
    """A white box, off-centre and moving right, on black; returns the file and its true masks."""
    mask = np.zeros((frames, height, width), dtype=bool)
    for t in range(frames):
        top, left = height // 5, width // 6 + t * width // (3 * frames)
        mask[t, top : top + height // 3, left : left + width // 5] = True
    pixels = np.repeat(mask[..., None], 3, axis=-1).astype(np.uint8) * 255
    return write_video(tmp_path / f"box_{height}x{width}.mp4", pixels, 10, crf=12), mask


@pytest.mark.parametrize("height,width", [(96, 160), (160, 96)])  # landscape and portrait
def test_clip_masks_follow_the_model_input_geometry(tmp_path, height, width):
    video, mask = _box_video(tmp_path, height, width)
    clip_len, size = 6, (32, 32)
    x = build_transforms(False, size)(read_clip(video, clip_len, size=max(size)))
    seen = denormalize(x).numpy().mean(axis=-1) > 127  # the box as the model sees it
    indices = sample_indices(len(mask), clip_len, "uniform")
    aligned = clip_masks(mask, indices, max(size), size).numpy()

    assert aligned.shape == (clip_len, *size) and aligned.dtype == bool
    iou = (seen & aligned).sum() / (seen | aligned).sum()
    assert iou > 0.85, iou
    # The wrong frames (time reversed) or a flipped image line up much worse: the check has teeth.
    assert (seen & aligned[::-1]).sum() / (seen | aligned[::-1]).sum() < iou - 0.1
    assert (seen & aligned[:, :, ::-1]).sum() / (seen | aligned[:, :, ::-1]).sum() < iou - 0.1


def test_dilate_grows_each_frame_by_a_square():
    mask = torch.zeros(2, 9, 9, dtype=torch.bool)
    mask[0, 4, 4] = True
    mask[1, 0, 0] = True
    grown = dilate(mask, 2)
    assert grown[0].sum() == 25 and grown[0, 2:7, 2:7].all()
    assert grown[1].sum() == 9 and grown[1, :3, :3].all()  # clipped at the border
    assert torch.equal(dilate(mask, 0), mask)


def test_energy_inside_is_chance_for_a_flat_map_and_one_for_a_perfect_one():
    mask = np.zeros((3, 10, 10), dtype=bool)
    mask[:, 2:4, 2:7] = True  # 10% of each frame
    assert energy_inside(np.ones((3, 10, 10)), mask) == pytest.approx(0.10)
    assert energy_inside(mask.astype(np.float32), mask) == pytest.approx(1.0)
    cam = mask.astype(np.float32)
    cam[1] = 0  # a silent frame is skipped, not counted as zero
    assert energy_inside(cam, mask) == pytest.approx(1.0)
    assert math.isnan(energy_inside(np.zeros((3, 10, 10)), mask))


def test_pointing_counts_the_peak_and_refuses_flat_or_empty_frames():
    mask = np.zeros((4, 8, 8), dtype=bool)
    mask[:, :4, :4] = True
    cam = np.zeros((4, 8, 8), dtype=np.float32)
    cam[0, 1, 1] = 1.0  # peak inside
    cam[1, 6, 6] = 1.0  # peak outside
    cam[2] = 0.5  # flat: the maximum is everywhere, also outside
    # frame 3 stays all zero
    assert pointing_hits(cam, mask).tolist() == [True, False, False, False]


def test_in_view_asks_for_one_pixel_of_the_undilated_person():
    mask = np.zeros((3, 8, 8), dtype=bool)
    mask[1, 7, 7] = True  # a sliver at the corner still counts: the person is (partly) in the input
    mask[2, 2:5, 2:5] = True
    assert in_view(mask).tolist() == [False, True, True]
    assert in_view(torch.from_numpy(mask)).tolist() == [False, True, True]


def test_limb_speed_uses_limb_joints_and_the_sampled_frame_spacing():
    names = ["head", "r_wrist", "l_knee"]
    frames = 30
    joints = np.zeros((frames, 3, 2), dtype=np.float32)
    joints[:, 0, 0] = np.arange(frames) * 100.0  # the head races: ignored
    joints[:, 1, 1] = np.arange(frames) * 2.0  # wrist: 2 px per frame
    indices = sample_indices(frames, 6, "uniform")
    speed = limb_speed(joints, names, indices)
    np.testing.assert_allclose(speed, 1.0)  # mean of wrist (2) and still knee (0)


def test_motion_correlation():
    assert motion_correlation(np.arange(5.0), np.arange(5.0) * 3 + 1) == pytest.approx(1.0)
    assert motion_correlation(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert math.isnan(motion_correlation(np.ones(5), np.arange(5.0)))  # T' = 1: no timing to compare


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SynthConfig(width=64, height=48, duration=1.0, vary_resolution=False)
    return generate_dataset(tmp_path_factory.mktemp("cam") / "synth", 1, seed=3, config=config, classes=CLASSES, workers=1)


def _checkpoint(path: Path, input_size=(32, 32), clip_len=4) -> Path:
    meta = CheckpointMeta(
        model_name="mobilenet_v2_3d", model_kwargs={"width_mult": 0.25, "mode": "high_temporal"},
        class_names=CLASSES, clip_len=clip_len, input_size=input_size, mean=(0.5,) * 3, std=(0.25,) * 3,
    )
    return save_checkpoint(path, build_model("mobilenet_v2_3d", 2, width_mult=0.25, mode="high_temporal"), meta)


def test_ground_truth_of_a_synthetic_video_matches_its_rendered_person(synth_set, tmp_path):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt"), device="cpu")
    video = synth_set / "squat" / "squat_0000.mp4"
    truth = load_ground_truth(video, predictor)
    assert truth.label == "squat" and truth.mask.shape == (4, 32, 32) and truth.speed.shape == (4,)
    assert 0.01 < truth.mask.float().mean() < 0.5 and (truth.speed >= 0).all()
    alone = tmp_path / "squat" / video.name  # the same video without its .npz
    alone.parent.mkdir()
    shutil.copy(video, alone)
    with pytest.raises(ValueError, match="no ground truth"):
        load_ground_truth(alone, predictor)


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_videos():
    rng = np.random.default_rng(1)
    few, many = rng.random(10) < 0.8, rng.random(1000) < 0.8  # pointing hits of 10 and 1000 videos
    few_low, few_high = bootstrap_interval(few)
    many_low, many_high = bootstrap_interval(many)
    assert few_low < few.mean() < few_high and many_low < many.mean() < many_high
    assert many_high - many_low < (few_high - few_low) / 5  # ~1/sqrt(100) of the width
    normal_width = 2 * 1.96 * math.sqrt(many.mean() * (1 - many.mean()) / many.size)  # the textbook interval
    assert many_high - many_low == pytest.approx(normal_width, rel=0.1)
    assert bootstrap_interval(few) == (few_low, few_high)  # seeded: the table is reproducible
    assert bootstrap_interval([0.3, 0.3, 0.3], [0.1, 0.1, 0.1]) == pytest.approx((3.0, 3.0))  # a ratio of means
    assert bootstrap_interval([0.5, float("nan"), 0.5]) == pytest.approx((0.5, 0.5))  # NaN videos skipped
    nan = float("nan")  # a video with no frame to score, in numerator and denominator alike
    assert bootstrap_interval([0.3, nan, 0.3], [0.1, nan, 0.1]) == pytest.approx((3.0, 3.0))
    assert all(math.isnan(v) for v in bootstrap_interval([0.5]))
    assert all(math.isnan(v) for v in bootstrap_interval([0.5, nan]))


def test_evaluate_faithfulness_and_cli_table(synth_set, tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pt")
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    videos = sorted(synth_set.glob("*/*.mp4"))
    rows = evaluate_faithfulness(predictor, videos, ["features.3", "features.18"], progress=False)
    assert [(r.layer, r.method) for r in rows] == [
        ("features.3", "gradcam"), ("features.3", "hirescam"), ("features.18", "gradcam"), ("features.18", "hirescam"),
    ]
    for row in rows:
        assert row.videos == 2 and row.temporal_resolution == 4  # high_temporal keeps every frame
        assert 0 < row.chance < 1 and 0 <= row.energy_inside <= 1 and 0 <= row.pointing <= 1
        assert row.energy_ratio == pytest.approx(row.energy_inside / row.chance)
        assert math.isnan(row.motion_correlation) or -1 <= row.motion_correlation <= 1
        low, high = row.energy_ratio_ci
        assert low <= row.energy_ratio + 1e-9 and row.energy_ratio <= high + 1e-9
        low, high = row.pointing_ci
        assert low <= row.pointing + 1e-9 and row.pointing <= high + 1e-9

    out_json = tmp_path / "rows.json"
    code = faithfulness.main([
        "--data", str(synth_set), "--split", "all", "--per-class", "1", "--checkpoint", str(checkpoint),
        "--layers", "features.18", "--json", str(out_json),
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "| model | layer | T' |" in printed and printed.count("features.18") == 2
    written = json.loads(out_json.read_text())
    assert [r["method"] for r in written] == ["gradcam", "hirescam"]
    assert all(len(r["energy_ratio_ci"]) == 2 and len(r["pointing_ci"]) == 2 for r in written)
    assert "(95% CI)" in printed and "bootstrap over videos" in printed
    assert "frames scored (person in the input): mobilenet_v2_3d high_temporal 8 of 8" in printed


def test_frames_without_the_person_in_view_are_not_scored(synth_set, tmp_path):
    data = shutil.copytree(synth_set, tmp_path / "set")
    blanked = data / "squat" / "squat_0000.npz"
    with np.load(blanked) as truth:
        fields = dict(truth)
    fields["mask"][:] = False  # the person nowhere in the input, as when the centre crop cuts them away
    np.savez(blanked, **fields)
    other = next((data / "jumping_jack").glob("*.mp4"))
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt"), device="cpu")
    both = [other, blanked.with_suffix(".mp4")]

    skipped = evaluate_faithfulness(predictor, both, ["features.3"], methods=["gradcam"], progress=False)[0]
    alone = evaluate_faithfulness(predictor, [other], ["features.3"], methods=["gradcam"], progress=False)[0]
    counted = evaluate_faithfulness(
        predictor, both, ["features.3"], methods=["gradcam"], all_frames=True, progress=False
    )[0]

    assert (skipped.frames_scored, skipped.frames) == (4, 8) and (counted.frames_scored, counted.frames) == (8, 8)
    assert skipped.pointing == alone.pointing and skipped.energy_inside == alone.energy_inside
    assert skipped.chance == alone.chance and all(math.isnan(v) for v in skipped.pointing_ci)  # one scored video
    assert alone.energy_inside > 0 and alone.chance > 0
    # counted, the blanked video's frames score zero energy, zero chance and all miss
    assert counted.energy_inside == pytest.approx(alone.energy_inside / 2)
    assert counted.chance == pytest.approx(alone.chance / 2)
    assert counted.pointing == pytest.approx(alone.pointing / 2)


def test_faithfulness_cli_rejects_bad_input(synth_set, tmp_path, capsys):
    code = faithfulness.main(["--data", str(synth_set), "--checkpoint", str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "missing.pt" in err and "Traceback" not in err
