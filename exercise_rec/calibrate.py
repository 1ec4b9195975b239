"""``python -m exercise_rec.calibrate``: fit a checkpoint's temperature and verdict threshold on its
validation split and store them in the checkpoint (rule: docs/verdicts.md).

    python -m exercise_rec.calibrate --checkpoint runs/std/best.pt --data data/synth --split val
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from exercise_rec.calibration import (
    choose_min_confidence,
    expected_calibration_error,
    fit_temperature,
    kept_share,
)
from exercise_rec.checkpoint import write_calibration
from exercise_rec.cli_common import OneLineParser, cli, output_file
from exercise_rec.data.dataset import SPLITS, DatasetError
from exercise_rec.evaluate import split_logits
from exercise_rec.inference import Predictor


@dataclass(frozen=True)
class Calibration:
    """What is stored in the checkpoint's ``calibration`` metadata (plain numbers)."""

    temperature: float
    min_confidence: float
    ece_before: float
    ece_after: float
    top1: float
    kept_correct: float  # share of correct answers at or above min_confidence
    clips: int

    def as_meta(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def calibrate(predictor: Predictor, root: str | Path, split: str = "val", *, report: bool = True) -> Calibration:
    """Temperature (NLL on ``split``) and threshold (docs/verdicts.md, rule 2) for ``predictor``'s model.
    ``report``: progress bar and per-file warnings (see :func:`split_logits`)."""
    result = split_logits(predictor, root, split, report=report)
    labels = result.labels.numpy()
    temperature = fit_temperature(result.logits, result.labels)
    before = result.logits.softmax(dim=1).numpy()
    after = (result.logits / temperature).softmax(dim=1).numpy()
    threshold = choose_min_confidence(after, labels)
    return Calibration(
        temperature=temperature,
        min_confidence=threshold,
        ece_before=expected_calibration_error(before, labels),
        ece_after=expected_calibration_error(after, labels),
        top1=float((after.argmax(axis=1) == labels).mean()),
        kept_correct=kept_share(after, labels, threshold),
        clips=len(labels),
    )


def calibrate_checkpoint(
    path: str | Path, root: str | Path, split: str = "val", out: str | Path | None = None, device: str | None = None,
    *, report: bool = True,
) -> Calibration:
    """Calibrate the checkpoint at ``path`` on ``root``'s ``split`` and store the result in it (or ``out``)."""
    # The person check stays available: it frames the clips as prediction will (no verdicts are made here).
    predictor = Predictor.from_checkpoint(path, device=device)
    result = calibrate(predictor, root, split, report=report)
    write_calibration(path, result.as_meta(), out)
    return result


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.calibrate",
                      description="Fit a checkpoint's temperature and verdict threshold on a validation split.")  # fmt: skip
    p.add_argument("--checkpoint", type=Path, required=True, help="deployable checkpoint to calibrate")
    p.add_argument("--data", type=Path, required=True, help="dataset root (same layouts as the trainer)")
    p.add_argument("--split", choices=SPLITS, default="val", help="split to fit on (default val; never test)")
    p.add_argument("--out", type=output_file(".pt"),
                   help="write the calibrated checkpoint here (default: update --checkpoint in place)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    return p


def _run(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise DatasetError(args.data, "dataset directory not found")
    result = calibrate_checkpoint(args.checkpoint, args.data, args.split, args.out, args.device)
    print(f"{result.clips} {args.split} videos: temperature {result.temperature:.3f}, "
          f"ECE {result.ece_before:.4f} -> {result.ece_after:.4f}, threshold {result.min_confidence:.2f} "
          f"(keeps {result.kept_correct:.1%} of the {result.top1:.1%} right answers)")  # fmt: skip
    print(f"wrote {args.out or args.checkpoint}")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
