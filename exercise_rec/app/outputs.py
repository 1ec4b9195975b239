"""Files the app hands to Gradio (images, galleries, overlay videos, labels), written once and deleted later.

Why images go out as files and not as arrays: Gradio saves an array to a path named after its
content and rewrites that file in place on every call (``processing_utils.save_pil_to_cache``), so
two requests making the same image (two users on the same sample) race, and a client downloading
the first copy can get a truncated file. A file path goes through ``save_file_to_cache``, which
copies atomically and reuses an existing copy.
Why one folder per process with an age limit: Gradio copies each file into its own cache when the
request returns, so ours only has to outlive its request, and nothing may stay on disk for good.
The folder is the app's private one (:mod:`exercise_rec.app.tempdir`), next to Gradio's cache, not
inside it (files inside it would be served without that copy).
Why no path in the messages: users see them, and the server's folders are its own business.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from exercise_rec.app.tempdir import outputs_root

log = logging.getLogger(__name__)

KEEP_S = 600.0


def output_dir() -> Path:
    """A new folder for one request's files, after deleting the folders older than ``KEEP_S``."""
    root = outputs_root()
    cutoff = time.time() - KEEP_S
    for folder in root.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another request deleted it first
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def _write_png(path: Path, image: np.ndarray) -> str:
    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)):
        log.error("could not write %s (disk full or folder removed?)", path)
        raise OSError("the server could not write the result image; try again, or tell its administrator")
    return str(path)


def image_file(image: np.ndarray) -> str:
    """uint8 RGB [H, W, 3] -> a PNG file for an image output."""
    return _write_png(output_dir() / "image.png", image)


def frame_files(frames: np.ndarray | Any) -> list[str]:
    """uint8 [T, H, W, 3] (numpy or torch) -> one PNG per frame, for ``gr.Gallery``."""
    array = frames.numpy() if hasattr(frames, "numpy") else np.asarray(frames)
    folder = output_dir()
    return [_write_png(folder / f"frame_{k:03d}.png", frame) for k, frame in enumerate(array)]


def label_file(heading: str, confidences: Sequence[tuple[str, float]]) -> str:
    """A ``gr.Label`` value whose heading is ``heading`` and whose bars are ``confidences`` (most likely first).

    Why a file: given a dict, ``gr.Label`` always heads it with the most likely class, so a
    prediction whose verdict is ``no_person`` would show "squat" in large letters above the
    bars; a JSON file in the component's own format (``{"label", "confidences"}``, a documented
    ``gr.Label`` value) may name any heading.
    """
    record = {"label": heading, "confidences": [{"label": c, "confidence": float(p)} for c, p in confidences]}
    path = output_dir() / "label.json"
    path.write_text(json.dumps(record))
    return str(path)
