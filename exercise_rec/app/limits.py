"""Per-request limits: the largest upload and the largest decoded frame one request may bring.

Why both, and why here: Gradio stops an upload over ``launch(max_file_size=...)`` while receiving
it, but only when the server was launched with that setting, so the size is checked again before
any work. Memory per request grows with the frame size, not the length: decoding holds one
full-size frame (plus the decoder's reference frames) and resizes it at once, and long videos are
sampled frame by frame, never loaded whole. So the frame size is bounded, read from the header
(:func:`probe`) before any clip is decoded.
"""

from __future__ import annotations

import re
from pathlib import Path

from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits, parse_pixels
from exercise_rec.data.video import VideoError, VideoInfo, probe
from exercise_rec.errors import ConfigError

__all__ = ["check_video", "parse_pixels", "parse_size"]

_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}  # binary, as Gradio's max_file_size


def parse_size(size: str | int) -> int:
    """Bytes from ``"200mb"``, ``"1.5 gb"``, ``"512kb"`` or an int; :class:`ConfigError` otherwise."""
    if isinstance(size, int):
        value = size
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)\s*", size.lower())
        if match is None:
            raise ConfigError(f"upload size must look like 200mb, 512kb or 1gb, got {size!r}")
        value = int(float(match[1]) * _UNITS[match[2]])
    if value < 1:
        raise ConfigError(f"upload size must be at least 1 byte, got {size!r}")
    return value


def _human(size: int) -> str:
    """Bytes in the largest binary unit that keeps a number >= 1 (the units ``parse_size`` reads)."""
    for unit in ("gb", "mb", "kb"):
        if size >= _UNITS[unit]:
            return f"{size / _UNITS[unit]:.1f} {unit.upper()}"
    return f"{size} bytes"


def check_video(path: Path, max_upload: int, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """The video's header, read once here for callers that need it (duration, size); raises
    :class:`VideoError` naming the file when it is over a limit or not a readable video. The frame
    limits are the library's (:class:`DecodeLimits`), checked from the header before any decoding."""
    size = path.stat().st_size
    if size > max_upload:
        raise VideoError(path, f"the file is {_human(size)}, over this server's upload limit of {_human(max_upload)}")
    return probe(path, limits=limits)
