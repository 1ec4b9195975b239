"""Pose heatmap volumes: the input of the pose stream (PoseC3D, Duan et al., CVPR 2022).

Why heatmap volumes: a 3D CNN on ``[K, T, H, W]`` stacks of per-keypoint Gaussians ("Revisiting
Skeleton-based Action Recognition") sees only the body's movement, not clothes, room or lighting,
and is robust to the estimator's jitter (a blob, not a coordinate). The estimator
(:mod:`exercise_rec.pose`, BlazePose) gives 33 keypoints; the volume uses the 17 COCO ones (nose,
eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) in COCO order, PoseC3D's choice, so
MMAction2's keypoint models and ours share channel order.

Rendering (:func:`heatmap_volume`), as MMAction2's ``GeneratePoseTarget(sigma=0.6, use_score=True)``:
each keypoint is a Gaussian of ``sigma`` heatmap pixels whose peak is the keypoint's visibility
(0 where invisible), over one crop around the person for the whole clip (``PoseCompact``'s role;
here :func:`exercise_rec.data.framing.person_crop`, the crop the video models see). Heatmap pixel
``j`` is centred on ``(j + 0.5) / size`` of the crop. Vectorised and separable: a Gaussian in x
``[K, T, W]`` times one in y ``[K, T, H]``, one outer product, no loop over frames or keypoints.
Two deliberate differences from MMAction2: the Gaussian is not truncated at 3 sigma (there it is
cut where it is below 1.1% of its peak), and one person is rendered (no max over people).
``with_limbs`` appends PoseC3D's 17 COCO limb maps (a Gaussian of the distance to the segment,
peak ``min`` of its two ends' visibilities, MMAction2's skeleton and order). PoseC3D trains
keypoint and limb volumes as two streams; here both stack into one volume (K = 34) for a model
built with ``in_channels=34``.

Time (:func:`sample_frames`): PoseC3D's ``UniformSampleFrames``: the track is cut into ``frames``
equal segments and one frame is taken from each (its middle; training: a random one). A track
shorter than ``frames`` repeats frames in order rather than looping back to the start.

Augmentation (:class:`PoseAugmentConfig`): pure functions on keypoints before rendering, so a
flip, zoom or rotation is exact (no resampling of heatmaps): horizontal flip with the left/right
keypoints swapped, scale, vertical stretch, rotation and translation about the crop's centre,
joint dropout and frame dropout; one draw per clip (:meth:`PoseAugmentConfig.draw`), the same transform on every frame.

Cost, measured on this project's 2-core CPU while it was training (``OMP_NUM_THREADS=1``, median of
20 renders of random keypoints, 3 runs): a 32-frame 56x56 volume takes 0.8 ms with the 17 keypoint
maps and 6.5 ms (6-11 ms) with the 17 limb maps added (K = 34): limb maps are not separable, so
they cost full-size [17, 32, 56, 56] array passes. Sampling and one augmentation draw: 0.06 ms.
(For scale: one ``posec3d_slowonly`` forward of such a volume, 1 thread: ~0.7 s.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from exercise_rec.data.framing import CropBox, FramingConfig, TransformError, person_crop
from exercise_rec.pose.keypoints import KEYPOINT, KEYPOINT_NAMES

if TYPE_CHECKING:  # the dataset imports this module, and pose.track imports the data package
    from exercise_rec.pose.track import PoseTrack

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_LIMBS",
    "COCO_FROM_BLAZEPOSE",
    "HeatmapConfig",
    "PoseAugmentConfig",
    "PoseAugmentation",
    "affine_keypoints",
    "clip_box",
    "coco_keypoints",
    "drop_keypoints",
    "flip_channels",
    "flip_keypoints",
    "fill_gaps",
    "flip_volume",
    "heatmap_volume",
    "model_heatmaps",
    "sample_frames",
    "track_volume",
    "track_window",
    "volume_source",
]

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COCO_FROM_BLAZEPOSE: np.ndarray = np.array([KEYPOINT[name] for name in COCO_KEYPOINTS])
_COCO = {name: i for i, name in enumerate(COCO_KEYPOINTS)}
# MMAction2's GeneratePoseTarget skeleton for COCO-17, in its order (limb channels follow it).
COCO_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (_COCO[a], _COCO[b])
    for a, b in (
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ("nose", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("nose", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_shoulder", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_hip", "right_hip"),
    )
)  # fmt: skip


def _mirror(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a + "_"):
            return b + name[len(a) :]
    return name


def _swap(names: tuple[str, ...]) -> np.ndarray:
    """Index permutation sending each keypoint to its left/right twin (itself if central)."""
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[_mirror(name)] for name in names])


_FLIP = {len(KEYPOINT_NAMES): _swap(KEYPOINT_NAMES), len(COCO_KEYPOINTS): _swap(COCO_KEYPOINTS)}
_KEYPOINT_FLIP = _FLIP[len(COCO_KEYPOINTS)]
_LIMB_INDEX = {frozenset(limb): i for i, limb in enumerate(COCO_LIMBS)}
_LIMB_FLIP = np.array([_LIMB_INDEX[frozenset(int(_KEYPOINT_FLIP[k]) for k in limb)] for limb in COCO_LIMBS])


@dataclass(frozen=True)
class HeatmapConfig:
    """What a pose heatmap volume is: ``[channels, frames, size, size]`` float32.

    ``size`` 56: PoseC3D's training size (64 at test), enough for a body's 17 blobs and cheap.
    ``frames`` 32: our clips are ~3 s at 24-30 fps and the estimator runs on every 2nd frame, so a
    clip's track has ~36-45 frames; 32 keeps nearly all of them (PoseC3D takes 48 from NTU clips of
    up to 10 s, i.e. a sparser sampling than ours), and divides by the model's temporal stride 2.
    ``sigma`` 0.6: in heatmap pixels, PoseC3D's value (``GeneratePoseTarget``'s default, used at 56
    and 64 alike): a blob about 3 pixels wide; not rescaled with ``size``.
    ``with_limbs``: append PoseC3D's 17 limb maps (channels 17..33) to the 17 keypoint maps.
    ``max_gap`` 8: runs of up to 8 track frames where the estimator found nobody (~0.5 s at every
    2nd frame of 30 fps) are filled by linear interpolation between the frames either side
    (:func:`fill_gaps`); the estimator loses small or low-contrast people for a few frames at a
    time, and an empty frame is a blank the model never saw on the training set. Longer runs stay
    empty (guessing a whole movement is not the estimator's evidence). 0: no filling.
    """

    size: int = 56
    frames: int = 32
    sigma: float = 0.6
    with_limbs: bool = False
    max_gap: int = 8

    def __post_init__(self) -> None:
        for name in ("size", "frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TransformError(f"heatmap {name} must be a positive int, got {value!r}")
        if not self.sigma > 0:
            raise TransformError(f"heatmap sigma must be > 0 (heatmap pixels), got {self.sigma!r}")
        if not isinstance(self.max_gap, int) or self.max_gap < 0:
            raise TransformError(f"heatmap max_gap must be an int >= 0 (track frames), got {self.max_gap!r}")

    @property
    def channels(self) -> int:
        """K: 17 keypoint maps, plus 17 limb maps with ``with_limbs``."""
        return len(COCO_KEYPOINTS) + (len(COCO_LIMBS) if self.with_limbs else 0)

    @classmethod
    def for_channels(cls, channels: int, frames: int, size: int) -> HeatmapConfig:
        """The volumes a model with ``channels`` input channels takes (17: keypoints, 34: with
        limbs), ``frames`` long and ``size`` square: how the trainer and ``Predictor`` rebuild a pose
        checkpoint's input from its model options, ``clip_len`` and ``input_size``."""
        choices = {len(COCO_KEYPOINTS): False, len(COCO_KEYPOINTS) + len(COCO_LIMBS): True}
        if channels not in choices:
            raise TransformError(f"a pose volume has 17 (keypoints) or 34 (with limbs) channels, got {channels}")
        return cls(size=size, frames=frames, with_limbs=choices[channels])


def model_heatmaps(model_name: str, model_kwargs: dict, frames: int, size: int) -> HeatmapConfig | None:
    """The volumes registry model ``model_name`` built with ``model_kwargs`` takes (``in_channels``
    17 or 34), ``frames`` long and ``size`` square; None for a model of another input kind. One
    answer for the trainer (from its options) and ``Predictor`` (from a checkpoint's metadata)."""
    from exercise_rec.models import get_entry  # the models are not needed to render volumes

    entry = get_entry(model_name)
    if entry.input_kind != "pose":
        return None
    channels = {**entry.kwargs, **model_kwargs}.get("in_channels") or entry.default_input[0]
    return HeatmapConfig.for_channels(int(channels), frames, size)


def _as_keypoints(keypoints: np.ndarray) -> np.ndarray:
    array = np.asarray(keypoints, dtype=np.float32)
    if array.ndim != 3 or array.shape[1] not in _FLIP or array.shape[2] != 3:
        raise TransformError(
            f"expected keypoints [T, {len(KEYPOINT_NAMES)} or {len(COCO_KEYPOINTS)}, 3] (x, y, visibility), "
            f"got {array.shape}"
        )
    return array


def coco_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """The 17 COCO keypoints ``[T, 17, 3]`` of BlazePose's 33 (a COCO array is returned as is)."""
    array = _as_keypoints(keypoints)
    return array if array.shape[1] == len(COCO_KEYPOINTS) else array[:, COCO_FROM_BLAZEPOSE]


def _to_grid(keypoints: np.ndarray, box: CropBox, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoint x, y in heatmap pixels ``[K, T]`` (pixel j is centred on j) and the peak values,
    0 for invisible or non-finite keypoints."""
    kp = coco_keypoints(keypoints).transpose(1, 0, 2)  # [K, T, 3]
    if not (box.width > 0 and box.height > 0):
        raise TransformError(f"crop box must have a positive size, got {box}")
    x = (kp[..., 0] - np.float32(box.left)) * np.float32(size / box.width) - np.float32(0.5)
    y = (kp[..., 1] - np.float32(box.top)) * np.float32(size / box.height) - np.float32(0.5)
    value = np.clip(kp[..., 2], 0, 1)
    finite = np.isfinite(x) & np.isfinite(y) & np.isfinite(value)
    value = np.where(finite, value, np.float32(0))
    return np.where(finite, x, np.float32(0)), np.where(finite, y, np.float32(0)), value


def _limb_maps(x: np.ndarray, y: np.ndarray, value: np.ndarray, sigma: float, out: np.ndarray) -> None:
    """Into ``out`` ``[L, T, size, size]``: Gaussian of each pixel's distance to each limb's segment."""
    size = out.shape[-1]
    start, end = np.array([a for a, _ in COCO_LIMBS]), np.array([b for _, b in COCO_LIMBS])
    ax, ay = x[start], y[start]  # [L, T]
    abx, aby = x[end] - ax, y[end] - ay
    inv_length2 = 1 / np.maximum(abx * abx + aby * aby, np.float32(1e-6))  # a point limb: its start
    grid = np.arange(size, dtype=np.float32)
    dx, dy = grid - ax[..., None], grid - ay[..., None]  # [L, T, W], [L, T, H]
    # Position along the segment (0 at the start, 1 at the end), clipped to the segment: the sum
    # of an x part and a y part; then the squared length of the pixel's offset from that point.
    # In-place steps: each full-size [L, T, H, W] temporary costs about as much as the arithmetic.
    t = np.add((dy * (aby * inv_length2)[..., None])[..., :, None], (dx * (abx * inv_length2)[..., None])[..., None, :])
    np.clip(t, 0, 1, out=t)
    ex = np.multiply(t, -abx[..., None, None], out=out)
    ex += dx[..., None, :]
    ey = np.multiply(t, -aby[..., None, None], out=t)
    ey += dy[..., :, None]
    ex *= ex
    ey *= ey
    ex += ey
    ex *= np.float32(-0.5 / sigma**2)
    np.exp(ex, out=ex)
    ex *= np.minimum(value[start], value[end])[..., None, None]


def heatmap_volume(keypoints: np.ndarray, box: CropBox, config: HeatmapConfig = HeatmapConfig()) -> np.ndarray:
    """Pose heatmap volume float32 ``[K, T, size, size]`` of ``keypoints`` inside ``box``.

    ``keypoints``: ``[T, 33, 3]`` from the estimator (or ``[T, 17, 3]`` COCO), x, y in pixels of
    the frames ``box`` is in, visibility in [0, 1]; every given frame is rendered (pick them with
    :func:`sample_frames` first). ``box``: the crop (one for the clip), square for undistorted
    maps (``person_crop(boxes, aspect=1.0)``; :func:`clip_box`); keypoints outside it give no or
    partial blobs. Channel k < 17 is COCO keypoint k, its Gaussian scaled by its visibility.
    """
    x, y, value = _to_grid(keypoints, box, config.size)
    grid = np.arange(config.size, dtype=np.float32)
    scale = np.float32(-0.5 / config.sigma**2)
    gx = np.exp((grid - x[..., None]) ** 2 * scale)  # [K, T, W]
    gy = np.exp((grid - y[..., None]) ** 2 * scale) * value[..., None]  # [K, T, H]
    volume = np.empty((config.channels, x.shape[1], config.size, config.size), dtype=np.float32)
    keypoints_part = len(COCO_KEYPOINTS)
    np.multiply(gy[..., :, None], gx[..., None, :], out=volume[:keypoints_part])
    if config.with_limbs:
        _limb_maps(x, y, value, config.sigma, out=volume[keypoints_part:])
    return volume


def flip_channels(channels: int) -> np.ndarray:
    """Channel permutation of a horizontally flipped volume of ``channels`` (17 or 34) maps."""
    if channels == len(COCO_KEYPOINTS):
        return _KEYPOINT_FLIP
    if channels == len(COCO_KEYPOINTS) + len(COCO_LIMBS):
        return np.concatenate([_KEYPOINT_FLIP, _LIMB_FLIP + len(COCO_KEYPOINTS)])
    raise TransformError(f"a pose volume has 17 or 34 channels, got {channels}")


def flip_volume(volume: np.ndarray) -> np.ndarray:
    """``volume`` ``[K, T, H, W]`` mirrored left-right with left/right maps swapped (PoseC3D's
    test-time ``double``): what rendering :func:`flip_keypoints` about the box's centre gives."""
    return np.ascontiguousarray(volume[flip_channels(volume.shape[0])][..., ::-1])


def flip_keypoints(keypoints: np.ndarray, centre_x: float, swap: bool = True) -> np.ndarray:
    """Keypoints mirrored about the vertical line ``x = centre_x``, left and right swapped (a left
    wrist mirrored is where a right wrist would be). ``swap=False`` keeps each joint's name: the
    same body seen from behind (an orthographic camera turned 180 degrees about the person)."""
    array = _as_keypoints(keypoints)
    out = array[:, _FLIP[array.shape[1]]].copy() if swap else array.copy()
    out[..., 0] = np.float32(2 * centre_x) - out[..., 0]
    return out


def affine_keypoints(
    keypoints: np.ndarray,
    centre: tuple[float, float],
    scale: float = 1.0,
    degrees: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    aspect: float = 1.0,
) -> np.ndarray:
    """Keypoints stretched vertically by ``aspect``, scaled by ``scale`` and rotated by ``degrees``
    about ``centre`` (x, y), then moved by ``shift`` (x, y) pixels; visibility unchanged. Positive
    degrees turn clockwise on screen (image y points down)."""
    array = _as_keypoints(keypoints).copy()
    angle = np.deg2rad(degrees)
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    cx, cy = centre
    dx, dy = array[..., 0] - cx, (array[..., 1] - cy) * aspect
    array[..., 0] = cx + cos * dx - sin * dy + shift[0]
    array[..., 1] = cy + sin * dx + cos * dy + shift[1]
    return array


def drop_keypoints(keypoints: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Keypoints with visibility 0 where ``dropped`` (bool ``[K]``) is set, in every frame."""
    array = _as_keypoints(keypoints).copy()
    array[:, np.asarray(dropped, dtype=bool), 2] = 0
    return array


@dataclass(frozen=True)
class PoseAugmentation:
    """One clip's draw of :class:`PoseAugmentConfig`: the same transform for every frame."""

    flip: bool
    scale: float
    degrees: float
    shift: tuple[float, float]  # fractions of the box's width and height
    dropped: tuple[bool, ...]  # per estimator keypoint
    aspect: float = 1.0
    frame_dropout: float = 0.0  # share of frames blanked
    dropout_seed: int = 0  # which frames: drawn once, so the clip's frame count need not be known
    back_view: bool = False  # mirrored with joint names kept: seen from behind

    def apply(self, keypoints: np.ndarray, box: CropBox) -> np.ndarray:
        """``keypoints`` ``[T, K, 3]`` transformed about ``box``'s centre (a new array)."""
        centre = (box.left + box.width / 2, box.top + box.height / 2)
        array = flip_keypoints(keypoints, centre[0]) if self.flip else _as_keypoints(keypoints)
        if self.back_view:
            array = flip_keypoints(array, centre[0], swap=False)
        shift = (self.shift[0] * box.width, self.shift[1] * box.height)
        array = affine_keypoints(array, centre, self.scale, self.degrees, shift, self.aspect)
        array = drop_keypoints(array, np.asarray(self.dropped[: array.shape[1]]))
        blank = np.random.default_rng(self.dropout_seed).random(len(array)) < self.frame_dropout
        array[blank] = 0
        return array


@dataclass(frozen=True)
class PoseAugmentConfig:
    """Training augmentation of keypoints; each clip draws once (:meth:`draw`).

    ``flip``: probability of a horizontal flip (left/right swapped; PoseC3D's 0.5). ``scale``:
    zoom range about the crop's centre (> 1 zooms in, as PoseC3D's random-resized crop of 56-100%
    of the area does, < 1 out). ``degrees``: rotation drawn from [-degrees, degrees] (phones are
    held tilted). ``shift``: translation drawn from [-shift, shift] of the crop's side, per axis.
    ``joint_dropout``: probability that a keypoint is invisible for the whole clip (occlusion,
    and no reliance on any one joint). ``aspect``: vertical stretch range relative to horizontal
    (a camera higher or lower than the training one foreshortens a standing body and lengthens a
    lying one; PoseC3D's random-resized crop also changes the aspect, 3:4 to 4:3). ``frame_dropout``:
    each clip blanks a share of its frames drawn from [0, frame_dropout] (the estimator loses a
    person for longer than :func:`fill_gaps` bridges; the model should not hinge on every frame).
    ``back_view``: probability of seeing the clip from behind (mirrored, joint names kept), for data
    filmed from the front and sides only. With ``flip`` both draws can combine: names swapped,
    positions kept (an estimator that took a back for a front). Off by default, like the shipped
    pose file's recipe: a fine-tune with ``back_view=0.5, degrees=25`` was right more often from
    behind and under a rolled camera, but also answered `exercise` on real pedestrians (README,
    "The pose stream"); rendered views (``synth --yaw 0 180 --roll 25``) are the other way.
    """

    flip: float = 0.5
    scale: tuple[float, float] = (0.9, 1.15)
    degrees: float = 10.0
    shift: float = 0.05
    joint_dropout: float = 0.05
    aspect: tuple[float, float] = (0.8, 1.2)
    frame_dropout: float = 0.3
    back_view: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip", "joint_dropout", "frame_dropout", "back_view"):
            if not 0 <= getattr(self, name) <= 1:
                raise TransformError(f"pose augmentation {name} is a probability in [0, 1], got {getattr(self, name)!r}")
        for name in ("scale", "aspect"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise TransformError(f"pose augmentation {name} must satisfy 0 < min <= max, got {(low, high)}")
        if not 0 <= self.degrees <= 180 or not 0 <= self.shift <= 1:
            raise TransformError(f"pose augmentation needs 0 <= degrees <= 180 and 0 <= shift <= 1, got {self}")

    def draw(self, rng: np.random.Generator) -> PoseAugmentation:
        """One clip's transform; always the same number of draws from ``rng``, so a seeded
        generator gives the same sequence of clips whatever the settings."""
        flip, scale, degrees, shift_x, shift_y = rng.random(5)
        dropped = rng.random(len(KEYPOINT_NAMES)) < self.joint_dropout
        aspect, frame_dropout = rng.random(2)
        seed = int(rng.integers(2**32))
        back_view = rng.random()  # drawn last: the earlier fields are as before it existed

        def within(bounds: tuple[float, float], fraction: float) -> float:
            return float(bounds[0] + (bounds[1] - bounds[0]) * fraction)

        return PoseAugmentation(
            flip=bool(flip < self.flip),
            scale=within(self.scale, scale),
            degrees=float((2 * degrees - 1) * self.degrees),
            shift=(float((2 * shift_x - 1) * self.shift), float((2 * shift_y - 1) * self.shift)),
            dropped=tuple(bool(d) for d in dropped),
            aspect=within(self.aspect, aspect),
            frame_dropout=float(frame_dropout * self.frame_dropout),
            dropout_seed=seed,
            back_view=bool(back_view < self.back_view),
        )


def sample_frames(length: int, frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``frames`` indices into a track of ``length`` frames, in order, one per equal segment:
    each segment's middle, or (``rng`` given, training) a random frame of it."""
    if length < 1 or frames < 1:
        raise TransformError(f"cannot sample {frames} frames from a track of {length}")
    edges = np.linspace(0, length, frames + 1)
    offset = np.full(frames, 0.5) if rng is None else rng.random(frames)
    indices = np.floor(edges[:-1] + offset * (edges[1:] - edges[:-1])).astype(np.int64)
    return np.clip(indices, 0, length - 1)


def clip_box(track: PoseTrack, framing: FramingConfig = FramingConfig()) -> CropBox:
    """The square crop around the person over the whole ``track`` (the video models' framing at
    aspect 1); the frame's centre square when no frame shows a person."""
    box = person_crop(track.boxes(), 1.0, framing)
    if box is not None:
        return box
    height, width = track.frame_size
    side = float(min(height, width))
    return CropBox(top=(height - side) / 2, left=(width - side) / 2, height=side, width=side)


def track_window(track: PoseTrack, start: int | None = None, stop: int | None = None) -> PoseTrack:
    """The part of a video's ``track`` on video frames ``[start, stop)`` (a long recording's clip, a
    timeline's window). A range between two analysed frames gets the analysed frame nearest its
    middle, so a window is never empty; a clip's track (no ``frame_indices``) is returned as is."""
    if track.frame_indices is None or (start is None and stop is None) or not len(track.frame_indices):
        return track
    frames = np.asarray(track.frame_indices)
    first, last = -np.inf if start is None else start, np.inf if stop is None else stop
    inside = np.flatnonzero((frames >= first) & (frames < last))
    if not len(inside):
        middle = (max(first, frames[0]) + min(last, frames[-1] + 1)) / 2
        inside = np.array([int(np.abs(frames - middle).argmin())])
    return replace(track, keypoints=track.keypoints[inside], presence=track.presence[inside], frame_indices=frames[inside])


def fill_gaps(track: PoseTrack, max_gap: int) -> PoseTrack:
    """``track`` with each run of at most ``max_gap`` frames where nobody was found (presence 0)
    filled in: linearly between the found frames either side (keypoints, visibility and presence),
    or, at the start or end, with the nearest found frame. Longer runs stay empty."""
    found = track.presence > 0
    if max_gap < 1 or found.all() or not found.any():
        return track
    kept = np.flatnonzero(found)
    missing = np.flatnonzero(~found)
    after = np.searchsorted(kept, missing)
    before_frame = kept[np.maximum(after - 1, 0)]
    after_frame = kept[np.minimum(after, len(kept) - 1)]
    inside = (after > 0) & (after < len(kept))
    run = np.where(inside, after_frame - before_frame - 1, np.where(after == 0, kept[0], len(found) - 1 - kept[-1]))
    fill = run <= max_gap
    missing, before_frame, after_frame = missing[fill], before_frame[fill], after_frame[fill]
    span = np.maximum(after_frame - before_frame, 1)
    weight = np.where(after_frame > before_frame, (missing - before_frame) / span, 0.0).astype(np.float32)[:, None, None]
    keypoints, presence = track.keypoints.copy(), track.presence.copy()
    keypoints[missing] = (1 - weight) * keypoints[before_frame] + weight * keypoints[after_frame]
    presence[missing] = np.minimum(presence[before_frame], presence[after_frame])
    return replace(track, keypoints=keypoints, presence=presence)


def volume_source(
    track: PoseTrack,
    config: HeatmapConfig = HeatmapConfig(),
    rng: np.random.Generator | None = None,
    framing: FramingConfig = FramingConfig(),
) -> tuple[CropBox, np.ndarray]:
    """Where :func:`track_volume` renders from: the crop (the track's pixels) and the indices of the
    track frames it samples (jittered with ``rng``). Explanations map a volume back through these."""
    return clip_box(track, framing), sample_frames(len(track.keypoints), config.frames, rng)


def track_volume(
    track: PoseTrack,
    config: HeatmapConfig = HeatmapConfig(),
    *,
    rng: np.random.Generator | None = None,
    augment: PoseAugmentConfig | None = None,
    framing: FramingConfig = FramingConfig(),
) -> np.ndarray:
    """A track's heatmap volume ``[K, frames, size, size]``: crop over the whole track, frames
    sampled uniformly, short gaps filled (``config.max_gap``), keypoints augmented (with ``augment``
    and ``rng``: training) and rendered."""
    box, frames = volume_source(track, config, rng, framing)
    keypoints = fill_gaps(track, config.max_gap).keypoints[frames]
    if augment is not None:
        if rng is None:
            raise TransformError("pose augmentation needs a random generator (rng)")
        keypoints = augment.draw(rng).apply(keypoints, box)
    return heatmap_volume(keypoints, box, config)
