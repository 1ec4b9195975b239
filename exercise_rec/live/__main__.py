"""``python -m exercise_rec.live SOURCE``: recognise exercises live from a video file or a camera, headless.

    python -m exercise_rec.live samples/long_recording.mp4              # as fast as it goes
    python -m exercise_rec.live samples/long_recording.mp4 --realtime   # paced as a camera, frames dropped
    python -m exercise_rec.live 0 --backend openvino                     # camera 0

Prints a line whenever the shown answer changes (``--every`` prints every hop), then the seconds per
answer and the speed (labels/s, frame-to-label latency, dropped frames). Exit codes: docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli, positive_int


def build_parser() -> OneLineParser:
    from exercise_rec.fastpath import BACKENDS
    from exercise_rec.inference import DEFAULT_CHECKPOINT
    from exercise_rec.live import LiveConfig

    defaults = LiveConfig()
    p = OneLineParser(prog="python -m exercise_rec.live", description="Recognise exercises live from a video or a camera.",
                      epilog="The loop, its settings and its measured speed: docs/live.md.")  # fmt: skip
    p.add_argument("source", metavar="SOURCE", help="a video file, or a camera index (0 = the first camera)")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help=f"deployable checkpoint (default: {DEFAULT_CHECKPOINT.name} in checkpoints/)")
    p.add_argument("--backend", choices=BACKENDS, default="openvino",
                   help="openvino (default, the fastest on CPU), onnx (ONNX Runtime) or torch (eager)")
    p.add_argument("--hop", type=positive_int, default=defaults.hop,
                   help=f"kept frames between labels (default {defaults.hop}; frames are kept at the checkpoint's rate)")
    p.add_argument("--smoothing", type=float, default=defaults.smoothing,
                   help=f"the newest window's share of the moving average (default {defaults.smoothing:g}; 1: none)")
    p.add_argument("--hold", type=positive_int, default=defaults.hold,
                   help=f"hops a new answer must lead before it is shown (default {defaults.hold}; 1: none)")
    p.add_argument("--pose-every", type=positive_int, default=defaults.pose_every,
                   help="run the person check on every n-th kept frame (default 1)")
    p.add_argument("--overlay", action="store_true", help="also compute the window's CAM (timed, not shown)")
    p.add_argument("--overlay-every", type=positive_int, default=defaults.overlay_every,
                   help=f"hops between CAMs with --overlay (default {defaults.overlay_every})")
    p.add_argument("--realtime", action="store_true",
                   help="release a file's frames at its frame rate and drop those the loop has no time for, as a camera")
    p.add_argument("--every", action="store_true", help="print every hop, not only changes")
    return p


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.inference import Predictor
    from exercise_rec.live import LiveConfig, LiveRun, longest_shown
    from exercise_rec.live.loop import LiveStats

    config = LiveConfig(hop=args.hop, smoothing=args.smoothing, hold=args.hold, pose_every=args.pose_every,
                        overlay=args.overlay, overlay_every=args.overlay_every)  # fmt: skip
    predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu", backend=args.backend)
    run = LiveRun(args.source, predictor, config, realtime=args.realtime)
    latencies: list[float] = []
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    for update in run:
        latencies.append(update.latency_ms)
        seconds = update.seconds
        if update.changed or args.every:
            print(f"{update.time_s:7.2f} s  {update.label}  ({update.verdict}: {update.reason})", flush=True)
    stats = LiveStats.of(latencies, time.perf_counter() - started, run.dropped)
    shown = longest_shown(seconds)
    print("seconds shown: " + (", ".join(f"{answer} {s:.1f}" for answer, s in shown) or "none"))
    print(stats.line(), file=sys.stderr)
    return 0


main = cli(build_parser, _run)

if __name__ == "__main__":
    sys.exit(main())
