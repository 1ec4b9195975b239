"""Write the deployable checkpoint (``best.pt``) whenever validation top-1 improves.

Why beside Lightning's own checkpoints: Lightning's ``.ckpt`` holds optimizer state and pickled
hyper-parameters for resuming; the app needs a small, weights_only-loadable file with metadata.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import lightning.pytorch as pl

from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.train.module import ExerciseClassifier

log = logging.getLogger(__name__)


class DeployableCheckpoint(pl.Callback):
    """Saves ``pl_module.model`` with ``meta`` (metrics filled in) to ``path`` on each new best val top-1."""

    def __init__(self, path: Path, meta: CheckpointMeta, half: bool = False) -> None:
        self.path = Path(path)
        self.meta = meta
        self.half = half
        self.best = float("-inf")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not isinstance(pl_module, ExerciseClassifier):
            return
        score = trainer.callback_metrics.get("val_top1")
        if score is None or float(score) <= self.best:
            return
        self.best = float(score)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        metrics["epoch"] = float(trainer.current_epoch)
        self.meta = dataclasses.replace(self.meta, metrics=metrics)
        if trainer.is_global_zero:
            save_checkpoint(self.path, pl_module.model, self.meta, half=self.half)
            log.info("epoch %d: val_top1 %.4f -> %s", trainer.current_epoch, self.best, self.path)

    def state_dict(self) -> dict[str, float]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.best = float(state_dict["best"])
