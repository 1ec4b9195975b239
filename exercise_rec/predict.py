"""``python -m exercise_rec.predict VIDEO``: classify a video with a deployable checkpoint.

    python -m exercise_rec.predict samples/squat.mp4
    python -m exercise_rec.predict recording.mp4 --json --timeline 1.0
    python -m exercise_rec.predict samples/squat.mp4 --backend openvino   # fast CPU path
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli


def build_parser() -> OneLineParser:
    from exercise_rec.fastpath import BACKENDS
    from exercise_rec.inference import DEFAULT_CHECKPOINT

    p = OneLineParser(prog="python -m exercise_rec.predict", description="Classify the exercise in a video.")
    p.add_argument("video", type=Path, help="video file (mp4, avi, mov, mkv, webm, ...)")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help=f"deployable checkpoint (default: {DEFAULT_CHECKPOINT.name} in checkpoints/)")
    p.add_argument("--top-k", type=int, default=5, help="how many classes to list (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object (see GUIDE.md)")
    p.add_argument("--timeline", type=float, metavar="STRIDE_S",
                   help="also classify windows every STRIDE_S seconds (long recordings)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="torch (eager, CPU or CUDA) or the fast CPU path: onnx (ONNX Runtime), openvino")
    return p


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.inference import Predictor

    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, backend=args.backend)
    result = predictor.predict(args.video, top_k=args.top_k)
    timeline = predictor.predict_windows(args.video, args.timeline) if args.timeline else None
    if args.json:
        out = result.to_json()
        if timeline is not None:
            out["timeline"] = [
                {"start_s": round(float(s), 3), "end_s": round(float(e), 3), "label": label,
                 "prob": round(float(p.max()), 6)}
                for s, e, label, p in zip(timeline.starts_s, timeline.ends_s, timeline.labels, timeline.probs)
            ]
        print(json.dumps(out))
        return 0
    mode = f" ({result.mode})" if result.mode else ""
    print(f"{result.video}: {result.label}   [{result.model}{mode}, {result.latency_ms:.0f} ms]")
    for label, prob in zip(result.labels, result.top_probs):
        print(f"  {prob:6.1%}  {label}")
    if timeline is not None:
        print("timeline:")
        for s, e, label, p in zip(timeline.starts_s, timeline.ends_s, timeline.labels, timeline.probs):
            print(f"  {s:7.2f}-{e:7.2f} s  {label:<18} {p.max():6.1%}")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
