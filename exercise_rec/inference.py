"""``Predictor``: a deployable checkpoint turned into predictions for a video, a clip or a timeline.

Why one class: the app, the predict/evaluate CLIs and the benchmarks must feed a model exactly as
it was trained. Everything that shapes the input (clip length, input size, mean/std) comes from the
checkpoint's metadata, so a checkpoint trained at 112x112 or with other statistics just works.
The model is loaded once and kept in eval mode; calls run under ``torch.inference_mode``, or
through the fast CPU path (``backend="onnx"|"openvino"``, see ``exercise_rec.fastpath``).
Probabilities are calibrated (the checkpoint's temperature) and every answer carries a verdict
(``exercise_rec.verdict``) backed by the pose estimator's person check on the frames the model saw.

A pose checkpoint (its registry model's ``input_kind`` is ``"pose"``, e.g. ``mobilenet_v2_3d_pose``)
goes through the same calls: the clip's frames are decoded as for framing (up to 360 px), the
estimator's track of them (the person check's own) is rendered into the heatmap volume the model
was trained on (``clip_len`` frames, ``input_size`` heatmaps, :func:`track_volume` as the dataset's
eval path), and a timeline cuts each window's part of the video's cached track, as training does.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from exercise_rec.checkpoint import CheckpointMeta, load_checkpoint
from exercise_rec.data.framing import CropBox, FramingConfig, person_crop, scale_box
from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.transforms import AugmentConfig, build_transforms
from exercise_rec.data.video import AtMost, VideoInfo, probe, read_clip, read_windows
from exercise_rec.device import clip_memory_format, pick_device
from exercise_rec.errors import ConfigError
from exercise_rec.fastpath import FastModel, FastPathError
from exercise_rec.models import ModelInputError, get_entry
from exercise_rec.pose import PoseEstimator, PoseTrack, PoseUnavailable
from exercise_rec.pose.cache import TRACK_EVERY
from exercise_rec.pose.heatmaps import HeatmapConfig, model_heatmaps, track_volume, track_window
from exercise_rec.verdict import Verdict, VerdictRule

log = logging.getLogger(__name__)

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "mobilenet_v2_3d_standard.pt"
# The shipped pose stream (keypoint heatmap volumes from the pose estimator), the RGB stream's peer.
POSE_CHECKPOINT = CHECKPOINT_DIR / "mobilenet_v2_3d_pose.pt"
# The shipped checkpoints were trained on clips of about 3 s: the default timeline window. From two
# such clips' length on, one label for the whole video may hide several exercises: the app shows a
# timeline and the predict CLI says so.
CLIP_S = 3.0
LONG_VIDEO_S = 2 * CLIP_S
WINDOW_BATCH = 8  # windows per forward pass in predict_windows: bounded memory on long videos
TIMELINE_POSE_FPS = 4.0  # the timeline's person check samples the video this often (docs/verdicts.md)
# With person framing, frames are decoded with this short side at most, so that a small person
# still fills the model's input with real pixels (a 1080p frame decoded at 128 leaves them ~40 px).
FRAMING_SHORT_SIDE = 360


@dataclass(frozen=True)
class Prediction:
    """Top-k result for one clip. ``probs`` holds every class's calibrated probability (sums to 1);
    ``verdict``/``reason`` say what kind of answer it is; ``pose``: the person check's keypoints on
    the clip's frames (None when the check is off)."""

    video: str
    model: str
    mode: str | None
    labels: tuple[str, ...]  # top-k, most likely first
    top_probs: tuple[float, ...]
    probs: np.ndarray  # [num_classes], in the checkpoint's class order
    latency_ms: float  # decode + transform + forward
    clip: torch.Tensor  # the uint8 frames the model saw [T, H, W, 3] (before resize/crop)
    verdict: str
    reason: str
    pose: PoseTrack | None = None
    framing: CropBox | None = None  # the crop around the person, pixels of ``clip``; None: centre crop

    @property
    def label(self) -> str:
        return self.labels[0]

    def to_json(self) -> dict[str, Any]:
        """The predict CLI's JSON record (docs/formats.md)."""
        return {
            "video": self.video,
            "model": self.model,
            "mode": self.mode,
            "verdict": self.verdict,
            "reason": self.reason,
            "predictions": [{"label": c, "prob": round(p, 6)} for c, p in zip(self.labels, self.top_probs)],
            "latency_ms": round(self.latency_ms, 2),
        }


