"""The benchmark's input files, made once into the data directory and reused by later runs.

Videos: 1280x720 H.264 (yuv420p) at 30 fps with a scrolling noise texture and a bouncing bright
square, so the encoder has real motion to code (a static frame would decode unrealistically fast);
x264 ``ultrafast`` keeps making them quick. The loader's dataset comes from the synthetic generator.

Phone-like files (:func:`phone_video`): 1920x1080 H.264 as a phone records it, a keyframe every 1-2 s
at a fixed interval (``-g`` = ``-keyint_min``, no scene-cut keyframes), 30 or 60 fps, 30-60 s,
High profile with CABAC and no B-frames at a phone's bitrate (16 Mbit/s at 30 fps, 24 at 60). The
picture is a synthetic clip (the generator's, person and all) looped, scaled up and padded to 1080p,
with temporal grain so that every frame has residual to code, as a sensor's noise does; a looped
upscaled clip alone would compress to almost nothing and decode unrealistically fast. Made with the
bundled ffmpeg (imageio-ffmpeg) and checked against the file's own keyframe index.

Every file appears atomically, so an interrupted run leaves nothing half-written to reuse.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from exercise_rec.bench.config import SYNTH_PER_CLASS, PhoneSpec
from exercise_rec.data.keyframes import mp4_keyframes
from exercise_rec.data.synthetic import CLASS_NAMES, SynthConfig, generate_dataset
from exercise_rec.data.video import write_video
from exercise_rec.io import atomic_path

log = logging.getLogger(__name__)

FPS = 30
WIDTH, HEIGHT = 1280, 720
SHORT_SECONDS = 10
SYNTH_SECONDS = 2.0
PHONE_WIDTH, PHONE_HEIGHT = 1920, 1080
PHONE_SOURCE_CLASSES = 4  # phone files loop clips of this synthetic set (the --quick loader's, so shared)
PHONE_MBITS = {30: 16, 60: 24}  # a phone's H.264 bitrate at 1080p per frame rate (Mbit/s)


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


def synthetic_videos(data_dir: Path, classes: int) -> list[Path]:
    """Every video of :func:`synthetic_dataset` (``classes`` x ``SYNTH_PER_CLASS``), sorted."""
    return sorted(synthetic_dataset(data_dir, classes).glob("*/*.mp4"))


def spread_pick(items: list[Path], count: int) -> list[Path]:
    """``count`` of ``items`` spread evenly over the list (so over every class of a sorted dataset)."""
    if count > len(items):
        raise ValueError(f"asked for {count} of {len(items)} items")
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def phone_video(data_dir: Path, spec: PhoneSpec, index: int) -> Path:
    """The ``index``-th phone-like file of ``spec`` in ``data_dir/phone`` (made on first use from the
    ``index``-th clip, spread over the classes, of the synthetic set of :data:`PHONE_SOURCE_CLASSES`)."""
    path = data_dir / "phone" / spec.filename(index)
    if path.is_file():
        return path
    sources = synthetic_videos(data_dir, PHONE_SOURCE_CLASSES)
    source = sources[(index * 7) % len(sources)]  # 7 is coprime to the 24 clips: a new clip for each index
    rate = PHONE_MBITS.get(spec.fps, 24)
    w, h = PHONE_WIDTH, PHONE_HEIGHT
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-stream_loop", "-1", "-i", str(source), "-t", str(spec.seconds), "-an",
        "-vf", (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                f"fps={spec.fps},noise=alls=8:allf=t"),
        "-c:v", "libx264", "-preset", "superfast", "-profile:v", "high", "-bf", "0",
        "-g", str(spec.gop), "-keyint_min", str(spec.gop), "-sc_threshold", "0",
        "-b:v", f"{rate}M", "-maxrate", f"{rate * 5 // 4}M", "-bufsize", f"{rate * 5 // 4}M",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip
    started = time.perf_counter()
    with atomic_path(path) as tmp:
        done = subprocess.run([*cmd, str(tmp)], check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg failed making {path.name}: {done.stderr.strip()[-500:]}")
        keyframes = mp4_keyframes(tmp)
        regular = keyframes is not None and len(keyframes) >= spec.seconds // spec.keyframe_s and keyframes[0] == 0
        if not regular or not np.all(np.diff(keyframes) == spec.gop):  # type: ignore[arg-type]
            raise RuntimeError(f"{path.name}: keyframes at {keyframes}, expected every {spec.gop} frames")
    log.info("made %s (%.0f MB) in %.0f s", path, path.stat().st_size / 1e6, time.perf_counter() - started)
    return path


def phone_videos(data_dir: Path, specs: tuple[PhoneSpec, ...]) -> list[Path]:
    """One phone-like file per spec (each from its own synthetic clip), made on first use."""
    return [phone_video(data_dir, spec, index) for index, spec in enumerate(specs)]
