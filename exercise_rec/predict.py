"""``python -m exercise_rec.predict VIDEO ...``: classify videos with a deployable checkpoint.

    python -m exercise_rec.predict samples/squat.mp4
    python -m exercise_rec.predict recording.mp4 --json --timeline 1.0
    python -m exercise_rec.predict samples/squat.mp4 --backend openvino   # fast CPU path
    python -m exercise_rec.predict gym/ 'more/**/*.mov' clips.zip --out results.jsonl   # batch, resumable

One plain video file without ``--out`` is a single prediction (text or ``--json``); anything else
(several inputs, a folder, a glob, an archive, ``--out``) is a batch run (``exercise_rec.batch``).

Commands, flags and exit codes: docs/cli.md; the ``--json`` record: docs/formats.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from exercise_rec.cli_common import OneLineParser, cli, output_file, positive_int

if TYPE_CHECKING:
    from exercise_rec.inference import Predictor


def build_parser() -> OneLineParser:
    from exercise_rec.batch.loader import default_workers
    from exercise_rec.fastpath import BACKENDS
    from exercise_rec.inference import CLIP_S, DEFAULT_CHECKPOINT, LONG_VIDEO_S

    p = OneLineParser(prog="python -m exercise_rec.predict", description="Classify the exercise in a video.",
                      epilog="All commands and exit codes: docs/cli.md; the --json record: docs/formats.md.")
    p.add_argument("videos", nargs="+", metavar="VIDEO",
                   help="video files, folders (searched recursively for .mp4 .avi .mov .mkv .webm), glob patterns "
                        "('clips/**/*.mp4', quoted) or zip / tar archives")
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
    batch = p.add_argument_group("batch runs (several videos; docs/cli.md)")
    batch.add_argument("--out", type=output_file(".jsonl", ".csv"),
                       help="append one record per video here (JSON Lines or CSV); a re-run skips recorded videos")
    batch.add_argument("--workers", type=int, default=default_workers(),
                       help="decoding processes per device (default: the cores this process may use; 0: decode here)")
    batch.add_argument("--batch-size", type=positive_int, default=4, help="videos per model call (default 4)")
    batch.add_argument("--devices", type=positive_int, default=1,
                       help="processes (one per GPU, or CPU processes) on this machine (default 1)")
    batch.add_argument("--num-nodes", type=positive_int, default=1,
                       help="machines, under torchrun or SLURM (default 1; README: more than one machine)")
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


def _is_batch(args: argparse.Namespace) -> bool:
    """Anything but one plain video file without --out is a batch run."""
    from exercise_rec.batch.sources import is_archive

    if args.out is not None or len(args.videos) > 1 or args.devices * args.num_nodes > 1:
        return True
    path = Path(args.videos[0])
    return path.is_dir() or is_archive(path) or (not path.exists() and glob.has_magic(args.videos[0]))


def _predictor(args: argparse.Namespace, device: object = None) -> Predictor:
    from exercise_rec.inference import Predictor

    return Predictor.from_checkpoint(args.checkpoint, device=device or args.device, backend=args.backend,
                                     person_check=False if args.no_person_check else None, framing=not args.no_framing)


def _run_batch(args: argparse.Namespace) -> int:
    from exercise_rec.batch import collect
    from exercise_rec.batch.engine import BatchJob, run
    from exercise_rec.errors import ConfigError

    if args.devices * args.num_nodes > 1 and args.out is None:
        raise ConfigError("--devices / --num-nodes write part files merged into --out: give --out FILE.jsonl|.csv")
    if args.workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {args.workers}")
    sources = collect(args.videos)
    if not sources:
        raise ConfigError(f"no video found in {' '.join(args.videos)} (suffixes .mp4 .avi .mov .mkv .webm)")
    job = BatchJob(sources, lambda device: _predictor(args, device), args.checkpoint, args.out, args.top_k,
                   args.timeline, args.workers, args.batch_size, args.devices, args.num_nodes, args.json)  # fmt: skip
    return run(job, _predictor(args))


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.batch.classify import timeline_json
    from exercise_rec.data import probe

    if _is_batch(args):
        return _run_batch(args)
    video = Path(args.videos[0])
    predictor = _predictor(args)
    result = predictor.predict(video, top_k=args.top_k)
    timeline = predictor.predict_windows(video, args.timeline) if args.timeline else None
    note = None if timeline is not None else _long_video_note(probe(video, limits=predictor.limits).duration)
    if args.json:
        out = result.to_json()
        if timeline is not None:
            out["timeline"] = timeline_json(timeline)
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
