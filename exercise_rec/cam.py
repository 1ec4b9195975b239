"""``python -m exercise_rec.cam VIDEO``: where and when the model looks, as a frame | overlay video.

The overlay is on the full decoded frame with the model's crop outlined (the crop around the
person when the checkpoint frames, else the centre crop), so it shows where in the video it looked.
A pose checkpoint sees keypoints, not pixels: its CAM is read per joint, so ``--out`` shows the
skeleton on the frames its volume was rendered from (each joint's size and colour: its importance),
``--plot`` the joints x time chart, and ``--json`` adds the importance per joint.

    python -m exercise_rec.cam samples/squat.mp4 --out squat_cam.mp4
    python -m exercise_rec.cam samples/squat.mp4 --layer features.13 --method hirescam --out cam.mp4 --plot cam.png
    python -m exercise_rec.cam --list-layers --checkpoint checkpoints/mobilenet_v2_3d_high_temporal.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, cli, output_file
from exercise_rec.errors import ConfigError


def _target(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def build_parser() -> OneLineParser:
    from exercise_rec.explain import METHODS
    from exercise_rec.inference import DEFAULT_CHECKPOINT

    p = OneLineParser(prog="python -m exercise_rec.cam", description="Grad-CAM / HiResCAM overlay video for a clip.")
    p.add_argument("video", type=Path, nargs="?", help="video file to explain")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help=f"deployable checkpoint (default: {DEFAULT_CHECKPOINT.name} in checkpoints/)")
    p.add_argument("--layer", help="layer name (default: the last conv block; see --list-layers)")
    p.add_argument("--method", default="gradcam", choices=list(METHODS), help="CAM method (default gradcam)")
    p.add_argument("--target", type=_target, help="class name or index to explain (default: the predicted class)")
    p.add_argument("--out", type=output_file(".mp4", ".m4v", ".mov", ".mkv"),
                   help="output mp4: the frame with the model's crop | the overlay on it, side by side "
                        "(pose checkpoints: the skeleton, each joint sized and coloured by its importance)")
    p.add_argument("--plot", type=output_file(".png", ".svg", ".pdf"),
                   help="also save the per-frame importance chart (png/svg/pdf; pose checkpoints: joints x time)")
    p.add_argument("--per-frame", action="store_true",
                   help="normalise each frame on its own (detail in quiet frames; hides when the model looks)")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity in [0, 1] (default 0.5)")
    p.add_argument("--colormap", default="jet", help="matplotlib colormap (default jet)")
    p.add_argument("--fps", type=float, default=8.0, help="frame rate of the output video (default 8)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--list-layers", action="store_true", help="print the model's CAM layers and exit")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    return p


def _run(args: argparse.Namespace) -> int:
    if not args.list_layers and (args.video is None or not (args.out or args.json or args.plot)):
        raise ConfigError("VIDEO and at least one of --out, --json, --plot are required (or use --list-layers)")
    from exercise_rec.explain import cam_layers, default_layer
    from exercise_rec.explain.joints import joints_time_figure
    from exercise_rec.explain.overlay import (
        cam_video,
        frame_importance,
        importance_figure,
    )
    from exercise_rec.explain.video import explain_video, joint_video
    from exercise_rec.inference import Predictor

    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device)
    if args.list_layers:
        default = default_layer(predictor.model)
        for name in cam_layers(predictor.model):
            print(f"{name}{'  (default)' if name == default else ''}")
        return 0
    normalize = "frame" if args.per_frame else "clip"
    result = explain_video(predictor, args.video, args.layer, args.method, args.target, normalize)
    joints = result.joints  # None: a clip model
    if args.out and joints is not None:
        joint_video(args.out, result, fps=args.fps, colormap=args.colormap)
    elif args.out:
        cam_video(
            args.out, result.clip, result.frame_cam(), fps=args.fps, alpha=args.alpha, colormap=args.colormap,
            crop=result.crop,
        )
    importance = frame_importance(result.cam)
    info = result.cam.info
    if args.plot and joints is not None:
        joints_time_figure(joints.importance, joints.names, info, args.colormap).savefig(args.plot, dpi=120)
    elif args.plot:
        importance_figure(importance, info).savefig(args.plot, dpi=120)
    if args.json:
        print(json.dumps({
            "video": str(args.video), "out": args.out and str(args.out), "layer": info.layer, "method": info.method,
            "target": info.target_name, "prob": round(info.prob, 6), "predicted": result.predicted,
            "temporal_resolution": info.temporal_resolution, "layer_shape": list(info.layer_shape),
            "normalization": info.normalization, "frame_importance": [round(v, 6) for v in importance],
            **(joints.to_json() if joints is not None else {"joint_importance": None, "joint_summary": None}),
        }))  # fmt: skip
        return 0
    print(f"{args.video}: explaining {info.target_name} (p={info.prob:.1%}; predicted {result.predicted})")
    print(f"  {info.method} at {info.layer}: map {info.layer_shape}, T'={info.temporal_resolution}"
          f"{' (one map for every frame)' if info.temporal_resolution == 1 else ''}")
    print(f"  per-frame importance: {' '.join(f'{v:.2f}' for v in importance)}")
    if joints is not None:
        print(f"  joints, most important first: {', '.join(f'{name} {v:.2f}' for name, v in joints.ranked())}")
    if written := [str(path) for path in (args.out, args.plot) if path]:
        print(f"  wrote {' and '.join(written)}")
    return 0


main = cli(build_parser, _run)


if __name__ == "__main__":
    sys.exit(main())
