"""Crash-safe file writing shared by checkpoints, videos and reports.

Why: a process killed mid-write must leave the previous file intact and never a half-written
one that a later load trips over. Writing to a temporary file in the same directory and then
``os.replace``-ing it is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix, so tools that pick a format by extension (ffmpeg,
    ``torch.save`` users reading the name) behave as for the final file. The result gets the
    permissions a plain ``open(path, "w")`` would give (mkstemp's are owner-only, 0600).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.tmp-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            tmp.chmod(0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _read_umask() -> int:
    """The process umask; there is no getter, so it is set and restored, once, at import (no threads yet)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
