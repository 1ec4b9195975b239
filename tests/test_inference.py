"""Predictor, the predict CLI and evaluate: real videos, real checkpoint files, real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    save_checkpoint,
)
from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.data.transforms import AugmentConfig, build_transforms
from exercise_rec.data.video import read_clip, write_video
from exercise_rec.evaluate import evaluate
from exercise_rec.inference import CHECKPOINT_DIR, Predictor
from exercise_rec.models import build_model
from exercise_rec.verdict import VERDICTS

CLASSES = ("jumping_jack", "no_exercise", "squat")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SynthConfig(width=64, height=48, duration=1.0, vary_resolution=False)
    return generate_dataset(tmp_path_factory.mktemp("set") / "synth", 3, seed=5, config=config, classes=CLASSES, workers=1)


def _checkpoint(path: Path, name: str, classes=CLASSES, input_size=(24, 32), clip_len=4) -> Path:
    meta = CheckpointMeta(
        model_name=name, model_kwargs={}, class_names=tuple(classes), clip_len=clip_len,
        input_size=input_size, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )
    return save_checkpoint(path, build_model(name, len(classes)), meta)


def _video(tmp_path: Path, frames: int = 30, fps: float = 10) -> Path:
    rng = np.random.default_rng(0)
    return write_video(tmp_path / "v.mp4", rng.integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8), fps)


def test_predict_feeds_the_model_as_the_checkpoint_says(tmp_path, tiny_model):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model), device="cpu")
    seen: list[torch.Tensor] = []
    predictor.model.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    video = _video(tmp_path)
    result = predictor.predict(video, top_k=2)

    assert seen[0].shape == (1, 3, 4, 24, 32)  # clip_len and input_size from the metadata
    # The eval transform of the checkpoint's own input size and statistics, not ImageNet defaults.
    transform = build_transforms(False, (24, 32), AugmentConfig(mean=(0.5,) * 3, std=(0.25,) * 3))
    clip = read_clip(video, 4, size=predictor.decode_size)
    torch.testing.assert_close(seen[0][0], transform(clip, person=result.framing))
    assert result.probs.sum() == pytest.approx(1, abs=1e-5) and result.probs.shape == (3,)
    assert result.labels[0] == CLASSES[int(result.probs.argmax())] and len(result.labels) == 2
    assert result.top_probs[0] >= result.top_probs[1] and result.latency_ms > 0
    same = predictor.predict(result.clip, top_k=2)  # a decoded clip gives the same answer as the file
    np.testing.assert_allclose(same.probs, result.probs, rtol=1e-5)


def test_predict_windows_covers_the_video(tmp_path, tiny_model):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model))
    timeline = predictor.predict_windows(_video(tmp_path, frames=95, fps=10), stride_s=2.0, window_s=3.0)
    # 95 frames at 10 fps, 30-frame windows every 20 frames: starts 0, 20, 40, 60.
    np.testing.assert_allclose(timeline.starts_s, [0, 2, 4, 6])
    np.testing.assert_allclose(timeline.ends_s, [3, 5, 7, 9])
    assert timeline.probs.shape == (4, 3)
    np.testing.assert_allclose(timeline.probs.sum(axis=1), 1, atol=1e-5)
    assert set(timeline.labels) <= set(CLASSES)
    assert len(timeline.verdicts) == 4 and {v.verdict for v in timeline.verdicts} <= set(VERDICTS)
    short = predictor.predict_windows(_video(tmp_path, frames=12, fps=10), stride_s=1.0)
    assert len(short.starts_s) == 1 and short.ends_s[0] == pytest.approx(1.2)


def test_predict_cli_json_contract_and_errors(tmp_path, tiny_model):
    checkpoint = _checkpoint(tmp_path / "c.pt", "mobilenet_v2_3d")  # a registry model: the CLI is a new process
    video = _video(tmp_path)
    cmd = [sys.executable, "-m", "exercise_rec.predict"]
    ok = subprocess.run([*cmd, str(video), "--checkpoint", str(checkpoint), "--json", "--top-k", "2"],
                        capture_output=True, text=True, check=True)
    out = json.loads(ok.stdout)
    assert set(out) == {"video", "model", "mode", "verdict", "reason", "predictions", "latency_ms"}
    assert out["verdict"] in VERDICTS and out["reason"]
    assert out["video"] == str(video) and out["model"] == "mobilenet_v2_3d" and out["mode"] == "standard"
    assert [set(p) for p in out["predictions"]] == [{"label", "prob"}] * 2
    assert {p["label"] for p in out["predictions"]} <= set(CLASSES)

    junk = tmp_path / "photo.mp4"
    junk.write_text("not a video")
    for args, named in (([str(junk), "--checkpoint", str(checkpoint)], "photo.mp4"),
                        ([str(video), "--checkpoint", str(junk)], "photo.mp4"),
                        ([str(tmp_path / "missing.mp4"), "--checkpoint", str(checkpoint)], "missing.mp4")):
        bad = subprocess.run([*cmd, *args], capture_output=True, text=True)
        assert bad.returncode == 2, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and named in bad.stderr, bad.stderr


def test_evaluate_counts_every_video_and_skips_corrupt_ones(tmp_path, tiny_model, tiny_set):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model))
    result = evaluate(predictor, tiny_set, split=None, views=2)
    assert result.num_videos == 9 and not result.skipped
    assert int(result.confusion.sum()) == 9 and result.confusion.shape == (3, 3)
    assert set(result.metrics["per_class_acc"]) == set(CLASSES)  # type: ignore[arg-type]
    assert 0 <= result.metrics["top1"] <= 1  # type: ignore[operator]

    broken = sorted((tiny_set / "squat").glob("*.mp4"))[0]
    original = broken.read_bytes()
    try:
        broken.write_bytes(original[: len(original) // 3])
        result = evaluate(predictor, tiny_set, split=None)
        assert result.num_videos == 8 and list(result.skipped) == [str(broken)]
    finally:
        broken.write_bytes(original)


def test_evaluate_refuses_a_checkpoint_with_other_classes(tmp_path, tiny_model, tiny_set):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model, classes=("a", "b", "c")))
    with pytest.raises(CheckpointError, match="differ from the checkpoint"):
        evaluate(predictor, tiny_set, split=None)


@pytest.mark.heavy
@pytest.mark.parametrize("mode", ["standard", "high_temporal"])
def test_shipped_checkpoints_recognise_the_samples(mode):
    """What a new user sees first: the bundled checkpoints name the bundled sample clips right."""
    path = CHECKPOINT_DIR / f"mobilenet_v2_3d_{mode}.pt"
    predictor = Predictor.from_checkpoint(path)
    assert predictor.mode == mode and len(predictor.class_names) == 17
    samples = [p for p in sorted((REPO / "samples").glob("*.mp4")) if p.stem in predictor.class_names]
    assert len(samples) >= 5
    wrong = {p.stem: predictor.predict(p).label for p in samples}
    wrong = {k: v for k, v in wrong.items() if k != v}
    assert not wrong, f"{mode}: sample -> predicted {wrong}"
