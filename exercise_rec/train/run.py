"""One training run: data module + model + Lightning Trainer -> deployable ``best.pt`` and reports.

Outputs under ``config.out``: ``best.pt`` (deployable, best val top-1), ``lightning/last.ckpt``
(for ``--resume``), ``logs/`` (CSV + TensorBoard), ``test_confusion.{png,csv}``,
``metrics.json`` and, with ``debug``, ``debug_output/`` before/after augmentation videos.
Every file is written atomically, so a run killed at any moment can be resumed from ``last.ckpt``.

Order matters for a user: everything that can be refused (model, options, files, every split of
the dataset) is checked before seeding, Lightning and the first output, so a mistake costs
seconds and leaves no half-made run folder.

Pose models (``input_kind`` "pose", e.g. ``mobilenet_v2_3d_pose``): the same run on heatmap volumes
of the pose estimator's keypoints (``--clip-len`` frames of ``--size`` heatmaps, default 32 of 56):
same splits, loaders, metrics, checkpoints and calibration. Before fitting, the estimator runs once
over every video whose track is not cached yet (:func:`exercise_rec.pose.cache.warm_cache`, ~12-15
ms a frame on 2 cores, with a progress bar). ``best.pt`` records ``clip_len`` = frames and
``input_size`` = (size, size); its model name says it takes pose volumes (no other field needed).

Distributed runs (``devices`` > 1, ``num_nodes`` > 1): each process reads its share of every
split; validation and test shares do not overlap or repeat (see the data module), the metrics are
torchmetrics states summed over the processes, and process 0 alone writes ``best.pt`` and the reports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from torch import nn

from exercise_rec.calibrate import calibrate_checkpoint
from exercise_rec.checkpoint import CheckpointMeta, read_meta
from exercise_rec.data import ExerciseVideoDataModule
from exercise_rec.data.debug import write_debug_videos
from exercise_rec.data.framing import FramingConfig
from exercise_rec.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from exercise_rec.errors import ConfigError
from exercise_rec.io import atomic_path
from exercise_rec.models import WeightsError, load_weights
from exercise_rec.pose.cache import warm_cache
from exercise_rec.train.callbacks import DeployableCheckpoint
from exercise_rec.train.config import TrainConfig, check_trainable
from exercise_rec.train.console import ProgressBar, known_warnings_silenced, lightning_verbose, route_lightning_logs
from exercise_rec.train.loggers import training_loggers
from exercise_rec.train.module import ExerciseClassifier
from exercise_rec.train.report import save_confusion, save_json, summarize
from exercise_rec.train.resume import ResumePoint, SafeCheckpointIO, read_resume_point

log = logging.getLogger(__name__)

DEBUG_BATCH_FRACTION = 0.05  # the seed's debug mode: 5% of batches


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    metrics: dict[str, object]
    skipped_files: list[str]  # unreadable videos met by any process, sorted
    nonfinite_batches: int = 0  # batches skipped for a NaN/inf loss (skip_nonfinite)
    is_global_zero: bool = True  # False in the other processes of a distributed run: they report nothing


def check_inputs(config: TrainConfig) -> None:
    """Refuse what can be refused without reading data: the model and its options, missing files."""
    check_trainable(config)
    if not Path(config.data).is_dir():
        raise FileNotFoundError(f"{config.data}: dataset directory not found")
    for path, what in ((config.resume, "checkpoint to resume from"), (config.init_from, "weights to start from")):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{path}: {what} not found")


def build_datamodule(config: TrainConfig) -> ExerciseVideoDataModule:
    heatmaps = config.heatmaps()  # None: clips for a video model
    return ExerciseVideoDataModule(
        root=config.data,
        clip_len=config.resolved_clip_len(),
        size=config.resolved_size(),
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        seed=config.seed,
        debug=config.debug,
        framing=FramingConfig() if config.framing == "person" and heatmaps is None else None,
        sources=True,  # a non-finite loss names its batch's files
        warn_each_skip=False,  # train() reports unreadable files once, in one line
        heatmaps=heatmaps,
    )


def prepare_data(config: TrainConfig) -> ExerciseVideoDataModule:
    """The data module with every split scanned: an unusable folder or an empty split (a set with
    fewer than 3 clips per class has no test clips) is refused now, not after training."""
    datamodule = build_datamodule(config)
    datamodule.setup()
    return datamodule


def warm_pose_tracks(datamodule: ExerciseVideoDataModule) -> None:
    """For a pose model: the estimator's track of every video not analysed yet, once, before the
    loaders' workers would each run it unseen. In a distributed run each process warms its share
    (the others' come from the shared cache, or are analysed where they are first read)."""
    if datamodule.heatmaps is None:
        return
    rank = rank_zero_only.rank  # from the launcher's environment, before Lightning starts the processes
    processes = int(os.environ.get("WORLD_SIZE") or os.environ.get("SLURM_NTASKS") or 1)
    result = warm_cache(datamodule.video_files[rank::processes], progress=rank == 0)
    if result.analysed:
        log.info("pose tracks of %d video(s) cached (%d frames, %.0f s); %d were cached already",
                 result.analysed, result.frames, result.seconds, result.cached)


def debug_batches(datamodule: ExerciseVideoDataModule) -> int:
    """The seed's 5% of the training batches, at least one (Lightning rejects a fraction that rounds to 0)."""
    return max(1, math.ceil(DEBUG_BATCH_FRACTION * len(datamodule.train_dataloader())))


def build_module(config: TrainConfig, class_names: list[str]) -> ExerciseClassifier:
    return ExerciseClassifier(
        model_name=config.model,
        model_kwargs=config.resolved_model_kwargs(),
        class_names=class_names,
        lr=config.lr,
        weight_decay=config.weight_decay,
        warmup_epochs=config.warmup_epochs,
        label_smoothing=config.label_smoothing,
        channels_last=config.channels_last,
        compile=config.compile,
        skip_nonfinite=config.skip_nonfinite,
    )


def start_from(model: nn.Module, path: Path) -> None:
    """Initialise ``model`` from ``path`` where names and shapes match (a new head is allowed)."""
    report = load_weights(model, path, strict=False)
    if not report.loaded:
        raise WeightsError(f"{path}: no tensor matches {type(model).__name__}: {report.describe()}")
    log.info("%s: initialised %d tensors (%d skipped)", path, len(report.loaded),
             len(report.unexpected) + len(report.mismatched))


def prepare_start(config: TrainConfig, module: ExerciseClassifier) -> ResumePoint | None:
    """Check the checkpoint to resume from, or load the weights to start from, before any output is
    written: a wrong or unsafe file must not touch the run folder."""
    if config.init_from is not None:
        start_from(module.model, config.init_from)
    if config.resume is None:
        return None
    resume = read_resume_point(config.resume, module.hparams)
    log.info("%s: resuming after epoch %d (step %d)", config.resume, resume.epoch, resume.global_step)
    return resume


def write_config(config: TrainConfig) -> Path:
    """Create the run folder with its ``config.json`` (clip length and size as used); returns the folder."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    values = {**dataclasses.asdict(config), "clip_len": config.resolved_clip_len(), "size": config.resolved_size()}
    with atomic_path(out / "config.json") as tmp:
        tmp.write_text(json.dumps(values, indent=2, default=str) + "\n")
    return out


def checkpoint_meta(config: TrainConfig, class_names: list[str]) -> CheckpointMeta:
    """What ``best.pt`` carries besides weights: enough for the app to rebuild and feed the model.
    A pose model's volumes are not normalised (mean 0, std 1) and are cropped around the person
    with the framing margin; its frames and heatmap size are ``clip_len`` and ``input_size``."""
    pose = config.is_pose
    return CheckpointMeta(
        model_name=config.model,
        model_kwargs=config.resolved_model_kwargs(),
        class_names=tuple(class_names),
        clip_len=config.resolved_clip_len(),
        input_size=(config.resolved_size(), config.resolved_size()),
        mean=(0.0, 0.0, 0.0) if pose else IMAGENET_MEAN,
        std=(1.0, 1.0, 1.0) if pose else IMAGENET_STD,
        framing={"margin": FramingConfig().margin} if config.framing == "person" else {},
    )


def build_trainer(config: TrainConfig, out: Path, meta: CheckpointMeta, train_batches: int | float,
                  resume: ResumePoint | None) -> pl.Trainer:
    callbacks: list[pl.Callback] = [
        DeployableCheckpoint(out / "best.pt", meta, half=config.half_checkpoint),
        # The latest epoch as lightning/last.ckpt, rewritten every epoch, for --resume after a crash.
        # (save_last=True with save_top_k=0 only writes it when training ends, too late.)
        ModelCheckpoint(dirpath=out / "lightning", filename="last", save_top_k=1, enable_version_counter=False),
        EarlyStopping(monitor="val_top1", mode="max", patience=config.patience),
        LearningRateMonitor(logging_interval="epoch"),
        ProgressBar(refresh_rate=1),
    ]
    return pl.Trainer(
        max_epochs=config.epochs,
        accelerator="auto",
        devices=config.devices,
        num_nodes=config.num_nodes,
        precision=config.resolved_precision(),
        accumulate_grad_batches=config.accumulate,
        gradient_clip_val=config.grad_clip or None,
        deterministic=config.deterministic,
        limit_train_batches=train_batches,
        logger=training_loggers(out, resume_step=None if resume is None else resume.global_step),
        callbacks=callbacks,
        plugins=[SafeCheckpointIO()],
        default_root_dir=out,
        log_every_n_steps=1,
        enable_model_summary=lightning_verbose(),
    )


def evaluate(trainer: pl.Trainer, module: ExerciseClassifier, datamodule: ExerciseVideoDataModule,
             checkpoint: Path) -> dict[str, torch.Tensor]:
    """Test-split metrics of the weights in ``checkpoint``, summed over every process of the run."""
    trainer.strategy.barrier("best.pt written")  # process 0 writes it; the others must not read an older one
    if not checkpoint.is_file():
        raise RuntimeError(f"{checkpoint.parent}: training produced no validated checkpoint (no validation batches?)")
    load_weights(module.model, checkpoint)  # into the model already on the device
    trainer.test(module, datamodule=datamodule, verbose=False)
    return module.last_test


def gather_skipped(trainer: pl.Trainer, skipped: dict[str, str]) -> dict[str, str]:
    """Unreadable files met by any process (each reads its own share of the data): path -> reason."""
    if trainer.world_size == 1:
        return skipped
    parts: list[dict[str, str] | None] = [None] * trainer.world_size
    torch.distributed.all_gather_object(parts, skipped)
    return {path: reason for part in parts if part for path, reason in part.items()}


def report(result: TrainResult, values: dict[str, torch.Tensor], class_names: list[str], out: Path,
           skipped: dict[str, str]) -> None:
    """Process 0 writes the reports and says what went wrong along the way."""
    save_confusion(values["confusion"], class_names, out, "test_confusion")
    save_json(result.metrics, out / "metrics.json")
    if skipped:
        log.warning("%d unreadable video(s) were skipped: %s", len(skipped),
                    "; ".join(f"{path}: {reason}" for path, reason in sorted(skipped.items())))
    if result.nonfinite_batches:
        log.warning("%d batch(es) with a non-finite loss were skipped (--skip-nonfinite)", result.nonfinite_batches)


def train(config: TrainConfig) -> TrainResult:
    """Train, keep the best deployable checkpoint, evaluate it on the test split."""
    check_inputs(config)
    datamodule = prepare_data(config)
    class_names = list(datamodule.class_names)
    route_lightning_logs()
    pl.seed_everything(config.seed, workers=True)
    module = build_module(config, class_names)
    resume = prepare_start(config, module)
    warm_pose_tracks(datamodule)  # slow on a new dataset: after every check, before the first output
    out = write_config(config)
    meta = checkpoint_meta(config, class_names)
    with known_warnings_silenced(resuming=config.resume is not None):
        trainer = build_trainer(config, out, meta, debug_batches(datamodule) if config.debug else 1.0, resume)
        if config.debug and datamodule.train_transform is None:
            log.info("--debug: no before/after videos for a pose model (its input is keypoints, not frames)")
        elif config.debug:
            write_debug_videos(datamodule.train_dataset, datamodule.train_transform, out / "debug_output")
        trainer.fit(module, datamodule=datamodule, ckpt_path=config.resume)
        values = evaluate(trainer, module, datamodule, out / "best.pt")
    metrics = {"val": read_meta(out / "best.pt").metrics, "test": summarize(values, class_names)}
    skipped = gather_skipped(trainer, datamodule.skipped_files)
    result = TrainResult(out / "best.pt", metrics, sorted(skipped), module.nonfinite_batches, trainer.is_global_zero)
    if result.is_global_zero:
        report(result, values, class_names, out, skipped)
        calibrate_best(config, out / "best.pt")
    return result


def calibrate_best(config: TrainConfig, best: Path) -> None:
    """Fit the temperature and verdict threshold of ``best.pt`` on the validation split
    (docs/verdicts.md), so the app's verdicts work with a fresh checkpoint as they are."""
    try:
        result = calibrate_checkpoint(best, config.data, "val", device="cpu", report=False)
    except ConfigError as err:  # e.g. a model that gets no validation clip right: nothing to fit
        log.warning("best.pt is not calibrated (verdicts use temperature 1 and threshold 0.5): %s", err)
        return
    log.info("calibrated best.pt on %d val clips: temperature %.3f, threshold %.2f, ECE %.4f -> %.4f",
             result.clips, result.temperature, result.min_confidence, result.ece_before, result.ece_after)
