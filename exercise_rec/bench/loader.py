"""Section 3: augmented training clips per second from the data loader, against the training step.

The loader is ``ExerciseVideoDataModule.train_dataloader()`` exactly as the trainer builds it
(default workers, 128x128, random temporal sampling and augmentation) over a small synthetic
dataset; one run is one epoch. The peer is what one CPU training step of the shipped model
consumes (fp32, channels_last_3d as the trainer runs on CPU): a ratio above 1 means the loader
keeps up with training on this machine.
"""

from __future__ import annotations

import logging

import torch

from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.media import SYNTH_PER_CLASS, SYNTH_SECONDS, synthetic_dataset
from exercise_rec.bench.report import Row, Section
from exercise_rec.bench.timing import measure
from exercise_rec.bench.train_step import SHIPPED, StepVariant, train_step_stats
from exercise_rec.data import ExerciseVideoDataModule

log = logging.getLogger(__name__)

SIZE = 128
CLIP_LEN = 16
BATCH = 8  # the trainer's default batch size
CPU_STEP = StepVariant("fp32, channels_last_3d", channels_last=True)


def loader_row(cfg: BenchConfig, batch: int) -> Row:
    """Clips/s of the trainer's train loader over the synthetic dataset; one timed run is one epoch
    (workers persist between epochs, as in training)."""
    root = synthetic_dataset(cfg.data_dir, cfg.synth_classes)
    module = ExerciseVideoDataModule(root, clip_len=CLIP_LEN, size=SIZE, batch_size=batch, seed=0)
    loader = module.train_dataloader()
    clips = len(loader) * batch if loader.drop_last else len(module.train_dataset)
    log.info("loader: %d clips per epoch, batch %d, %d workers", clips, batch, module.num_workers)

    def epoch() -> None:
        for _ in loader:
            pass

    workers = f"{module.num_workers} worker{'s' * (module.num_workers != 1)}"
    name = f"train loader, {SIZE}x{SIZE}, batch {batch}, {workers} (default)"
    return Row.rate(name, measure(epoch, cfg.repeats, cfg.warmup), clips)


def dataset_note(cfg: BenchConfig) -> str:
    return (f"loader: synthetic train split of {cfg.synth_classes} classes x {SYNTH_PER_CLASS} videos "
            f"(~{SYNTH_SECONDS:g} s, about 320x240), decoded at short side {SIZE}, augmented")


def run(cfg: BenchConfig) -> Section:
    torch.set_num_threads(cfg.threads)
    log.info("loader: CPU training step (peer)")
    step_stats = train_step_stats(SHIPPED, CPU_STEP, BATCH, (CLIP_LEN, SIZE, SIZE), torch.device("cpu"),
                                  cfg.repeats, cfg.warmup)
    name = f"training step on CPU, mobilenet_v2_3d standard w0.5, batch {BATCH}, {CPU_STEP.label}"
    step = Row.rate(name, step_stats, BATCH, peer=True)
    loader = loader_row(cfg, BATCH)
    rows = (loader.with_ratios(loader.per(step, "the training step's clips/s")), step)
    return Section("loader", rows, (), (dataset_note(cfg),))
