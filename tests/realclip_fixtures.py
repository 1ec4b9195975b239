"""Real clips for tests: :func:`require` returns a cached clip or skips the test, saying why.

Why the clips live in the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``, ``exercise_rec/realclips``)
and not in the suite's private per-run cache (tests/conftest.py): they are assembled from about 147 MB
of downloads (Debian's opencv-doc, the pose2sim wheel), which a cold cache would repeat on every run.
Each clip is checked against its SHA-256 when it is written, so a shared cache cannot make a test pass
on a different file. ``$EXERCISE_REC_REALCLIPS`` names another folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exercise_rec.realclips import REAL_CLIPS, RealClipUnavailable, fetch

REALCLIP_CACHE = Path(
    os.environ.get("EXERCISE_REC_REALCLIPS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "exercise_rec" / "realclips"
)

# Why per package: once a download failed (offline), the other clips of that package would fail the
# same way after the same wait; later tests skip at once with the first reason.
_unavailable: dict[tuple[str, str], str] = {}


def require(name: str) -> Path:
    """The cached real clip ``name``; ``pytest.skip`` with the reason when it cannot be fetched."""
    source = REAL_CLIPS[name]
    key = (source.kind, source.package)
    if key in _unavailable:
        pytest.skip(_unavailable[key])
    try:
        return fetch(name, REALCLIP_CACHE)
    except RealClipUnavailable as err:
        _unavailable[key] = f"real clip unavailable: {err}"
        pytest.skip(_unavailable[key])
