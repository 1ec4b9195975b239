"""Bounds on the work and memory one video file may cost, shared by every way in.

Why one object: the app, the predict / cam CLIs, batch prediction and the trainer all decode through
:func:`exercise_rec.data.read_clip`, so one :class:`DecodeLimits` bounds them all. A small upload
can still ask for a lot: a 590 KB file of 8192x8192 frames, a 3 KB 4000x2 video whose frames grow to
256,000x128 when the short side is scaled to 128, a stream with no frame count that must be counted
by decoding. Each of those is refused or bounded from the header, before a frame is decoded. The
process-wide defaults can be changed without code through the environment
(``EXERCISE_REC_MAX_PIXELS=7680x4320``, ``EXERCISE_REC_MAX_ASPECT=6``), which DataLoader workers
inherit; the app's ``--max-pixels`` sets its own.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace

from exercise_rec.errors import ConfigError

__all__ = ["DEFAULT_LIMITS", "DecodeLimits", "parse_pixels"]

PIXELS_ENV = "EXERCISE_REC_MAX_PIXELS"
ASPECT_ENV = "EXERCISE_REC_MAX_ASPECT"


def parse_pixels(pixels: str | int) -> int:
    """Pixels per frame from ``"3840x2160"`` or a count; ``ValueError`` on anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", pixels) if isinstance(pixels, str) else None
    try:
        value = int(match[1]) * int(match[2]) if match else int(pixels)
    except ValueError:
        raise ConfigError(f"pixel limit must be WIDTHxHEIGHT (e.g. 4096x2160) or a count, got {pixels!r}") from None
    if value < 1:
        raise ConfigError(f"pixel limit must be at least 1, got {pixels!r}")
    return value


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on the work spent on one file, so a corrupt or hostile file fails fast instead of hanging.

    ``max_pixels`` (width x height of one frame, DCI 4K by default) and ``max_aspect`` (long side over
    short side, 4:1 by default: wider than 32:9 screens) are checked from the header, before any frame
    is decoded; together with the short-side resize they bound every decoded frame's size.
    ``open_timeout_s``/``read_timeout_s`` are passed to OpenCV's FFmpeg backend (its interrupt
    callback); ``budget_s`` caps the whole decode of one request (a clip, or every window of a
    timeline); ``max_count_frames`` caps counting frames by grabbing when the container reports no
    frame count; ``seek_gap`` is the forward gap (in frames) from which seeking replaces grabbing:
    OpenCV's FFmpeg backend seeks to the previous keyframe and decodes forward, which is
    frame-accurate on constant-frame-rate files (tested with H.264 B-frames) and costs about half a
    GOP, so it pays off for gaps beyond roughly half the keyframe interval (measured on a 2-minute
    720p H.264 file, GOP 250: 16 frames in 2.5 s with seeking from 120 frames, 5.7 s grabbing
    everything). A stream that ends more than ``max_missing_fraction`` (and more than 2 frames)
    short of the container's frame count is reported as truncated; smaller gaps are the normal
    slack of estimated counts (webm, mkv) and are resampled silently. ``threads`` caps FFmpeg's
    decoder threads (0: OpenCV's default, one per core); DataLoader workers use 1, since the workers
    already occupy the cores. ``isolated_header`` reads each file's header in a child ffmpeg process
    (killed after ``open_timeout_s``, decoder capped at ``max_pixels``) before this process opens
    it: about 10 ms per file, which the trainer's datasets (the user's own files, read thousands of
    times) skip.
    """

    max_pixels: int = 4096 * 2160
    max_aspect: float = 4.0
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    budget_s: float = 60.0
    max_count_frames: int = 200_000
    seek_gap: int = 120
    max_missing_fraction: float = 0.1
    threads: int = 0
    isolated_header: bool = True

    def __post_init__(self) -> None:
        if min(self.open_timeout_s, self.read_timeout_s, self.budget_s) < 0 or self.threads < 0:
            raise ConfigError(f"timeouts, budget and threads must be >= 0, got {self}")
        if self.max_count_frames < 1 or self.seek_gap < 1 or not 0 <= self.max_missing_fraction < 1:
            raise ConfigError(f"need max_count_frames, seek_gap >= 1 and 0 <= max_missing_fraction < 1, got {self}")
        if self.max_pixels < 1 or not (math.isfinite(self.max_aspect) and self.max_aspect >= 1):
            raise ConfigError(f"need max_pixels >= 1 and a finite max_aspect >= 1, got {self}")

    def with_pixels(self, pixels: str | int) -> DecodeLimits:
        """These limits with ``max_pixels`` from ``"WIDTHxHEIGHT"`` or a count (a CLI or app setting)."""
        return replace(self, max_pixels=parse_pixels(pixels))

    def check_frame(self, width: int, height: int) -> str | None:
        """Why a ``width`` x ``height`` frame is over these limits, or None when it is within them."""
        if width <= 0 or height <= 0:
            return None  # the header did not say; the first decoded frame is checked instead
        if width * height > self.max_pixels:
            return (
                f"frames are {width}x{height} ({width * height:,} pixels), over the limit of "
                f"{self.max_pixels:,} pixels per frame; downscale the video first"
            )
        if max(width, height) > self.max_aspect * min(width, height):
            return (
                f"frames are {width}x{height}, an aspect ratio of {max(width, height) / min(width, height):.1f}:1, "
                f"over the limit of {self.max_aspect:g}:1; crop the video first"
            )
        return None


def limits_from_env(environ: os._Environ[str] | dict[str, str] = os.environ) -> DecodeLimits:
    """The defaults with :data:`PIXELS_ENV` / :data:`ASPECT_ENV` applied (a bad value fails at import)."""
    limits = DecodeLimits()
    if pixels := environ.get(PIXELS_ENV):
        limits = limits.with_pixels(pixels)
    if aspect := environ.get(ASPECT_ENV):
        try:
            limits = replace(limits, max_aspect=float(aspect))
        except ValueError as err:
            raise ConfigError(f"{ASPECT_ENV}={aspect!r}: {err}") from None
    return limits


DEFAULT_LIMITS = limits_from_env()
