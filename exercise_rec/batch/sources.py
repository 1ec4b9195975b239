"""What a batch run classifies: video files named on the command line, found in folders (recursively,
by suffix), matched by glob patterns, or stored in zip / tar archives.

Why archive members are not extracted up front: a lab's archive can be larger than the free disk.
Each member is copied to a temporary file by the DataLoader worker that decodes it (OpenCV needs a
path) and deleted once its record is written, so at most a few members are on disk at a time.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from exercise_rec.data.dataset import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MEMBER_SEPARATOR = "!"  # records name an archive member ARCHIVE!MEMBER, e.g. clips.zip!squat/a.mp4


@dataclass(frozen=True)
class VideoSource:
    """One video to classify: a file, or ``member`` of the archive ``path``; ``start``/``stop``: a
    frame range (a window of a long recording, as the evaluate CLI reads them); ``label``: its class."""

    path: Path
    member: str | None = None
    start: int | None = None
    stop: int | None = None
    label: int = -1

    @property
    def name(self) -> str:
        """How records and messages name it."""
        return str(self.path) if self.member is None else f"{self.path}{MEMBER_SEPARATOR}{self.member}"

    def local_copy(self) -> tuple[Path, bool]:
        """A path OpenCV can open, and whether it is a temporary copy the caller must delete."""
        if self.member is None:
            return self.path, False
        with (
            _open_member(self.path, self.member) as source,
            tempfile.NamedTemporaryFile(
                prefix="exercise_rec_member_", suffix=Path(self.member).suffix, delete=False
            ) as copy,
        ):
            shutil.copyfileobj(source, copy, 1 << 20)
        return Path(copy.name), True


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def is_video(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_SUFFIXES and not Path(name).name.startswith(".")


@contextlib.contextmanager
def _open_member(archive: Path, member: str) -> Iterator[IO[bytes]]:
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf, zf.open(member) as handle:
            yield handle
        return
    with tarfile.open(archive) as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise OSError(f"{archive}{MEMBER_SEPARATOR}{member}: not a regular file")
        with handle:
            yield handle


def archive_members(archive: Path) -> list[str]:
    """Video members (by suffix) of a zip or tar archive, in archive order; links and folders skipped."""
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            return [i.filename for i in zf.infolist() if not i.is_dir() and is_video(i.filename)]
    with tarfile.open(archive) as tf:
        return [m.name for m in tf.getmembers() if m.isfile() and is_video(m.name)]


def _expand_file(path: Path) -> list[VideoSource]:
    if not is_archive(path):
        return [VideoSource(path)]
    try:
        return [VideoSource(path, member) for member in archive_members(path)]
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return [VideoSource(path)]  # decoding it fails with the reason, in its record


def _expand(path: Path) -> list[VideoSource]:
    if path.is_dir():
        return [VideoSource(p) for p in sorted(path.rglob("*")) if p.is_file() and is_video(p.name)]
    return _expand_file(path)


def collect(inputs: list[str]) -> list[VideoSource]:
    """Every video the inputs name, each once, in the order given (folders and globs sorted).

    A path that does not exist and is no glob pattern stays in the list: its record says "file not
    found", as a broken file's does. A pattern matching nothing is logged and skipped.
    """
    sources: list[VideoSource] = []
    for text in inputs:
        path = Path(text)
        if path.exists() or not glob.has_magic(text):
            sources += _expand(path)
            continue
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            log.warning("%s: no file matches this pattern", text)
        for match in matches:
            sources += _expand(Path(match))
    return list(dict.fromkeys(sources))
