"""Datasets of exercise videos in the two layouts users have (the DataModule is in ``datamodule``).

Layouts (chosen by what the folder holds):
  * folder per class: ``ROOT/<class>/*.{mp4,avi,mov,mkv,webm}``; optional ``ROOT/{train,val,test}.txt``
    (one path relative to ROOT per line), otherwise a deterministic stratified split by ``seed``;
  * long recordings: ``ROOT/videos/<id>.<ext>`` with per-frame labels ``ROOT/labels/<id>.csv`` and
    optional ``ROOT/split.csv`` (``id,split``). Clips are cut *inside* runs of equal labels, so a
    clip never straddles a label change and takes the label of all its frames; runs shorter than
    ``LongLayoutConfig.min_frames`` are skipped. The background label is a class like any other.

Why unreadable files are skipped, not fatal: one corrupt phone upload must not end an epoch. The
first failure is logged (file and reason; at DEBUG when the trainer reports them all in one line),
the file is flagged in a shared-memory tensor so every DataLoader worker and the main process skip
it from then on, and :attr:`ExerciseVideoDataset.skipped` lists them for the trainer's report.

Pose volumes (``heatmaps=HeatmapConfig(...)``, the pose stream's input) go through the same items,
splits, labels and skips: only what an item is read as differs. An item's keypoints are the pose
estimator's track of its video (every 2nd frame, cached on disk: :mod:`exercise_rec.pose.cache`),
cut to ``[start, stop)`` for a long recording's clip, never the generator's joints, so training
sees the estimator's noise as prediction does.
"""

from __future__ import annotations

import copy
import csv
import logging
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from exercise_rec.data.framing import CropBox, FramingConfig, decode_short_side, person_crop, scale_box
from exercise_rec.data.people import PersonBoxes
from exercise_rec.data.video import (
    DEFAULT_LIMITS,
    Sampling,
    VideoError,
    read_clip,
)
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.pose.heatmaps import HeatmapConfig, PoseAugmentConfig, track_volume, track_window

if TYPE_CHECKING:  # exercise_rec.pose.track imports this package
    from exercise_rec.pose.track import PoseTrack

__all__ = [
    "VIDEO_SUFFIXES",
    "ClipItem",
    "DatasetError",
    "ExerciseVideoDataset",
    "LongLayoutConfig",
    "SplitConfig",
]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
SPLITS = ("train", "val", "test")
Split = Literal["train", "val", "test"]
ClipFn = Callable[[torch.Tensor], torch.Tensor]
# A training set is the user's own files, read thousands of times: no per-read header process (see
# DecodeLimits.isolated_header). Workers already fill the cores; more decoder threads only contend.
_DATASET_LIMITS = replace(DEFAULT_LIMITS, isolated_header=False)
_WORKER_LIMITS = replace(_DATASET_LIMITS, threads=1)


class DatasetError(ExerciseRecError, ValueError):
    """A dataset folder that cannot be used as asked; the message names the root and the problem."""

    def __init__(self, root: Path, problem: str) -> None:
        self.root = root
        super().__init__(f"{root}: {problem}")


