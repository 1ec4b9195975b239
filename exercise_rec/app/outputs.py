"""Files the app hands to Gradio (images, galleries, overlay videos), written once and deleted later.

Why images go out as files and not as arrays: Gradio saves an array to a path named after its
content and rewrites that file in place on every call (``processing_utils.save_pil_to_cache``), so
two requests making the same image (two users on the same sample) raced, and a client downloading
the first copy got a truncated file (the load test saw "peer closed connection without sending
complete message body"). A file path goes through ``save_file_to_cache``, which copies atomically
and reuses an existing copy.
Why one folder per process with an age limit: Gradio copies each file into its own cache when the
request returns, so ours only has to outlive its request; a folder per request that nothing
removed left every output on disk for good.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

KEEP_S = 600.0
_ROOT = tempfile.TemporaryDirectory(prefix="exercise_rec_out_")  # removed when the process exits


def output_dir() -> Path:
    """A new folder for one request's files, after deleting the folders older than ``KEEP_S``."""
    root = Path(_ROOT.name)
    cutoff = time.time() - KEEP_S
    for folder in root.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another request deleted it first
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def _write_png(path: Path, image: np.ndarray) -> str:
    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the image")
    return str(path)


def image_file(image: np.ndarray) -> str:
    """uint8 RGB [H, W, 3] -> a PNG file for an image output."""
    return _write_png(output_dir() / "image.png", image)


def frame_files(frames: np.ndarray | Any) -> list[str]:
    """uint8 [T, H, W, 3] (numpy or torch) -> one PNG per frame, for ``gr.Gallery``."""
    array = frames.numpy() if hasattr(frames, "numpy") else np.asarray(frames)
    folder = output_dir()
    return [_write_png(folder / f"frame_{k:03d}.png", frame) for k, frame in enumerate(array)]
