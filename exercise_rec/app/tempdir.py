"""The app's own temporary folder (mode 0700): Gradio's uploads and cache, and the app's outputs.

Why: Gradio's default, ``/tmp/gradio``, is shared by every Gradio app and user on the machine, and
the server serves any file in it to whoever knows the path, so a file another program left there
was served too. A folder of our own, created fresh and readable by this user only, holds exactly
what this server received and made; it is removed when the process exits. A ``GRADIO_TEMP_DIR``
the user set is kept (their choice); the outputs stay in the private folder either way.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "exercise_rec-gradio-"


@functools.cache
def private_root() -> Path:
    """A fresh folder only this user can read (``mkdtemp`` makes it 0700), removed at exit."""
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _subfolder(name: str) -> Path:
    folder = private_root() / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def use_private_gradio_dir() -> Path:
    """Gradio's folder: ``GRADIO_TEMP_DIR`` when the user set it, else a private one, set in the environment.

    Call before gradio is imported: some of its modules read the variable once, at import.
    """
    if not os.environ.get("GRADIO_TEMP_DIR"):
        os.environ["GRADIO_TEMP_DIR"] = str(_subfolder("gradio"))
    return Path(os.environ["GRADIO_TEMP_DIR"])


def outputs_root() -> Path:
    """Where the app writes the files it hands to Gradio (see :mod:`exercise_rec.app.outputs`)."""
    return _subfolder("outputs")
