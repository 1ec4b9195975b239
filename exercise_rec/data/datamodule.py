"""The Lightning DataModule over :class:`ExerciseVideoDataset`.

Why a module of its own: only training needs Lightning, and ``exercise_rec.data`` imports this
lazily, so decoding and prediction do not load it (measured: importing ``exercise_rec.data`` and
``exercise_rec.inference`` went from 4.1 s / 813 MB to 2.9 s / 710 MB).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader

from exercise_rec.data.dataset import (
    SPLITS,
    DatasetError,
    ExerciseVideoDataset,
    LongLayoutConfig,
    Split,
    SplitConfig,
)
from exercise_rec.data.framing import FramingConfig
from exercise_rec.data.transforms import AugmentConfig, ClipTransform, build_transforms
from exercise_rec.errors import ConfigError
from exercise_rec.pose.heatmaps import HeatmapConfig, PoseAugmentConfig

__all__ = ["ExerciseVideoDataModule", "default_num_workers"]

log = logging.getLogger(__name__)


def default_num_workers(debug: bool = False) -> int:
    """Cores available to this process minus one for the main process (0 in debug: simple tracebacks)."""
    if debug:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cores - 1)


class ExerciseVideoDataModule(pl.LightningDataModule):
    """Train/val/test loaders over :class:`ExerciseVideoDataset` with ``build_transforms``.

    ``train_dataset``/``val_dataset``/``test_dataset`` yield raw uint8 clips (what the debug videos
    show as "before"); the loaders apply ``train_transform``/``eval_transform`` through
    :meth:`ExerciseVideoDataset.with_transform`. Clips are decoded at short side ``max(size)``.
    Workers are persistent when there are any; memory is pinned only when CUDA is available.
    In a distributed run, each process evaluates its own share of the val/test clips and no clip
    twice (Lightning's own sampler pads the shares to equal length by repeating clips, which
    counts them twice in the metrics); training shares stay Lightning's.
    ``sources=True``: loader batches are ``(clips, labels, sources)`` (the files read, see
    :attr:`ClipItem.source`); ``warn_each_skip`` and ``framing`` as in :class:`ExerciseVideoDataset`.
    ``heatmaps``: the loaders yield pose heatmap volumes ``[B, K, T, size, size]`` instead of clips
    (a pose model's input; same splits, skips and batches): the training split with jittered
    frames and ``pose_augment``, the others sampled uniformly (see :class:`ExerciseVideoDataset`);
    ``clip_len``, ``size``, ``augment`` and ``framing`` then do not apply and the clip transforms
    are None.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        clip_len: int = 16,
        size: int | tuple[int, int] = 128,
        batch_size: int = 8,
        num_workers: int | None = None,
        seed: int = 0,
        debug: bool = False,
        augment: AugmentConfig | None = None,
        splits: SplitConfig = SplitConfig(),
        long_layout: LongLayoutConfig = LongLayoutConfig(),
        sources: bool = False,
        warn_each_skip: bool = True,
        framing: FramingConfig | None = None,
        heatmaps: HeatmapConfig | None = None,
        pose_augment: PoseAugmentConfig | None = PoseAugmentConfig(),
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.root = Path(root)
        self.clip_len = clip_len
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.batch_size = batch_size
        self.num_workers = default_num_workers(debug) if num_workers is None else num_workers
        self.seed = seed
        self.debug = debug
        self.splits = splits
        self.long_layout = long_layout
        self.sources = sources
        self.warn_each_skip = warn_each_skip
        self.framing = None if heatmaps is not None else framing
        self.heatmaps = heatmaps
        self.pose_augment = pose_augment
        self.train_transform: ClipTransform | None = None
        self.eval_transform: ClipTransform | None = None
        if heatmaps is None:
            self.train_transform = build_transforms(True, self.size, augment, framing)
            self.eval_transform = build_transforms(False, self.size, augment, framing)
        self._datasets: dict[str, ExerciseVideoDataset] = {}

    def _dataset(self, split: Split) -> ExerciseVideoDataset:
        if split not in self._datasets:
            self._datasets[split] = ExerciseVideoDataset(
                self.root,
                split,
                self.clip_len,
                transform=None,
                seed=self.seed,
                decode_size=max(self.size),
                splits=self.splits,
                long_layout=self.long_layout,
                warn_each_skip=self.warn_each_skip,
                framing=self.framing,
                input_size=self.size,
                heatmaps=self.heatmaps,
                pose_augment=self.pose_augment,
            )
        return self._datasets[split]

    def setup(self, stage: str | None = None) -> None:
        """Builds the datasets a stage needs (once; Lightning may call this again)."""
        wanted: tuple[Split, ...] = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
        }.get(stage or "", SPLITS)
        for split in wanted:
            self._dataset(split)

    @property
    def train_dataset(self) -> ExerciseVideoDataset:
        return self._dataset("train")

    @property
    def val_dataset(self) -> ExerciseVideoDataset:
        return self._dataset("val")

    @property
    def test_dataset(self) -> ExerciseVideoDataset:
        return self._dataset("test")

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train_dataset.class_names

    @property
    def video_files(self) -> list[Path]:
        """Every video file of the splits built so far, each once (e.g. to warm the pose cache)."""
        return list(dict.fromkeys(path for ds in self._datasets.values() for path in ds.files))

    @property
    def skipped_files(self) -> dict[str, str]:
        """Unreadable files met so far in every split built: path -> reason."""
        return {path: reason for ds in self._datasets.values() for path, reason in ds.skipped.items()}

    def _loader(self, dataset: ExerciseVideoDataset, train: bool) -> DataLoader:
        transform = self.train_transform if train else self.eval_transform
        view = dataset.with_transform(transform, sources=self.sources)
        return DataLoader(
            view,
            batch_size=self.batch_size,
            shuffle=train,
            sampler=None if train else _eval_sampler(view),
            drop_last=train and len(dataset) > self.batch_size,  # a batch of 1 breaks BatchNorm
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed) if train else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, train=False)


def _eval_sampler(dataset: ExerciseVideoDataset) -> UnrepeatedDistributedSampler | None:
    """This process's share of an evaluation split in a distributed run (None otherwise): every
    clip once. Each process needs at least one clip, since DDP broadcasts buffers at the first
    evaluation forward pass and would wait for a process that has no batch."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    processes = torch.distributed.get_world_size()
    if processes == 1:
        return None
    if len(dataset) < processes:
        raise DatasetError(dataset.root, f"split {dataset.split!r} has {len(dataset)} clip(s), fewer than the "
                           f"{processes} processes of this run; use fewer devices or add clips")
    return UnrepeatedDistributedSampler(dataset, num_replicas=processes, rank=torch.distributed.get_rank(),
                                        shuffle=False)