@dataclass(frozen=True)
class Timeline:
    """Per-window class probabilities over a long video: window ``i`` covers ``[starts_s[i], ends_s[i])``."""

    video: str
    class_names: tuple[str, ...]
    starts_s: np.ndarray  # [N]
    ends_s: np.ndarray  # [N]
    probs: np.ndarray  # [N, num_classes], calibrated
    verdicts: tuple[Verdict, ...]  # one per window

    @property
    def labels(self) -> list[str]:
        """The most likely class of each window."""
        return [self.class_names[k] for k in self.probs.argmax(axis=1)]


class Predictor:
    """A model and its metadata, ready to classify videos (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        meta: CheckpointMeta,
        device: torch.device | str | None = None,
        backend: str = "torch",
        limits: DecodeLimits = DEFAULT_LIMITS,
        person_check: bool | None = None,
        framing: bool = True,
    ) -> None:
        """``backend`` other than ``"torch"`` runs the fast CPU path (``exercise_rec.fastpath``);
        ``model`` stays the eager module either way (explanations need its gradients). ``limits``
        bound every file this predictor decodes (frame size, aspect ratio, time per request).
        ``person_check``: True requires the pose estimator (``PoseUnavailable`` if it is not
        installed), False turns it off, None uses it when installed and warns once when not.
        ``framing``: crop around the person the estimator finds (:mod:`exercise_rec.data.framing`,
        with the margin the checkpoint was trained with); False, or no estimator, keeps the centre crop.
        A pose checkpoint needs the estimator (its input is the keypoints: ``person_check=False`` is a
        ``ConfigError``, a missing estimator ``PoseUnavailable``); its volume is always centred on the
        person, whatever ``framing``, and :attr:`transform` refuses clips (``ModelInputError``)."""
        self.device = pick_device(str(device) if device is not None else ("cpu" if backend != "torch" else None))
        if backend != "torch" and self.device.type != "cpu":
            raise FastPathError(f"backend {backend!r} is a CPU path; use device='cpu' or backend='torch'")
        self.memory_format = clip_memory_format(model)
        self.model = model.eval().to(self.device, memory_format=self.memory_format)
        self.meta = meta
        self.backend = backend
        self.limits = limits
        self.rule = VerdictRule.from_calibration(meta.calibration)
        self.heatmaps: HeatmapConfig | None = _pose_input(meta)
        self.transform: Any
        if self.heatmaps is not None:
            if person_check is False:
                raise ConfigError(
                    f"{meta.model_name} reads the pose estimator's keypoints: it cannot run without the person check"
                )
            self.pose = _pose_estimator(True)
            self.framing = FramingConfig(**meta.framing)  # the crop the volume covers
            self.transform = _RefuseClips(meta.model_name)
        else:
            self.pose = _pose_estimator(person_check)
            self.framing = FramingConfig(**meta.framing) if framing and self.pose is not None else None
            augment = AugmentConfig(mean=meta.mean, std=meta.std)
            self.transform = build_transforms(False, meta.input_size, augment, self.framing)
        self._fast: FastModel | None = None
        if backend != "torch":
            channels = 3 if self.heatmaps is None else self.heatmaps.channels
            self._fast = FastModel.build(model, (1, channels, meta.clip_len, *meta.input_size), backend)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | PathLike[str] = DEFAULT_CHECKPOINT,
        device: torch.device | str | None = None,
        backend: str = "torch",
        limits: DecodeLimits = DEFAULT_LIMITS,
        person_check: bool | None = None,
        framing: bool = True,
    ) -> Predictor:
        """Rebuild the checkpoint's model (raises ``CheckpointError`` naming the problem)."""
        model, meta = load_checkpoint(path)
        return cls(model, meta, device, backend, limits, person_check, framing)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.meta.class_names

    @property
    def mode(self) -> str | None:
        """The temporal mode of models that have one (mobilenet_v2_3d), else None."""
        return {**get_entry(self.meta.model_name).kwargs, **self.meta.model_kwargs}.get("mode")

    @property
    def is_pose(self) -> bool:
        """Whether the model takes pose heatmap volumes (built from the estimator's keypoints)."""
        return self.heatmaps is not None

    @property
    def decode_size(self) -> int | AtMost:
        """Short side clips are decoded at: the input size, or up to ``FRAMING_SHORT_SIDE`` when
        framing or for a pose checkpoint (the estimator's input)."""
        return AtMost(FRAMING_SHORT_SIDE) if self.framing is not None else max(self.meta.input_size)

    def decode(self, path: str | PathLike[str], **kwargs: Any) -> torch.Tensor:
        """The clip the model expects from ``path``: ``clip_len`` frames at :attr:`decode_size`."""
        return read_clip(path, self.meta.clip_len, size=self.decode_size, limits=self.limits, **kwargs)

    def track(self, clip: torch.Tensor) -> PoseTrack | None:
        """The estimator's poses on a clip's frames (None when the person check is off)."""
        return self.pose.frames(clip) if self.pose is not None else None

    def person_box(
        self, track: PoseTrack | None, clip_size: tuple[int, int], first: float = 0, last: float = np.inf
    ) -> CropBox | None:
        """The framing crop, in pixels of a clip of ``clip_size`` (H, W), around the person of
        ``track`` (a video's track: its frames in ``[first, last)``); None: centre crop."""
        if self.framing is None or track is None:
            return None
        boxes = track.boxes()
        if track.frame_indices is not None:
            boxes = boxes[(track.frame_indices >= first) & (track.frame_indices < last)]
        height, width = self.meta.input_size
        box = person_crop(boxes, height / width, self.framing)
        if box is None:
            return None
        return scale_box(box, clip_size[0] / track.frame_size[0], clip_size[1] / track.frame_size[1])

    def clip_box(self, clip: torch.Tensor) -> CropBox | None:
        """The framing crop of a uint8 clip [T, H, W, 3] from the estimator on its own frames;
        None (the centre crop) when not framing or nobody is found."""
        return self.person_box(self.track(clip), clip.shape[1:3]) if self.framing is not None else None

    def inputs(
        self,
        clips: Sequence[torch.Tensor],
        boxes: Sequence[CropBox | None] | None = None,
        *,
        tracks: Sequence[PoseTrack] | None = None,
    ) -> torch.Tensor:
        """The model's input batch [N, C, T, H, W] for uint8 clips [T, H, W, 3] of any size.
        ``boxes``: each clip's framing crop; None finds them (:meth:`clip_box`). A pose checkpoint's
        batch is heatmap volumes [N, K, T, S, S] of each clip's ``tracks`` (None: :meth:`track` of
        each clip; ``boxes`` do not apply: the volume is cropped around the tracked person)."""
        if self.heatmaps is not None:
            tracks = [self.track(clip) for clip in clips] if tracks is None else tracks
            return self.volumes(tracks)
        if boxes is None:
            boxes = [self.clip_box(clip) for clip in clips]
        return torch.stack([self.transform(clip, person=box) for clip, box in zip(clips, boxes)])

    def volumes(self, tracks: Sequence[PoseTrack]) -> torch.Tensor:
        """A pose checkpoint's input batch [N, K, T, S, S] from keypoint tracks (a clip's, or a
        video's cut to a window): uniformly sampled, not augmented, as the dataset's eval split."""
        if self.heatmaps is None:
            raise ModelInputError(f"{self.meta.model_name} takes clips, not pose heatmap volumes")
        return torch.stack([torch.from_numpy(track_volume(t, self.heatmaps, framing=self.framing)) for t in tracks])

    @torch.inference_mode()
    def logits(
        self,
        clips: Sequence[torch.Tensor],
        boxes: Sequence[CropBox | None] | None = None,
        *,
        tracks: Sequence[PoseTrack] | None = None,
    ) -> torch.Tensor:
        """Raw logits [N, num_classes] for uint8 clips [T, H, W, 3] (see :meth:`inputs`)."""
        return self._forward(self.inputs(clips, boxes, tracks=tracks))

    @torch.inference_mode()
    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        batch = inputs.to(self.device)
        if self._fast is not None:
            return self._fast(batch)
        out = self.model(batch.contiguous(memory_format=self.memory_format))
        return out.float().cpu()

    def probabilities(
        self,
        clips: Sequence[torch.Tensor],
        boxes: Sequence[CropBox | None] | None = None,
        *,
        tracks: Sequence[PoseTrack] | None = None,
    ) -> torch.Tensor:
        """Calibrated class probabilities [N, num_classes]: softmax of the logits over the checkpoint's temperature."""
        return self._calibrated(self.logits(clips, boxes, tracks=tracks))

    def _calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits / self.rule.temperature).softmax(dim=1)

    def predict(self, video: str | PathLike[str] | torch.Tensor, top_k: int = 5) -> Prediction:
        """Classify a video file (sampled uniformly over its whole length) or a decoded uint8 clip."""
        if top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        started = time.perf_counter()
        clip = video if isinstance(video, torch.Tensor) else self.decode(video)
        pose = self.track(clip)
        box = self.person_box(pose, clip.shape[1:3])
        probs = self.probabilities([clip], [box], tracks=None if pose is None else [pose])[0]
        verdict = self.rule.decide(probs.numpy(), self.class_names, person_frames(pose))
        latency_ms = (time.perf_counter() - started) * 1e3
        top = probs.topk(min(top_k, len(probs)))
        return Prediction(
            video="<clip>" if isinstance(video, torch.Tensor) else str(video),
            model=self.meta.model_name,
            mode=self.mode,
            labels=tuple(self.class_names[k] for k in top.indices.tolist()),
            top_probs=tuple(top.values.tolist()),
            probs=probs.numpy(),
            latency_ms=latency_ms,
            clip=clip,
            verdict=verdict.verdict,
            reason=verdict.reason,
            pose=pose,
            framing=box,
        )

    def predict_windows(
        self,
        path: str | PathLike[str],
        stride_s: float = 1.0,
        window_s: float = CLIP_S,
        *,
        info: VideoInfo | None = None,
    ) -> Timeline:
        """Class probabilities for windows of ``window_s`` seconds every ``stride_s`` seconds.

        Each window is sampled like a training clip (``clip_len`` frames spread over the window;
        the shipped models were trained on ~3 s clips, hence the default). A video shorter than one
        window gives one window over all of it. All windows come from one pass over the file
        (:func:`read_windows`: frames counted once, each decoded once, ``limits.budget_s`` for the
        whole request), ``WINDOW_BATCH`` windows per forward pass, so memory does not grow with the
        video's length. Each window gets a verdict; its person check reads the estimator's track of
        the whole video at ``TIMELINE_POSE_FPS`` (cached per file), which also frames each window
        around the person (the union of their boxes within the window). ``info``: the file's
        :func:`probe`, when the caller already has it.

        A pose checkpoint decodes no windows: each window's volume is its part of the video's track
        at every ``TRACK_EVERY``-th frame (the training tracks' sampling, cached per file), which
        also serves the person check.
        """
        if stride_s <= 0 or window_s <= 0:
            raise ConfigError(f"stride_s and window_s must be > 0, got {stride_s}, {window_s}")
        info = info or probe(path, limits=self.limits)
        window = max(1, round(window_s * info.fps))
        stride = max(1, round(stride_s * info.fps))
        starts = list(range(0, max(1, info.frames - window + 1), stride))
        start_frames = np.asarray(starts, dtype=np.float64)
        ends = np.minimum(start_frames + window, info.frames)
        track = None
        if self.heatmaps is not None:
            track = self.pose.video(path, every=TRACK_EVERY, info=info, limits=self.limits)
            windows = [track_window(track, int(first), int(last)) for first, last in zip(start_frames, ends)]
            logits = [self._forward(self.volumes(windows[k : k + WINDOW_BATCH]))
                      for k in range(0, len(windows), WINDOW_BATCH)]  # fmt: skip
            return self._timeline(path, info, start_frames, ends, self._calibrated(torch.cat(logits)).numpy(), track)
        if self.pose is not None:
            track = self.pose.video(path, every=max(1, round(info.fps / TIMELINE_POSE_FPS)), info=info, limits=self.limits)
        clips = read_windows(
            path, [(s, s + window) for s in starts], self.meta.clip_len, self.decode_size,
            info=info, limits=self.limits,
        )  # fmt: skip
        chunks = []
        spans = iter(zip(start_frames, ends))
        while batch := list(itertools.islice(clips, WINDOW_BATCH)):
            boxes = [self.person_box(track, clip.shape[1:3], *next(spans)) for clip in batch]
            chunks.append(self.probabilities(batch, boxes))
        return self._timeline(path, info, start_frames, ends, torch.cat(chunks).numpy(), track)

    def _timeline(
        self,
        path: str | PathLike[str],
        info: VideoInfo,
        start_frames: np.ndarray,
        ends: np.ndarray,
        probs: np.ndarray,
        track: PoseTrack | None,
    ) -> Timeline:
        verdicts = tuple(
            self.rule.decide(p, self.class_names, person_frames(track, first, last))
            for p, first, last in zip(probs, start_frames, ends)
        )
        return Timeline(
            video=str(path),
            class_names=self.class_names,
            starts_s=start_frames / info.fps,
            ends_s=ends / info.fps,
            probs=probs,
            verdicts=verdicts,
        )


