"""One live stream's state: frames in, a steady label (and optionally a CAM overlay) out, every hop.

Why the window is sampled at the checkpoint's own frame rate: the shipped models saw ``clip_len``
frames spread over a ~3 s clip (16 frames: 5.3 fps); a camera's 30 fps would squeeze the window into
half a second. So a frame is kept only when the next sample is due (the others are dropped on
arrival), and the window holds exactly the last ``clip_len`` kept frames, already shrunk to the size
the model's crop is cut from: memory is bounded by construction, whatever the stream's length.
Why the pose estimator runs once per kept frame: the person check and the crop around the person
need it, and re-running it on the whole window every hop (16 frames, ~400 ms on 2 cores) would cost
more than the model; each kept frame's keypoints are stored beside it instead (~50 ms per frame,
``pose_every`` thins it). The verdict's person check counts exactly the frames it looked at.
A pose checkpoint's overlay reuses those keypoints: its CAM is over the heatmap volume of the
window's track (exactly the labels' input), read per joint and drawn as the skeleton on the newest
frame (:func:`exercise_rec.explain.video.explain_video`, :mod:`exercise_rec.explain.joints`).
"""

from __future__ import annotations

import copy
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

from exercise_rec import display
from exercise_rec.data.framing import CropBox
from exercise_rec.data.video import resize_shape
from exercise_rec.errors import ConfigError
from exercise_rec.explain.joints import draw_joint_importance
from exercise_rec.explain.overlay import overlay
from exercise_rec.explain.video import cam_to_frames, explain_video
from exercise_rec.inference import CLIP_S, Predictor, person_frames
from exercise_rec.live.background import OneAtATime
from exercise_rec.live.smoothing import Smoother
from exercise_rec.pose import PoseTrack
from exercise_rec.pose.blazepose import NUM_KEYPOINTS


@dataclass(frozen=True)
class LiveConfig:
    """How a live stream is classified (docs/live.md)."""

    hop: int = 1  # new kept frames between labels (one kept frame = 1/5.3 s for the shipped models)
    window_s: float = CLIP_S  # the window's length; kept frames are clip_len / window_s apart
    smoothing: float = 0.5  # the newest window's share of the moving average (1: none)
    hold: int = 2  # hops a new answer must lead before it is shown (1: none)
    pose_every: int = 1  # the estimator on every n-th kept frame (a pose checkpoint needs 1)
    overlay: bool = False  # a CAM of a window drawn on its newest frame (pose: the skeleton), beside the labels
    overlay_every: int = 4  # at least this many hops between the starts of two CAMs
    layer: str | None = None  # the CAM's layer (None: the model's default)
    method: str = "hirescam"
    top_k: int = 3

    def __post_init__(self) -> None:
        if min(self.hop, self.pose_every, self.top_k, self.overlay_every) < 1 or not self.window_s > 0:
            raise ConfigError(f"need hop, pose_every, top_k, overlay_every >= 1 and window_s > 0, got {self}")


@dataclass(frozen=True)
class LiveUpdate:
    """The answer after one hop. ``label``: the shown (smoothed, held) answer: a class, or the verdict
    ``no_person``/``uncertain``; ``top``: the smoothed top-k; ``raw_label``: this window's own top class."""

    time_s: float  # stream time of the window's newest frame
    label: str
    verdict: str
    reason: str
    changed: bool  # the shown answer differs from the previous update's
    top: tuple[tuple[str, float], ...]
    probs: np.ndarray  # smoothed, calibrated [num_classes]
    raw_label: str
    seconds: dict[str, float]  # stream seconds each answer has been shown so far
    latency_ms: float  # from the frame's arrival to this update
    # uint8 [H, W, 3]: a CAM finished since the last update, drawn on the newest frame of its window (a
    # few hops old: it ran beside the labels; a pose checkpoint's: that frame's skeleton, each joint's
    # disc sized and coloured by its importance); None on most updates
    overlay: np.ndarray | None = None


def longest_shown(seconds: dict[str, float]) -> list[tuple[str, float]]:
    """(answer, seconds) of :attr:`LiveUpdate.seconds`, the answer shown longest first."""
    return sorted(seconds.items(), key=lambda item: -item[1])


