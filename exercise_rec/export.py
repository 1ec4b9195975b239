"""``python -m exercise_rec.export``: a deployable checkpoint as one ONNX file, checked against eager.

    python -m exercise_rec.export --checkpoint checkpoints/mobilenet_v2_3d_standard.pt --out model.onnx

The file has BatchNorm folded, a dynamic batch axis, and the checkpoint's metadata (class names,
clip length, input size, mean/std) as JSON in its ``metadata_props``, so ONNX Runtime or OpenVINO
can serve it without this package. Each installed runtime is checked against the eager model;
``python -m exercise_rec.bench`` measures their speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli, output_file


def build_parser() -> OneLineParser:
    from exercise_rec.inference import DEFAULT_CHECKPOINT

    p = OneLineParser(prog="python -m exercise_rec.export", description="Export a checkpoint to ONNX.")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="deployable checkpoint (.pt)")
    p.add_argument("--out", type=output_file(".onnx"), required=True, help="ONNX file to write (atomically)")
    return p


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.checkpoint import load_checkpoint
    from exercise_rec.fastpath import (
        RUNTIME_PACKAGES,
        FastModel,
        export_onnx,
        missing_package,
    )
    from exercise_rec.pose.heatmaps import model_heatmaps

    model, meta = load_checkpoint(args.checkpoint)
    heatmaps = model_heatmaps(meta.model_name, meta.model_kwargs, meta.clip_len, meta.input_size[0])
    channels = 3 if heatmaps is None else heatmaps.channels  # RGB clips, or a pose model's heatmap volumes
    shape = (1, channels, meta.clip_len, *meta.input_size)
    started = time.perf_counter()
    export_onnx(model, shape, args.out, meta.to_dict())
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out} ({size_kb:.0f} KiB, {meta.model_name}, {time.perf_counter() - started:.1f} s)")
    for backend in RUNTIME_PACKAGES:
        package = missing_package(backend)
        if package is not None:
            print(f"  {backend}: not checked ({package} is not installed)")
            continue
        error = FastModel.load(args.out, backend).check(model, shape)
        print(f"  {backend}: max relative error vs the eager model {error:.1e}")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