def _pose_input(meta: CheckpointMeta) -> HeatmapConfig | None:
    """The heatmap volumes a pose checkpoint's model takes (None: a clip model): ``clip_len``
    frames of ``input_size`` heatmaps, channels from the model's ``in_channels``."""
    height, width = meta.input_size
    if get_entry(meta.model_name).input_kind != "pose":
        return None
    if height != width:
        raise ConfigError(f"{meta.model_name}: pose heatmaps are square, this checkpoint says {height}x{width}")
    return model_heatmaps(meta.model_name, meta.model_kwargs, meta.clip_len, height)


class _RefuseClips:
    """``Predictor.transform`` of a pose checkpoint: its model takes no clip pixels, so whatever
    would feed it one (a CAM of frames, a custom loop) is told what to call instead."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        raise ModelInputError(
            f"{self.model_name} takes pose heatmap volumes of the estimator's keypoints, not clips: use "
            "Predictor.inputs(clips) (or .volumes(tracks)); explanations of clip pixels do not apply to it"
        )

    with_params = __call__


def _pose_estimator(person_check: bool | None) -> PoseEstimator | None:
    """The estimator for ``Predictor(person_check=...)`` (see its docstring)."""
    if person_check is False:
        return None
    try:
        return PoseEstimator()
    except PoseUnavailable as err:
        if person_check:
            raise
        _warn_once(f"person check off: {err}")
        return None


def _warn_once(message: str, _seen: set[str] = set()) -> None:  # noqa: B006 - the set is the memory
    if message not in _seen:
        _seen.add(message)
        log.warning(message)


def person_frames(track: PoseTrack | None, first: float = 0, last: float = np.inf) -> tuple[int, int] | None:
    """(frames showing a person, frames checked) of ``track``, within video frames ``[first, last)``
    when the track is a video's; None when there is no track (person check off)."""
    if track is None:
        return None
    found = track.found
    if track.frame_indices is not None:
        inside = (track.frame_indices >= first) & (track.frame_indices < last)
        found = found[inside]
    return int(found.sum()), int(len(found))