@dataclass(frozen=True)
class SplitConfig:
    """Fractions for the split made when the folder has no split files (at least 1 val and 1 test
    video per class once a class has 3 or more, so small sets still validate every class)."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if not (0 <= self.val_fraction and 0 <= self.test_fraction and self.val_fraction + self.test_fraction < 1):
            raise ConfigError(f"need 0 <= val, test fractions and val + test < 1, got {self}")

    def counts(self, n: int) -> tuple[int, int, int]:
        """(train, val, test) sizes for a group of ``n``."""
        val, test = round(n * self.val_fraction), round(n * self.test_fraction)
        if n >= 3:
            val, test = max(val, 1), max(test, 1)
        elif n == 2:
            val, test = 1, 0
        else:
            val, test = 0, 0
        return n - val - test, val, test


@dataclass(frozen=True)
class LongLayoutConfig:
    """How to read per-frame label CSVs and cut clips from long recordings.

    ``frame_column``/``label_column`` are header names, or 0-based column numbers when
    ``header=False``. A clip spans ``window`` frames (``read_clip`` samples ``clip_len`` of them),
    windows step by ``stride`` inside each run of one label, the last one is aligned to the run's end,
    and runs shorter than ``window`` give one clip of the whole run if it has ``min_frames`` or more.
    """

    frame_column: str | int = "frame"
    label_column: str | int = "label"
    header: bool = True
    window: int = 64
    stride: int = 32
    min_frames: int = 8

    def __post_init__(self) -> None:
        if not (1 <= self.min_frames <= self.window and self.stride >= 1):
            raise ConfigError(f"need 1 <= min_frames <= window and stride >= 1, got {self}")
        if not self.header and not (isinstance(self.frame_column, int) and isinstance(self.label_column, int)):
            raise ConfigError("without a header, frame_column and label_column must be column numbers")


@dataclass(frozen=True)
class ClipItem:
    """One sample: a file, its class index and, for long recordings, the frame range [start, stop)."""

    path: Path
    label: int
    start: int | None = None
    stop: int | None = None

    @property
    def source(self) -> str:
        """The file, and the frame range for a window of a long recording (how errors name a sample)."""
        return str(self.path) if self.start is None else f"{self.path} frames {self.start}-{self.stop}"


def _stable_rng(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on (seed, key), not on which other classes/ids exist."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _assign(items: Sequence[str], seed: int, key: str, config: SplitConfig) -> dict[str, str]:
    """Deterministic item -> split for one group (a class, or all recordings)."""
    order = [items[i] for i in _stable_rng(seed, key).permutation(len(items))]
    n_train, n_val, _ = config.counts(len(order))
    return {item: SPLITS[0 if k < n_train else 1 if k < n_train + n_val else 2] for k, item in enumerate(order)}


def _videos_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
    )


# --------------------------------------------------------------------------------------------
# Layout readers: each returns (class_names, items for the split, files missing on disk)
# --------------------------------------------------------------------------------------------


def _scan_folder_layout(
    root: Path, split: Split | None, seed: int, config: SplitConfig
) -> tuple[tuple[str, ...], list[ClipItem], dict[Path, str]]:
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))
    if not class_dirs:
        raise DatasetError(root, f"no class folders (expected ROOT/<class>/*{{{','.join(VIDEO_SUFFIXES)}}})")
    videos = {d.name: _videos_in(d) for d in class_dirs}
    empty = [name for name, files in videos.items() if not files]
    if empty:
        raise DatasetError(root, f"class folder(s) without videos: {', '.join(empty)}")
    names = tuple(videos)
    index = {name: k for k, name in enumerate(names)}
    if split is None:
        return names, [ClipItem(p, index[n]) for n in names for p in videos[n]], {}

    split_files = {s: root / f"{s}.txt" for s in SPLITS}
    if not any(f.is_file() for f in split_files.values()):
        items = []
        for name in names:
            relative = [p.name for p in videos[name]]
            chosen = _assign(relative, seed, name, config)
            items += [ClipItem(root / name / r, index[name]) for r in relative if chosen[r] == split]
        return names, items, {}

    listing = split_files[split]
    if not listing.is_file():
        present = ", ".join(f.name for f in split_files.values() if f.is_file())
        raise DatasetError(root, f"has split files ({present}) but no {listing.name}")
    items, missing = [], {}
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        relative = line.strip()
        if not relative or relative.startswith("#"):
            continue
        class_name = Path(relative).parts[0]
        if class_name not in index or len(Path(relative).parts) < 2:
            raise DatasetError(root, f"{listing.name} line {number}: {relative!r} is not under a class folder")
        path = root / relative
        if not path.is_file():
            missing[path] = f"listed in {listing.name} but not found"
        items.append(ClipItem(path, index[class_name]))
    return names, items, missing


def _read_labels(path: Path, config: LongLayoutConfig) -> list[str | None]:
    """Per-frame labels from one CSV; frames without a row are None (never inside a clip)."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if config.header:
        if not rows:
            raise DatasetError(path.parent.parent, f"{path.name}: empty label file")
        head = [h.strip() for h in rows[0]]
        try:
            frame_col = head.index(config.frame_column) if isinstance(config.frame_column, str) else config.frame_column
            label_col = head.index(config.label_column) if isinstance(config.label_column, str) else config.label_column
        except ValueError:
            raise DatasetError(
                path.parent.parent,
                f"{path.name}: header {head} lacks {config.frame_column!r} or {config.label_column!r}",
            ) from None
        rows = rows[1:]
    else:
        frame_col, label_col = int(config.frame_column), int(config.label_column)
    labels: dict[int, str] = {}
    for number, row in enumerate(rows, 2 if config.header else 1):
        if not row:
            continue
        try:
            labels[int(row[frame_col])] = row[label_col].strip()
        except (ValueError, IndexError):
            reason = f"{path.name} line {number}: cannot read frame/label from {row}"
            raise DatasetError(path.parent.parent, reason) from None
    out: list[str | None] = [None] * (max(labels) + 1 if labels else 0)
    for frame, label in labels.items():
        if frame >= 0 and label:
            out[frame] = label
    return out


