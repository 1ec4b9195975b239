"""``python -m exercise_rec.predict VIDEO``: classify a video with a deployable checkpoint.

    python -m exercise_rec.predict samples/squat.mp4
    python -m exercise_rec.predict recording.mp4 --json --timeline 1.0
    python -m exercise_rec.predict samples/squat.mp4 --backend openvino   # fast CPU path

Commands, flags and exit codes: docs/cli.md; the ``--json`` record: docs/formats.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli


def build_parser() -> OneLineParser:
    from exercise_rec.fastpath import BACKENDS
    from exercise_rec.inference import CLIP_S, DEFAULT_CHECKPOINT, LONG_VIDEO_S

    p = OneLineParser(prog="python -m exercise_rec.predict", description="Classify the exercise in a video.",
                      epilog="All commands and exit codes: docs/cli.md; the --json record: docs/formats.md.")
    p.add_argument("video", type=Path, help="video file (mp4, avi, mov, mkv, webm, ...)")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help=f"deployable checkpoint (default: {DEFAULT_CHECKPOINT.name} in checkpoints/)")
    p.add_argument("--top-k", type=int, default=5, help="how many classes to list (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object (fields: docs/formats.md)")
    p.add_argument("--timeline", type=float, metavar="STRIDE_S",
                   help=f"also classify {CLIP_S:g} s windows every STRIDE_S seconds, e.g. --timeline 1 (videos of "
                        f"{LONG_VIDEO_S:g} s or more get a note suggesting it: one label may hide several exercises)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="torch (eager, CPU or CUDA) or the fast CPU path: onnx (ONNX Runtime), openvino")
    p.add_argument("--no-person-check", action="store_true",
                   help="skip the pose estimator's person check (verdicts then rest on the model alone; "
                   "no person framing either)")
    p.add_argument("--no-framing", action="store_true",
                   help="centre crop instead of the crop around the person the pose estimator finds")
    return p


def _long_video_note(duration_s: float) -> str | None:
    """What to tell a user whose video is several training clips long, or None for a clip-sized one."""
    from exercise_rec.inference import CLIP_S, LONG_VIDEO_S

    if duration_s < LONG_VIDEO_S:
        return None
    return (
        f"the video lasts {duration_s:.0f} s, {duration_s / CLIP_S:.0f} times the ~{CLIP_S:g} s clips the model was "
        f"trained on: one label for all of it may hide several exercises; --timeline 1 gives a label per "
        f"{CLIP_S:g} s window"
    )


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.data import probe
    from exercise_rec.inference import Predictor

    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, backend=args.backend,
                                          person_check=False if args.no_person_check else None,
                                          framing=not args.no_framing)
    result = predictor.predict(args.video, top_k=args.top_k)
    timeline = predictor.predict_windows(args.video, args.timeline) if args.timeline else None
    note = None if timeline is not None else _long_video_note(probe(args.video, limits=predictor.limits).duration)
    if args.json:
        out = result.to_json()
        if timeline is not None:
            out["timeline"] = [
                {"start_s": round(float(s), 3), "end_s": round(float(e), 3), "label": label,
                 "prob": round(float(p.max()), 6), "verdict": v.verdict, "reason": v.reason}
                for s, e, label, p, v in zip(timeline.starts_s, timeline.ends_s, timeline.labels, timeline.probs,
                                             timeline.verdicts)
            ]
        if note is not None:
            out["note"] = note
        print(json.dumps(out))
        return 0
    mode = f" ({result.mode})" if result.mode else ""
    print(f"{result.video}: {result.verdict}: {result.reason}   [{result.model}{mode}, {result.latency_ms:.0f} ms]")
    for label, prob in zip(result.labels, result.top_probs):
        print(f"  {prob:6.1%}  {label}")
    if timeline is not None:
        print("timeline:")
        for s, e, label, p, v in zip(timeline.starts_s, timeline.ends_s, timeline.labels, timeline.probs,
                                     timeline.verdicts):
            print(f"  {s:7.2f}-{e:7.2f} s  {label:<18} {p.max():6.1%}  {v.verdict}")
    if note is not None:
        print(f"note: {note}")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
