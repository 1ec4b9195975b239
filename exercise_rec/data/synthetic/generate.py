"""Rendering whole videos and writing the two dataset layouts, in parallel and deterministically.

Determinism: every video has its own generator seeded from (seed, class, index) (long recordings:
(seed, "long", index)), so a video does not depend on which worker made it or on how many there
were; splits are drawn from (seed) alone.

Layouts written:
- clips: ``ROOT/<class>/<class>_<index>.mp4`` + ``.npz`` (``mask`` bool [T,H,W], ``joints`` float32
  [T,J,2] pixels, ``fps``, ``joint_names``) and ``ROOT/{train,val,test}.txt``;
- long (``--long``): ``ROOT/videos/<id>.mp4`` + ``.npz``, ``ROOT/labels/<id>.csv`` (``frame,label``, one
  row per frame) and ``ROOT/split.csv`` (``id,split``).
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from exercise_rec.data.dataset import SPLITS, SplitConfig
from exercise_rec.data.synthetic.figure import JOINT_NAMES
from exercise_rec.data.synthetic.motions import CLASS_NAMES
from exercise_rec.data.synthetic.scene import (
    SynthConfig,
    SynthError,
    SynthVideo,
    render_clip,
    render_recording,
    video_rng,
)
from exercise_rec.data.video import write_video
from exercise_rec.io import atomic_path

log = logging.getLogger(__name__)

_LONG_KEY = len(CLASS_NAMES)  # seed-stream id for long recordings, distinct from every class index
_SPLIT_KEY = len(CLASS_NAMES) + 1


def save_video(video: SynthVideo, mp4: Path, crf: int) -> None:
    """Write the mp4 (H.264) and its ``.npz`` ground truth side by side, each atomically."""
    write_video(mp4, video.frames, video.fps, crf=crf, preset="veryfast")
    with atomic_path(mp4.with_suffix(".npz")) as tmp:
        with open(tmp, "wb") as handle:
            arrays = {"mask": video.mask, "joints": video.joints, "fps": np.float32(video.fps)}
            np.savez_compressed(handle, **arrays, joint_names=np.array(JOINT_NAMES))


def _clip_job(args: tuple[Path, str, int, int, SynthConfig]) -> str:
    root, class_name, index, seed, config = args
    rng = video_rng(seed, CLASS_NAMES.index(class_name), index)
    video = render_clip(class_name, rng, config)
    relative = f"{class_name}/{class_name}_{index:04d}.mp4"
    save_video(video, root / relative, crf=int(rng.integers(18, 31)))
    return relative


def _long_job(args: tuple[Path, int, int, SynthConfig]) -> str:
    root, index, seed, config = args
    rng = video_rng(seed, _LONG_KEY, index)
    video = render_recording(rng, config)
    name = f"rec_{index:04d}"
    save_video(video, root / "videos" / f"{name}.mp4", crf=int(rng.integers(18, 31)))
    with atomic_path(root / "labels" / f"{name}.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["frame", "label"])
            writer.writerows(enumerate(video.labels))
    return name


def split_counts(n: int, config: SynthConfig) -> tuple[int, int, int]:
    """(train, val, test) sizes for a class of ``n`` videos: the datasets' own rule (:class:`SplitConfig`)."""
    return SplitConfig(config.val_fraction, config.test_fraction).counts(n)


def assign_splits(items: Sequence[str], seed: int, config: SynthConfig) -> dict[str, list[str]]:
    """Deterministic shuffle of one group's items into train/val/test by ``split_counts``."""
    order = [items[i] for i in np.random.default_rng([seed, _SPLIT_KEY]).permutation(len(items))]
    n_train, n_val, _ = split_counts(len(items), config)
    return dict(zip(SPLITS, (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])))


def prepare_output_dir(root: str | os.PathLike[str]) -> Path:
    """Create ``root`` (parents too) or raise SynthError naming it: fail before any rendering starts."""
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise SynthError(f"{path}: output path exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SynthError(f"{path}: cannot create output directory ({err.strerror or err})") from err
    return path


def _run(jobs: list, fn: Callable, workers: int | None, progress: Callable[[], None] | None) -> list[str]:
    """Run jobs in worker processes (fork where the platform has it: no re-import per worker)."""
    workers = max(1, min(workers or (os.cpu_count() or 1), len(jobs) or 1))
    done: list[str] = []
    if workers == 1:
        results: Iterable[str] = map(fn, jobs)
        for name in results:
            done.append(name)
            if progress:
                progress()
        return done
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for name in pool.map(fn, jobs, chunksize=1):
            done.append(name)
            if progress:
                progress()
    return done


def generate_dataset(
    root: str | os.PathLike[str],
    per_class: int = 30,
    seed: int = 0,
    config: SynthConfig | None = None,
    classes: Sequence[str] = CLASS_NAMES,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> Path:
    """Write ``per_class`` clips of each class under ``root`` plus stratified split files."""
    config = config or SynthConfig()
    if per_class < 1:
        raise SynthError(f"per_class must be at least 1, got {per_class}")
    unknown = sorted(set(classes) - set(CLASS_NAMES))
    if unknown:
        raise SynthError(f"unknown classes {unknown}; valid: {', '.join(CLASS_NAMES)}")
    path = prepare_output_dir(root)
    jobs = [(path, name, i, seed, config) for name in classes for i in range(per_class)]
    written = _run(jobs, _clip_job, workers, progress)
    splits: dict[str, list[str]] = {name: [] for name in SPLITS}
    for name in classes:
        for split, items in assign_splits([w for w in written if w.startswith(f"{name}/")], seed, config).items():
            splits[split].extend(items)
    for split, items in splits.items():
        with atomic_path(path / f"{split}.txt") as tmp:
            tmp.write_text("".join(f"{item}\n" for item in sorted(items)))
    log.info("wrote %d clips of %d classes to %s", len(written), len(classes), path)
    return path


def generate_long(
    root: str | os.PathLike[str],
    count: int = 6,
    seed: int = 0,
    config: SynthConfig | None = None,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> Path:
    """Write ``count`` untrimmed recordings (``config.duration`` seconds each) in the long layout."""
    config = config or replace(SynthConfig(), duration=40.0)
    if count < 1:
        raise SynthError(f"count must be at least 1, got {count}")
    path = prepare_output_dir(root)
    names = _run([(path, i, seed, config) for i in range(count)], _long_job, workers, progress)
    with atomic_path(path / "split.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "split"])
            for split, items in assign_splits(names, seed, config).items():
                writer.writerows((name, split) for name in sorted(items))
    log.info("wrote %d recordings to %s", len(names), path)
    return path
