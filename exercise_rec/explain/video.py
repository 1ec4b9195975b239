"""Explaining a video file with a deployable checkpoint: the frames the model saw, and their CAM.

Why here and not in the app or CLI: both need the same thing, framed exactly as a prediction is
(the crop around the person, :mod:`exercise_rec.data.framing`, else the centre crop). The CAM is
aligned with the model's input; :func:`cam_to_frames` carries it back onto the full decoded frames
through that crop, so an overlay shows where in the user's own video the model looked.

A pose checkpoint (``Predictor.is_pose``) sees no pixels: its input is the heatmap volume of the
estimator's keypoints (:mod:`exercise_rec.pose.heatmaps`), built by the predictor's own
:meth:`~exercise_rec.inference.Predictor.volumes`, as a prediction is. Its CAM over the volume is
read per joint (:func:`exercise_rec.explain.joints.joint_importance`) and returned as
:attr:`VideoExplanation.joints`; the other fields keep their meaning, with the volume as "the
model's input": ``frames`` is the volume drawn as a picture, ``cam`` is over the volume, ``clip``
holds the decoded frames the volume's frames were rendered from (one per volume frame) and
``crop`` is the volume's square crop around the person, so :meth:`VideoExplanation.frame_cam`
still maps the CAM onto the real frames. :func:`joint_frames` / :func:`joint_video` draw the
skeleton with each joint's importance on those frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch

from exercise_rec import display as frame_tools
from exercise_rec.data.framing import CropBox, scale_box
from exercise_rec.data.transforms import denormalize
from exercise_rec.data.video import write_video
from exercise_rec.explain.cam import CamArray, CamError, Normalization, compute_cam
from exercise_rec.explain.joints import draw_joint_importance, joint_importance, joint_summary
from exercise_rec.explain.overlay import crop_mask
from exercise_rec.inference import Predictor
from exercise_rec.pose import PoseTrack
from exercise_rec.pose.heatmaps import COCO_KEYPOINTS, coco_keypoints, volume_source

__all__ = [
    "JointExplanation",
    "VideoExplanation",
    "cam_to_frames",
    "explain_video",
    "joint_frames",
    "joint_video",
]


@dataclass(frozen=True)
class JointExplanation:
    """A pose model's CAM read per joint: which keypoints, in which frames, carried the evidence.

    ``T`` is the volume's frame count; volume frame ``t`` was rendered from clip frame
    ``frame_indices[t]`` (the clip of the :class:`VideoExplanation` holds exactly those frames)."""

    importance: np.ndarray  # float64 [17, T]: joint_importance of the CAM; NaN: the model was shown nothing of it
    frame_indices: np.ndarray  # int64 [T]: the decoded clip's frames the volume's frames came from
    keypoints: np.ndarray  # float32 [T, 17, 3]: those frames' COCO keypoints, x, y in pixels of the clip
    names: tuple[str, ...] = COCO_KEYPOINTS

    def summary(self) -> np.ndarray:
        """Each joint's mean importance over the frames it was present in, ``[17]`` (NaN: never)."""
        return joint_summary(self.importance)

    def ranked(self) -> list[tuple[str, float]]:
        """(joint, mean importance), most important first; joints never present are left out."""
        means = self.summary()
        order = sorted((k for k in range(len(means)) if np.isfinite(means[k])), key=lambda k: -means[k])
        return [(self.names[k], float(means[k])) for k in order]

    def to_json(self) -> dict[str, Any]:
        """The CAM record's ``joint_importance`` (joint -> one number per volume frame, null where
        absent) and ``joint_summary`` (joint -> mean, null if never present); docs/formats.md."""
        return {
            "joint_importance": {name: [_number(v) for v in row] for name, row in zip(self.names, self.importance)},
            "joint_summary": {name: _number(v) for name, v in zip(self.names, self.summary())},
        }


