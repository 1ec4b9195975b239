"""Lightning's resume checkpoints (``lightning/last.ckpt``): written atomically, read weights-only, checked.

Why our own CheckpointIO: Lightning's default writes through fsspec, which stages the file in the
system temp folder and moves it into place; across filesystems that move is a copy, so a kill
during it leaves a truncated ``last.ckpt`` and nothing to resume from. Reading goes through the
same weights-only reader as ``best.pt``, so ``--resume`` never unpickles code. Why a check before
``fit``: a checkpoint of another model or class list would otherwise fail deep inside Lightning
with a state-dict traceback, after the run's outputs were touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from exercise_rec.checkpoint import CheckpointError, read_checkpoint_dict
from exercise_rec.io import atomic_path

# ExerciseClassifier hyper-parameters that must match for the weights and optimizer state to fit.
_IDENTITY = ("model_name", "model_kwargs", "class_names")


class SafeCheckpointIO(TorchCheckpointIO):
    """``torch.save`` through :func:`atomic_path`; loading only weights-only, as ``CheckpointError``."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | PathLike[str], storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self, path: str | PathLike[str], map_location: Callable | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        # Always weights-only, whatever the caller asks; tensors land on the CPU and Lightning
        # moves model and optimizer state to the run's device when it restores them.
        return dict(read_checkpoint_dict(path))


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted run stopped: the epoch and optimizer step its checkpoint was saved at."""

    epoch: int
    global_step: int


def read_resume_point(path: Path, hparams: Mapping[str, Any]) -> ResumePoint:
    """Check that ``path`` is a Lightning checkpoint of this run's model and classes; say where it stopped."""
    raw = read_checkpoint_dict(path)
    missing = [k for k in ("epoch", "global_step", "state_dict", "hyper_parameters") if k not in raw]
    if missing:
        raise CheckpointError(
            f"{path}: not a Lightning training checkpoint (missing {', '.join(missing)}); "
            "--resume takes OUT/lightning/last.ckpt, --init-from takes weights such as best.pt"
        )
    saved = raw["hyper_parameters"]
    for key in _IDENTITY:
        if saved.get(key) != hparams[key]:
            raise CheckpointError(
                f"{path}: was trained with {key}={saved.get(key)!r}, this run has {key}={hparams[key]!r}; "
                "resume with the same model, options and dataset classes"
            )
    return ResumePoint(int(raw["epoch"]), int(raw["global_step"]))
