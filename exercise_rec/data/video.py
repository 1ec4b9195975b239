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
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Literal

import cv2
import imageio_ffmpeg
import numpy as np
import torch

from exercise_rec.data.avi import pictures_of_frames
from exercise_rec.data.containers import (
    AVI,
    FFMPEG_CAPTURE_OPTIONS,
    FFMPEG_DEMUXERS,
    GIF,
    ISO_BMFF,
    Container,
    NotSelfContained,
    sniff,
)
from exercise_rec.data.keyframes import mp4_keyframes
from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.io import atomic_path

__all__ = [
    "DEFAULT_LIMITS",
    "AtMost",
    "DecodeLimits",
    "VideoError",
    "VideoInfo",
    "probe",
    "read_clip",
    "read_windows",
    "sample_indices",
    "write_video",
]

log = logging.getLogger(__name__)

# OpenCV and its FFmpeg backend print a line per damaged packet to stderr (hundreds for one bad
# file). Keep only fatal messages; failures still surface, as VideoError raised from the return
# values checked below. setdefault: a user who exports OPENCV_FFMPEG_LOGLEVEL keeps their choice.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL; read when the first capture opens
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
# Read by OpenCV at every open: FFmpeg may only use self-contained demuxers on local files (see
# containers.py). Appended to a user's own options so that ours win on a repeated key.
_options = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
if FFMPEG_CAPTURE_OPTIONS not in _options:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "|".join(filter(None, (_options, FFMPEG_CAPTURE_OPTIONS)))

Sampling = Literal["uniform", "random"]
PathArg = str | PathLike[str]


class VideoError(ExerciseRecError, ValueError):
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


_FALLBACK_FPS = 30.0  # used (with a warning) when a container reports no usable frame rate
# ffmpeg muxer per suffix write_video accepts: named explicitly because the file is written under a
# temporary name whose extension ffmpeg cannot guess from (exercise_rec.io.atomic_path).
_WRITE_MUXERS = {".mp4": "mp4", ".m4v": "ipod", ".mov": "mov", ".mkv": "matroska"}


# --------------------------------------------------------------------------------------------
# Opening and diagnosing
# --------------------------------------------------------------------------------------------


def _check_file(path: Path) -> Container:
    """The file's container, identified from its content before FFmpeg opens it (see containers.py)."""
    if not path.exists():
        raise VideoError(path, "file not found")
    if not path.is_file():
        raise VideoError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoError(path, "file is empty (0 bytes)")
    try:
        return sniff(path)
    except NotSelfContained as err:
        raise VideoError(path, err.reason) from None


def _ffmpeg_header(path: Path, limits: DecodeLimits) -> str:
    """What the bundled ffmpeg says of ``path``'s streams (its stderr), read in a child process.

    Why a child: opening a file in FFmpeg already decodes a frame to learn the stream's parameters
    (630 MB for one 16000x16000 H.264 frame before a single frame is asked for), and an open that
    hangs cannot be aborted from Python. The child gets ``-max_pixels`` (the decoder allocates no
    frame over the limit, so the header costs ~110 MB even for that file), the same demuxer and
    protocol allow-lists as every capture, and ``open_timeout_s``, after which it is killed.
    """
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-threads", "1",
        "-max_pixels", str(limits.max_pixels), "-format_whitelist", FFMPEG_DEMUXERS, "-protocol_whitelist", "file",
        "-i", str(path.absolute()),
    ]  # fmt: skip
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=limits.open_timeout_s)
    except subprocess.TimeoutExpired:
        raise VideoError(path, f"reading the header took longer than {limits.open_timeout_s:g} s (refused)") from None
    return result.stderr


def _check_header(path: Path, limits: DecodeLimits) -> str:
    """:func:`_ffmpeg_header`, refusing a video stream over the frame limits; returns the header text."""
    header = _ffmpeg_header(path, limits)
    for line in header.splitlines():
        if "Video:" in line and "attached pic" not in line and (size := re.search(r", (\d+)x(\d+)\b", line)):
            if reason := limits.check_frame(int(size[1]), int(size[2])):
                raise VideoError(path, reason)
    return header