def _number(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


@dataclass(frozen=True)
class VideoExplanation:
    """A CAM with the frames it belongs to and the model's class probabilities for the clip.

    For a pose checkpoint (``joints`` set) the "model's input" is the heatmap volume: see the module."""

    frames: np.ndarray  # uint8 [T, h, w, 3]: the model's input, un-normalised (pose: max of the keypoint maps)
    cam: CamArray  # float32 [T, h, w] in [0, 1], aligned with ``frames``; ``cam.info`` says how
    probs: np.ndarray  # [num_classes] softmax of the same forward pass
    class_names: tuple[str, ...]
    clip: np.ndarray  # uint8 [T, H, W, 3]: the decoded frames the input was cut from (pose: rendered from)
    crop: CropBox  # the model's input in pixels of ``clip`` (may extend past it: padded)
    framed: bool = False  # ``crop`` was chosen around the person; False: the centre crop
    joints: JointExplanation | None = None  # pose checkpoints: the CAM per joint per frame; None: a clip model

    @property
    def predicted(self) -> str:
        return self.class_names[int(self.probs.argmax())]

    def frame_cam(self) -> CamArray:
        """The CAM on ``clip``'s full frames, float32 [T, H, W], zero outside ``crop``."""
        return cam_to_frames(self.cam, self.crop, self.clip.shape[1:3])


def cam_to_frames(cam: np.ndarray, crop: CropBox, frame_size: tuple[int, int]) -> CamArray:
    """A CAM ``[T, h, w]`` aligned with the model input, warped onto frames of ``frame_size``
    (H, W) that ``crop`` (pixels of those frames) was cut from; zero where the model saw nothing.

    Model-input pixel ``(i, j)`` covers ``crop.top + [i, i + 1) * crop.height / h`` (and likewise
    across), so its centre lands at ``crop.top + (i + 0.5) * s - 0.5`` (``s = crop.height / h``)
    in cv2's pixel-centre coordinates. Bilinear inside the crop (the border replicated, so the map does not fade at the
    crop's edge), then every pixel whose centre lies outside the crop is set to zero.
    """
    heat = np.asarray(cam, dtype=np.float32)
    if heat.ndim != 3:
        raise CamError(f"expected a CAM [T, h, w], got {heat.shape}")
    height, width = int(frame_size[0]), int(frame_size[1])
    scale_y, scale_x = crop.height / heat.shape[1], crop.width / heat.shape[2]
    affine = np.array(
        [[scale_x, 0.0, crop.left + 0.5 * scale_x - 0.5], [0.0, scale_y, crop.top + 0.5 * scale_y - 0.5]]
    )  # model-input pixels -> frame pixels
    warped = np.stack([
        cv2.warpAffine(frame, affine, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for frame in heat
    ])  # fmt: skip
    warped *= crop_mask(crop, (height, width))
    info = getattr(cam, "info", None)
    return CamArray(warped, info) if info is not None else warped.view(CamArray)


def explain_video(
    predictor: Predictor,
    video: str | PathLike[str] | torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    target: int | str | None = None,
    normalize: Normalization = "clip",
    person: CropBox | Literal["find", "centre"] = "find",
    *,
    track: PoseTrack | None = None,
) -> VideoExplanation:
    """Decode ``video`` (a path or a uint8 clip ``[T, H, W, 3]``) as the predictor does, frame it
    and explain it. ``person``: ``"find"`` frames it as a prediction is (:meth:`Predictor.clip_box`),
    ``"centre"`` takes the centre crop, a box (pixels of the clip, e.g. a prediction's ``framing``)
    is used as given, so the CAM explains exactly the input that was classified.

    A pose checkpoint explains the heatmap volume a prediction feeds it (:meth:`Predictor.volumes`
    of the estimator's track of the clip; ``person`` does not apply: the volume is always cropped
    around the tracked person) and sets :attr:`VideoExplanation.joints`, the CAM per joint per
    frame (``normalize`` scales it as it scales the CAM). ``track``: the clip's own track when the
    caller has it (a prediction's ``pose``), saving the estimator's run; clip models ignore it."""
    clip = video if isinstance(video, torch.Tensor) else predictor.decode(video)
    if predictor.is_pose:
        return _explain_pose(predictor, clip, layer, method, target, normalize, track)
    box = predictor.clip_box(clip) if person == "find" else None if person == "centre" else person
    x, params = predictor.transform.with_params(clip, person=box)
    cam = compute_cam(
        predictor.model, x.to(predictor.device), layer, method, target, class_names=predictor.class_names,
        normalize=normalize, temperature=predictor.rule.temperature,
    )  # fmt: skip
    frames = denormalize(x, predictor.meta.mean, predictor.meta.std).numpy()
    return VideoExplanation(
        frames=frames, cam=cam, probs=np.asarray(cam.info.probs), class_names=predictor.class_names,
        clip=clip.numpy(), crop=params.crop, framed=params.framed,
    )  # fmt: skip


def _explain_pose(
    predictor: Predictor,
    clip: torch.Tensor,
    layer: str | None,
    method: str,
    target: int | str | None,
    normalize: Normalization,
    track: PoseTrack | None,
) -> VideoExplanation:
    """:func:`explain_video` for a pose checkpoint (see the module docstring)."""
    heatmaps = predictor.heatmaps
    assert heatmaps is not None
    track = predictor.track(clip) if track is None else track
    if track is None or len(track.keypoints) != len(clip):
        got = "no track" if track is None else f"a track of {len(track.keypoints)} frames"
        raise CamError(f"a pose explanation needs the estimator's track of the clip's {len(clip)} frames, got {got}")
    volume = predictor.volumes([track])[0]  # exactly the input a prediction gives the model
    cam = compute_cam(
        predictor.model, volume.to(predictor.device), layer, method, target, class_names=predictor.class_names,
        normalize=normalize, temperature=predictor.rule.temperature,
    )  # fmt: skip
    maps = volume.numpy()
    importance = joint_importance(cam, maps, normalize=normalize)
    # Where the volume's frames and crop came from, in the track's pixels, then in the clip's (a
    # clip's own track is at its size: factors of 1).
    box, indices = volume_source(track, heatmaps, framing=predictor.framing)
    factor_y, factor_x = clip.shape[1] / track.frame_size[0], clip.shape[2] / track.frame_size[1]
    keypoints = coco_keypoints(track.keypoints[indices]).copy()
    keypoints[..., 0] *= np.float32(factor_x)
    keypoints[..., 1] *= np.float32(factor_y)
    crop = scale_box(box, factor_y, factor_x)
    picture = np.round(np.clip(maps[: len(COCO_KEYPOINTS)].max(axis=0), 0, 1) * 255).astype(np.uint8)
    return VideoExplanation(
        frames=np.repeat(picture[..., None], 3, axis=-1), cam=cam, probs=np.asarray(cam.info.probs),
        class_names=predictor.class_names, clip=clip.numpy()[indices], crop=crop,
        framed=bool(np.isfinite(track.boxes()).all(axis=1).any()),  # else clip_box fell back to the centre square
        joints=JointExplanation(importance=importance, frame_indices=indices, keypoints=keypoints),
    )  # fmt: skip


def joint_frames(explanation: VideoExplanation, colormap: str = "jet", caption: str | None = None) -> np.ndarray:
    """uint8 ``[T, H', W', 3]``: a pose explanation's frames (``clip``) with the skeleton drawn, each
    joint's disc sized and coloured by its importance in that frame
    (:func:`~exercise_rec.explain.joints.draw_joint_importance`), the volume's crop outlined,
    scaled up for viewing and captioned (default: method, layer and target)."""
    joints = explanation.joints
    if joints is None:
        raise CamError("joint importance exists for pose checkpoints only; this explanation is of a clip model")
    boxed = frame_tools.draw_box(explanation.clip, explanation.crop)
    drawn = draw_joint_importance(boxed, joints.keypoints, joints.importance, colormap)
    if caption is None:
        info = explanation.cam.info
        caption = f"{info.method} {info.layer} -> {info.target_name or info.target}: joints" if info else "joints"
    return frame_tools.side_by_side([drawn], [caption])


def joint_video(
    path: str | os.PathLike[str], explanation: VideoExplanation, fps: float = 8.0, colormap: str = "jet"
) -> Path:
    """Write :func:`joint_frames` as browser-playable H.264 mp4 (atomically); returns the path."""
    return write_video(path, joint_frames(explanation, colormap), fps)
