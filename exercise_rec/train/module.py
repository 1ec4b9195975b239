"""LightningModule: one registry model, cross-entropy, AdamW + warm-up/cosine, torchmetrics.

Why Lightning: mixed precision, DDP / multi-node, gradient accumulation and clipping,
checkpoint/resume and progress bars come from one well-tested engine instead of our own loop.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from exercise_rec.device import clip_memory_format
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.models import build_model

log = logging.getLogger(__name__)

# (clips [B,C,T,H,W], labels [B], sources): ExerciseVideoDataModule(sources=True) batches, so a bad
# batch can be traced to its files.
Batch = tuple[torch.Tensor, torch.Tensor, list[str]]


class NonFiniteLossError(ExerciseRecError, FloatingPointError, ValueError):
    """The training loss became NaN or infinite; the message names the batch's files.

    An :class:`ExerciseRecError`: like bad input, it is fixed by the user (a lower ``--lr``, a
    broken file), so the command line reports it in one line with exit code 2.
    """


def classification_metrics(num_classes: int) -> MetricCollection:
    """top-1, top-5 (only when there are more than 5 classes), macro-F1, per-class accuracy, confusion."""
    metrics: dict[str, Any] = {
        "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
        "macro_f1": MulticlassF1Score(num_classes, average="macro"),
        "per_class_acc": MulticlassAccuracy(num_classes, average=None),
        "confusion": MulticlassConfusionMatrix(num_classes),
    }
    if num_classes > 5:
        metrics["top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    # compute_groups=False: torchmetrics merges metrics whose states are equal after the first
    # update, and top-1/top-5 states coincide whenever that update is all top-1 hits (one video at
    # a time in evaluate), after which top5 silently reported top1.
    return MetricCollection(metrics, compute_groups=False)


def match_grad_layout(model: nn.Module) -> None:
    """Give each gradient its parameter's strides where the two differ only on size-1 dimensions.

    Why: a channels_last_3d 1x1x1 convolution weight has the memory order of a contiguous one but
    other strides on its size-1 dimensions, and the CPU backward returns its gradient with the
    contiguous strides. DDP compares strides exactly and warned "Grad strides do not match bucket
    view strides"; the gradient viewed with the parameter's strides is the same memory (no copy).
    """
    for param in model.parameters():
        if param.requires_grad and 1 in param.shape:
            param.register_hook(functools.partial(_with_strides_of, param))


def _with_strides_of(param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    same_order = all(g == p for g, p, n in zip(grad.stride(), param.stride(), param.shape) if n > 1)
    if grad.stride() == param.stride() or not same_order or grad.shape != param.shape:
        return grad
    return grad.as_strided(param.shape, param.stride())


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier: linear warm-up from ~0 to 1, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class ExerciseClassifier(pl.LightningModule):
    """Trains any registry model on ``(clip [B,C,T,H,W], label)`` batches."""

    def __init__(
        self,
        model_name: str,
        model_kwargs: dict[str, Any],
        class_names: list[str],
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_epochs: float = 1.0,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
        skip_nonfinite: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.class_names = list(class_names)
        self.model: nn.Module = build_model(model_name, len(class_names), **model_kwargs)
        self.memory_format = clip_memory_format(self.model, channels_last)
        self.model = self.model.to(memory_format=self.memory_format)
        # The compiled wrapper is kept off the module tree so state_dict keys stay "model.*".
        object.__setattr__(self, "_run_model", torch.compile(self.model) if compile else self.model)
        # Epoch-level values are torchmetrics states, summed over the processes of a distributed run
        # when computed: each process sees only its share of the data.
        self.train_top1 = MulticlassAccuracy(len(class_names), top_k=1, average="micro")
        self.train_loss = MeanMetric()
        self.val_metrics = classification_metrics(len(class_names))
        self.val_loss = MeanMetric()
        self.test_metrics = classification_metrics(len(class_names))
        self.test_loss = MeanMetric()
        self.last_test: dict[str, torch.Tensor] = {}  # read by run.train after trainer.test
        self.nonfinite_batches = 0  # batches skipped with skip_nonfinite, over the whole run (kept on resume)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self._run_model(clips.contiguous(memory_format=self.memory_format))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing)

    def on_fit_start(self) -> None:
        if self.trainer.world_size == 1:
            return
        if self.hparams.skip_nonfinite:
            # Lightning cannot skip a batch under DDP: the other processes would wait for its gradients.
            raise ConfigError("--skip-nonfinite needs a single-device run (Lightning skips no batch under DDP)")
        match_grad_layout(self.model)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        """The loss of one batch; a non-finite one stops the run or, with ``skip_nonfinite``, is skipped."""
        clips, labels, sources = batch
        buffers = [b.clone() for b in self.model.buffers()] if self.hparams.skip_nonfinite else None
        logits = self(clips)
        loss = self._loss(logits, labels)
        if self._any_nonfinite(loss):
            self._handle_nonfinite(loss, batch_idx, sources, buffers)
            return None
        # The step value is this process's; the epoch values (Metric objects) cover every process.
        self.log("train_loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.train_loss.update(loss.detach(), weight=len(labels))
        self.train_top1.update(logits.detach(), labels)
        self.log("train_loss_epoch", self.train_loss, on_step=False, on_epoch=True)
        self.log("train_top1", self.train_top1, on_step=False, on_epoch=True)
        return loss

    def _handle_nonfinite(
        self, loss: torch.Tensor, batch_idx: int, sources: list[str], buffers: list[torch.Tensor] | None
    ) -> None:
        """Raise :class:`NonFiniteLossError`, or with saved ``buffers`` undo the batch and count it.

        A skipped batch has no backward pass (Lightning's answer to a None loss), so no weight
        changes; the BatchNorm running statistics its forward pass already updated are restored.
        """
        problem = (f"non-finite training loss ({loss.item():.4g} in this process) in epoch "
                   f"{self.current_epoch}, batch {batch_idx}; its files: {', '.join(sources)}")
        if buffers is None:
            raise NonFiniteLossError(f"{problem}; lower --lr, or pass --skip-nonfinite to skip such batches")
        with torch.no_grad():
            for buffer, saved in zip(self.model.buffers(), buffers):
                buffer.copy_(saved)
        self.nonfinite_batches += 1
        log.warning("skipped batch (%d so far): %s", self.nonfinite_batches, problem)
        self.log("train_nonfinite_batches", 1.0, on_step=False, on_epoch=True, reduce_fx="sum",
                 batch_size=len(sources))

    def _any_nonfinite(self, loss: torch.Tensor) -> bool:
        """Whether the loss is non-finite in any process (all DDP ranks must stop together)."""
        flag = (~torch.isfinite(loss.detach())).float()
        return bool(self.trainer.strategy.reduce(flag, reduce_op="sum") > 0)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nonfinite_batches"] = self.nonfinite_batches

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite_batches = int(checkpoint.get("nonfinite_batches", 0))

    def _eval_step(self, batch: Batch, metrics: MetricCollection, loss: MeanMetric) -> None:
        clips, labels, _ = batch
        logits = self(clips)
        loss.update(self._loss(logits, labels), weight=len(labels))
        metrics.update(logits.float(), labels)

    def _eval_epoch_end(self, stage: str, metrics: MetricCollection, loss: MeanMetric) -> dict[str, torch.Tensor]:
        """Log and return the epoch's metrics over every process (compute() gathers their states).

        The values are equal in every process, so ``sync_dist`` averages equal numbers; it is
        there because Lightning expects it of epoch-level values in a distributed run.
        """
        values = {**metrics.compute(), "loss": loss.compute()}
        metrics.reset()
        loss.reset()
        for name in ("loss", "top1", "top5", "macro_f1"):
            if name in values:
                self.log(f"{stage}_{name}", values[name], prog_bar=name in ("loss", "top1"), sync_dist=True)
        return {k: v.detach().cpu() for k, v in values.items() if k != "loss"}

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, self.val_loss)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val", self.val_metrics, self.val_loss)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, self.test_loss)

    def on_test_epoch_end(self) -> None:
        self.last_test = self._eval_epoch_end("test", self.test_metrics, self.test_loss)

    def configure_optimizers(self) -> dict[str, Any]:
        decay, no_decay = [], []
        for param in self.model.parameters():
            # Norm weights and biases are not decayed (standard for AdamW on CNNs).
            (no_decay if param.ndim <= 1 else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.lr,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = max(1, int(total * self.hparams.warmup_epochs / epochs))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
