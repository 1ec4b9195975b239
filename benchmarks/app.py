"""App benchmark: upload-to-prediction time through the running app, against the library call.

Starts the app in this process on a free loopback port and times ``/predict`` through
``gradio_client`` (upload, queue, decode, model, response) for a bundled sample and for a 10 s
1280x720 H.264 file; the peer row is ``Predictor.predict`` on the same file in the same run (so
the difference is what the web layer costs). Also ``/explain`` at every CAM layer of the default
checkpoint, and one call of each tab's endpoint on the same sample (``/compare_streams`` only with a
pose checkpoint in ``checkpoints/``). Median of ``--repeats`` after one warm-up call.

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

    from exercise_rec.app import AppConfig, ModelStore, build_app
    from exercise_rec.app.state import SAMPLES_DIR
    from exercise_rec.app.streams_tab import pose_checkpoint
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
        augment = [True, 0.3, 0.6, 0.75, 1.33, True, 0.5, True, 15, 112]  # crop, flip, rotate; 112 px
        tabs = {
            "Predict: /predict, then /timeline": lambda: (
                client.predict(sample, name, api_name="/predict"),
                client.predict(sample, name, api_name="/timeline"),
            ),
            "Augmentations: /augment": lambda: client.predict(sample, *augment, 7, api_name="/augment"),
            "Grad-CAM: /explain (the tab's default, HiResCAM features.3)": lambda: client.predict(
                sample, name, "hirescam", "features.3", "(predicted class)", False, 0.5, "jet", api_name="/explain"
            ),
            "Modes: /compare_modes": lambda: client.predict(sample, api_name="/compare_modes"),
            "Models: /models": lambda: client.predict(api_name="/models"),
        }
        if pose_checkpoint(ModelStore(AppConfig(device="cpu"))) is not None:
            tabs["RGB vs pose: /compare_streams"] = lambda: client.predict(sample, api_name="/compare_streams")
        print("\n| tab: endpoint (squat.mp4) | ms |\n|---|---|")
        for label, call in tabs.items():
            print(f"| {label} | {median_ms(call, args.repeats):.0f} |")
    finally:
        app.close()


if __name__ == "__main__":
    main()
