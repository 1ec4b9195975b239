"""The shipped pose stream on freshly rendered clips, in the training look, filmed from any side,
and in the held-out look (neon clothes, hazy light, a higher and further camera), through
``Predictor`` as users run it: the real estimator on the decoded clip, heatmap volumes, the model,
the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from exercise_rec.data.dataset import ExerciseVideoDataset
from exercise_rec.data.synthetic import AppearanceDomain, Layout, SynthConfig, generate_dataset
from exercise_rec.inference import POSE_CHECKPOINT, Predictor

SEED = 2026  # the README's fresh test seed (never trained on); these are its index-0 clips
CLASSES = ("arm_circles", "boxing", "jumping_jack", "lunge", "shoulder_press", "squat")


def _clips(root: Path, config: SynthConfig) -> list[Path]:
    generate_dataset(root, 1, seed=SEED, config=config, classes=CLASSES)
    return [item.path for item in ExerciseVideoDataset(root, None, 1).items]


@pytest.fixture(scope="module")
def pose() -> Predictor:
    predictor = Predictor.from_checkpoint(POSE_CHECKPOINT, device="cpu")
    assert predictor.is_pose
    return predictor


def _right(predictor: Predictor, clips: list[Path]) -> list[str]:
    results = {clip.name: predictor.predict(clip) for clip in clips}
    return [name for name, r in results.items() if r.label == name.rsplit("_", 1)[0] and r.verdict == "exercise"]


def test_pose_stream_is_right_on_fresh_clips(pose: Predictor, tmp_path: Path) -> None:
    clips = _clips(tmp_path / "normal", SynthConfig())
    right = _right(pose, clips)
    assert len(right) >= len(clips) - 1, f"right only on {right}"


def test_pose_stream_is_right_wherever_the_camera_stands(pose: Predictor, tmp_path: Path) -> None:
    """Squats filmed from the front, jumping jacks from the side: the view is not the class's cue
    (the RGB checkpoints, trained on one view per class, fall to ~77% top-1 on such clips)."""
    clips = _clips(tmp_path / "any_view", SynthConfig(layout=Layout(yaw=(0, 90))))
    labels = {clip.name: pose.predict(clip).label for clip in clips}
    assert all(label == name.rsplit("_", 1)[0] for name, label in labels.items()), labels  # the previous file: 5 of 6
    right = _right(pose, clips)
    assert len(right) >= len(clips) - 2, f"right only on {right}"  # measured: 5 (shoulder_press `uncertain` at 59%)


@pytest.mark.xfail(
    strict=True,
    reason="goal not met (README, 'The pose stream'): the estimator finds the person in ~69% of the held-out "
    "look's frames (99.9% in the training look), and the pose stream falls from 99.4% to 68.2% top-1 there",
)
def test_pose_stream_keeps_its_answers_under_the_held_out_appearance(pose: Predictor, tmp_path: Path) -> None:
    clips = _clips(tmp_path / "shifted", SynthConfig(appearance=AppearanceDomain.shifted()))
    right = _right(pose, clips)
    assert len(right) >= len(clips) - 2, f"right only on {right}"
