"""Keypoints per frame for a clip or a whole video, cached per video.

Why a cache keyed by the file's content: the app, the predict CLI, batch runs and the pose stream
all ask for the same video's keypoints, and the estimator (~12 ms a frame on 2 cores) is the slow
part; a renamed or copied file hits the cache, an edited one misses it. The key also holds the
estimator's weights digest, this library's version and the sampling settings.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from exercise_rec import __version__
from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.video import VideoInfo, probe, read_windows
from exercise_rec.errors import ConfigError
from exercise_rec.io import atomic_path, cache_root
from exercise_rec.pose.blazepose import MIN_PRESENCE, NUM_KEYPOINTS, PIPELINE_REVISION, BlazePose
from exercise_rec.pose.keypoints import LIMB_KEYPOINTS
from exercise_rec.pose.model_files import model_files

VIDEO_SHORT_SIDE = 360  # frames are decoded at this short side for the estimator (its crop is 256 px)
PROGRESS_FROM_FRAMES = 300  # videos with more analysed frames than this show a progress bar
MIN_VISIBILITY = 0.5  # a keypoint counts as visible from this visibility score on
MIN_LIMBS_IN_VIEW = 6  # of the 12 limb keypoints, for a frame to show a (whole enough) person
ESTIMATOR_S_PER_FRAME = 0.2  # generous per-frame allowance added to the decode budget of a video


@dataclass(frozen=True)
class PoseTrack:
    """Keypoints [T, 33, 3] (x, y in pixels of the original frame, visibility in [0, 1]) and the
    estimator's person-presence score [T]; frames without a person have presence 0 and all-zero
    keypoints. ``frame_indices``: which frames of the video (None for a clip given as frames)."""

    keypoints: np.ndarray
    presence: np.ndarray
    frame_size: tuple[int, int]  # (height, width) of the original frames
    frame_indices: np.ndarray | None = None
    fps: float | None = None

    @property
    def found(self) -> np.ndarray:
        """Bool [T]: frames where the estimator is confident a person is there, with at least
        ``MIN_LIMBS_IN_VIEW`` of the 12 limb keypoints visible inside the frame (the models were
        trained on whole bodies; a face close-up gives them nothing to judge; docs/verdicts.md)."""
        limbs = self.keypoints[:, LIMB_KEYPOINTS]
        height, width = self.frame_size
        in_view = (
            (limbs[..., 2] >= MIN_VISIBILITY)
            & (limbs[..., 0] >= 0) & (limbs[..., 0] < width) & (limbs[..., 1] >= 0) & (limbs[..., 1] < height)
        )  # fmt: skip
        return (self.presence >= MIN_PRESENCE) & (in_view.sum(axis=1) >= MIN_LIMBS_IN_VIEW)

    @property
    def person_fraction(self) -> float:
        """Share of the analysed frames that show a person (0 for an empty track)."""
        return float(self.found.mean()) if len(self.presence) else 0.0

    def boxes(self, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
        """Person boxes [T, 4] (x0, y0, x1, y1) around the visible keypoints; NaN where none."""
        visible = (self.keypoints[..., 2] >= min_visibility) & self.found[:, None]
        xy = np.where(visible[..., None], self.keypoints[..., :2], np.nan)
        boxes = np.full((len(xy), 4), np.nan, dtype=np.float32)
        rows = visible.any(axis=1)
        boxes[rows, :2] = np.nanmin(xy[rows], axis=1)
        boxes[rows, 2:] = np.nanmax(xy[rows], axis=1)
        return boxes

    def save(self, path: str | PathLike[str]) -> None:
        arrays = {"keypoints": self.keypoints, "presence": self.presence, "frame_size": np.asarray(self.frame_size)}
        if self.frame_indices is not None:
            arrays["frame_indices"] = self.frame_indices
        if self.fps is not None:
            arrays["fps"] = np.float64(self.fps)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> PoseTrack:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                keypoints=data["keypoints"],
                presence=data["presence"],
                frame_size=(int(data["frame_size"][0]), int(data["frame_size"][1])),
                frame_indices=data["frame_indices"] if "frame_indices" in data else None,
                fps=float(data["fps"]) if "fps" in data else None,
            )


class PoseEstimator:
    """The project's one pose estimator (BlazePose full, see :mod:`exercise_rec.pose.blazepose`).

    Construction is cheap and checks that the weights are installed (:class:`PoseUnavailable`
    otherwise); the models compile on first use and are shared by every estimator in the process.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.files = model_files()
        self.threads = threads or torch.get_num_threads()
        self._model = BlazePose(self.threads)

    @cached_property
    def version(self) -> str:
        """Identifies the estimator's output: weights digest and this library's version."""
        return f"blazepose-full-{self.files.digest}-{PIPELINE_REVISION}-{__version__}"

    def frames(self, frames: np.ndarray | torch.Tensor, *, scale: float = 1.0) -> PoseTrack:
        """Poses of consecutive RGB uint8 frames [T, H, W, 3] (a clip's frames count as consecutive:
        the crop follows the person and the detector reruns whenever it is lost). ``scale``: the
        original frames' size over these frames' size, so keypoints come out in original pixels."""
        array = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
        height, width = array.shape[1:3]
        return self._collect(iter(array), len(array), scale, (round(height * scale), round(width * scale)))

    def video(
        self,
        path: str | PathLike[str],
        *,
        every: int = 1,
        limits: DecodeLimits = DEFAULT_LIMITS,
        info: VideoInfo | None = None,
        use_cache: bool = True,
        progress: bool = True,
    ) -> PoseTrack:
        """Poses of every ``every``-th frame of a video, in one streaming pass (memory does not grow
        with the video's length), from the cache when this file was analysed before."""
        if every < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        info = info or probe(path, limits=limits)
        cache_file = self._cache_file(path, every)
        if use_cache and cache_file.is_file():
            return PoseTrack.load(cache_file)
        indices = np.arange(0, info.frames, every)
        known = min(info.width, info.height) > 0  # some streams' headers give no frame size
        short = min(VIDEO_SHORT_SIDE, info.width, info.height) if known else VIDEO_SHORT_SIDE
        # The budget bounds the file's decoding; the estimator's own time is not the file's fault.
        budget = replace(limits, budget_s=limits.budget_s + ESTIMATOR_S_PER_FRAME * len(indices))
        clips = read_windows(path, [(i, i + 1) for i in indices], 1, short, info=info, limits=budget)
        bar = tqdm(total=len(indices), desc=f"pose {Path(path).name}", unit="frame",
                   disable=not progress or len(indices) <= PROGRESS_FROM_FRAMES)  # fmt: skip
        with bar:
            frames = _counted((clip[0].numpy() for clip in clips), bar)
            first = next(frames)
            scale = info.height / first.shape[0] if known else 1.0
            size = (info.height, info.width) if known else first.shape[:2]
            track = self._collect(itertools.chain([first], frames), len(indices), scale, size)
        track = replace(track, frame_indices=indices, fps=info.fps)
        if use_cache:
            track.save(cache_file)
        return track

    def _collect(self, frames: Iterator[np.ndarray], total: int, scale: float, size: tuple[int, int]) -> PoseTrack:
        keypoints = np.zeros((total, NUM_KEYPOINTS, 3), dtype=np.float32)
        presence = np.zeros(total, dtype=np.float32)
        for t, pose in enumerate(self._model.track(frames)):
            if pose is not None:
                keypoints[t] = pose.keypoints
                keypoints[t, :, :2] *= scale
                presence[t] = pose.presence
        return PoseTrack(keypoints, presence, size)

    def _cache_file(self, path: str | PathLike[str], every: int) -> Path:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        key = hashlib.sha256(f"{digest.hexdigest()}|{self.version}|{every}|{VIDEO_SHORT_SIDE}".encode())
        return cache_root() / "pose" / f"{key.hexdigest()[:32]}.npz"


def _counted(frames: Iterator[np.ndarray], bar: tqdm) -> Iterator[np.ndarray]:
    """``frames``, ticking ``bar`` once per frame (``tqdm.update`` returns a bool, so it cannot be
    chained into an expression: that once fed ``True`` to the estimator as a frame)."""
    for frame in frames:
        bar.update()
        yield frame
