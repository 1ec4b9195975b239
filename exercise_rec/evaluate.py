"""``python -m exercise_rec.evaluate``: metrics of a deployable checkpoint on a dataset split.

    python -m exercise_rec.evaluate --checkpoint checkpoints/mobilenet_v2_3d_standard.pt \\
        --data data/synth_test --split test --views 3 --out runs/eval

Multi-view testing: ``--views K`` averages the logits of K clips per video, each sampled like a
training clip (frames spread over the whole video, a different seeded jitter per view), which is
the usual way to trade test time for accuracy. ``--views 1`` is the single centred clip that
``Predictor.predict`` uses.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from exercise_rec.batch import DecodeSpec, VideoSource, make_loader
from exercise_rec.batch.classify import clip_inputs
from exercise_rec.batch.loader import default_workers
from exercise_rec.calibration import expected_calibration_error
from exercise_rec.checkpoint import CheckpointError
from exercise_rec.cli_common import OneLineParser, cli, positive_int
from exercise_rec.data.dataset import SPLITS, DatasetError, ExerciseVideoDataset
from exercise_rec.data.video import VideoError
from exercise_rec.errors import ConfigError
from exercise_rec.inference import Predictor
from exercise_rec.train.module import classification_metrics
from exercise_rec.train.report import save_confusion, save_json, summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """Plain-number metrics (top1, top5, macro_f1, per_class_acc) plus the raw confusion counts."""

    metrics: dict[str, object]
    confusion: torch.Tensor  # [C, C], rows = true class
    num_videos: int
    skipped: dict[str, str]


@dataclass(frozen=True)
class SplitLogits:
    """The checkpoint's raw logits [N, C] on every readable video of a split, with true labels [N]."""

    logits: torch.Tensor
    labels: torch.Tensor
    skipped: dict[str, str]


def split_logits(
    predictor: Predictor, root: str | Path, split: str | None = "test", views: int = 1, seed: int = 0,
    *, report: bool = True, workers: int = 0, batch_size: int = 4,
) -> SplitLogits:
    """Logits of every video of ``split`` (``None``: all videos), averaged over ``views`` clips;
    unreadable files are skipped and returned (what evaluation and calibration both need).
    ``report``: a progress bar and a warning per skipped file (off when the caller, e.g. the
    trainer, has already reported them). Videos are decoded (and person-checked) by ``workers``
    processes, ``batch_size`` videos per model call: the batch predict loader
    (:func:`exercise_rec.batch.make_loader`)."""
    if views < 1:
        raise ConfigError(f"views must be >= 1, got {views}")
    dataset = ExerciseVideoDataset(root, split, predictor.meta.clip_len, seed=seed)  # type: ignore[arg-type]
    if dataset.class_names != predictor.class_names:
        raise CheckpointError(
            f"{root}: classes {list(dataset.class_names)} differ from the checkpoint's {list(predictor.class_names)}"
        )
    skipped = dict(dataset.skipped)
    logits, labels = [], []
    sources = [VideoSource(item.path, start=item.start, stop=item.stop, label=item.label) for item in dataset.items]
    loader = make_loader(sources, DecodeSpec.of(predictor, views=views), workers, batch_size)
    with tqdm(total=len(sources), desc=f"classify {split or 'all'}", unit="video", disable=not report) as bar:
        for batch in loader:
            for item in batch:
                if item.error is not None:
                    skipped[str(item.source.path)] = item.error
                    log.log(logging.WARNING if report else logging.DEBUG, "%s: skipped, %s", item.source.path, item.error)
            decoded = [item for item in batch if item.error is None]
            if decoded:
                clips, boxes, tracks = clip_inputs(predictor, decoded)
                logits += list(predictor.logits(clips, boxes, tracks=tracks).view(len(decoded), views, -1).mean(dim=1))
                labels += [item.source.label for item in decoded]
            bar.update(len(batch))
    if not logits:
        raise VideoError(Path(root), f"no readable video in split {split!r}")
    return SplitLogits(torch.stack(logits), torch.tensor(labels), skipped)


def evaluate(
    predictor: Predictor, root: str | Path, split: str | None = "test", views: int = 1, seed: int = 0,
    *, workers: int = 0, batch_size: int = 4,
) -> Evaluation:
    """Classify every video of ``split`` (``None``: all videos); unreadable files are skipped and reported.
    ``metrics["ece"]``: expected calibration error of the checkpoint's calibrated probabilities.
    ``workers``/``batch_size``: see :func:`split_logits`."""
    result = split_logits(predictor, root, split, views, seed, workers=workers, batch_size=batch_size)
    metrics = classification_metrics(len(predictor.class_names))
    metrics.update(result.logits, result.labels)
    values = metrics.compute()
    probs = (result.logits / predictor.rule.temperature).softmax(dim=1).numpy()
    return Evaluation(
        metrics={**summarize(values, predictor.class_names),
                 "ece": expected_calibration_error(probs, result.labels.numpy())},  # fmt: skip
        confusion=values["confusion"].cpu(),
        num_videos=len(result.labels),
        skipped=result.skipped,
    )


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.evaluate", description="Evaluate a checkpoint on a dataset split.")
    p.add_argument("--checkpoint", type=Path, required=True, help="deployable checkpoint (best.pt)")
    p.add_argument("--data", type=Path, required=True, help="dataset root (same layouts as the trainer)")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="test", help="which split (default test)")
    p.add_argument("--views", type=int, default=1, help="clips per video whose logits are averaged (default 1)")
    p.add_argument("--seed", type=int, default=0, help="split seed when the folder has no split files")
    p.add_argument("--out", type=Path, help="write metrics.json and confusion .png/.csv here")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="decoding processes (default: the cores this process may use; 0: decode here)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="videos per model call (default 4)")
    p.add_argument("--no-framing", action="store_true",
                   help="centre crop instead of the crop around the person the pose estimator finds")
    return p


def _run(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise DatasetError(args.data, "dataset directory not found")
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, framing=not args.no_framing)
    split = None if args.split == "all" else args.split
    if args.workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {args.workers}")
    result = evaluate(predictor, args.data, split, args.views, args.seed, workers=args.workers,
                      batch_size=args.batch_size)  # fmt: skip
    m = result.metrics
    print(f"{result.num_videos} videos, {args.views} view(s): top1 {m['top1']:.4f}"
          + (f"  top5 {m['top5']:.4f}" if "top5" in m else "") + f"  macro_f1 {m['macro_f1']:.4f}  ece {m['ece']:.4f}")
    for name, acc in m["per_class_acc"].items():  # type: ignore[union-attr]
        print(f"  {acc:6.1%}  {name}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} unreadable: " + "; ".join(f"{p} ({r})" for p, r in result.skipped.items()))
    if args.out:
        save_json({"checkpoint": str(args.checkpoint), "data": str(args.data), "split": args.split,
                   "views": args.views, "num_videos": result.num_videos, **m}, args.out / "metrics.json")
        save_confusion(result.confusion, predictor.class_names, args.out, f"{args.split}_confusion")
        print(f"wrote {args.out}/metrics.json and {args.split}_confusion.png/.csv")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
