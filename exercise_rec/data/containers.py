"""Which files may reach FFmpeg: self-contained video containers, recognised by their first bytes.

Why: FFmpeg's playlist and list demuxers (HLS ``.m3u8``, DASH ``.mpd``, ``concat`` / ``ffconcat``,
SDP, image-sequence patterns) open the *other* files or URLs that a file names: an upload holding
``#EXTM3U`` and a path on the server would make the server decode its own files, and a
self-referencing playlist keeps the decoder opening it. So a file is identified here from its
content, never its name, before FFmpeg sees it, and only containers that carry their own pictures
are let through. The same list, as FFmpeg demuxer names, is FFmpeg's own ``format_whitelist`` for
every capture (:data:`FFMPEG_CAPTURE_OPTIONS`), so FFmpeg refuses any other demuxer even if a file
fooled this check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONTAINERS", "FFMPEG_CAPTURE_OPTIONS", "FFMPEG_DEMUXERS", "Container", "NotSelfContained", "identify", "sniff"]

HEAD_BYTES = 64 * 1024  # enough for five MPEG-TS packets and any text header


@dataclass(frozen=True)
class Container:
    """A container format that is decoded: its name for people and its FFmpeg demuxers."""

    name: str
    demuxers: tuple[str, ...]


ISO_BMFF = Container("MP4/MOV", ("mov",))  # FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2" (data references stay off)
MATROSKA = Container("Matroska/WebM", ("matroska",))
AVI = Container("AVI", ("avi",))
MPEG_PS = Container("MPEG program stream", ("mpeg",))
MPEG_TS = Container("MPEG transport stream", ("mpegts",))
GIF = Container("GIF", ("gif",))
FLV = Container("FLV", ("flv",))
OGG = Container("Ogg", ("ogg",))
ASF = Container("ASF/WMV", ("asf",))
IVF = Container("IVF", ("ivf",))
ELEMENTARY = Container("raw video stream (H.264, HEVC, MPEG-1/2/4)", ("h264", "hevc", "mpegvideo", "m4v"))
CONTAINERS = (ISO_BMFF, MATROSKA, AVI, MPEG_PS, MPEG_TS, GIF, FLV, OGG, ASF, IVF, ELEMENTARY)

# OpenCV passes OPENCV_FFMPEG_CAPTURE_OPTIONS ("key;value|key;value") to avformat_open_input at every
# open: only the demuxers above, reading local files only (no http:, pipe:, concat: protocols).
FFMPEG_DEMUXERS = ",".join(d for c in CONTAINERS for d in c.demuxers)
FFMPEG_CAPTURE_OPTIONS = f"format_whitelist;{FFMPEG_DEMUXERS}|protocol_whitelist;file"

_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_MAGIC: tuple[tuple[bytes, Container], ...] = (
    (b"\x1a\x45\xdf\xa3", MATROSKA),
    (b"\x00\x00\x01\xba", MPEG_PS),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"FLV\x01", FLV),
    (b"OggS", OGG),
    (_ASF_GUID, ASF),
    (b"DKIF", IVF),
)
_IMAGES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
_TS_PACKET = 188
# Text that makes a demuxer open other inputs, by what it starts with (after blank space): the reason.
_REFERENCING_TEXT = (
    (re.compile(rb"#EXTM3U|#EXT-X-|#EXTINF", re.I), "a playlist (HLS / M3U), not a video file"),
    (re.compile(rb"(<\?xml[^>]*>\s*)?<MPD\b", re.I), "a DASH manifest (.mpd), not a video file"),
    (re.compile(rb"ffconcat\s+version", re.I), "an ffconcat list, not a video file"),
    (re.compile(rb"(#[^\n]*\n\s*)*file\s+\S", re.I), "a concat list of other files, not a video file"),
    (re.compile(rb"v=0\s*[\r\n]"), "an SDP session description (it names network streams), not a video file"),
    (re.compile(rb"\[playlist\]", re.I), "a playlist (PLS), not a video file"),
    (re.compile(rb"(<\?xml[^>]*>\s*)?<(smil|asx|playlist)\b", re.I), "a playlist (XML), not a video file"),
)


class NotSelfContained(Exception):
    """The file is not one of :data:`CONTAINERS`; ``reason`` says what it is instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_transport_stream(head: bytes) -> bool:
    """MPEG-TS (188-byte packets starting 0x47) or M2TS (4-byte timestamp before each packet)."""
    for offset, step in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):
        packets = range(offset, min(len(head), offset + 5 * step), step)
        if len(packets) >= 2 and all(head[k] == 0x47 for k in packets):
            return True
    return False


def _is_text(head: bytes) -> bool:
    """Mostly printable UTF-8 with no NUL bytes: a list, a script or a note, never a video."""
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


def identify(head: bytes) -> Container:
    """The container that ``head`` (a file's first bytes) starts; :class:`NotSelfContained` otherwise."""
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        return ISO_BMFF
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return AVI
    for magic, container in _MAGIC:
        if head.startswith(magic):
            return container
    if _is_transport_stream(head):
        return MPEG_TS
    if head.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return ELEMENTARY
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        raise NotSelfContained("an image (WebP), not a video")
    if image := next((name for magic, name in _IMAGES.items() if head.startswith(magic)), None):
        raise NotSelfContained(f"an image ({image}), not a video")
    text = head.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    if _is_text(text):
        body = text.lstrip()
        reason = next((why for pattern, why in _REFERENCING_TEXT if pattern.match(body)), None)
        raise NotSelfContained(reason or "not a video (a text file)")
    raise NotSelfContained("not a video (no recognised container format)")


def sniff(path: Path) -> Container:
    """:func:`identify` on the first bytes of ``path`` (opened here, never by FFmpeg)."""
    with open(path, "rb") as handle:
        return identify(handle.read(HEAD_BYTES))
