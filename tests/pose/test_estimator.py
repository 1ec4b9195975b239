"""The pose estimator on real decoded files: who it finds, where, how its tracks are cached and
stored, and what a user is told when its weights are missing."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.video import read_windows, write_video
from exercise_rec.errors import ConfigError
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model
from exercise_rec.pose import PoseEstimator, PoseTrack, PoseUnavailable, model_files
from exercise_rec.pose.blazepose import BlazePose
from exercise_rec.pose.keypoints import LIMB_KEYPOINTS

REPO = Path(__file__).resolve().parents[2]
SQUAT = REPO / "samples" / "squat.mp4"  # 77 frames, 24 fps, 320x240; one mannequin in view throughout
SQUAT_FRAMES = 77


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return PoseEstimator()


@pytest.fixture(scope="module")
def squat_track(estimator: PoseEstimator) -> PoseTrack:
    return estimator.video(SQUAT, use_cache=False, progress=False)


@pytest.fixture(scope="module")
def squat_frames() -> np.ndarray:
    """Every frame of the squat sample at its own size, uint8 RGB [77, 240, 320, 3]."""
    return next(iter(read_windows(SQUAT, [(0, SQUAT_FRAMES)], SQUAT_FRAMES))).numpy()


def _empty_scene(frames: int = 50, height: int = 240, width: int = 320) -> np.ndarray:
    """Two seconds (at 25 fps) of smoothly drifting colour gradients and waves: texture, no person."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        red = (xx / width * 255 + 5 * t) % 256
        green = (yy / height * 255 + 3 * t) % 256
        blue = 128 + 100 * np.sin((xx + yy) / 40 + t / 5)
        out[t] = np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def empty_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("empty") / "empty.mp4", _empty_scene(), 25)


def test_finds_the_person_in_the_squat_sample(squat_track: PoseTrack):
    track = squat_track
    assert track.keypoints.shape == (SQUAT_FRAMES, 33, 3) and track.presence.shape == (SQUAT_FRAMES,)
    assert track.frame_size == (240, 320) and track.fps == pytest.approx(24.0)
    np.testing.assert_array_equal(track.frame_indices, np.arange(SQUAT_FRAMES))
    assert track.person_fraction >= 0.9  # measured: 1.0 (77 of 77 frames)
    found = track.found
    assert found.sum() >= 0.9 * SQUAT_FRAMES
    assert ((track.presence >= 0) & (track.presence <= 1)).all()
    assert ((track.keypoints[..., 2] >= 0) & (track.keypoints[..., 2] <= 1)).all()
    # Every keypoint of a frame with the person lies inside the frame (measured: x 35..135, y 49..205).
    xy = track.keypoints[found][..., :2]
    assert (xy[..., 0] >= 0).all() and (xy[..., 0] < 320).all()
    assert (xy[..., 1] >= 0).all() and (xy[..., 1] < 240).all()
    # The person is upright: hips below shoulders, ankles below knees (image y grows downwards).
    shoulders, hips, knees, ankles = (track.keypoints[found][:, [a, a + 1], 1].mean(axis=1) for a in (11, 23, 25, 27))
    assert (hips > shoulders).mean() > 0.95 and (ankles > knees).mean() > 0.95
    boxes = track.boxes()
    assert boxes.shape == (SQUAT_FRAMES, 4) and not np.isnan(boxes[found]).any()
    assert (boxes[found, 0] < boxes[found, 2]).all() and (boxes[found, 1] < boxes[found, 3]).all()
    assert (boxes[found] >= 0).all() and (boxes[found][:, [0, 2]] <= 320).all() and (boxes[found][:, [1, 3]] <= 240).all()


def test_a_video_without_a_person_has_nobody_in_it(estimator: PoseEstimator, empty_video: Path):
    track = estimator.video(empty_video, use_cache=False, progress=False)
    assert len(track.presence) == 50 and track.frame_size == (240, 320)
    # Measured: the detector fires on none of the 50 frames (presence 0 everywhere), on three seeds
    # of this gradient scene and three of smooth noise alike.
    assert track.person_fraction == 0.0 and not track.found.any()
    assert np.isnan(track.boxes()).all()


