"""One training run: data module + model + Lightning Trainer -> deployable ``best.pt`` and reports.

Outputs under ``config.out``: ``best.pt`` (deployable, best val top-1), ``lightning/last.ckpt``
(for ``--resume``), ``logs/`` (CSV + TensorBoard), ``test_confusion.{png,csv}``,
``metrics.json`` and, with ``debug``, ``debug_output/`` before/after augmentation videos.
Every file is written atomically, so a run killed at any moment can be resumed from ``last.ckpt``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    TQDMProgressBar,
)
from torch import nn

from exercise_rec.data import ExerciseVideoDataModule
from exercise_rec.data.debug import write_debug_videos
from exercise_rec.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from exercise_rec.io import atomic_path
from exercise_rec.models import WeightsError, load_weights
from exercise_rec.models.registry import check_model_args
from exercise_rec.train.callbacks import DeployableCheckpoint
from exercise_rec.train.checkpoint import CheckpointMeta, read_meta
from exercise_rec.train.config import TrainConfig
from exercise_rec.train.loggers import training_loggers
from exercise_rec.train.module import ExerciseClassifier
from exercise_rec.train.report import save_confusion, save_json, summarize
from exercise_rec.train.resume import SafeCheckpointIO, read_resume_point

log = logging.getLogger(__name__)

DEBUG_BATCH_FRACTION = 0.05  # the seed's debug mode: 5% of batches


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    metrics: dict[str, object]
    skipped_files: list[str]  # unreadable videos, sorted
    nonfinite_batches: int = 0  # batches skipped for a NaN/inf loss (skip_nonfinite)


def build_datamodule(config: TrainConfig) -> ExerciseVideoDataModule:
    return ExerciseVideoDataModule(
        root=config.data,
        clip_len=config.clip_len,
        size=config.size,
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        seed=config.seed,
        debug=config.debug,
        sources=True,  # a non-finite loss names its batch's files
        warn_each_skip=False,  # train() reports unreadable files once, in one line
    )


def debug_batches(datamodule: ExerciseVideoDataModule) -> int:
    """The seed's 5% of the training batches, at least one (Lightning rejects a fraction that rounds to 0)."""
    return max(1, math.ceil(DEBUG_BATCH_FRACTION * len(datamodule.train_dataloader())))


def start_from(model: nn.Module, path: Path) -> None:
    """Initialise ``model`` from ``path`` where names and shapes match (a new head is allowed)."""
    report = load_weights(model, path, strict=False)
    if not report.loaded:
        raise WeightsError(f"{path}: no tensor matches {type(model).__name__}: {report.describe()}")
    log.info("%s: initialised %d tensors (%d skipped)", path, len(report.loaded),
             len(report.unexpected) + len(report.mismatched))


def train(config: TrainConfig) -> TrainResult:
    """Train, keep the best deployable checkpoint, evaluate it on the test split."""
    check_model_args(config.model, **config.model_kwargs())  # before the dataset scan and any output
    pl.seed_everything(config.seed, workers=True)
    datamodule = build_datamodule(config)
    datamodule.setup("fit")
    class_names = list(datamodule.class_names)
    module = ExerciseClassifier(
        model_name=config.model,
        model_kwargs=config.model_kwargs(),
        class_names=class_names,
        lr=config.lr,
        weight_decay=config.weight_decay,
        warmup_epochs=config.warmup_epochs,
        label_smoothing=config.label_smoothing,
        channels_last=config.channels_last,
        compile=config.compile,
        skip_nonfinite=config.skip_nonfinite,
    )
    # Checked before any output is written: a wrong or unsafe file must not touch the run folder.
    resume = None if config.resume is None else read_resume_point(config.resume, module.hparams)
    if resume is not None:
        log.info("%s: resuming after epoch %d (step %d)", config.resume, resume.epoch, resume.global_step)
    if config.init_from is not None:
        start_from(module.model, config.init_from)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.json") as tmp:
        tmp.write_text(json.dumps(dataclasses.asdict(config), indent=2, default=str) + "\n")
    meta = CheckpointMeta(
        model_name=config.model,
        model_kwargs=config.model_kwargs(),
        class_names=tuple(class_names),
        clip_len=config.clip_len,
        input_size=(config.size, config.size),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    best_path = out / "best.pt"
    callbacks: list[pl.Callback] = [
        DeployableCheckpoint(best_path, meta, half=config.half_checkpoint),
        # The latest epoch as lightning/last.ckpt, rewritten every epoch, for --resume after a crash.
        # (save_last=True with save_top_k=0 only writes it when training ends, too late.)
        ModelCheckpoint(dirpath=out / "lightning", filename="last", save_top_k=1, enable_version_counter=False),
        EarlyStopping(monitor="val_top1", mode="max", patience=config.patience),
        LearningRateMonitor(logging_interval="epoch"),
        TQDMProgressBar(refresh_rate=1),
    ]
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        accelerator="auto",
        devices=config.devices,
        num_nodes=config.num_nodes,
        precision=config.resolved_precision(),
        accumulate_grad_batches=config.accumulate,
        gradient_clip_val=config.grad_clip or None,
        deterministic=config.deterministic,
        limit_train_batches=debug_batches(datamodule) if config.debug else 1.0,
        logger=training_loggers(out, resume_step=None if resume is None else resume.global_step),
        callbacks=callbacks,
        plugins=[SafeCheckpointIO()],
        default_root_dir=out,
        log_every_n_steps=1,
    )
    if config.debug:
        write_debug_videos(datamodule.train_dataset, datamodule.train_transform, out / "debug_output")
    trainer.fit(module, datamodule=datamodule, ckpt_path=config.resume)

    if not best_path.is_file():
        raise RuntimeError(f"{out}: training produced no validated checkpoint (no validation batches?)")
    load_weights(module.model, best_path)  # the best epoch's weights, into the model already on the device
    trainer.test(module, datamodule=datamodule, verbose=False)
    values = module.last_test
    metrics = {"val": read_meta(best_path).metrics, "test": summarize(values, class_names)}
    if trainer.is_global_zero:
        save_confusion(values["confusion"], class_names, out, "test_confusion")
        save_json(metrics, out / "metrics.json")
    skipped = datamodule.skipped_files
    if skipped:
        log.warning("%d unreadable video(s) were skipped: %s", len(skipped),
                    "; ".join(f"{path}: {reason}" for path, reason in sorted(skipped.items())))
    if module.nonfinite_batches:
        log.warning("%d batch(es) with a non-finite loss were skipped (--skip-nonfinite)", module.nonfinite_batches)
    return TrainResult(best_path, metrics, sorted(skipped), module.nonfinite_batches)

