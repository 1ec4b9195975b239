"""Fast-path backends that may be missing here: their rows say what to install, never fail the run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from exercise_rec.fastpath import BACKENDS, missing_package

log = logging.getLogger(__name__)

T = TypeVar("T")


def per_backend(build: Callable[[str], T]) -> dict[str, T | str]:
    """backend -> ``build(backend)`` for every backend, or ``"n/a (install PACKAGE)"`` where its
    runtime package is not installed."""
    out: dict[str, T | str] = {}
    for backend in BACKENDS:
        package = missing_package(backend)
        if package is not None:
            out[backend] = f"n/a (install {package})"
            continue
        log.info("  building backend %s", backend)
        out[backend] = build(backend)
    return out
