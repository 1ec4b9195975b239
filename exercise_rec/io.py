"""Crash-safe file writing shared by checkpoints, videos and reports.

Why: a process killed mid-write must leave the previous file intact and never a half-written
one that a later load trips over. Writing to a temporary file in the same directory and then
``os.replace``-ing it is atomic on POSIX.

Why one fixed temporary name per target (``.best.pt.tmp``), locked while written: a SIGKILL
runs no clean-up, so a random name would leave a new stray after every kill; the fixed name is
truncated and reused by the next write of the same target. The ``.tmp`` suffix and the leading
dot keep a stray from being taken for a checkpoint or video (``*.pt`` / ``*.mp4`` globs, dataset
scans). The lock serialises two processes writing the same target.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from os import PathLike
from pathlib import Path


def cache_root() -> Path:
    """Where derived files (fast-path exports, pose tracks) are kept: ``$EXERCISE_REC_CACHE``, else
    ``$XDG_CACHE_HOME/exercise_rec`` or ``~/.cache/exercise_rec``. Deleting it only costs recomputation."""
    if folder := os.environ.get("EXERCISE_REC_CACHE"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "exercise_rec"


def temp_path_for(path: str | PathLike[str]) -> Path:
    """The temporary file :func:`atomic_path` writes before renaming it over ``path``."""
    target = Path(path)
    return target.with_name(f".{target.name}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name does not keep the suffix, so writers that pick a format by extension must be
    told the format (``write_video`` passes ffmpeg's muxer). The result gets the permissions a plain
    ``open(path, "w")`` would give.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    with _locked(tmp):
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)  # still ours: the lock keeps other writers off this name
            raise


@contextlib.contextmanager
def _locked(tmp: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file now named ``tmp`` (created, or a dead writer's, truncated)."""
    while True:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o666)  # 0o666 & ~umask, like open(path, "w")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        # The writer we waited for renamed or removed that file: lock the one now at ``tmp``.
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        yield
    finally:
        os.close(fd)
