"""Decode benchmark: ``read_clip`` (sample indices first, grab/skip, convert only what is kept)
against the naive peer (decode and convert every frame, keep the 16 wanted), same files, same run.

Files are made here with ``write_video`` (H.264, yuv420p, x264 ``ultrafast`` so that making them is
quick): a 10 s 1280x720 clip and a 2-minute 1920x1080 recording at 30 fps, with moving texture so the
encoder has real work. Each measurement runs in a fresh subprocess so its peak RSS is its own.

    python benchmarks/decode.py [--dir /tmp/exercise_rec_bench] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FILES = {"10s_720p": (10, 1280, 720), "2min_1080p": (120, 1920, 1080)}
FPS = 30
FRAMES = 16


def moving_frames(seconds: int, width: int, height: int) -> Iterator[np.ndarray]:
    """A scrolling noise texture with a bouncing bright square: motion the encoder must code."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(seconds * FPS):
        frame = np.roll(texture, (i * 3) % width, axis=1).copy()
        x = int((width - 200) * (0.5 + 0.5 * np.sin(i / 15)))
        frame[height // 3: height // 3 + 200, x: x + 200] = 255
        yield frame


def make_files(folder: Path, only: tuple[str, ...] = tuple(FILES)) -> dict[str, Path]:
    """The benchmark videos named in ``only`` (made once in ``folder``, reused afterwards)."""
    from exercise_rec.data.video import write_video

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in only:
        seconds, width, height = FILES[name]
        path = folder / f"{name}.mp4"
        if not path.is_file():
            start = time.perf_counter()
            write_video(path, moving_frames(seconds, width, height), FPS, crf=28, preset="ultrafast")
            print(f"  made {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s")
        paths[name] = path
    return paths


def naive_clip(path: str, num_frames: int) -> np.ndarray:
    """The peer: read every frame with OpenCV, convert each to RGB, keep the uniformly sampled ones."""
    import cv2

    cap = cv2.VideoCapture(path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, total - 1, num_frames).round().astype(int).tolist())
    kept, index = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if index in wanted:
            kept.append(rgb)
        index += 1
    cap.release()
    return np.stack(kept)


def measure(method: str, path: str, repeats: int, threads: int) -> dict[str, float]:
    """Runs in a child process: clips/s over ``repeats`` reads and this process's peak RSS."""
    import cv2

    cv2.setNumThreads(threads)
    from exercise_rec.data.video import read_clip

    if method == "imports-only":  # the process's own footprint
        return {"clips_per_s": 0.0, "peak_rss_mb": _peak_rss_mb()}
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        if method == "naive":
            clip = naive_clip(path, FRAMES)
        else:
            clip = read_clip(path, FRAMES, sampling=method, seed=seed)
        times.append(time.perf_counter() - start)
        assert clip.shape[0] == FRAMES, clip.shape
    return {"clips_per_s": len(times) / sum(times), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(method: str, path: Path, repeats: int, threads: int) -> dict[str, float]:
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import decode; "
            f"print(json.dumps(decode.measure({method!r}, {str(path)!r}, {repeats}, {threads})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/exercise_rec_bench"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    paths = make_files(args.dir)
    baseline = run_child("imports-only", paths["10s_720p"], 0, args.threads)
    print(f"\n16-frame clips, OpenCV decode, {args.threads} threads, {args.repeats} reads per row")
    header = f"{'file':12} {'method':22} {'clips/s':>8} {'peak RSS MB':>12} {'x naive':>8}"
    print(header)
    print("-" * len(header))
    for name, path in paths.items():
        repeats = {"naive": 1 if name.startswith("2min") else args.repeats}
        naive = run_child("naive", path, repeats["naive"], args.threads)
        for method in ("naive", "uniform", "random"):
            result = naive if method == "naive" else run_child(method, path, args.repeats, args.threads)
            label = "naive (every frame)" if method == "naive" else f"read_clip {method}"
            speedup = result["clips_per_s"] / naive["clips_per_s"]
            print(f"{name:12} {label:22} {result['clips_per_s']:>8.2f} {result['peak_rss_mb']:>12.0f} {speedup:>8.1f}")
    print(f"\npeak RSS includes the process itself: Python + torch + OpenCV imported, nothing decoded ="
          f" {baseline['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
