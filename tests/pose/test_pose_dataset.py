"""Pose volumes through ExerciseVideoDataset: the estimator's cached tracks (not the generator's
joints), the same items, labels and skips as clips, jittered and augmented (one draw per clip) for
training, uniform for evaluation, and the cache warmed once.

A handful of 1-s synthetic clips at 96x72; the estimator runs on each once (~15 frames each).
"""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.data.dataset import ExerciseVideoDataset, LongLayoutConfig
from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.data.video import probe
from exercise_rec.errors import ConfigError
from exercise_rec.pose import PoseEstimator, PoseTrack
from exercise_rec.pose.cache import TRACK_EVERY, dataset_videos, warm_cache
from exercise_rec.pose.heatmaps import HeatmapConfig, PoseAugmentConfig, track_volume, track_window

SYNTH = SynthConfig(width=96, height=72, duration=1.0, vary_resolution=False)
CLASSES = ["squat", "jumping_jack", "no_exercise"]
VOLUME = HeatmapConfig(frames=8, size=24)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 3 clips: 1 train, 1 val, 1 test clip each."""
    return generate_dataset(tmp_path_factory.mktemp("pose") / "ds", per_class=3, seed=0, config=SYNTH,
                            classes=CLASSES, workers=1)  # fmt: skip


@pytest.fixture(scope="module")
def warmed(root: Path) -> tuple:
    """The cache warmed twice: the first pass analyses every video, the second none."""
    videos = dataset_videos(root)
    return videos, warm_cache(videos, progress=False), warm_cache(videos, progress=False)


def test_warming_runs_the_estimator_once_per_video(warmed: tuple) -> None:
    videos, first, again = warmed
    assert len(videos) == 9 and first.analysed == 9 and first.cached == 0 and not first.skipped
    # Every 2nd frame of ~24-28 frames each.
    assert first.frames == sum(-(-probe(v).frames // TRACK_EVERY) for v in videos)
    assert again.analysed == 0 and again.cached == 9 and again.frames == 0


def test_items_are_volumes_of_the_estimators_track(root: Path, warmed: tuple) -> None:
    clips = ExerciseVideoDataset(root, "val")
    volumes = ExerciseVideoDataset(root, "val", heatmaps=VOLUME)
    assert volumes.items == clips.items and volumes.class_names == clips.class_names  # one scan, one split
    volume, label = volumes[0]
    assert volume.dtype == torch.float32 and volume.shape == (17, 8, 24, 24) and label == volumes.items[0].label
    assert volume.max() > 0.5  # the estimator found the mannequin
    path = volumes.items[0].path
    track = PoseEstimator().video(path, every=TRACK_EVERY, progress=False)  # from the cache
    kept = volumes.load_track(0)
    np.testing.assert_array_equal(kept.frame_indices, np.arange(0, probe(path).frames, TRACK_EVERY))
    np.testing.assert_array_equal(kept.keypoints, track.keypoints)
    with np.load(path.with_suffix(".npz")) as truth:  # the generator's exact joints: not what is used
        assert len(truth["joints"]) == probe(path).frames != len(kept.keypoints)
    # Evaluation: uniform frames, no augmentation, the same volume every time; Predictor.volumes
    # renders a track with this same call (tests/train/test_pose_training.py).
    np.testing.assert_array_equal(volume.numpy(), track_volume(track, VOLUME))
    assert torch.equal(volumes[0][0], volume)
    with pytest.raises(ConfigError, match="heatmaps"):
        clips.load_volume(0)


def test_training_volumes_are_jittered_and_augmented_once_per_clip(root: Path, warmed: tuple,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    train = ExerciseVideoDataset(root, "train", heatmaps=VOLUME)
    assert train.sampling == "random" and train.pose_augment == PoseAugmentConfig()
    draws: list[PoseAugmentConfig] = []
    draw = PoseAugmentConfig.draw
    monkeypatch.setattr(PoseAugmentConfig, "draw", lambda self, rng: draws.append(self) or draw(self, rng))

    def epoch(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return [train[k][0] for k in range(len(train))]

    first = epoch(1)
    assert len(draws) == len(train) == 3  # one augmentation per clip, the same for all its frames
    assert all(torch.equal(a, b) for a, b in zip(first, epoch(1)))  # seeded from torch's RNG
    assert not all(torch.equal(a, b) for a, b in zip(first, epoch(2)))
    # Exactly: the track's frames sampled with jitter and one draw, from a seed of torch's RNG.
    torch.manual_seed(7)
    seed = int(torch.randint(2**31 - 1, ()))
    torch.manual_seed(7)
    expected = track_volume(train.load_track(0), VOLUME, rng=np.random.default_rng(seed), augment=PoseAugmentConfig())
    np.testing.assert_array_equal(train.load_volume(0).numpy(), expected)
    draws.clear()
    plain = ExerciseVideoDataset(root, "train", heatmaps=VOLUME, pose_augment=None)
    plain[0]
    assert not draws  # jitter only


def test_a_long_recordings_clips_cut_its_one_track(root: Path, warmed: tuple, tmp_path: Path) -> None:
    source = next((root / "squat").glob("*.mp4"))
    frames = probe(source).frames
    (tmp_path / "videos").mkdir()
    (tmp_path / "labels").mkdir()
    shutil.copy(source, tmp_path / "videos" / "rec.mp4")  # same content: the cached track
    with open(tmp_path / "labels" / "rec.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("frame", "label"), *((k, "a" if k < 12 else "b") for k in range(frames))])
    layout = LongLayoutConfig(window=8, stride=4, min_frames=4)
    ds = ExerciseVideoDataset(tmp_path, None, heatmaps=VOLUME, long_layout=layout)
    assert len(ds) >= 4 and all(item.start is not None for item in ds.items)
    for k, item in enumerate(ds.items):
        kept = ds.load_track(k).frame_indices
        assert len(kept) and ((kept >= item.start) & (kept < item.stop)).all()
        assert ds[k][0].shape == (17, 8, 24, 24)


def test_an_unreadable_video_is_skipped_as_for_clips(root: Path, warmed: tuple, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    for name in ("squat", "no_exercise"):
        (tmp_path / name).mkdir()
        shutil.copy(next((root / name).glob("*.mp4")), tmp_path / name / "good.mp4")
    bad = tmp_path / "squat" / "bad.mp4"
    bad.write_bytes(bytes(range(256)) * 10)
    ds = ExerciseVideoDataset(tmp_path, None, heatmaps=VOLUME)
    k = next(i for i, item in enumerate(ds.items) if item.path == bad)
    with caplog.at_level(logging.WARNING):
        volume, label = ds[k]
    assert volume.shape == (17, 8, 24, 24) and label == ds.items[(k + 1) % len(ds)].label  # the next item stands in
    assert ds.skipped == {str(bad): "not a video (no recognised container format)"}
    assert warm_cache([bad], progress=False).skipped == {str(bad): "not a video (no recognised container format)"}


def test_track_window_keeps_the_frames_inside_and_never_none() -> None:
    track = PoseTrack(np.arange(5 * 33 * 3, dtype=np.float32).reshape(5, 33, 3), np.ones(5, np.float32),
                      (72, 96), np.array([0, 2, 4, 6, 8]), 25.0)  # fmt: skip
    np.testing.assert_array_equal(track_window(track, 3, 7).frame_indices, [4, 6])
    np.testing.assert_array_equal(track_window(track, 3, 7).keypoints, track.keypoints[2:4])
    np.testing.assert_array_equal(track_window(track, 5, 6).frame_indices, [6])  # between two: the nearest
    np.testing.assert_array_equal(track_window(track, 20, 30).frame_indices, [8])
    assert track_window(track) is track and track_window(track, 0, 9).fps == 25.0
    clip = PoseTrack(track.keypoints, track.presence, (72, 96))
    assert track_window(clip, 3, 7) is clip