def test_keypoints_come_back_in_the_original_frames_pixels(
    estimator: PoseEstimator, squat_track: PoseTrack, squat_frames: np.ndarray, tmp_path: Path
):
    """A 640x480 video is analysed at 480x360 (short side 360), yet its keypoints are in 640x480 pixels."""
    n = 24
    big = np.stack([cv2.resize(f, (640, 480), interpolation=cv2.INTER_CUBIC) for f in squat_frames[:n]])
    track = estimator.video(write_video(tmp_path / "big.mp4", big, 24), use_cache=False, progress=False)
    assert track.frame_size == (480, 640) and track.found.all()
    limbs = list(LIMB_KEYPOINTS)
    error = np.linalg.norm(track.keypoints[:, limbs, :2] - 2 * squat_track.keypoints[:n, limbs, :2], axis=-1)
    assert np.median(error) < 4  # measured over all 77 frames: median 1.2 px, p90 3.5 px (of 640)

    # frames(): keypoints in the caller's original pixels through ``scale``.
    small = np.stack([cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA) for f in squat_frames[:16]])
    half = estimator.frames(small, scale=2.0)
    assert half.frame_size == (240, 320) and half.frame_indices is None and half.fps is None
    error = np.linalg.norm(half.keypoints[:, limbs, :2] - squat_track.keypoints[:16, limbs, :2], axis=-1)
    assert np.median(error) < 4  # measured over all 77 frames: median 1.1 px, p90 2.9 px


def test_every_nth_frame(estimator: PoseEstimator, squat_track: PoseTrack):
    track = estimator.video(SQUAT, every=3, use_cache=False, progress=False)
    np.testing.assert_array_equal(track.frame_indices, np.arange(0, SQUAT_FRAMES, 3))  # 0, 3, 6, ..., 75
    assert track.keypoints.shape == (26, 33, 3) and track.fps == pytest.approx(24.0)
    # Row i is frame 3i: the same keypoints as the every-frame track there (measured median 0.46 px).
    difference = np.abs(track.keypoints[:, :, :2] - squat_track.keypoints[::3, :, :2])
    assert np.median(difference) < 2
    with pytest.raises(ConfigError, match="every"):
        estimator.video(SQUAT, every=0)


