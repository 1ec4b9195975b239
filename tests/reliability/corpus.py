"""The reliability corpus: odd but valid videos and invalid uploads, made at test time (nothing in git).

Why generated: the files that break video apps are the ones nobody keeps around (an audio-only mp4,
a recording cut off before its index, a 4K phone clip, a photo renamed .mp4). Each is built here
with the tool a user's file would have come from: our ``write_video``, OpenCV's ``VideoWriter`` or
the bundled ffmpeg. The picture content is ``samples/squat.mp4`` (resized, rotated or looped), so
every valid file shows a real exercise.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from exercise_rec.app.state import SAMPLES_DIR
from exercise_rec.data.video import probe, read_clip, write_video
from tests.data.conftest import ffmpeg_encode

Frames = np.ndarray  # uint8 RGB [T, H, W, 3]
Maker = Callable[[Path, Frames], Path]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
VP9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "30"]
UHD = (2160, 3840)  # (H, W)


def source_frames() -> Frames:
    """Every frame of ``samples/squat.mp4`` (320x240, 77 frames at 24 fps)."""
    path = SAMPLES_DIR / "squat.mp4"
    return read_clip(path, probe(path).frames).numpy()


def _ffmpeg(path: Path, *args: str) -> Path:
    """Runs the bundled ffmpeg with ``args`` writing ``path`` (lavfi sources, stream copies)."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True)
    return path


def _opencv(fourcc: str, color: bool = True) -> Maker:
    """A maker writing with OpenCV's ``VideoWriter`` (its own encoders, not libx264)."""

    def make(path: Path, frames: Frames) -> Path:
        size = (frames.shape[2], frames.shape[1])
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 24, size, color)
        assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.name}"
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR if color else cv2.COLOR_RGB2GRAY))
        writer.release()
        return path

    return make


def _encode(args: Sequence[str], fps: float = 24) -> Maker:
    """A maker encoding the frames with the bundled ffmpeg and these codec arguments."""
    return lambda path, frames: ffmpeg_encode(path, frames, fps, args)


def _write(transform: Callable[[Frames], Frames] = lambda f: f, fps: float = 24) -> Maker:
    """A maker going through our own ``write_video`` (H.264 mp4) after ``transform``."""
    return lambda path, frames: write_video(path, transform(frames), fps, preset="ultrafast")


def _resized(height: int, width: int) -> Callable[[Frames], Frames]:
    return lambda frames: np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def _uhd(path: Path, frames: Frames) -> Path:
    """One second of 3840x2160, upscaled frame by frame (streamed: 24 raw 4K frames would be 600 MB)."""
    upscaled = (cv2.resize(f, UHD[::-1], interpolation=cv2.INTER_NEAREST) for f in frames[:24])
    return write_video(path, upscaled, 24, preset="ultrafast")


def _two_minutes(path: Path, frames: Frames) -> Path:
    """The clip looped for 2 minutes at 160x120, 24 fps (2,880 frames)."""
    small = _resized(120, 160)(frames)
    return write_video(path, (small[k % len(small)] for k in range(120 * 24)), 24, preset="ultrafast")


VALID: dict[str, Maker] = {
    "h264.mp4": _write(),
    "h264.mkv": _encode(X264),
    "h264.mov": _encode(X264),
    "mpeg4.avi": _encode(["-c:v", "mpeg4", "-q:v", "4"]),
    "mp4v_opencv.mp4": _opencv("mp4v"),
    "mjpeg_opencv.avi": _opencv("MJPG"),
    "mjpeg.mov": _encode(["-c:v", "mjpeg", "-q:v", "4"]),
    "vp9.webm": _encode(VP9),
    "vp9.mkv": _encode(VP9),
    "gray_h264.mp4": _encode(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "gray"]),
    "gray_opencv.avi": _opencv("MJPG", color=False),
    "one_frame.mp4": _write(lambda f: f[:1]),
    "six_frames.mp4": _write(lambda f: f[:6]),
    "tiny_18x14.mp4": _write(_resized(14, 18)),
    "portrait_240x320.mp4": _write(lambda f: np.ascontiguousarray(np.rot90(f, axes=(1, 2)))),
    "fps120.mp4": _write(lambda f: np.concatenate([f, f, f]), fps=120),
    "uhd_3840x2160.mp4": _uhd,
    "two_minutes.mp4": _two_minutes,
}


def _text(path: Path, frames: Frames) -> Path:
    path.write_text("squat,push_up\n" * 100)
    return path


def _random(path: Path, frames: Frames) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(64_000))
    return path


def _empty(path: Path, frames: Frames) -> Path:
    path.write_bytes(b"")
    return path


def _cut(fraction: float, args: Sequence[str]) -> Maker:
    """An mp4 cut off after ``fraction`` of its bytes (an upload or recording that stopped early)."""

    def make(path: Path, frames: Frames) -> Path:
        data = ffmpeg_encode(path.with_name(f"whole_{path.name}"), frames, 24, args).read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
        return path

    return make


def _audio_only(path: Path, frames: Frames) -> Path:
    return _ffmpeg(path, "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac")


def _image(ext: str) -> Maker:
    """A still image (the middle frame) saved by OpenCV as ``ext``, whatever the file is called."""

    def make(path: Path, frames: Frames) -> Path:
        ok, data = cv2.imencode(ext, cv2.cvtColor(frames[len(frames) // 2], cv2.COLOR_RGB2BGR))
        assert ok
        path.write_bytes(data.tobytes())
        return path

    return make


# name -> (maker, words the error message must contain)
INVALID: dict[str, tuple[Maker, str]] = {
    "empty.mp4": (_empty, "empty"),
    "text.mp4": (_text, "not a video"),
    "random.mp4": (_random, "not a video"),
    "no_index.mp4": (_cut(0.5, X264), "truncated"),  # ffmpeg writes the moov atom last
    "cut_body.mp4": (_cut(0.3, [*X264, "-movflags", "+faststart"]), "truncated"),  # index kept, frames gone
    "audio_only.mp4": (_audio_only, "no video stream"),
    "image.png": (_image(".png"), "an image"),
    "photo_as.mp4": (_image(".jpg"), "an image"),
}


@dataclass(frozen=True)
class Corpus:
    """The generated files: ``valid[name]`` and ``invalid[name] = (path, expected words)``."""

    valid: dict[str, Path]
    invalid: dict[str, tuple[Path, str]]


def build_corpus(root: Path) -> Corpus:
    """Writes every corpus file under ``root`` (about 10 s on two cores, dominated by 4K encoding)."""
    frames = source_frames()
    (root / "valid").mkdir(parents=True, exist_ok=True)
    (root / "invalid").mkdir(exist_ok=True)
    valid = {name: make(root / "valid" / name, frames) for name, make in VALID.items()}
    invalid = {name: (make(root / "invalid" / name, frames), words) for name, (make, words) in INVALID.items()}
    return Corpus(valid, invalid)
