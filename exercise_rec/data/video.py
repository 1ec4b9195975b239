"""Video decoding, frame sampling and browser-playable writing: the one way in for every video.

Why this module exists: every user path (training, prediction, CAM, the app) starts with a video
file, and phone clips are long, large and sometimes broken. So decoding here
  * samples the frame indices first and decodes only those (``grab`` skips a frame without
    converting it; ``retrieve`` converts only wanted frames), never holding the whole video;
  * turns OpenCV's BGR into RGB once, here, and grayscale into 3 channels;
  * raises :class:`VideoError` naming the file and the reason instead of returning empty arrays,
    and bounds the time spent on a broken file (open/read timeouts plus a wall-clock budget).

Writing goes through imageio-ffmpeg's bundled ffmpeg (it has libx264 after ``pip install``;
OpenCV's wheel cannot write H.264), producing yuv420p mp4 with even dimensions, atomically.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import cv2
import imageio_ffmpeg
import numpy as np
import torch

from exercise_rec.io import atomic_path

__all__ = [
    "DEFAULT_LIMITS",
    "DecodeLimits",
    "VideoError",
    "VideoInfo",
    "probe",
    "read_clip",
    "sample_indices",
    "write_video",
]

log = logging.getLogger(__name__)

# OpenCV and its FFmpeg backend print a line per damaged packet to stderr (hundreds for one bad
# file). Keep only fatal messages; failures still surface, as VideoError raised from the return
# values checked below. setdefault: a user who exports OPENCV_FFMPEG_LOGLEVEL keeps their choice.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL; read when the first capture opens
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

Sampling = Literal["uniform", "random"]
PathArg = str | PathLike[str]


class VideoError(ValueError):
    """A video that cannot be read or written; the message names the file and the reason."""

    def __init__(self, path: PathArg, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its video stream (frames may be counted when it says nothing)."""

    frames: int
    fps: float
    width: int
    height: int
    duration: float
    codec: str


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on the work spent on one file, so a corrupt or hostile file fails fast instead of hanging.

    ``open_timeout_s``/``read_timeout_s`` are passed to OpenCV's FFmpeg backend (its interrupt
    callback); ``budget_s`` caps the whole decode of one clip; ``max_count_frames`` caps counting
    frames by grabbing when the container reports no frame count; ``seek_gap`` is the forward gap
    (in frames) from which seeking replaces grabbing: OpenCV's FFmpeg backend seeks to the previous
    keyframe and decodes forward, which is frame-accurate on constant-frame-rate files (tested with
    H.264 B-frames) and costs about half a GOP, so it pays off for gaps beyond roughly half the
    keyframe interval (measured on a 2-minute 720p H.264 file, GOP 250: 16 frames in 2.5 s with
    seeking from 120 frames, 5.7 s grabbing everything). A stream that ends more than
    ``max_missing_fraction`` (and more than 2 frames) short of the container's frame count is
    reported as truncated; smaller gaps are the normal slack of estimated counts (webm, mkv) and are
    resampled silently. ``threads`` caps FFmpeg's decoder threads (0: OpenCV's default, one per
    core); DataLoader workers use 1, since the workers already occupy the cores.
    """

    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    budget_s: float = 60.0
    max_count_frames: int = 200_000
    seek_gap: int = 120
    max_missing_fraction: float = 0.1
    threads: int = 0

    def __post_init__(self) -> None:
        if min(self.open_timeout_s, self.read_timeout_s, self.budget_s) < 0 or self.threads < 0:
            raise ValueError(f"timeouts, budget and threads must be >= 0, got {self}")
        if self.max_count_frames < 1 or self.seek_gap < 1 or not 0 <= self.max_missing_fraction < 1:
            raise ValueError(f"need max_count_frames, seek_gap >= 1 and 0 <= max_missing_fraction < 1, got {self}")


DEFAULT_LIMITS = DecodeLimits()
_FALLBACK_FPS = 30.0  # used (with a warning) when a container reports no usable frame rate
# ffmpeg muxer per suffix write_video accepts: named explicitly because the file is written under a
# temporary name whose extension ffmpeg cannot guess from (exercise_rec.io.atomic_path).
_WRITE_MUXERS = {".mp4": "mp4", ".m4v": "ipod", ".mov": "mov", ".mkv": "matroska"}


# --------------------------------------------------------------------------------------------
# Opening and diagnosing
# --------------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(path, "file not found")
    if not path.is_file():
        raise VideoError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoError(path, "file is empty (0 bytes)")


def _looks_like_mp4(path: Path) -> bool:
    """Whether the file starts with an ISO-BMFF box (mp4/mov), i.e. was meant to be a video."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide")


