"""The one loader of many videos: hashing, decoding and the person check run in DataLoader workers.

Why workers do the person check too: on a CPU the pose estimator costs about as much as decoding, and
both are per-video work that parallelises; the main process then only transforms the clips and runs
the model on whole batches. Memory stays bounded whatever the folder size: ``prefetch_factor=1``, so
each worker holds at most one batch (``batch_size`` videos' clips) ahead of the model.

A worker never raises for a bad file: it returns a :class:`Decoded` with ``error`` set, so one
broken video costs its own record and nothing else. Predict and evaluate both read through here.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import multiprocessing.context
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from exercise_rec.batch.sources import VideoSource
from exercise_rec.data.limits import DecodeLimits
from exercise_rec.data.video import AtMost, VideoError, read_clip
from exercise_rec.errors import ExerciseRecError
from exercise_rec.pose import PoseEstimator, PoseTrack

_HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content (how a resumed run recognises a video it has already done)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class DecodeSpec:
    """What a worker does with each video; :meth:`of` copies a Predictor's decode settings so that a
    batch feeds the model exactly as ``Predictor.predict`` does.

    ``views`` > 1: that many clips per video, sampled at random with seeds 0..views-1 (evaluate's
    test-time views); ``hashing``: compute each file's SHA-256; ``recorded``: (video name, content
    hash) pairs already in the output (-> whether that record is a result), not decoded again;
    ``keep_files``: keep an archive member's temporary copy for the caller (a timeline re-reads it).
    """

    clip_len: int
    size: int | AtMost
    limits: DecodeLimits
    person_check: bool
    views: int = 1
    hashing: bool = False
    recorded: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    keep_files: bool = False

    @classmethod
    def of(cls, predictor: Any, **kwargs: Any) -> DecodeSpec:
        """The decode settings of a ``Predictor`` (clip length, frame size, limits, person check)."""
        return cls(predictor.meta.clip_len, predictor.decode_size, predictor.limits, predictor.pose is not None,
                   **kwargs)  # fmt: skip

    @property
    def sampling(self) -> Literal["uniform", "random"]:
        return "uniform" if self.views == 1 else "random"


@dataclass
class Decoded:
    """One video as a worker leaves it: its clips and their person-check tracks, or why it failed.

    ``recorded`` is set (True: a result, False: an error) when the output already holds this file's
    record and it was not decoded again. ``local``: the file decoded (a temporary copy for an archive
    member, deleted by :meth:`release`). ``decode_ms``: hashing, decoding and person check.
    """

    source: VideoSource
    sha256: str | None = None
    clips: tuple[torch.Tensor, ...] = ()
    tracks: tuple[PoseTrack | None, ...] = ()
    error: str | None = None
    recorded: bool | None = None
    decode_ms: float = 0.0
    local: Path | None = None
    temporary: bool = False

    def release(self) -> None:
        """Delete an archive member's temporary copy (no-op for a plain file)."""
        if self.temporary and self.local is not None:
            self.local.unlink(missing_ok=True)
            self.temporary = False


class VideoDataset(Dataset[Decoded]):
    """Sources decoded per :class:`DecodeSpec`, one :class:`Decoded` each (never raising for a bad file)."""

    def __init__(self, sources: Sequence[VideoSource], spec: DecodeSpec) -> None:
        self.sources, self.spec = list(sources), spec
        self._estimator: PoseEstimator | None = None

    def __len__(self) -> int:
        return len(self.sources)

    def estimator(self) -> PoseEstimator:
        """This process's pose estimator: one thread in a worker (the workers fill the cores)."""
        if self._estimator is None:
            self._estimator = PoseEstimator(threads=1 if get_worker_info() is not None else None)
        return self._estimator

    def __getitem__(self, index: int) -> Decoded:
        started = time.perf_counter()
        item = Decoded(self.sources[index])
        try:
            item.local, item.temporary = item.source.local_copy()
            if not item.local.is_file():
                raise VideoError(item.local, "file not found" if not item.local.exists() else "not a regular file")
            if self.spec.hashing:
                item.sha256 = file_sha256(item.local)
                item.recorded = self.spec.recorded.get((item.source.name, item.sha256))
            if item.recorded is None:
                item.clips = tuple(self._clip(item.source, item.local, k) for k in range(self.spec.views))
                item.tracks = tuple(self.estimator().frames(c) if self.spec.person_check else None for c in item.clips)
        except (ExerciseRecError, OSError) as err:
            item.error = getattr(err, "reason", None) or str(err)
        if item.error is not None or item.recorded is not None or not self.spec.keep_files:
            item.release()
        item.decode_ms = (time.perf_counter() - started) * 1e3
        return item

    def _clip(self, source: VideoSource, path: Path, view: int) -> torch.Tensor:
        """What ``Predictor.decode`` reads (evaluate's views: seeded random sampling)."""
        spec = self.spec
        seed = view if spec.sampling == "random" else None
        return read_clip(path, spec.clip_len, spec.sampling, spec.size, source.start, seed, stop=source.stop,
                         limits=spec.limits)  # fmt: skip


def _init_worker(_: int) -> None:
    """One thread per worker for torch and OpenCV: the workers already occupy the cores."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process, not from this one: a process that has run OpenCV,
    OpenVINO or the synthetic renderer holds thread pools a forked child deadlocks on (seen: a worker
    hung for 10 minutes after the test suite rendered videos). The server imports this module once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def make_loader(sources: Sequence[VideoSource], spec: DecodeSpec, workers: int, batch_size: int) -> DataLoader:
    """Batches (lists) of :class:`Decoded`, in source order, decoded by ``workers`` processes (0: here).

    Workers decode with one FFmpeg thread each; at most one batch per worker is in flight. A
    DataLoader gives each batch to one worker, so a batch never holds more than its share of the
    videos (4 long files at batch size 4 would all be decoded by one worker while the other idled)."""
    if workers == 0:
        return DataLoader(VideoDataset(sources, spec), batch_size=batch_size, collate_fn=list)
    spec = replace(spec, limits=replace(spec.limits, threads=1))
    batch_size = max(1, min(batch_size, math.ceil(len(sources) / workers)))
    return DataLoader(
        VideoDataset(sources, spec), batch_size=batch_size, collate_fn=list, num_workers=workers,
        prefetch_factor=1, worker_init_fn=_init_worker, multiprocessing_context=_worker_context(),
    )  # fmt: skip


def default_workers() -> int:
    """Decoding workers by default: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
