"""Where the pose estimator's weights come from: the BlazePose models inside the ``mediapipe`` wheel.

Why this source: it is the only registry package we found that ships a real, accurate full-body
pose model inside the wheel, so nothing is downloaded at run time. Why not mediapipe's own Python
API: mediapipe 0.10.14 (the last release that bundles these files and runs with numpy 2) needs
``protobuf<5`` (its graph code calls APIs that protobuf 6+ removed, and onnx needs protobuf>=6.31)
and pulls ``opencv-contrib-python``, a second ``cv2`` that breaks the headless one. So the wheel is
installed with ``--no-deps`` as a *data* package, never imported, and its two ``.tflite`` files are
run by OpenVINO (already the fast path's runtime), whose TensorFlow Lite front end reads them.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exercise_rec.errors import ExerciseRecError

WEIGHTS_PACKAGE = "mediapipe"
WEIGHTS_VERSION = "0.10.14"
INSTALL_HINT = f"pip install --no-deps {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}  (or run: make setup)"
DETECTOR_FILE = "modules/pose_detection/pose_detection.tflite"
LANDMARKER_FILE = "modules/pose_landmark/pose_landmark_full.tflite"


class PoseUnavailable(ExerciseRecError):
    """The pose estimator cannot run here (its weights package or runtime is missing)."""


@dataclass(frozen=True)
class PoseModelFiles:
    detector: Path
    landmarker: Path

    @property
    def digest(self) -> str:
        """Short content hash of both models: part of every cache key, so new weights never reuse old tracks."""
        h = hashlib.sha256()
        for path in (self.detector, self.landmarker):
            h.update(path.read_bytes())
        return h.hexdigest()[:16]


@cache
def model_files() -> PoseModelFiles:
    """The two BlazePose model files, found without importing the package (its import is slow and
    its Python half needs an old protobuf; only the files are used)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PoseUnavailable(f"the pose estimator's weights are not installed: {INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations)))
    files = PoseModelFiles(root / DETECTOR_FILE, root / LANDMARKER_FILE)
    missing = [str(p) for p in (files.detector, files.landmarker) if not p.is_file()]
    if missing:
        raise PoseUnavailable(
            f"{WEIGHTS_PACKAGE} is installed without the BlazePose models ({', '.join(missing)} missing); "
            f"releases from 0.10.30 on dropped them: {INSTALL_HINT}"
        )
    if importlib.util.find_spec("openvino") is None:
        raise PoseUnavailable("the pose estimator runs on OpenVINO: pip install openvino")
    return files