_IMAGE_MAGIC = {
    b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
}  # fmt: skip


def _image_format(path: Path) -> str | None:
    """The still-image format ``path`` starts with, if any (FFmpeg opens a photo as a 1-frame video)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _IMAGE_MAGIC.items() if head.startswith(magic)), None)


def _diagnose(path: Path) -> str:
    """Why OpenCV could not open ``path``: asks the bundled ffmpeg, which says more than OpenCV does."""
    try:
        result = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return "not a readable video (probing timed out)"
    err = result.stderr
    if "misdetection possible" in err:  # e.g. text or random bytes named .mp4
        return "not a video (no recognised container format)"
    if "moov atom not found" in err:
        if _looks_like_mp4(path):  # a real mp4 whose index never got written (cut-off upload/recording)
            return "truncated or corrupt (mp4 index 'moov atom' not found)"
        return "not a video (no recognised container format)"
    if "Invalid data found when processing input" in err:
        return "not a video (no recognised container format)"
    streams = re.findall(r"Stream #\S+.*?: (Video|Audio|Subtitle|Data|Attachment):", err)
    if not streams:
        return "no video stream (the container lists no streams: truncated or corrupt?)"
    if "Video" not in streams:
        return f"no video stream (streams found: {', '.join(sorted(set(streams)))})"
    return "video stream could not be opened for decoding (unsupported codec, truncated or corrupt)"


def _open(path: Path, limits: DecodeLimits) -> cv2.VideoCapture:
    _check_file(path)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(limits.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(limits.read_timeout_s * 1000),
    ]
    if limits.threads > 0:
        params += [cv2.CAP_PROP_N_THREADS, limits.threads]
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        raise VideoError(path, _diagnose(path))
    return cap


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ").lower()
    return text if text.isprintable() and text else "unknown"


def _count_by_grabbing(path: Path, limits: DecodeLimits) -> int:
    """Counts decodable frames when the container does not say; bounded by frames and time.

    Uses its own capture so the caller's stays at frame 0 (seeking back is not reliable everywhere).
    """
    cap = _open(path, limits)
    try:
        deadline = time.monotonic() + limits.budget_s
        count = 0
        while count < limits.max_count_frames and cap.grab():
            count += 1
            if time.monotonic() > deadline:
                raise VideoError(path, f"counting frames took longer than {limits.budget_s:.0f} s (corrupt?)")
        return count
    finally:
        cap.release()


def _info(cap: cv2.VideoCapture, path: Path, limits: DecodeLimits) -> VideoInfo:
    """VideoInfo from a freshly opened capture, which stays at frame 0."""
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        log.warning("%s: no usable frame rate in the container (%r); assuming %.0f fps", path, fps, _FALLBACK_FPS)
        fps = _FALLBACK_FPS
    reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    frames = int(reported) if math.isfinite(reported) and reported > 0 else 0
    if frames == 0:
        frames = _count_by_grabbing(path, limits)
    if frames == 0:
        raise VideoError(path, "zero decodable frames")
    if frames == 1 and (image := _image_format(path)):  # one frame: a photo (an animated GIF is a video)
        raise VideoError(path, f"an image ({image}), not a video")
    return VideoInfo(
        frames=frames,
        fps=fps,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        duration=frames / fps,
        codec=_fourcc(cap),
    )


def probe(path: PathArg, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Frame count, fps, size, duration and codec; checks that at least the first frame decodes.

    ``frames`` is the container's count (counted by grabbing when it reports none); a truncated
    file may decode fewer, which :func:`read_clip` handles.
    """
    p = Path(path)
    cap = _open(p, limits)
    try:
        info = _info(cap, p, limits)
        if not cap.grab():
            raise VideoError(p, "zero decodable frames (the first frame does not decode)")
        return info
    finally:
        cap.release()


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def sample_indices(
    available: int,
    num_frames: int,
    sampling: Sampling = "uniform",
    *,
    offset: int = 0,
    seed: int | None = None,
) -> np.ndarray:
    """Sorted frame indices in ``[offset, offset + available)`` for a clip of ``num_frames``.

    ``uniform``: the centre frame of each of ``num_frames`` equal segments (deterministic).
    ``random``: a random frame inside each segment (TSN-style temporal jitter), drawn from ``seed``.
    Fewer frames than ``num_frames`` are padded by looping: indices wrap around (0, 1, .., n-1, 0, ..),
    so a 1-frame video gives a clip of identical frames.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if available < 1:
        raise ValueError(f"need at least one frame to sample from, got {available}")
    if sampling not in ("uniform", "random"):
        raise ValueError(f"sampling must be 'uniform' or 'random', got {sampling!r}")
    if available < num_frames:
        return offset + np.arange(num_frames) % available
    edges = np.linspace(0, available, num_frames + 1)
    if sampling == "uniform":
        picks = (edges[:-1] + edges[1:]) / 2
    else:
        rng = np.random.default_rng(seed)
        picks = rng.uniform(edges[:-1], edges[1:])
    return offset + np.clip(picks.astype(np.int64), 0, available - 1)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def resize_shape(height: int, width: int, size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """(H, W) to resize to, or None for no resize. int = short side with aspect kept; (H, W) = exact."""
    if size is None:
        return None
    if isinstance(size, int):
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        scale = size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be an int (short side) or (H, W), got {size!r}")
    return int(size[0]), int(size[1])


def _to_rgb(frame: np.ndarray, target: tuple[int, int] | None) -> np.ndarray:
    """OpenCV frame (BGR, BGRA or gray) -> resized RGB uint8 [H, W, 3]."""
    if target is not None and frame.shape[:2] != target:
        shrinking = target[0] * target[1] < frame.shape[0] * frame.shape[1]
        frame = cv2.resize(frame, (target[1], target[0]), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class _ShortStream(Exception):
    """The stream ended before a wanted frame: the container over-reported its frame count."""

    def __init__(self, decoded: int) -> None:
        super().__init__(decoded)
        self.decoded = decoded


def _decode_indices(
    cap: cv2.VideoCapture,
    path: Path,
    indices: np.ndarray,
    size: int | Sequence[int] | None,
    limits: DecodeLimits,
) -> np.ndarray:
    """Decodes ``indices`` (any order, repeats allowed) from a capture positioned at frame 0.

    Each distinct frame is decoded once, in stream order; repeats are copied afterwards.
    """
    wanted, slots = np.unique(indices, return_inverse=True)
    deadline = time.monotonic() + limits.budget_s
    out: np.ndarray | None = None
    target: tuple[int, int] | None = None
    position = 0  # index of the frame the next grab() returns
    for k, index in enumerate(int(i) for i in wanted):
        if index - position >= limits.seek_gap:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            position = index
        while position <= index:
            if not cap.grab():
                raise _ShortStream(position)
            position += 1
            if time.monotonic() > deadline:
                raise VideoError(path, f"decoding took longer than {limits.budget_s:.0f} s (corrupt?)")
        ok, frame = cap.retrieve()
        if not ok or frame is None:
            raise VideoError(path, f"frame {index} could not be decoded (truncated or corrupt)")
        if frame.dtype != np.uint8:
            raise VideoError(path, f"unsupported pixel depth {frame.dtype} (expected 8-bit)")
        if out is None:
            target = resize_shape(frame.shape[0], frame.shape[1], size) or frame.shape[:2]
            out = np.empty((len(wanted), target[0], target[1], 3), dtype=np.uint8)
        out[k] = _to_rgb(frame, target)
    assert out is not None  # wanted is never empty
    return out if np.array_equal(wanted, indices) else out[slots]


def read_clip(
    path: PathArg,
    num_frames: int = 16,
    sampling: Sampling = "uniform",
    size: int | Sequence[int] | None = None,
    start: int | None = None,
    seed: int | None = None,
    *,
    stop: int | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> torch.Tensor:
    """Decodes ``num_frames`` frames of ``path`` as a uint8 RGB tensor [T, H, W, 3].

    Which frames: with ``start=None`` the whole video is sampled (``sampling`` as in
    :func:`sample_indices`); with ``start`` alone, ``num_frames`` consecutive frames from ``start``;
    with ``start`` and ``stop``, ``sampling`` applies to frames ``[start, stop)``. Ranges past the
    end are clipped to the frames that exist, and too few frames are padded by looping (a 1-frame
    video gives T identical frames). ``size``: None keeps the decoded size; an int resizes the short
    side to ``size`` keeping the aspect ratio; ``(H, W)`` resizes to exactly that.
    ``seed`` makes ``sampling="random"`` reproducible.

    Raises :class:`VideoError` (file missing, empty, not a video, no video stream, truncated or
    corrupt, zero decodable frames, or over the time budget in ``limits``).
    """
    p = Path(path)
    if start is not None and start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if stop is not None and start is None:
        raise ValueError("stop needs start")
    cap = _open(p, limits)
    try:
        total = _info(cap, p, limits).frames
        for attempt in range(2):
            if attempt:  # reopen rather than seek back: the stream just misbehaved
                cap.release()
                cap = _open(p, limits)
            first = 0 if start is None else min(start, total - 1)
            if start is None:
                last = total
            elif stop is None:
                last = min(first + num_frames, total)
            else:
                last = min(max(stop, first + 1), total)
            indices = sample_indices(last - first, num_frames, sampling, offset=first, seed=seed)
            try:
                return torch.from_numpy(_decode_indices(cap, p, indices, size, limits))
            except _ShortStream as short:
                if short.decoded == 0:
                    raise VideoError(p, "zero decodable frames") from None
                if total - short.decoded > max(2, limits.max_missing_fraction * total):
                    raise VideoError(
                        p, f"truncated or corrupt: the container lists {total} frames, decoding stops after {short.decoded}"
                    ) from None
                log.debug("%s: container says %d frames, %d decode; resampling", p, total, short.decoded)
                total = short.decoded
        raise VideoError(p, "frame count keeps changing while decoding (corrupt?)")
    finally:
        cap.release()


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _frame_iter(frames: np.ndarray | torch.Tensor | Iterable[np.ndarray], path: Path) -> Iterator[np.ndarray]:
    """Yields contiguous uint8 [H, W, 3] numpy frames from an array, tensor or iterable of frames."""
    for frame in frames:
        if isinstance(frame, torch.Tensor):
            frame = frame.detach().cpu().numpy()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise VideoError(path, f"frames must be uint8 RGB, got dtype {frame.dtype}")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise VideoError(path, f"each frame must be [H, W, 3] RGB, got shape {tuple(frame.shape)}")
        yield np.ascontiguousarray(frame)


def write_video(
    path: PathArg,
    frames: np.ndarray | torch.Tensor | Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = 23,
    preset: str = "medium",
) -> Path:
    """Writes uint8 RGB frames [T, H, W, 3] as browser-playable H.264 (yuv420p) mp4; returns the path.

    Odd widths/heights are padded by one black pixel (yuv420p needs even sizes). ``crf`` is x264's
    quality (lower = better, 18 is visually lossless); ``preset`` trades encode speed for size.
    Frames stream to ffmpeg one at a time (an iterable of frames works too), and the file appears
    atomically: a temporary file in the same folder is renamed over ``path`` on success.
    """
    target = Path(path)
    muxer = _WRITE_MUXERS.get(target.suffix.lower())
    if muxer is None:
        raise VideoError(target, f"write_video writes H.264 in {', '.join(_WRITE_MUXERS)}, not {target.suffix!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(target, f"fps must be a positive number, got {fps!r}")
    it = _frame_iter(frames, target)
    first = next(it, None)
    if first is None:
        raise VideoError(target, "no frames to write")
    height, width = first.shape[:2]
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-",
        "-an", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-f", muxer,
    ]  # fmt: skip
    with atomic_path(target) as tmp, tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen([*cmd, str(tmp)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errfile)
        assert proc.stdin is not None
        count = 0
        try:
            for frame in _chain(first, it):
                if frame.shape[:2] != (height, width):
                    raise VideoError(target, f"frame {count} is {frame.shape[:2]}, frame 0 is {(height, width)}")
                proc.stdin.write(frame.data)
                count += 1
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg quit early; its exit code and stderr below say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        returncode = proc.wait()
        if returncode != 0:
            errfile.seek(0)
            message = errfile.read().decode(errors="replace").strip().splitlines()
            raise VideoError(target, f"ffmpeg failed (exit {returncode}): {' | '.join(message[-3:])}")
    log.debug("wrote %s (%d frames, %dx%d, %.3g fps)", target, count, width, height, fps)
    return target


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