def _runs(labels: Sequence[str | None]) -> list[tuple[str, int, int]]:
    """(label, start, stop) for each maximal run of one label."""
    runs: list[tuple[str, int, int]] = []
    start = 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[start]:
            if labels[start] is not None:
                runs.append((labels[start], start, k))  # type: ignore[arg-type]
            start = k
    return runs


def _windows(start: int, stop: int, config: LongLayoutConfig) -> list[tuple[int, int]]:
    """Windows of ``config.window`` frames inside [start, stop), last one flush with ``stop``."""
    length = stop - start
    if length < config.min_frames:
        return []
    if length <= config.window:
        return [(start, stop)]
    starts = list(range(start, stop - config.window + 1, config.stride))
    if starts[-1] != stop - config.window:
        starts.append(stop - config.window)
    return [(s, s + config.window) for s in starts]


def _scan_long_layout(
    root: Path, split: Split | None, seed: int, splits: SplitConfig, config: LongLayoutConfig
) -> tuple[tuple[str, ...], list[ClipItem], dict[Path, str]]:
    videos = {p.stem: p for p in _videos_in(root / "videos")}
    label_files = {p.stem: p for p in sorted((root / "labels").glob("*.csv"))}
    for stem in sorted(set(label_files) ^ set(videos)):
        log.warning("%s: recording %r has a video or labels/%s.csv but not both; ignored", root, stem, stem)
    ids = sorted(set(videos) & set(label_files))
    if not ids:
        raise DatasetError(root, "no recording in videos/ has a matching labels/<id>.csv")
    labels = {i: _read_labels(label_files[i], config) for i in ids}
    names = tuple(sorted({label for per_frame in labels.values() for label in per_frame if label is not None}))
    if not names:
        raise DatasetError(root, "the label files contain no labels")
    index = {name: k for k, name in enumerate(names)}

    split_csv = root / "split.csv"
    if split is None:
        chosen = set(ids)
    elif split_csv.is_file():
        with open(split_csv, newline="") as handle:
            table = {row["id"].strip(): row["split"].strip() for row in csv.DictReader(handle)}
        unknown = sorted(set(table.values()) - set(SPLITS))
        if unknown:
            raise DatasetError(root, f"split.csv uses unknown split name(s) {unknown}; valid: {', '.join(SPLITS)}")
        chosen = {i for i in ids if table.get(i) == split}
    else:
        chosen = {i for i, s in _assign(ids, seed, "recordings", splits).items() if s == split}

    items = [
        ClipItem(videos[i], index[label], a, b)
        for i in ids
        if i in chosen
        for label, start, stop in _runs(labels[i])
        for a, b in _windows(start, stop, config)
    ]
    return names, items, {}


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


