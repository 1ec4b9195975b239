"""Fast-path backends that may be missing here: their rows say what to install, never fail the run."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import TypeVar

from exercise_rec.fastpath import BACKENDS, RUNTIME_PACKAGES

log = logging.getLogger(__name__)

T = TypeVar("T")


def _missing_note(backend: str) -> str | None:
    package = RUNTIME_PACKAGES.get(backend)
    if package and importlib.util.find_spec(package) is None:
        return f"n/a (install {package})"
    return None


def per_backend(build: Callable[[str], T]) -> dict[str, T | str]:
    """backend -> ``build(backend)`` for every backend, or ``"n/a (install PACKAGE)"`` where its
    runtime package is not installed."""
    out: dict[str, T | str] = {}
    for backend in BACKENDS:
        note = _missing_note(backend)
        if note is None:
            log.info("  building backend %s", backend)
        out[backend] = note if note is not None else build(backend)
    return out
