"""What the trainer tests share: the tiny run's sizes, its config and readers for its outputs.

Everything runs on CPU with a few-parameter model (TinyNet, registered by the ``tiny_arch`` fixture),
3 classes x 4 clips of 96x72 video, 4-frame 32x32 inputs.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from exercise_rec.data.synthetic import SynthConfig
from exercise_rec.train.config import TrainConfig

CLASSES = ["squat", "jumping_jack", "no_exercise"]
SORTED_CLASSES = tuple(sorted(CLASSES))  # the dataset orders classes by folder name
PER_CLASS = 4  # -> 2 train, 1 val, 1 test clip per class (generator's split_counts)
CLIP_LEN, SIZE, BATCH = 4, 32, 2
TRAIN_BATCHES = (2 * len(CLASSES)) // BATCH  # 6 train clips, drop_last -> 3 steps per epoch
SYNTH = SynthConfig(width=96, height=72, duration=1.0, vary_resolution=False)
MODEL = "_test_trainer_tiny"


def train_config(data: Path, out: Path, model: str, **overrides) -> TrainConfig:
    values = {"data": data, "model": model, "epochs": 2, "batch_size": BATCH, "num_workers": 0,
              "clip_len": CLIP_LEN, "size": SIZE, "out": out}
    return TrainConfig(**{**values, **overrides})


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def lightning_ckpt(path: Path) -> dict:
    """Lightning's resume file, read the way ``--resume`` reads it: weights-only (plain data)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def train_steps(rows: list[dict[str, str]]) -> list[tuple[int, int]]:
    """(epoch, step) of every per-step training-loss row of a Lightning CSV log."""
    return [(int(r["epoch"]), int(r["step"])) for r in rows if r.get("train_loss_step")]
