"""BlazePose (Bazarevsky et al., 2020), the two-stage pose estimator of MediaPipe, run by OpenVINO.

Stage 1, a person detector (224x224, SSD-style anchors), finds the body and two alignment points
(hip centre, and a point whose distance sets the body's scale and whose direction its rotation).
Stage 2, the landmark model (256x256), reads a square, rotated crop around those points and returns
33 keypoints with visibility, a person-presence score and two auxiliary points from which the next
frame's crop is taken, so on video the detector only runs when the person is lost. Pre- and
post-processing follow MediaPipe's graphs (pose_detection_cpu, pose_landmark_by_roi_cpu): letterbox,
anchor decoding, weighted NMS, ROI scale 1.25, heatmap refinement of the keypoints.
All coordinates here are continuous pixel coordinates (pixel ``i`` spans ``[i, i+1)``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from exercise_rec.pose.model_files import model_files

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_KEYPOINTS = 33  # then 2 auxiliary points (tracking ROI) and 4 unused ones: 39 in the model's output
ROI_SCALE = 1.25
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
MIN_PRESENCE = 0.5  # below this the landmark model says its crop holds no person: re-detect
HEATMAP_KERNEL = 7
HEATMAP_MIN_CONFIDENCE = 0.5
# Names this pipeline's output in cache keys: bump it whenever pre/post-processing changes results.
PIPELINE_REVISION = "2-windows"  # 2: square windows along the long side when the letterbox finds nobody


@dataclass(frozen=True)
class Roi:
    """A square crop of side ``size`` centred on ``(cx, cy)``, rotated by ``rotation`` radians."""

    cx: float
    cy: float
    size: float
    rotation: float

    @classmethod
    def from_alignment(cls, centre: np.ndarray, scale_point: np.ndarray) -> Roi:
        """The crop MediaPipe derives from two alignment points: body upright in the crop, margin 1.25."""
        dx, dy = scale_point - centre
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
        return cls(float(centre[0]), float(centre[1]), 2.0 * math.hypot(dx, dy) * ROI_SCALE, rotation)

    def to_image(self, points: np.ndarray, side: int) -> np.ndarray:
        """Points [..., 2] of a ``side``-pixel crop -> image coordinates."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        a = points / side - 0.5
        x = self.cx + self.size * (c * a[..., 0] - s * a[..., 1])
        y = self.cy + self.size * (s * a[..., 0] + c * a[..., 1])
        return np.stack([x, y], axis=-1)

    def crop(self, image: np.ndarray, side: int) -> np.ndarray:
        """The crop resampled to ``side`` x ``side`` (zeros outside the image), as float32 RGB in [0, 1]."""
        k = self.size / side
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        origin = self.to_image(np.array([0.5, 0.5]), side) - 0.5  # pixel index of the first output pixel
        matrix = np.array([[k * c, -k * s, origin[0]], [k * s, k * c, origin[1]]])
        out = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return out.astype(np.float32) / 255.0


@dataclass(frozen=True)
class FramePose:
    """One frame's result: keypoints [33, 3] (x, y, visibility) in image pixels, presence in [0, 1]."""

    keypoints: np.ndarray
    presence: float


@cache
def _anchor_centres() -> np.ndarray:
    """Anchor centres [2254, 2] of the detector (MediaPipe's SsdAnchorsCalculator options for it:
    strides 8, 16, 32, 32, 32; two anchors per layer and cell; layers of one stride share cells)."""
    strides = (8, 16, 32, 32, 32)
    centres = []
    for stride in sorted(set(strides)):
        cells = math.ceil(DETECTOR_SIZE / stride)
        per_cell = 2 * strides.count(stride)
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


