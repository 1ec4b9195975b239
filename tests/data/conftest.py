"""Small test videos made on the fly, whose frames say which frame they are.

Frame ``i`` carries ``i`` in binary as ``BITS`` vertical bars (white = 1), wide enough to survive
lossy codecs, so a test can read back exactly which source frames a decoder returned.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

BITS = 10


def coded_frames(n: int, height: int = 48, width: int = 80, first: int = 0) -> np.ndarray:
    """uint8 RGB [n, H, W, 3]; frame k shows the number ``first + k`` as bars (bit b = bar b)."""
    frames = np.zeros((n, height, width, 3), dtype=np.uint8)
    bar = width // BITS
    for k in range(n):
        for b in range(BITS):
            if ((first + k) >> b) & 1:
                frames[k, :, b * bar : (b + 1) * bar] = 255
    return frames


def frame_ids(clip: torch.Tensor | np.ndarray) -> list[int]:
    """Reads back the numbers drawn by :func:`coded_frames` from a decoded [T, H, W, 3] clip."""
    clip = np.asarray(clip)
    bar = clip.shape[2] // BITS
    margin = max(1, bar // 4)  # ignore codec ringing at bar edges
    ids = []
    for frame in clip:
        bits = [frame[:, b * bar + margin : (b + 1) * bar - margin].mean() > 127 for b in range(BITS)]
        ids.append(sum(1 << b for b, on in enumerate(bits) if on))
    return ids


def ffmpeg_encode(path: Path, frames: np.ndarray, fps: float, args: Sequence[str], fmt: str | None = None) -> Path:
    """Encodes RGB frames with the bundled ffmpeg and any codec arguments (formats write_video does not)."""
    t, h, w, _ = frames.shape
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *args]
    if fmt is None:
        subprocess.run([*cmd, str(path)], input=frames.tobytes(), check=True)
    else:  # streamed output: no seekable index, no duration, no frame count in the header
        result = subprocess.run([*cmd, "-f", fmt, "pipe:1"], input=frames.tobytes(), check=True, capture_output=True)
        path.write_bytes(result.stdout)
    return path


@pytest.fixture
def make_coded(tmp_path: Path) -> Callable[..., Path]:
    """``make_coded(name, n, fps=25, args=None, height=48, width=80)``: an index-coded video in tmp_path.

    With ``args=None`` it goes through our own ``write_video`` (H.264 mp4); otherwise through ffmpeg
    with those codec arguments (the file suffix picks the container).
    """
    from exercise_rec.data.video import write_video

    def make(
        name: str,
        n: int,
        fps: float = 25,
        args: Sequence[str] | None = None,
        height: int = 48,
        width: int = 80,
        fmt: str | None = None,
    ) -> Path:
        frames = coded_frames(n, height, width)
        path = tmp_path / name
        if args is None:
            return write_video(path, frames, fps, crf=18, preset="ultrafast")
        return ffmpeg_encode(path, frames, fps, args, fmt)

    return make
