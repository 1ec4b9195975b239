"""Temperature scaling, ECE, the threshold rule (docs/verdicts.md), and the calibrate CLI end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.calibrate import build_parser, main
from exercise_rec.calibration import (
    choose_min_confidence,
    expected_calibration_error,
    fit_temperature,
    kept_share,
)
from exercise_rec.checkpoint import CheckpointMeta, read_meta, save_checkpoint
from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.errors import ConfigError
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model

CLASSES = ("jumping_jack", "no_exercise", "squat")


def _calibrated_logits(n: int = 4000, classes: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of a perfectly calibrated model: each label is drawn from softmax(logits)."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator) * 2
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("temperature", [2.5, 0.4])
def test_fit_temperature_recovers_a_known_temperature(temperature):
    """Logits of a calibrated model, sharpened (x2.5: overconfident) or softened (x0.4): the fit
    undoes it. Measured: 2.512 and 0.4007."""
    logits, labels = _calibrated_logits()
    fitted = fit_temperature(logits * temperature, labels)
    assert fitted == pytest.approx(temperature, rel=0.1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.1)  # already calibrated: about 1
    with pytest.raises(ConfigError, match="empty"):
        fit_temperature(logits[:0], labels[:0])


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    logits, labels = _calibrated_logits(n=20000)
    calibrated = expected_calibration_error(logits.softmax(dim=1).numpy(), labels.numpy())
    overconfident = expected_calibration_error((logits * 2.5).softmax(dim=1).numpy(), labels.numpy())
    assert calibrated < 0.03  # measured 0.008
    assert overconfident > 0.12  # measured 0.193
    rescaled = (logits * 2.5 / fit_temperature(logits * 2.5, labels)).softmax(dim=1).numpy()
    assert expected_calibration_error(rescaled, labels.numpy()) < 0.03  # measured 0.008

    # Hand-made: confidence c with the top class right with probability c (3 classes).
    rng = np.random.default_rng(0)
    c = rng.uniform(1 / 3, 1, 20000)
    probs = np.stack([c, (1 - c) / 2, (1 - c) / 2], axis=1)
    labels = np.where(rng.random(len(c)) < c, 0, rng.integers(1, 3, len(c)))
    assert expected_calibration_error(probs, labels) < 0.03  # measured 0.009
    assert expected_calibration_error(probs, np.zeros_like(labels)) == pytest.approx(1 - c.mean(), abs=1e-6)
    assert expected_calibration_error(np.eye(3)[[0, 1, 2]], np.array([0, 1, 2])) == pytest.approx(0.0)


def _top1(confidences: list[float], correct: bool) -> tuple[np.ndarray, np.ndarray]:
    """3-class probabilities with the given top-1 confidences on class 0; labels right or wrong."""
    c = np.asarray(confidences, dtype=np.float64)
    probs = np.stack([c, (1 - c) / 2, (1 - c) / 2], axis=1)
    return probs, np.full(len(c), 0 if correct else 1)


def _stack(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])


def test_threshold_rule_keeps_98_percent_of_the_right_answers():
    # 100 right answers: 50 at 0.9, 48 at 0.72, 2 at 0.41; 30 wrong ones at 0.99 (they do not count).
    probs, labels = _stack(_top1([0.9] * 50 + [0.72] * 48 + [0.41] * 2, True), _top1([0.99] * 30, False))
    # 0.70 keeps 98 of 100 right answers, 0.75 only 50: the largest multiple of 0.05 keeping 98% is 0.70.
    assert choose_min_confidence(probs, labels) == pytest.approx(0.70)
    assert kept_share(probs, labels, 0.70) == pytest.approx(0.98)
    assert kept_share(probs, labels, 0.75) == pytest.approx(0.50)

    # One more low one: 0.70 keeps 98 of 101 (97%), so the rule falls back to 0.40 (all 101 kept).
    probs, labels = _stack((probs, labels), _top1([0.41], True))
    assert choose_min_confidence(probs, labels) == pytest.approx(0.40)

    # "At or above": a confidence exactly on the multiple is kept.
    probs, labels = _top1([0.7] * 98 + [0.5] * 2, True)
    assert choose_min_confidence(probs, labels) == pytest.approx(0.70)
    # Another share to keep (the keep argument).
    probs, labels = _top1([0.9] * 90 + [0.6] * 10, True)
    assert choose_min_confidence(probs, labels, keep=0.9) == pytest.approx(0.90)
    assert choose_min_confidence(probs, labels) == pytest.approx(0.60)
    # Every answer very sure: the cap is 0.95.
    assert choose_min_confidence(*_top1([0.999] * 10, True)) == pytest.approx(0.95)

    with pytest.raises(ConfigError, match="no clip"):
        choose_min_confidence(*_top1([0.9] * 5, False))


# --- python -m exercise_rec.calibrate ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 4 clips of 64x48, 1 s: 2 train, 1 val, 1 test per class."""
    config = SynthConfig(width=64, height=48, duration=1.0, vary_resolution=False)
    root = tmp_path_factory.mktemp("calibrate") / "synth"
    return generate_dataset(root, 4, seed=5, config=config, classes=CLASSES, workers=1)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A registry model (the CLI is a new process) that always says jumping_jack, via its bias: the
    untrained network's features are ~1e-10, so its logits are the bias [2, 0, 0] on every clip.
    Right on 1 of the 3 validation clips, it is overconfident: the fitted temperature must soften it."""
    model = build_model("mobilenet_v2_3d", len(CLASSES))
    with torch.no_grad():
        model.classifier[1].bias.copy_(torch.tensor([2.0, 0.0, 0.0]))
    meta = CheckpointMeta(
        model_name="mobilenet_v2_3d", model_kwargs={}, class_names=CLASSES, clip_len=4,
        input_size=(24, 32), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    return save_checkpoint(tmp_path / "c.pt", model, meta)


def test_calibrate_cli_writes_the_calibration_into_a_copy(checkpoint: Path, tiny_set: Path, tmp_path: Path):
    original = checkpoint.read_bytes()
    out = tmp_path / "calibrated.pt"
    run = subprocess.run(
        [sys.executable, "-m", "exercise_rec.calibrate", "--checkpoint", str(checkpoint), "--data", str(tiny_set),
         "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "3 val videos" in run.stdout and f"wrote {out}" in run.stdout
    assert checkpoint.read_bytes() == original  # --out: the original file is untouched
    assert read_meta(checkpoint).calibration == {}

    stored = read_meta(out).calibration
    assert {"temperature", "min_confidence", "ece_before", "ece_after", "top1", "kept_correct", "clips"} <= set(stored)
    assert stored["clips"] == 3 and stored["top1"] == pytest.approx(1 / 3)
    # Constant logits right on a third of the clips: the NLL-optimal probabilities are 1/3 each, so
    # the fit drives T far above 1 (measured 3262; ECE 0.454 -> 0.0001), and the threshold is 0.30 (<= 1/3).
    assert stored["temperature"] > 10 and stored["ece_after"] < stored["ece_before"]
    assert stored["min_confidence"] == pytest.approx(0.30) and stored["kept_correct"] == 1.0

    predictor = Predictor.from_checkpoint(out, person_check=False)
    assert predictor.rule.temperature == stored["temperature"]
    assert predictor.rule.min_confidence == stored["min_confidence"]
    probs = predictor.probabilities([torch.zeros(4, 48, 64, 3, dtype=torch.uint8)])[0]
    torch.testing.assert_close(probs, torch.full((3,), 1 / 3), atol=0.01, rtol=0)  # the temperature is applied
    # The weights are the original ones: same raw logits.
    torch.testing.assert_close(
        predictor.logits([torch.zeros(4, 48, 64, 3, dtype=torch.uint8)]),
        Predictor.from_checkpoint(checkpoint, person_check=False).logits([torch.zeros(4, 48, 64, 3, dtype=torch.uint8)]),
    )


def test_calibrate_accepts_test_split_but_its_help_warns(checkpoint: Path, tiny_set: Path, tmp_path: Path, capsys):
    help_text = " ".join(build_parser().format_help().split())
    assert "never test" in help_text
    out = tmp_path / "on_test.pt"
    assert main(["--checkpoint", str(checkpoint), "--data", str(tiny_set), "--split", "test", "--out", str(out)]) == 0
    assert "3 test videos" in capsys.readouterr().out
    assert read_meta(out).calibration["clips"] == 3


def test_calibrate_refuses_a_file_that_is_not_a_checkpoint(tiny_set: Path, tmp_path: Path, capsys):
    junk = tmp_path / "notes.pt"
    junk.write_text("not a checkpoint")
    code = main(["--checkpoint", str(junk), "--data", str(tiny_set), "--out", str(tmp_path / "out.pt")])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "notes.pt" in lines[0], lines
    assert not (tmp_path / "out.pt").exists() and junk.read_text() == "not a checkpoint"