def _diagnose(container: Container, header: str) -> str:
    """Why OpenCV could not open a file, from what ffmpeg said of it (:func:`_ffmpeg_header`)."""
    if "moov atom not found" in header:  # an mp4 whose index never got written (cut-off upload/recording)
        return "truncated or corrupt (mp4 index 'moov atom' not found)"
    if "Invalid data found when processing input" in header or "misdetection possible" in header:
        return f"not a video (starts like {container.name} but does not parse as one: corrupt?)"
    streams = re.findall(r"Stream #\S+.*?: (Video|Audio|Subtitle|Data|Attachment):", header)
    if not streams:
        return "no video stream (the container lists no streams: truncated or corrupt?)"
    if "Video" not in streams:
        return f"no video stream (streams found: {', '.join(sorted(set(streams)))})"
    return "video stream could not be opened for decoding (unsupported codec, truncated or corrupt)"


def _open(path: Path, limits: DecodeLimits, *, reopen: bool = False) -> tuple[cv2.VideoCapture, Container]:
    """An opened capture and the container it reads.

    First the content check (:func:`_check_file`), then, unless ``reopen`` (the same file was
    checked moments ago) or ``limits.isolated_header`` is off, the header in a child process
    (:func:`_check_header`). The absolute path keeps a file named like an FFmpeg protocol
    (``concat:a|b``, ``http:x``) a plain file.
    """
    container = _check_file(path)
    header = _check_header(path, limits) if limits.isolated_header and not reopen else None
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(limits.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(limits.read_timeout_s * 1000),
    ]
    if limits.threads > 0:
        params += [cv2.CAP_PROP_N_THREADS, limits.threads]
    cap = cv2.VideoCapture(str(path.absolute()), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        raise VideoError(path, _diagnose(container, header if header is not None else _ffmpeg_header(path, limits)))
    return cap, container


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ").lower()
    return text if text.isprintable() and text else "unknown"


def _count_by_grabbing(path: Path, limits: DecodeLimits) -> int:
    """Counts decodable frames when the container does not say; bounded by frames and time.

    Uses its own capture so the caller's stays at frame 0 (seeking back is not reliable everywhere).
    """
    cap, _ = _open(path, limits, reopen=True)
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


def _info(cap: cv2.VideoCapture, container: Container, path: Path, limits: DecodeLimits) -> VideoInfo:
    """VideoInfo from a freshly opened capture, which stays at frame 0. The frame size is checked
    against ``limits`` here, from the header, before any frame is decoded or counted."""
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if reason := limits.check_frame(width, height):
        raise VideoError(path, reason)
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        log.warning("%s: no usable frame rate in the container (%r); assuming %.0f fps", path, fps, _FALLBACK_FPS)
        fps = _FALLBACK_FPS
    reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    frames = int(reported) if math.isfinite(reported) and reported > 0 else 0
    if frames == 0:
        frames = _count_by_grabbing(path, limits)
    if frames == 0:
        raise VideoError(path, _undecodable(cap))
    if frames == 1 and container is GIF:  # a still GIF; an animated one is a video
        raise VideoError(path, "an image (GIF), not a video")
    return VideoInfo(frames=frames, fps=fps, width=width, height=height, duration=frames / fps, codec=_fourcc(cap))


_CODEC_NAMES = {"av01": "AV1", "avc1": "H.264", "h264": "H.264", "hev1": "HEVC", "hvc1": "HEVC", "vp09": "VP9"}


def _undecodable(cap: cv2.VideoCapture) -> str:
    """Why a stream gives no frame: names the codec, since "unsupported" (e.g. AV1, which the
    opencv-python-headless wheel's FFmpeg cannot decode) and "corrupt" look the same from here."""
    codec = _fourcc(cap)
    return (
        f"zero decodable frames: this build's video decoder cannot decode its {_CODEC_NAMES.get(codec, codec)} "
        "stream (unsupported codec, profile or bit depth), or the file is corrupt"
    )


def probe(path: PathArg, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Frame count, fps, size, duration and codec; checks that at least the first frame decodes.

    ``frames`` is the container's count (counted by grabbing when it reports none); a truncated
    file may decode fewer, which :func:`read_clip` handles.
    """
    p = Path(path)
    cap, container = _open(p, limits)
    try:
        info = _info(cap, container, p, limits)
        if not cap.grab():
            raise VideoError(p, _undecodable(cap))
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
        raise ConfigError(f"num_frames must be >= 1, got {num_frames}")
    if available < 1:
        raise ConfigError(f"need at least one frame to sample from, got {available}")
    if sampling not in ("uniform", "random"):
        raise ConfigError(f"sampling must be 'uniform' or 'random', got {sampling!r}")
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


@dataclass(frozen=True)
class AtMost:
    """A short side to shrink frames to, never enlarging them (``size=AtMost(360)``): person
    framing wants the detail a small person has, up to a bound, not interpolated pixels."""

    short_side: int


FrameSize = int | Sequence[int] | AtMost | None


def resize_shape(height: int, width: int, size: FrameSize) -> tuple[int, int] | None:
    """(H, W) to resize to, or None for no resize. int = short side with aspect kept; (H, W) = exact;
    :class:`AtMost` = that short side only when the frame is larger."""
    if size is None:
        return None
    if isinstance(size, AtMost):
        if min(height, width) <= size.short_side:
            return None
        size = size.short_side
    if isinstance(size, int):
        if size < 1:
            raise ConfigError(f"size must be positive, got {size}")
        scale = size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"size must be an int (short side) or (H, W), got {size!r}")
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
    """The stream ended before a wanted frame, after ``decoded`` frames."""

    def __init__(self, decoded: int) -> None:
        super().__init__(decoded)
        self.decoded = decoded


_NO_SEEK = 2**62  # a seek_gap that never seeks: in an AVI with dropped frames, frame numbers are not positions
_SEEK_BACK = 16  # OpenCV's FFmpeg backend seeks this many frames before the target (cap_ffmpeg_impl.hpp)
_SEEK_MIN_SKIP = 8  # a seek must skip at least this many frames to pay for flushing the decoder


class _ForwardReader:
    """Wanted frames of one capture, positioned at frame 0, read in ascending order: each frame is
    decoded at most once, skipped frames are only grabbed (or sought past), and each kept frame is
    resized at once, so a full-size frame never outlives its decode. The time budget and the frame
    count in ``limits`` bound the whole pass, however many clips it serves."""

    def __init__(
        self, cap: cv2.VideoCapture, path: Path, size: FrameSize, limits: DecodeLimits,
        keyframes: np.ndarray | None = None,
    ):  # fmt: skip
        self.cap, self.path, self.size, self.limits, self.keyframes = cap, path, size, limits, keyframes
        self.deadline = time.monotonic() + limits.budget_s
        self.position = 0  # index of the frame the next grab() returns
        self.grabbed = 0
        self.target: tuple[int, int] | None = None

    def grab(self) -> bool:
        """One frame further, within the request's budget; False at the end of the stream."""
        if not self.cap.grab():
            return False
        self.position += 1
        self.grabbed += 1
        if time.monotonic() > self.deadline:
            budget = self.limits.budget_s
            raise VideoError(self.path, f"decoding took longer than {budget:.0f} s (corrupt, or too much for one request)")
        if self.grabbed > self.limits.max_count_frames:
            raise VideoError(self.path, f"decoding needed more than {self.limits.max_count_frames:,} frames for one request")
        return True

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (>= every index read before) as resized RGB; :class:`_ShortStream` past the end."""
        if self._worth_seeking(index):
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self.position = index
        while self.position <= index:
            if not self.grab():
                raise _ShortStream(self.position)
        ok, frame = self.cap.retrieve()
        if not ok or frame is None:
            raise VideoError(self.path, f"frame {index} could not be decoded (truncated or corrupt)")
        if frame.dtype != np.uint8:
            raise VideoError(self.path, f"unsupported pixel depth {frame.dtype} (expected 8-bit)")
        if self.target is None:
            if reason := self.limits.check_frame(frame.shape[1], frame.shape[0]):  # headers without a size
                raise VideoError(self.path, reason)
            self.target = resize_shape(frame.shape[0], frame.shape[1], self.size) or frame.shape[:2]
        return _to_rgb(frame, self.target)


    def _worth_seeking(self, index: int) -> bool:
        """Whether seeking to ``index`` decodes fewer frames than grabbing forward to it. With the file's
        keyframes known: when the keyframe a seek lands on lies ahead (OpenCV seeks to
        ``_SEEK_BACK`` frames before the target, then to the keyframe at or before that, and decodes
        forward); otherwise for gaps of ``limits.seek_gap`` frames or more."""
        if self.keyframes is None:
            return index - self.position >= self.limits.seek_gap
        before = np.searchsorted(self.keyframes, index - _SEEK_BACK, side="right")
        return before > 0 and self.keyframes[before - 1] - self.position >= _SEEK_MIN_SKIP


def _decode_indices(reader: _ForwardReader, indices: np.ndarray) -> np.ndarray:
    """Decodes ``indices`` (any order, repeats allowed); each distinct frame once, in stream order."""
    wanted, slots = np.unique(indices, return_inverse=True)
    out = np.stack([reader.read(int(i)) for i in wanted])
    return out if np.array_equal(wanted, indices) else out[slots]


def _clip_range(start: int | None, stop: int | None, num_frames: int, total: int) -> tuple[int, int]:
    """``[first, last)`` frames a clip samples from (see :func:`read_clip`), clipped to ``total``."""
    first = 0 if start is None else min(start, total - 1)
    if start is None:
        return first, total
    if stop is None:
        return first, min(first + num_frames, total)
    return first, min(max(stop, first + 1), total)


def _short_stream_error(reader: _ForwardReader, short: _ShortStream, total: int) -> VideoError | None:
    """The error for a stream that ended after ``short.decoded`` of ``total`` frames, or None when
    the gap is the normal slack of an estimated count (the caller uses the frames that exist)."""
    if short.decoded == 0:
        return VideoError(reader.path, _undecodable(reader.cap))
    if total - short.decoded > max(2, reader.limits.max_missing_fraction * total):
        return VideoError(
            reader.path, f"truncated or corrupt: the container lists {total} frames, decoding stops after {short.decoded}"
        )
    log.debug("%s: container says %d frames, %d decode; resampling", reader.path, total, short.decoded)
    return None


@dataclass(frozen=True)
class _Frames:
    """How a file's listed frames map to the pictures its stream decodes to (see ``avi.py``)."""

    info: VideoInfo
    pictures: np.ndarray | None  # picture on screen at each listed frame; None: the same numbers
    keyframes: np.ndarray | None = None  # frame indices of keyframes (MP4/MOV index); None: unknown

    @classmethod
    def of(cls, info: VideoInfo, container: Container, path: Path) -> _Frames:
        return cls(info, pictures_of_frames(path) if container is AVI else None,
                   mp4_keyframes(path) if container is ISO_BMFF else None)  # fmt: skip

    @property
    def decodable(self) -> int:
        """How many pictures the stream should decode to."""
        return self.info.frames if self.pictures is None else int(self.pictures[-1]) + 1

    def reader(self, cap: cv2.VideoCapture, path: Path, size: FrameSize, limits: DecodeLimits) -> _ForwardReader:
        """A reader over picture numbers; it never seeks in a stream with dropped frames."""
        if self.pictures is not None:
            return _ForwardReader(cap, path, size, replace(limits, seek_gap=_NO_SEEK))
        return _ForwardReader(cap, path, size, limits, self.keyframes)

    def to_pictures(self, indices: np.ndarray) -> np.ndarray:
        return indices if self.pictures is None else self.pictures[np.minimum(indices, len(self.pictures) - 1)]


def read_clip(
    path: PathArg,
    num_frames: int = 16,
    sampling: Sampling = "uniform",
    size: FrameSize = None,
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
    side to ``size`` keeping the aspect ratio; ``(H, W)`` resizes to exactly that; ``AtMost(n)``
    shrinks the short side to ``n`` when it is larger.
    ``seed`` makes ``sampling="random"`` reproducible. Frame numbers are the container's: in an AVI
    that lists more frames than it holds pictures (dropped frames), each maps to the picture on
    screen at its time, so the clip spans the real duration.

    Raises :class:`VideoError` (file missing, empty, not a self-contained video, no video stream,
    frames over ``limits.max_pixels`` or ``limits.max_aspect``, truncated or corrupt, zero decodable
    frames, or over the time budget in ``limits``).
    """
    p = Path(path)
    if start is not None and start < 0:
        raise ConfigError(f"start must be >= 0, got {start}")
    if stop is not None and start is None:
        raise ConfigError("stop needs start")
    cap, container = _open(p, limits)
    try:
        frames = _Frames.of(_info(cap, container, p, limits), container, p)
        total = frames.info.frames
        for attempt in range(2):
            if attempt:  # reopen rather than seek back: the stream just misbehaved
                cap.release()
                cap, _ = _open(p, limits, reopen=True)
            first, last = _clip_range(start, stop, num_frames, total)
            indices = frames.to_pictures(sample_indices(last - first, num_frames, sampling, offset=first, seed=seed))
            reader = frames.reader(cap, p, size, limits)
            try:
                return torch.from_numpy(_decode_indices(reader, indices))
            except _ShortStream as short:
                if error := _short_stream_error(reader, short, frames.decodable):
                    raise error from None
                frames, total = _Frames(replace(frames.info, frames=short.decoded), None), short.decoded
        raise VideoError(p, "frame count keeps changing while decoding (corrupt?)")
    finally:
        cap.release()


def read_windows(
    path: PathArg,
    windows: Sequence[tuple[int, int]],
    num_frames: int,
    size: FrameSize = None,
    *,
    info: VideoInfo | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Iterator[torch.Tensor]:
    """One clip per window ``[start, stop)`` of frames, sampled uniformly like :func:`read_clip`, in
    window order, from ONE pass over the file.

    Why not :func:`read_clip` per window: each call reopens the file and, for a stream without a
    frame count or index (raw H.264), recounts and re-decodes it from the start, so a timeline's
    work grows with the square of the video's length. Here the file is opened once, its frames
    counted at most once (never when ``info`` from :func:`probe` is given), every frame decoded at
    most once, and a frame is kept only until the last window that uses it has been yielded.
    ``limits.budget_s`` bounds the whole pass. A stream slightly shorter than its container said
    gives its last frame for the missing ones; dropped frames map to pictures as in :func:`read_clip`.
    """
    p = Path(path)
    cap, container = _open(p, limits)
    try:
        info = info or _info(cap, container, p, limits)
        if reason := limits.check_frame(info.width, info.height):
            raise VideoError(p, reason)
        frames = _Frames.of(info, container, p)
        plans = [frames.to_pictures(sample_indices(last - first, num_frames, offset=first)) for first, last in
                 (_clip_range(start, stop, num_frames, info.frames) for start, stop in windows)]  # fmt: skip
        yield from _decode_windows(frames.reader(cap, p, size, limits), plans, frames.decodable)
    finally:
        cap.release()


def _decode_windows(reader: _ForwardReader, plans: list[np.ndarray], total: int) -> Iterator[torch.Tensor]:
    """Yields ``plans[k]``'s frames in order, decoding the union of all plans in ascending order."""
    last_use: dict[int, int] = {}
    for k, plan in enumerate(plans):
        last_use.update(dict.fromkeys(plan.tolist(), k))
    kept: dict[int, np.ndarray] = {}
    next_window = 0
    latest: np.ndarray | None = None  # the last decoded frame, repeated once the stream ended early
    ended = False
    for index in sorted(last_use):
        if not ended:
            try:
                latest = reader.read(index)
            except _ShortStream as short:
                if error := _short_stream_error(reader, short, total):
                    raise error from None
                ended = True
        if latest is None:
            raise VideoError(reader.path, "zero decodable frames")
        kept[index] = latest
        while next_window < len(plans) and plans[next_window].max() <= index:
            yield torch.from_numpy(np.stack([kept[int(i)] for i in plans[next_window]]))
            next_window += 1
            for i in [i for i in kept if last_use[i] < next_window]:
                del kept[i]


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
    atomically: a temporary file in the same folder is renamed over ``path`` on success. Our own
    pipe rather than ``imageio_ffmpeg.write_frames``: that one reported nothing when ffmpeg failed
    on a short clip (an invalid preset), so an empty file would have been renamed into place.
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
