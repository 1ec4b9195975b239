"""Where an MP4 / MOV video track's keyframes are, read from the file's own index (the ``stss`` box).

Why: sampling 16 frames from a phone video means skipping thousands. Seeking only helps when a
keyframe lies between where the decoder is and the wanted frame (it must decode from that keyframe
on); a fixed frame gap cannot know that, and guessed wrong either decodes frames twice or grabs
through keyframes it could have jumped to. Phone videos are MP4 / MOV, whose index lists the
keyframes ("sync samples"): reading it costs a few small reads, no decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAX_ENTRIES = 10_000_000  # a keyframe list longer than this is not a real index: ignored
_HEADER = struct.Struct(">I4s")


def _boxes(f: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``[start, end)``."""
    found = []
    position = start
    while position + 8 <= end:
        f.seek(position)
        size, kind = _HEADER.unpack(f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            break
        found.append((kind, position + header, position + size))
        position += size
    return found


def _child(f: BinaryIO, span: tuple[int, int], kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(f, *span) if k == kind), None)


def _video_stss(f: BinaryIO, moov: tuple[int, int]) -> tuple[int, int] | None | bool:
    """The video track's ``stss`` span; False: the track has none (every frame is a keyframe); None: no video track."""
    for kind, start, end in _boxes(f, *moov):
        mdia = _child(f, (start, end), b"mdia") if kind == b"trak" else None
        hdlr = _child(f, mdia, b"hdlr") if mdia else None
        if mdia is None or hdlr is None:
            continue
        f.seek(hdlr[0] + 8)  # version/flags, pre_defined, then the handler type
        if f.read(4) != b"vide":
            continue
        minf = _child(f, mdia, b"minf")
        stbl = _child(f, minf, b"stbl") if minf else None
        return (_child(f, stbl, b"stss") or False) if stbl else None
    return None


def mp4_keyframes(path: Path) -> np.ndarray | None:
    """Frame indices (0-based, ascending) of the video track's keyframes, or None when the file is not
    an MP4 / MOV with such an index (then every frame may be a keyframe, or nobody knows)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            moov = next(((s, e) for k, s, e in _boxes(f, 0, size) if k == b"moov"), None)
            stss = _video_stss(f, moov) if moov else None
            if not stss:
                return None
            f.seek(stss[0] + 4)  # version and flags
            (count,) = struct.unpack(">I", f.read(4))
            if count > MAX_ENTRIES or 8 + 4 * count > stss[1] - stss[0]:
                return None
            return np.frombuffer(f.read(4 * count), dtype=">u4").astype(np.int64) - 1
    except (OSError, struct.error):
        return None