@cache
def _compiled(threads: int) -> tuple[object, object]:
    """Both models compiled once per process and thread count (compiling takes ~0.3 s)."""
    import openvino as ov

    files = model_files()
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    return (
        core.compile_model(str(files.detector), "CPU", config),
        core.compile_model(str(files.landmarker), "CPU", config),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with each of ``boxes``."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


class BlazePose:
    """The estimator. Thread-safe: each call to :meth:`track` has its own state and infer requests."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._local = threading.local()

    def _requests(self) -> tuple[object, object]:
        if getattr(self._local, "requests", None) is None:
            detector, landmarker = _compiled(self.threads)
            self._local.requests = (detector.create_infer_request(), landmarker.create_infer_request())
        return self._local.requests

    def detect(self, image: np.ndarray) -> Roi | None:
        """The most confident person's crop in an RGB uint8 image, or None when nobody is found.

        The whole frame is letterboxed into the detector's square first. When nobody is found there
        and the frame is not square, square windows along its long side are tried too (a person who
        is small in a wide or portrait frame is shrunk further by the letterbox; a window gives the
        detector up to ~1.8x more pixels of them); the first window with a person wins."""
        h, w = image.shape[:2]
        windows = [Roi(w / 2, h / 2, max(h, w), 0.0)]
        windows += _windows(h, w, min(h, w))
        for window in windows:
            if (roi := self._detect_in(image, window)) is not None:
                return roi
        return None

    def _detect_in(self, image: np.ndarray, window: Roi) -> Roi | None:
        """The detector on one square, upright ``window`` of the image (zeros where it leaves it)."""
        letterbox = window.crop(image, DETECTOR_SIZE) * 2.0 - 1.0
        request = self._requests()[0]
        outputs = request.infer({0: letterbox[None]})
        raw = outputs[request.model_outputs[0]].reshape(-1, 12)
        scores = _sigmoid(outputs[request.model_outputs[1]].reshape(-1))
        keep = scores >= MIN_DETECTION_SCORE
        if not keep.any():
            return None
        raw, scores, anchors = raw[keep], scores[keep], _anchor_centres()[keep]
        centres = raw[:, 0:2] / DETECTOR_SIZE + anchors
        half = raw[:, 2:4] / DETECTOR_SIZE / 2
        boxes = np.concatenate([centres - half, centres + half], axis=1)
        points = raw[:, 4:12].reshape(-1, 4, 2) / DETECTOR_SIZE + anchors[:, None, :]
        # Weighted NMS, first cluster only (one person): the best box and its overlapping rivals vote.
        best = int(scores.argmax())
        group = _iou(boxes[best], boxes) > NMS_IOU
        weights = scores[group] / scores[group].sum()
        origin = np.array([window.cx - window.size / 2, window.cy - window.size / 2])
        voted = (points[group] * weights[:, None, None]).sum(axis=0) * window.size + origin
        return Roi.from_alignment(voted[0], voted[1])

    def landmarks(self, image: np.ndarray, roi: Roi) -> tuple[FramePose, Roi]:
        """Keypoints inside ``roi`` and the crop to use on the next frame."""
        request = self._requests()[1]
        outputs = request.infer({0: roi.crop(image, LANDMARK_SIZE)[None]})
        raw, flag, _, heatmap, _ = (outputs[port] for port in request.model_outputs)
        raw = raw.reshape(-1, 5)
        points = _refine_with_heatmap(raw[:, :2].copy(), heatmap[0])
        image_points = roi.to_image(points, LANDMARK_SIZE)
        visibility = _sigmoid(raw[:NUM_KEYPOINTS, 3])
        keypoints = np.concatenate([image_points[:NUM_KEYPOINTS], visibility[:, None]], axis=1)
        next_roi = Roi.from_alignment(image_points[NUM_KEYPOINTS], image_points[NUM_KEYPOINTS + 1])
        return FramePose(keypoints.astype(np.float32), float(np.asarray(flag).reshape(-1)[0])), next_roi

    def track(self, frames: Iterable[np.ndarray]) -> Iterator[FramePose | None]:
        """Poses of consecutive RGB uint8 frames (None where nobody is found). The crop follows the
        person from frame to frame; the detector runs on the first frame and whenever that is lost."""
        roi: Roi | None = None
        for image in frames:
            image = np.ascontiguousarray(image)
            pose = None
            for attempt in ("tracked", "detected"):
                if attempt == "detected" or roi is None:
                    roi = self.detect(image)
                    if roi is None:
                        break
                pose, roi = self.landmarks(image, roi)
                if pose.presence >= MIN_PRESENCE:
                    break
                pose, roi = None, None
            yield pose


def _windows(height: int, width: int, side: float) -> list[Roi]:
    """Square windows of ``side`` covering the frame, overlapping by about half a window."""
    def centres(length: int) -> np.ndarray:
        count = max(1, math.ceil(2 * length / side) - 1)
        return np.linspace(side / 2, length - side / 2, count) if length > side * 1.2 else np.array([length / 2])

    if side >= max(height, width) / 1.2:
        return []
    return [Roi(float(x), float(y), side, 0.0) for y in centres(height) for x in centres(width)]


def _refine_with_heatmap(points: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Move each keypoint to the confidence-weighted mean of its 7x7 heatmap neighbourhood when that
    neighbourhood is confident (MediaPipe's RefineLandmarksFromHeatmapCalculator). ``points`` are
    crop pixels [N, 2] (refined in place for the first ``heatmap.shape[-1]``); heatmap [64, 64, K]."""
    size = heatmap.shape[0]
    scale = size / LANDMARK_SIZE
    offsets = np.arange(HEATMAP_KERNEL) - HEATMAP_KERNEL // 2
    for k in range(heatmap.shape[-1]):
        col, row = int(points[k, 0] * scale), int(points[k, 1] * scale)
        rows = np.clip(row + offsets, 0, size - 1)
        cols = np.clip(col + offsets, 0, size - 1)
        rows, cols = np.unique(rows), np.unique(cols)
        window = _sigmoid(heatmap[np.ix_(rows, cols, [k])][..., 0])
        if window.max() < HEATMAP_MIN_CONFIDENCE:
            continue
        total = window.sum()
        points[k, 0] = (window.sum(axis=0) * cols).sum() / total / scale
        points[k, 1] = (window.sum(axis=1) * rows).sum() / total / scale
    return points