@dataclass
class LiveSession:
    """Feed RGB frames with their stream time (:meth:`push`); every ``hop`` kept frames it answers.

    ``cam_model``: the eager module the overlay's CAM hooks (default: the predictor's own on the fast
    path, a copy on the eager one); the app passes its explainer instance, whose CAMs are serialised."""

    predictor: Predictor
    config: LiveConfig = field(default_factory=LiveConfig)
    cam_model: nn.Module | None = None

    def __post_init__(self) -> None:
        meta = self.predictor.meta
        if self.config.overlay and self.cam_model is None:  # a CAM's hooks record every pass through the layer:
            eager = self.predictor.backend == "torch"  # the labels' own passes must not go through the hooked one
            self.cam_model = copy.deepcopy(self.predictor.model) if eager else self.predictor.model
        # The overlay explains through explain_video, which hooks its predictor's model: a shallow copy
        # whose model is the CAM's (transform, estimator, heatmap settings and framing shared, not rebuilt).
        self._explainer = self.predictor
        if self.config.overlay and self.cam_model is not self.predictor.model:
            self._explainer = copy.copy(self.predictor)
            self._explainer.model = self.cam_model
        self.period_s = self.config.window_s / meta.clip_len
        self.pose_every = 1 if self.predictor.is_pose else self.config.pose_every
        self.frames: deque[np.ndarray] = deque(maxlen=meta.clip_len)
        self.poses: deque[tuple[np.ndarray, float] | None] = deque(maxlen=meta.clip_len)
        self.smoother = Smoother(self.predictor.rule, meta.class_names, self.config.smoothing, self.config.hold)
        self.seconds: Counter[str] = Counter()
        self._next_s: float | None = None
        self._kept = 0
        self._last: tuple[float, str] | None = None  # (stream time, shown answer) of the previous update
        self._hops = 0
        self._cams: OneAtATime[np.ndarray] = OneAtATime()
        self._cam_hop = -self.config.overlay_every  # the hop the last CAM started at

    def due(self, time_s: float) -> bool:
        """Whether a frame at ``time_s`` is kept (the next sample is due); a stream that fell behind
        resynchronises instead of keeping a burst of frames."""
        if self._next_s is not None and time_s < self._next_s:
            return False
        self._next_s = time_s + self.period_s if self._next_s is None else max(self._next_s + self.period_s, time_s)
        return True

    def push(self, frame: np.ndarray, time_s: float, arrived: float | None = None) -> LiveUpdate | None:
        """Take one uint8 RGB frame [H, W, 3] at stream time ``time_s`` (seconds, increasing);
        the update when this frame completes a hop, else None. ``arrived``: ``time.perf_counter()``
        when the frame reached the caller (latency counts from there; default: now)."""
        arrived = time.perf_counter() if arrived is None else arrived
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ConfigError(f"expected a uint8 RGB frame [H, W, 3], got {frame.shape} {frame.dtype}")
        if frame.shape[0] * frame.shape[1] > self.predictor.limits.max_pixels:
            raise ConfigError(f"frame {frame.shape[1]}x{frame.shape[0]} exceeds the pixel limit")
        if not self.due(time_s):
            return None
        self._keep(frame)
        if len(self.frames) < self.frames.maxlen or self._kept % self.config.hop:
            return None
        return self._classify(time_s, arrived)

    def _keep(self, frame: np.ndarray) -> None:
        shape = resize_shape(*frame.shape[:2], self.predictor.decode_size)
        if shape is not None:
            frame = cv2.resize(frame, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        self.frames.append(frame)
        pose = None
        if self.predictor.pose is not None and self._kept % self.pose_every == 0:
            track = self.predictor.pose.frames(frame[None])
            pose = (track.keypoints[0], float(track.presence[0]))
        self.poses.append(pose)
        self._kept += 1

    def _track(self) -> PoseTrack | None:
        """The window's checked frames as one track (None when the person check is off)."""
        if self.predictor.pose is None:
            return None
        checked = [pose for pose in self.poses if pose is not None]
        keypoints = np.stack([k for k, _ in checked]) if checked else np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
        return PoseTrack(keypoints, np.asarray([p for _, p in checked], np.float32), self.frames[-1].shape[:2])

    def _classify(self, time_s: float, arrived: float) -> LiveUpdate:
        predictor, names = self.predictor, self.predictor.class_names
        clip = torch.from_numpy(np.stack(self.frames))
        track = self._track()
        box = None if predictor.is_pose else predictor.person_box(track, clip.shape[1:3])
        raw = predictor.probabilities([clip], [box], tracks=None if track is None else [track])[0].numpy()
        checked = person_frames(track)
        label, verdict, changed = self.smoother.update(raw, checked)
        if self._last is not None:
            self.seconds[self._last[1]] += time_s - self._last[0]
        self._last = (time_s, label)
        probs = self.smoother.probs
        order = np.argsort(probs)[::-1][: self.config.top_k]
        picture = self._cams.take() if self.config.overlay else None
        if self.config.overlay and self._hops - self._cam_hop >= self.config.overlay_every:
            target = names.index(label) if label in names else None
            if track is not None and predictor.is_pose:  # the skeleton with each joint's importance
                started = self._cams.start(self._joints, clip, track, target)
            else:
                started = self._cams.start(self._overlay, clip, box, target)
            if started:
                self._cam_hop = self._hops
        self._hops += 1
        return LiveUpdate(
            time_s=time_s, label=label, verdict=verdict.verdict, reason=verdict.reason, changed=changed,
            top=tuple((names[k], float(probs[k])) for k in order), probs=probs, raw_label=names[int(raw.argmax())],
            seconds=dict(self.seconds), latency_ms=(time.perf_counter() - arrived) * 1e3, overlay=picture,
        )  # fmt: skip

    def wait_overlay(self, timeout: float | None = None) -> np.ndarray | None:
        """The CAM that is running, once finished (None when none ran since the last update)."""
        self._cams.wait(timeout)
        return self._cams.take()

    def _overlay(self, clip: torch.Tensor, box: CropBox | None, target: int | None) -> np.ndarray:
        """The newest frame with the CAM of the window for the shown class (its top class when the
        answer is a verdict), coloured inside the model's crop only."""
        person = "centre" if box is None else box
        result = explain_video(self._explainer, clip, self.config.layer, self.config.method, target, person=person)
        newest = result.clip[-1]
        return overlay(newest[None], cam_to_frames(result.cam[-1:], result.crop, newest.shape[:2]))[0]

    def _joints(self, clip: torch.Tensor, track: PoseTrack, target: int | None) -> np.ndarray:
        """A pose checkpoint's overlay: the CAM over the window's heatmap volume (built from the stored
        keypoints, as the labels' input is), read per joint; the newest frame the volume saw with its
        skeleton, each joint's disc sized and coloured by its importance there (1: the window's most
        important joint in its most important frame), and the volume's crop outlined, as in the
        Grad-CAM tab."""
        result = explain_video(self._explainer, clip, self.config.layer, self.config.method, target, track=track)
        joints = result.joints
        assert joints is not None
        newest = display.draw_box(result.clip[-1:], result.crop)
        return draw_joint_importance(newest, joints.keypoints[-1:], joints.importance[:, -1:])[0]
