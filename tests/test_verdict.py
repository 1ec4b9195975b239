"""The verdict rule (docs/verdicts.md) branch by branch, and the verdicts Predictor gives real files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.video import write_video
from exercise_rec.errors import ConfigError
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor
from exercise_rec.models import build_model
from exercise_rec.pose import PoseTrack
from exercise_rec.verdict import VERDICTS, VerdictRule

REPO = Path(__file__).resolve().parent.parent
NAMES = ("jumping_jack", "no_exercise", "squat")
RULE = VerdictRule()  # the documented defaults: temperature 1, threshold 0.5, half the frames


def _probs(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def test_no_person_when_fewer_than_half_the_frames_show_one():
    confident = _probs(0.02, 0.03, 0.95)
    verdict = RULE.decide(confident, NAMES, (7, 16))
    assert verdict.verdict == "no_person" and "7 of 16 frames" in verdict.reason
    assert RULE.decide(confident, NAMES, (0, 0)).verdict == "no_person"  # nothing checked: no evidence
    assert RULE.decide(confident, NAMES, (8, 16)).verdict == "exercise"  # exactly half is enough
    # The person check comes first: an unsure model on an empty scene is still "no_person".
    assert RULE.decide(_probs(0.4, 0.3, 0.3), NAMES, (0, 16)).verdict == "no_person"


def test_uncertain_below_the_threshold_names_the_two_top_classes():
    verdict = RULE.decide(_probs(0.25, 0.35, 0.40), NAMES, (16, 16))
    assert verdict.verdict == "uncertain"
    assert re.search(r"squat 40%, no_exercise 35%", verdict.reason) and "50%" in verdict.reason
    assert "jumping_jack" not in verdict.reason
    assert RULE.decide(_probs(0.25, 0.25, 0.5), NAMES, (16, 16)).verdict == "exercise"  # at the threshold: kept
    strict = VerdictRule(min_confidence=0.9)
    verdict = strict.decide(_probs(0.1, 0.1, 0.8), NAMES, (16, 16))
    assert verdict.verdict == "uncertain" and "90%" in verdict.reason


def test_exercise_and_no_exercise_with_the_person_count():
    verdict = RULE.decide(_probs(0.1, 0.1, 0.8), NAMES, (15, 16))
    assert verdict.verdict == "exercise"
    assert verdict.reason.startswith("squat 80%") and "a person in 15 of 16 frames" in verdict.reason
    verdict = RULE.decide(_probs(0.1, 0.8, 0.1), NAMES, (16, 16))
    assert verdict.verdict == "no_exercise" and verdict.reason.startswith("no_exercise 80%")


def test_person_check_off_rests_on_the_model_and_says_so():
    verdict = RULE.decide(_probs(0.1, 0.1, 0.8), NAMES, None)
    assert verdict.verdict == "exercise" and "person check off" in verdict.reason
    assert "person in" not in verdict.reason
    verdict = RULE.decide(_probs(0.1, 0.8, 0.1), NAMES, None)
    assert verdict.verdict == "no_exercise" and "person check off" in verdict.reason


def test_an_uncertain_answer_without_person_check_says_so_too():
    verdict = RULE.decide(_probs(0.25, 0.35, 0.40), NAMES, None)
    assert verdict.verdict == "uncertain" and "person check off" in verdict.reason


def test_rule_from_calibration_metadata():
    rule = VerdictRule.from_calibration({})
    assert (rule.temperature, rule.min_confidence, rule.min_person_fraction) == (1.0, 0.5, 0.5)
    stored = {"temperature": 0.6, "min_confidence": 0.55, "ece_before": 0.03, "clips": 120.0}
    rule = VerdictRule.from_calibration(stored)
    assert (rule.temperature, rule.min_confidence) == (0.6, 0.55)
    for bad in ({"temperature": 0.0}, {"temperature": -1.0}, {"min_confidence": 1.5}):
        with pytest.raises(ConfigError):
            VerdictRule.from_calibration(bad)


# --- Predictor: the verdicts users see --------------------------------------------------------


def _checkpoint(path: Path, name: str, calibration: dict[str, float] | None = None) -> Path:
    meta = CheckpointMeta(
        model_name=name, model_kwargs={}, class_names=NAMES, clip_len=4, input_size=(24, 32),
        mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), calibration=dict(calibration or {}),
    )  # fmt: skip
    return save_checkpoint(path, build_model(name, len(NAMES)), meta)


def _noise_video(path: Path, frames: int = 20, fps: float = 10) -> Path:
    rng = np.random.default_rng(0)
    return write_video(path, rng.integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8), fps)


def _empty_scene(path: Path, frames: int = 50) -> Path:
    """Two seconds of drifting colour gradients, 320x240: texture and motion, nobody in it."""
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    out = [
        np.clip(np.stack([(xx / 320 * 255 + 5 * t) % 256, (yy / 240 * 255 + 3 * t) % 256,
                          128 + 100 * np.sin((xx + yy) / 40 + t / 5)], axis=-1), 0, 255).astype(np.uint8)
        for t in range(frames)
    ]  # fmt: skip
    return write_video(path, np.stack(out), 25)


def test_person_check_off(tmp_path, tiny_model):
    # A threshold every answer clears (1/3 for 3 classes is above it), so the verdict is a label one.
    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model, {"temperature": 1.0, "min_confidence": 0.05})
    predictor = Predictor.from_checkpoint(checkpoint, person_check=False)
    assert predictor.pose is None and predictor.rule.min_confidence == 0.05
    prediction = predictor.predict(_noise_video(tmp_path / "v.mp4"))
    assert prediction.pose is None
    assert prediction.verdict in ("exercise", "no_exercise") and "person check off" in prediction.reason
    assert prediction.to_json()["verdict"] == prediction.verdict


@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor.from_checkpoint(DEFAULT_CHECKPOINT, person_check=True)


def test_shipped_checkpoint_with_person_check_on_the_squat_sample(shipped: Predictor):
    prediction = shipped.predict(REPO / "samples" / "squat.mp4")
    assert prediction.verdict == "exercise" and prediction.label == "squat", prediction.reason
    assert isinstance(prediction.pose, PoseTrack) and len(prediction.pose.presence) == shipped.meta.clip_len
    assert f"a person in {shipped.meta.clip_len} of {shipped.meta.clip_len} frames" in prediction.reason  # measured 16 of 16


def test_shipped_checkpoint_says_no_person_on_an_empty_scene(shipped: Predictor, tmp_path: Path):
    prediction = shipped.predict(_empty_scene(tmp_path / "empty.mp4"))
    # Measured: the model alone calls it no_exercise; the estimator finds nobody in 0 of 16 frames.
    assert prediction.verdict == "no_person" and "0 of 16 frames" in prediction.reason
    assert prediction.pose is not None and prediction.pose.person_fraction == 0.0


def test_timeline_has_one_verdict_per_window(shipped: Predictor):
    timeline = shipped.predict_windows(REPO / "samples" / "long_recording.mp4")  # 24 s at 29 fps
    assert len(timeline.verdicts) == len(timeline.starts_s) == len(timeline.probs) == 22  # 3 s windows, 1 s apart
    assert {v.verdict for v in timeline.verdicts} <= set(VERDICTS)
    # The mannequin is in view from the first frame to the last (walks in, exercises, walks off):
    # measured, every window's person check found it in all of its 12-13 frames (4 per second).
    assert not any(v.verdict == "no_person" for v in timeline.verdicts)
    for verdict in timeline.verdicts:
        if verdict.verdict != "uncertain":
            found, checked = map(int, re.search(r"a person in (\d+) of (\d+) frames", verdict.reason).groups())
            assert 11 <= checked <= 13 and found >= checked / 2, verdict.reason
    # Its labelled sets: shoulder_press about 3-11 s, side_bend about 12-21 s (samples/README.md).
    labelled = list(zip(timeline.labels, (v.verdict for v in timeline.verdicts)))
    assert labelled.count(("shoulder_press", "exercise")) >= 4 and labelled.count(("side_bend", "exercise")) >= 4
