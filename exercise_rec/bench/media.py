"""The benchmark's input files, made once into the data directory and reused by later runs.

Videos: 1280x720 H.264 (yuv420p) at 30 fps with a scrolling noise texture and a bouncing bright
square, so the encoder has real motion to code (a static frame would decode unrealistically fast);
x264 ``ultrafast`` keeps making them quick. The loader's dataset comes from the synthetic generator.
Every file appears atomically, so an interrupted run leaves nothing half-written to reuse.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from exercise_rec.data.synthetic import CLASS_NAMES, SynthConfig, generate_dataset
from exercise_rec.data.video import write_video

log = logging.getLogger(__name__)

FPS = 30
WIDTH, HEIGHT = 1280, 720
SHORT_SECONDS = 10
SYNTH_PER_CLASS = 6  # the split gives 4 train, 1 val, 1 test per class
SYNTH_SECONDS = 2.0


def moving_frames(seconds: int, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    """RGB frames of a scrolling noise texture with a bouncing bright square."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(seconds * FPS):
        frame = np.roll(texture, (i * 3) % width, axis=1)
        x = int((width - 200) * (0.5 + 0.5 * np.sin(i / 15)))
        frame[height // 3 : height // 3 + 200, x : x + 200] = 255
        yield frame


def video_label(seconds: int) -> str:
    return f"{seconds} s {WIDTH}x{HEIGHT} H.264"


def bench_video(data_dir: Path, seconds: int) -> Path:
    """The ``seconds``-long 720p benchmark video in ``data_dir`` (made on first use)."""
    path = data_dir / f"{seconds}s_{HEIGHT}p.mp4"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_video(path, moving_frames(seconds), FPS, crf=28, preset="ultrafast")
        log.info("made %s (%.1f MB) in %.0f s", path, path.stat().st_size / 1e6, time.perf_counter() - started)
    return path


def synthetic_dataset(data_dir: Path, classes: int) -> Path:
    """A folder-per-class synthetic dataset of the first ``classes`` classes (made on first use)."""
    root = data_dir / f"synth_{classes}x{SYNTH_PER_CLASS}"
    if not (root / "test.txt").is_file():  # the split files are written last
        started = time.perf_counter()
        config = replace(SynthConfig(), duration=SYNTH_SECONDS)
        generate_dataset(root, SYNTH_PER_CLASS, seed=0, config=config, classes=CLASS_NAMES[:classes])
        log.info("made %s in %.0f s", root, time.perf_counter() - started)
    return root
