"""``python app.py``: the exercise_rec web app (Predict, Augmentations, Grad-CAM, Modes, Models).

Offline by design: analytics and Hub telemetry are switched off before gradio is imported, and
every model and sample is read from local files. Uploads and outputs stay in a private temporary
folder of this process (``exercise_rec.app.tempdir``), removed when it exits.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from exercise_rec.cli_common import OneLineParser, cli  # noqa: E402
from exercise_rec.errors import ConfigError  # noqa: E402


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--checkpoint", type=Path, help="default checkpoint (also offered in every picker)")
    parser.add_argument("--share", action="store_true", help="public gradio.live link (needs internet)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests computed at once")
    parser.add_argument("--max-upload", default="200mb", help="largest upload accepted, e.g. 200mb, 1gb")
    parser.add_argument("--max-pixels", default="4096x2160",
                        help="largest video frame decoded, WIDTHxHEIGHT or a pixel count (default 4096x2160)")
    parser.add_argument("--frames-budget", default="256mb",
                        help="memory for the frames the sliders scrub, all sessions together; the least "
                             "recently used are dropped first (default 256mb)")
    parser.add_argument("--max-sessions", type=int, default=1000,
                        help="sessions whose state is kept (0.3-0.5 MB each); the least recently active go first")
    return parser


def _check_port_free(host: str, port: int) -> None:
    """Gradio's own message for a busy port ("Cannot find empty port in range") never names --port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ConfigError(f"port {port} on {host} is busy ({err.strerror}); choose another with --port") from None


def serve(args: argparse.Namespace) -> int:
    """Builds the app (loading the default checkpoint, so a bad one fails here, in one line) and serves it."""
    from exercise_rec.app import AppConfig, build_app, launch_options

    _check_port_free(args.host, args.port)
    config = AppConfig(
        device=args.device, concurrency=args.concurrency, max_upload=args.max_upload, max_pixels=args.max_pixels,
        frames_budget=args.frames_budget, max_sessions=args.max_sessions,
    )
    if args.checkpoint is not None:
        config = replace(config, default_checkpoint=args.checkpoint, extra_checkpoints=(args.checkpoint,))
    build_app(config).launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options(config))
    return 0


main = cli(build_parser, serve)

if __name__ == "__main__":
    sys.exit(main())