class ExerciseVideoDataset(Dataset):
    """``(clip, label_index)`` samples from a folder in either layout (see the module docstring).

    ``clip`` is ``transform(uint8 [T, H, W, 3])`` or, with ``transform=None``, the uint8 clip itself;
    a :meth:`with_transform` view with ``sources=True`` yields ``(clip, label_index, source)`` where
    ``source`` (:attr:`ClipItem.source`) names the file actually read (after skipping unreadable ones).
    ``sampling`` defaults to ``"random"`` (temporal jitter, seeded from torch's RNG so
    ``seed_everything`` and per-worker seeding make it reproducible) for the train split and
    ``"uniform"`` otherwise. ``decode_size`` is passed to :func:`read_clip` as ``size`` (an int
    resizes the short side while decoding, which saves time on HD videos).
    ``split=None`` takes every video.
    ``warn_each_skip=False`` logs unreadable files at DEBUG instead of WARNING, for an owner that
    reports :attr:`skipped` itself, once (the trainer).
    ``framing``: crop each clip around its person (boxes from :class:`PersonBoxes`) for a model
    input of ``input_size`` (H, W): the clip is decoded just large enough for the person to cover
    the input and the transform is called as ``transform(clip, person=crop)``.
    ``heatmaps``: items are pose heatmap volumes float32 ``[K, frames, size, size]`` instead of
    clips (``clip_len``, ``decode_size``, ``framing`` and ``input_size`` do not apply): the
    estimator's cached track of the item's video (:meth:`load_track`), ``heatmaps.frames`` of its
    frames sampled with jitter and ``pose_augment`` drawn once per clip when ``sampling`` is
    ``"random"`` (the train split), sampled uniformly without augmentation otherwise, as
    ``Predictor`` does; ``transform``, if any, is then called on the volume tensor.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Split | None = "train",
        clip_len: int = 16,
        transform: ClipFn | None = None,
        seed: int = 0,
        *,
        sampling: Sampling | None = None,
        decode_size: int | tuple[int, int] | None = None,
        splits: SplitConfig = SplitConfig(),
        long_layout: LongLayoutConfig = LongLayoutConfig(),
        warn_each_skip: bool = True,
        framing: FramingConfig | None = None,
        input_size: tuple[int, int] = (128, 128),
        heatmaps: HeatmapConfig | None = None,
        pose_augment: PoseAugmentConfig | None = PoseAugmentConfig(),
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(self.root, "dataset folder not found")
        if split is not None and split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS} or None, got {split!r}")
        if clip_len < 1:
            raise ConfigError(f"clip_len must be >= 1, got {clip_len}")
        self.split = split
        self.clip_len = clip_len
        self.transform = transform
        self.sampling: Sampling = sampling or ("random" if split == "train" else "uniform")
        self.decode_size = decode_size
        self.framing = framing
        self.input_size = input_size
        self._people = PersonBoxes(_DATASET_LIMITS)
        self.heatmaps = heatmaps
        self.pose_augment = pose_augment
        self._tracks: dict[Path, PoseTrack] = {}  # whole-video tracks read so far, in this process
        self.sources = False
        self._skip_level = logging.WARNING if warn_each_skip else logging.DEBUG
        self.is_long_layout = (self.root / "videos").is_dir() and (self.root / "labels").is_dir()
        if self.is_long_layout:
            names, items, missing = _scan_long_layout(self.root, split, seed, splits, long_layout)
        else:
            names, items, missing = _scan_folder_layout(self.root, split, seed, splits)
        if not items:
            raise DatasetError(
                self.root,
                f"split {split!r} has no clips (a class needs 3 or more videos before val and test get one; "
                f"or list clips in ROOT/{split}.txt)",
            )
        self.class_names: tuple[str, ...] = names
        self.items: tuple[ClipItem, ...] = tuple(items)
        self._files = tuple(dict.fromkeys([item.path for item in items] + list(missing)))
        self._file_index = {path: k for k, path in enumerate(self._files)}
        self._item_file = [self._file_index[item.path] for item in items]
        # Shared memory: flags set in a DataLoader worker are seen by the others and by the main process.
        self._failed = torch.zeros(len(self._files), dtype=torch.bool).share_memory_()
        self._reasons: dict[Path, str] = {}
        for path, reason in missing.items():
            self._mark_failed(path, reason)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> list[int]:
        """Class index of every item (for class weights, stratified samplers, reports)."""
        return [item.label for item in self.items]

    @property
    def files(self) -> tuple[Path, ...]:
        """Every video file the items read (each once), e.g. to warm the pose cache."""
        return self._files

    @property
    def skipped(self) -> dict[str, str]:
        """Unreadable files met so far, in any process: path -> reason."""
        out = {}
        for k in torch.nonzero(self._failed).flatten().tolist():
            path = self._files[k]
            out[str(path)] = self._reasons.get(path) or self._reason_now(path)
        return out

    def with_transform(self, transform: ClipFn | None, *, sources: bool = False) -> ExerciseVideoDataset:
        """The same items, skip flags and cache with another transform (e.g. raw clips for debug videos).

        ``sources=True``: samples also carry the source they were read from, so a training step can
        name the files of a bad batch.
        """
        view = copy.copy(self)  # shallow: items, flags and reasons stay shared
        view.transform = transform
        view.sources = sources
        return view

    def load_clip(self, index: int) -> torch.Tensor:
        """The uint8 clip [T, H, W, 3] of item ``index``; raises VideoError if its file is unreadable."""
        return self._load(index)[0]

    def _load(self, index: int) -> tuple[torch.Tensor, CropBox | None]:
        """Item ``index``'s clip and, when framing, its person crop in the clip's pixels."""
        item = self.items[index]
        seed = int(torch.randint(2**31 - 1, ())) if self.sampling == "random" else None
        limits = _DATASET_LIMITS if get_worker_info() is None else _WORKER_LIMITS
        size, crop = self.decode_size, None
        if self.framing is not None:
            boxes, frame_size = self._people(item.path, item.start, item.stop)
            crop = person_crop(boxes, self.input_size[0] / self.input_size[1], self.framing)
            size = decode_short_side(crop, frame_size, max(self.input_size))
        clip = read_clip(
            item.path,
            self.clip_len,
            self.sampling,
            size=size,
            start=item.start,
            seed=seed,
            stop=item.stop,
            limits=limits,
        )
        if crop is not None:
            crop = scale_box(crop, clip.shape[1] / frame_size[0], clip.shape[2] / frame_size[1])
        return clip, crop

    def load_track(self, index: int) -> PoseTrack:
        """The estimator's keypoints of item ``index``: its video's cached track (every 2nd frame),
        cut to the item's frames; raises VideoError if its file is unreadable."""
        from exercise_rec.pose.cache import video_track  # the pose cache's CLI imports this module

        item = self.items[index]
        if item.path not in self._tracks:
            limits = _DATASET_LIMITS if get_worker_info() is None else _WORKER_LIMITS
            self._tracks[item.path] = video_track(item.path, limits=limits)
        return track_window(self._tracks[item.path], item.start, item.stop)

    def load_volume(self, index: int) -> torch.Tensor:
        """Item ``index``'s pose heatmap volume float32 ``[K, T, size, size]`` (needs ``heatmaps``):
        jittered frames and one augmentation draw when sampling is random, seeded from torch's RNG."""
        if self.heatmaps is None:
            raise ConfigError("this dataset reads clips; pass heatmaps=HeatmapConfig(...) for pose volumes")
        track = self.load_track(index)
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, ()))) if self.sampling == "random" else None
        augment = self.pose_augment if rng is not None else None
        return torch.from_numpy(track_volume(track, self.heatmaps, rng=rng, augment=augment))

    def _sample(self, index: int) -> torch.Tensor:
        """What item ``index`` is read as: its transformed clip or pose volume."""
        if self.heatmaps is not None:
            volume = self.load_volume(index)
            return self.transform(volume) if self.transform is not None else volume
        clip, crop = self._load(index)
        if self.transform is not None:
            clip = self.transform(clip, person=crop) if self.framing is not None else self.transform(clip)
        return clip

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | tuple[torch.Tensor, int, str]:
        """Item ``index``, or when its file is unreadable the next readable item (wrapping around)."""
        n = len(self.items)
        for k in ((index + step) % n for step in range(n)):
            if self._failed[self._item_file[k]]:
                continue
            try:
                sample = self._sample(k)
            except VideoError as err:
                self._mark_failed(self.items[k].path, err.reason)
                continue
            item = self.items[k]
            return (sample, item.label, item.source) if self.sources else (sample, item.label)
        raise DatasetError(self.root, f"every video of split {self.split!r} is unreadable: {self.skipped}")

    def _mark_failed(self, path: Path, reason: str) -> None:
        k = self._file_index[path]
        self._reasons[path] = reason
        if not self._failed[k]:
            self._failed[k] = True
            log.log(self._skip_level, "%s: skipped, %s", path, reason)

    def _reason_now(self, path: Path) -> str:
        """A worker flagged ``path``; re-read it here to recover the reason (fails fast by design)."""
        try:
            read_clip(path, 1)
        except VideoError as err:
            return err.reason
        return "failed to decode in a DataLoader worker"
