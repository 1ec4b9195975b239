"""App benchmark: upload-to-prediction time through the running app, against the library call.

Starts the app in this process on a free loopback port and times ``/predict`` through
``gradio_client`` (upload, queue, decode, model, response) for a bundled sample and for a 10 s
1280x720 H.264 file; the peer row is ``Predictor.predict`` on the same file in the same run (so
the difference is what the web layer costs). Also ``/explain`` at every CAM layer of the default
checkpoint. Median of ``--repeats`` after one warm-up call.

    python benchmarks/app.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from exercise_rec.bench.config import DEFAULT_DATA_DIR
from exercise_rec.bench.media import SHORT_SECONDS, bench_video, video_label
from exercise_rec.bench.timing import median_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where the 720p file is cached")
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    from exercise_rec.app import AppConfig, build_app
    from exercise_rec.app.state import SAMPLES_DIR
    from exercise_rec.explain import cam_layers
    from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor

    files = {
        "sample squat.mp4 (320x240, 3 s)": SAMPLES_DIR / "squat.mp4",
        video_label(SHORT_SECONDS): bench_video(args.data_dir, SHORT_SECONDS),
    }
    app = build_app(AppConfig(device="cpu"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        predictor = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
        name = DEFAULT_CHECKPOINT.name
        print(f"repeats={args.repeats}")
        print("| input | app /predict ms | Predictor.predict ms | app / library |")
        print("|---|---|---|---|")
        for label, path in files.items():
            upload = handle_file(str(path))
            app_ms = median_ms(lambda u=upload: client.predict(u, name, api_name="/predict"), args.repeats)
            lib_ms = median_ms(lambda p=path: predictor.predict(p), args.repeats)
            print(f"| {label} | {app_ms:.0f} | {lib_ms:.0f} | {app_ms / lib_ms:.2f}x |")
        sample = handle_file(str(files["sample squat.mp4 (320x240, 3 s)"]))
        print("\n| /explain layer (Grad-CAM, squat.mp4) | ms |\n|---|---|")
        for layer in cam_layers(predictor.model):
            ms = median_ms(
                lambda layer=layer: client.predict(
                    sample, name, "gradcam", layer, "(predicted class)", False, api_name="/explain"
                ),
                args.repeats,
            )
            print(f"| {layer} | {ms:.0f} |")
    finally:
        app.close()


if __name__ == "__main__":
    main()
