"""``python -m exercise_rec.faithfulness``: score CAMs against the synthetic ground truth.

    python -m exercise_rec.synth --out data/cam_eval --per-class 2 --seed 4242
    python -m exercise_rec.faithfulness --data data/cam_eval --split all \\
        --checkpoint checkpoints/mobilenet_v2_3d_standard.pt \\
        --checkpoint checkpoints/mobilenet_v2_3d_high_temporal.pt

Prints a markdown table (model x layer x method: energy inside the dilated person mask, chance,
their ratio, pointing-game hit rate, motion correlation, CAM time); see
:mod:`exercise_rec.explain.metrics` for the definitions.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli, positive_int


def build_parser() -> OneLineParser:
    from exercise_rec.data.dataset import SPLITS
    from exercise_rec.explain import METHODS

    p = OneLineParser(prog="python -m exercise_rec.faithfulness", description="Score CAMs on synthetic ground truth.")
    p.add_argument("--data", type=Path, required=True, help="synthetic dataset (python -m exercise_rec.synth)")
    p.add_argument("--checkpoint", type=Path, action="append", required=True, help="checkpoint(s) to score")
    p.add_argument("--split", default="test", choices=[*SPLITS, "all"], help="which videos (default test)")
    p.add_argument("--per-class", type=positive_int, default=2, help="videos per class (default 2)")
    p.add_argument("--layers", nargs="+", help="layer names (default: every CAM layer of each model)")
    p.add_argument("--methods", nargs="+", default=["gradcam", "hirescam"], choices=list(METHODS))
    p.add_argument(
        "--all-frames", action="store_true", help="also score frames where the crop cut the person away (default: skip)"
    )
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    return p


def _pick(items: Sequence, per_class: int) -> list[Path]:
    """The first ``per_class`` videos of each class, in the dataset's order."""
    taken: dict[int, list[Path]] = defaultdict(list)
    for item in items:
        if len(taken[item.label]) < per_class:
            taken[item.label].append(item.path)
    return [path for label in sorted(taken) for path in taken[label]]


def _fmt(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else format(value, spec)


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.data.dataset import ExerciseVideoDataset
    from exercise_rec.explain import cam_layers
    from exercise_rec.explain.metrics import evaluate_faithfulness
    from exercise_rec.inference import Predictor

    rows = []
    for checkpoint in args.checkpoint:
        predictor = Predictor.from_checkpoint(checkpoint, device=args.device)
        split = None if args.split == "all" else args.split
        dataset = ExerciseVideoDataset(args.data, split, predictor.meta.clip_len)  # type: ignore[arg-type]
        videos = _pick(dataset.items, args.per_class)
        layers = args.layers or list(cam_layers(predictor.model))
        label = f"{predictor.meta.model_name} {predictor.mode or ''}".strip()
        rows += evaluate_faithfulness(
            predictor, videos, layers, args.methods, model_label=label, all_frames=args.all_frames
        )
    print("| model | layer | T' | method | energy in mask | chance | ratio (95% CI) | pointing (95% CI) "
          "| motion corr | ms/CAM |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        (ratio_low, ratio_high), (point_low, point_high) = r.energy_ratio_ci, r.pointing_ci
        print(
            f"| {r.model} | {r.layer} | {r.temporal_resolution} | {r.method} | {r.energy_inside:.3f} | "
            f"{r.chance:.3f} | {r.energy_ratio:.2f}x ({_fmt(ratio_low, '.2f')}-{_fmt(ratio_high, '.2f')}) | "
            f"{r.pointing:.1%} ({_fmt(point_low * 100, '.0f')}-{_fmt(point_high * 100, '.0f')}) | "
            f"{_fmt(r.motion_correlation, '+.2f')} | {r.ms_per_cam:.0f} |"
        )
    scored = "every frame scored" if args.all_frames else "frames scored (person in the input)"
    counts = {r.model: f"{r.frames_scored} of {r.frames}" for r in rows}
    print(
        f"({rows[0].videos if rows else 0} videos per model; {scored}: "
        + ", ".join(f"{model} {count}" for model, count in counts.items())
        + "; CI: percentile bootstrap over videos; dilation and definitions: exercise_rec.explain.metrics)"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