def test_the_cache_is_keyed_by_content(estimator: PoseEstimator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("EXERCISE_REC_CACHE", str(cache))
    video = Path(shutil.copy(SQUAT, tmp_path / "a.mp4"))
    first = estimator.video(video, every=3, progress=False)
    assert len(list((cache / "pose").glob("*.npz"))) == 1

    def _no_estimator(self, frames):
        raise AssertionError("the estimator ran although the track is cached")

    with monkeypatch.context() as patched:
        patched.setattr(BlazePose, "track", _no_estimator)
        again = estimator.video(video, every=3, progress=False)  # served from the cache
        np.testing.assert_array_equal(again.keypoints, first.keypoints)
        np.testing.assert_array_equal(again.presence, first.presence)
        np.testing.assert_array_equal(again.frame_indices, first.frame_indices)
        assert again.fps == first.fps and again.frame_size == first.frame_size
        copy = Path(shutil.copy(video, tmp_path / "renamed copy.mp4"))  # same bytes, other name: a hit
        np.testing.assert_array_equal(estimator.video(copy, every=3, progress=False).keypoints, first.keypoints)
        with pytest.raises(AssertionError, match="cached"):  # the patch is live: a miss would run it
            estimator.video(video, every=3, use_cache=False)
        with pytest.raises(AssertionError, match="cached"):  # other sampling: another entry
            estimator.video(video, every=4, progress=False)
        # The same name with edited content (the first 30 frames, re-encoded) misses the cache.
        frames = next(iter(read_windows(SQUAT, [(0, 30)], 30))).numpy()
        write_video(video, frames, 24)
        with pytest.raises(AssertionError, match="cached"):
            estimator.video(video, every=3, progress=False)
    edited = estimator.video(video, every=3, progress=False)
    np.testing.assert_array_equal(edited.frame_indices, np.arange(0, 30, 3))
    assert len(list((cache / "pose").glob("*.npz"))) == 2


def test_track_save_load_round_trip(squat_track: PoseTrack, estimator: PoseEstimator, tmp_path: Path):
    squat_track.save(tmp_path / "track.npz")
    loaded = PoseTrack.load(tmp_path / "track.npz")
    np.testing.assert_array_equal(loaded.keypoints, squat_track.keypoints)
    np.testing.assert_array_equal(loaded.presence, squat_track.presence)
    np.testing.assert_array_equal(loaded.frame_indices, squat_track.frame_indices)
    assert loaded.keypoints.dtype == squat_track.keypoints.dtype
    assert loaded.frame_size == squat_track.frame_size and loaded.fps == squat_track.fps
    np.testing.assert_array_equal(loaded.found, squat_track.found)
    np.testing.assert_array_equal(loaded.boxes(), squat_track.boxes())

    clip = PoseTrack(squat_track.keypoints[:4], squat_track.presence[:4], (240, 320))  # a clip's track
    clip.save(tmp_path / "clip.npz")
    back = PoseTrack.load(tmp_path / "clip.npz")
    assert back.frame_indices is None and back.fps is None and back.frame_size == (240, 320)
    np.testing.assert_array_equal(back.keypoints, clip.keypoints)


@pytest.fixture
def fresh_model_files():
    """``model_files`` is cached per process: forget it around a test that fakes the installation."""
    model_files.cache_clear()
    yield
    model_files.cache_clear()


def _checkpoint(path: Path, name: str) -> Path:
    classes = ("jumping_jack", "no_exercise", "squat")
    meta = CheckpointMeta(
        model_name=name, model_kwargs={}, class_names=classes, clip_len=4,
        input_size=(24, 32), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    return save_checkpoint(path, build_model(name, len(classes)), meta)


def test_missing_weights_package_is_a_clear_error(
    fresh_model_files, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model: str
):
    real_find_spec = importlib.util.find_spec

    def _without_mediapipe(name, *args, **kwargs):
        return None if name == "mediapipe" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", _without_mediapipe)
    with pytest.raises(PoseUnavailable, match=r"not installed: pip install --no-deps mediapipe==0\.10\.14") as err:
        PoseEstimator()
    assert "\n" not in str(err.value)

    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model)
    with pytest.raises(PoseUnavailable, match="mediapipe"):
        Predictor.from_checkpoint(checkpoint, person_check=True)  # required: refuse
    assert Predictor.from_checkpoint(checkpoint, person_check=None).pose is None  # optional: off


def test_weights_package_without_the_models_is_a_clear_error(
    fresh_model_files, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """A mediapipe release that no longer bundles the .tflite files (0.10.30 on)."""
    real_find_spec = importlib.util.find_spec
    (tmp_path / "mediapipe").mkdir()

    def _empty_mediapipe(name, *args, **kwargs):
        if name == "mediapipe":
            return importlib.util.spec_from_file_location(
                "mediapipe", tmp_path / "mediapipe" / "__init__.py",
                submodule_search_locations=[str(tmp_path / "mediapipe")],
            )  # fmt: skip
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", _empty_mediapipe)
    with pytest.raises(PoseUnavailable, match=r"pose_detection\.tflite.*missing.*0\.10\.30.*pip install"):
        model_files()


def test_a_person_small_in_a_wide_frame_is_found_through_windows():
    """The letterbox shrinks a person in a 4:1 frame below what the detector sees; a square window
    along the long side gives them back their pixels."""
    from exercise_rec.data import read_clip
    from exercise_rec.pose.blazepose import Roi

    frame = read_clip(Path(__file__).resolve().parents[2] / "samples" / "squat.mp4", 1)[0].numpy()
    canvas = np.full((240, 1280, 3), 90, np.uint8)
    canvas[:, 40:360] = frame
    model = BlazePose(1)
    assert model._detect_in(canvas, Roi(640, 120, 1280, 0.0)) is None  # the whole frame letterboxed: nobody
    roi = model.detect(canvas)
    assert roi is not None and 40 < roi.cx < 360  # found, and mapped back to where they stand
    pose, _ = model.landmarks(canvas, roi)
    assert pose.presence > 0.5
