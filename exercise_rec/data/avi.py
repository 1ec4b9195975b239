"""Dropped frames in AVI files: which picture is on screen at each frame the container lists.

Why: AVI has a constant frame rate, so webcams and screen recorders that miss a frame write a
zero-size chunk in its place. The container then lists more frames than it holds pictures (462
listed, 72 pictures over the same 19 s), FFmpeg plays it to its end, and counting decoded frames
against the listed count made such a file look truncated. The legacy index (``idx1``, at the end
of the file) says which chunks are empty, so a listed frame maps to the last picture before it
without decoding anything.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["pictures_of_frames"]

MAX_INDEX_BYTES = 64 * 2**20  # 4M entries: an hour of 30 fps video with audio; larger is not read


def _index(path: Path) -> bytes | None:
    """The ``idx1`` chunk's bytes, found by walking the top-level RIFF chunks; None if absent."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"RIFF":
            return None
        handle.seek(12)
        while header := handle.read(8):
            if len(header) < 8:
                return None
            chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk == b"idx1":
                return handle.read(size) if size <= MAX_INDEX_BYTES else None
            handle.seek(size + (size & 1), 1)  # chunks are padded to even sizes
    return None


def pictures_of_frames(path: Path) -> np.ndarray | None:
    """For each frame the AVI lists, the number of the picture on screen then (0-based, in decoding
    order); None when no listed frame is empty, or the file has no legacy index (OpenDML files)."""
    data = _index(path)
    if not data:
        return None
    entries = np.frombuffer(data, dtype=np.uint8, count=len(data) // 16 * 16).reshape(-1, 16)
    ids = entries[:, :4]  # "00dc": stream 00, compressed video ("db": uncompressed)
    video = (ids[:, 2] == ord("d")) & np.isin(ids[:, 3], (ord("c"), ord("b")))
    if not video.any():
        return None
    first = ids[video][0, :2]  # the first video stream, which FFmpeg picks by default
    stream = video & (ids[:, 0] == first[0]) & (ids[:, 1] == first[1])
    holds = entries[stream, 12:16].copy().view("<u4")[:, 0] > 0
    if holds.all() or not holds.any():
        return None
    return np.maximum(np.cumsum(holds) - 1, 0)
