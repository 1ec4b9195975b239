"""Is a CAM right? Localisation and timing measured against the synthetic videos' ground truth.

Why: a heatmap that looks plausible can still be wrong (flipped axes, the wrong layer, time
collapsed); the synthetic generator knows where the person is (``mask``) and how fast each limb
moves (``joints``) in every frame, so a CAM can be scored instead of eyeballed:

* **energy inside the mask**: the share of a frame's CAM mass inside the (dilated) person mask,
  averaged over frames and videos. A CAM that ignores the person scores its area share: *chance*.
* **pointing game**: the share of frames whose CAM maximum lies inside the dilated mask.
  Both count only frames with some of the person inside the model's input (a centre crop, used
  when no person is found, can cut a person at the edge of a wide frame away entirely).
* **motion correlation**: Pearson correlation, per video, between the CAM's per-frame mean and
  the limbs' per-frame speed; a layer with one time step (T' = 1) cannot follow motion and gets none.

Each energy ratio and pointing rate comes with a 95% percentile-bootstrap interval over videos:
on 51 videos these figures move by several points between two draws of test videos (measured:
pointing 80.8% on one seed, 74.7% on another, same checkpoint), so a figure read against a
target means little without its spread.

Masks are carried through exactly the geometry the model's input went through (the frames
``read_clip`` samples, its resize, the predictor's framing crop around the person, padded where
it leaves the frame, or else the centre crop, then the resize to the input), so a CAM is compared
with the person where the model saw them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from exercise_rec.data.framing import CropBox, crop_clip
from exercise_rec.data.transforms import ResizeToCover
from exercise_rec.data.video import AtMost, VideoError, probe, resize_shape, sample_indices
from exercise_rec.explain.cam import compute_cam
from exercise_rec.explain.overlay import frame_importance
from exercise_rec.inference import Predictor

__all__ = [
    "DILATION",
    "FaithfulnessRow",
    "GroundTruth",
    "bootstrap_interval",
    "clip_masks",
    "dilate",
    "energy_inside",
    "evaluate_faithfulness",
    "in_view",
    "limb_speed",
    "load_ground_truth",
    "motion_correlation",
    "pointing_hits",
]

BOOTSTRAP_SAMPLES = 2000
DILATION = 0.05  # mask dilation radius as a fraction of the input's short side (6 px at 128)
LIMB_JOINTS = ("elbow", "wrist", "knee", "ankle")


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of each frame of a bool ``[T, H, W]`` mask by a square of ``radius`` pixels."""
    if radius <= 0:
        return mask.bool()
    grown = F.max_pool2d(mask.float()[:, None], 2 * radius + 1, stride=1, padding=radius)
    return grown[:, 0] > 0


def energy_inside(cam: np.ndarray, mask: np.ndarray) -> float:
    """Mean over frames of (CAM mass inside ``mask``) / (CAM mass); frames without CAM mass are skipped
    (NaN when no frame has any)."""
    heat = np.asarray(cam, dtype=np.float64)
    inside = (heat * np.asarray(mask, dtype=bool)).sum(axis=(1, 2))
    total = heat.sum(axis=(1, 2))
    valid = total > 0
    return float((inside[valid] / total[valid]).mean()) if valid.any() else float("nan")


def pointing_hits(cam: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per frame: does the CAM's maximum fall inside ``mask``? An all-zero frame is a miss.

    Ties (flat plateaus after upsampling) count as a hit only if every maximal pixel is inside,
    so a flat map cannot score by luck.
    """
    heat = np.asarray(cam, dtype=np.float64)
    gt = np.asarray(mask, dtype=bool)
    hits = np.zeros(len(heat), dtype=bool)
    for t, (frame, person) in enumerate(zip(heat, gt)):
        peak = frame.max()
        if peak > 0:
            hits[t] = bool(person[frame >= peak * (1 - 1e-6)].all())
    return hits


def limb_speed(joints: np.ndarray, names: Sequence[str], indices: np.ndarray) -> np.ndarray:
    """Mean speed of the elbows, wrists, knees and ankles at each sampled frame, in pixels per source
    frame (central difference over the neighbouring sampled frames)."""
    limbs = [k for k, name in enumerate(names) if name.endswith(LIMB_JOINTS)]
    points = np.asarray(joints, dtype=np.float64)[:, limbs]
    before = np.concatenate([indices[:1], indices[:-1]])
    after = np.concatenate([indices[1:], indices[-1:]])
    span = np.maximum(after - before, 1)
    moved = np.linalg.norm(points[after] - points[before], axis=-1).mean(axis=1)
    return moved / span


def motion_correlation(importance: np.ndarray, speed: np.ndarray) -> float:
    """Pearson correlation of per-frame CAM energy and limb speed; NaN when either is constant."""
    a = np.asarray(importance, dtype=np.float64)
    b = np.asarray(speed, dtype=np.float64)
    if a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray | None = None,
    *,
    level: float = 0.95,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval, resampling videos, of mean(``values``) (NaNs skipped), or of
    mean(``values``) / mean(``denominator``) for a ratio of means; (NaN, NaN) below two scored videos.

    Why resample videos, not frames: frames of one video are strongly correlated, so the video is
    the unit a different test draw changes. Seeded, so a table is reproducible.
    """
    v = np.asarray(values, dtype=np.float64)
    if np.isfinite(v).sum() < 2:
        return float("nan"), float("nan")
    picks = np.random.default_rng(seed).integers(0, len(v), size=(samples, len(v)))
    stats = _finite_means(v[picks])
    if denominator is not None:
        with np.errstate(invalid="ignore"):  # a draw of only unscored videos: NaN / NaN, skipped below
            stats = stats / _finite_means(np.asarray(denominator, dtype=np.float64)[picks])
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def _finite_means(drawn: np.ndarray) -> np.ndarray:
    """Row means skipping NaNs (NaN for an all-NaN row), without ``np.nanmean``'s warning."""
    counts = np.isfinite(drawn).sum(axis=1)
    return np.where(counts > 0, np.nansum(drawn, axis=1) / np.maximum(counts, 1), np.nan)


def in_view(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per frame: is any pixel of the (undilated) person mask inside the model's input?

    Why: the pointing game is defined on images that contain the target; after the centre crop a
    person near the edge of a wide video can be wholly outside the input, and such a frame has
    nothing to point at, so it tests the crop, not the CAM.
    """
    return np.asarray(mask, dtype=bool).reshape(len(mask), -1).any(axis=1)


@dataclass(frozen=True)
class GroundTruth:
    """A synthetic video's truth at the sampled frames, in the model's input geometry."""

    mask: torch.Tensor  # bool [T, H, W] aligned with the model input
    speed: np.ndarray  # [T] limb speed
    label: str


def clip_masks(
    mask: np.ndarray,
    indices: np.ndarray,
    read_size: int | AtMost,
    input_size: tuple[int, int],
    box: CropBox | None = None,
) -> torch.Tensor:
    """The person masks of the sampled frames, resized as ``read_clip(size=read_size)`` resizes,
    cut to ``box`` (the framing crop in decoded pixels, padded with "no person" where it leaves the
    frame) when given, then resized-to-cover and centre-cropped as the eval transform does.

    Why resampled as an image and thresholded at half coverage, not nearest neighbour: torch's
    nearest picks each output pixel's top-left source pixel, a half-pixel shift per resize that
    the crop around a small person magnifies to a whole model pixel; averaging like the frames'
    own resizes keeps the mask where the model saw the person.
    """
    frames = torch.from_numpy(np.asarray(mask)[indices].astype(np.float32))[:, None]  # [T, 1, H, W]
    decoded = resize_shape(frames.shape[-2], frames.shape[-1], read_size)
    if decoded is not None:
        frames = v2.Resize(decoded, antialias=True)(frames)
    if box is not None:
        frames = crop_clip(frames, box, fill=(0,))[0]
    frames = v2.Compose([ResizeToCover(input_size), v2.CenterCrop(input_size)])(frames)
    return frames[:, 0] >= 0.5


def load_ground_truth(video: Path, predictor: Predictor, box: CropBox | None = None) -> GroundTruth:
    """Masks and limb speeds from ``video``'s ``.npz`` for the frames ``predictor.decode`` samples;
    ``box``: the framing crop in pixels of the decoded clip (as
    :meth:`~exercise_rec.inference.Predictor.clip_box` finds it), None for the centre crop."""
    npz = video.with_suffix(".npz")
    if not npz.is_file():
        raise VideoError(video, f"no ground truth next to it ({npz.name}); synthetic videos have one")
    with np.load(npz) as truth:
        mask, joints, names = truth["mask"], truth["joints"], [str(n) for n in truth["joint_names"]]
    frames = probe(video).frames
    if frames != len(mask):
        raise VideoError(video, f"{frames} frames but {len(mask)} ground-truth masks in {npz.name}")
    indices = sample_indices(frames, predictor.meta.clip_len, "uniform")
    meta = predictor.meta
    return GroundTruth(
        mask=clip_masks(mask, indices, predictor.decode_size, tuple(meta.input_size), box),
        speed=limb_speed(joints, names, indices),
        label=video.parent.name,
    )


@dataclass(frozen=True)
class FaithfulnessRow:
    """One (checkpoint, layer, method) over a set of videos."""

    model: str
    layer: str
    method: str
    temporal_resolution: int
    energy_inside: float
    chance: float
    pointing: float
    motion_correlation: float  # NaN when the layer cannot vary in time (T' = 1)
    ms_per_cam: float
    videos: int
    frames_scored: int  # frames with the person in view (all frames with ``all_frames=True``)
    frames: int
    energy_ratio_ci: tuple[float, float]  # 95% bootstrap interval over videos
    pointing_ci: tuple[float, float]

    @property
    def energy_ratio(self) -> float:
        """Energy inside the mask over chance (1 = no better than ignoring the person)."""
        return self.energy_inside / self.chance


def evaluate_faithfulness(
    predictor: Predictor,
    videos: Sequence[Path],
    layers: Sequence[str],
    methods: Sequence[str] = ("gradcam", "hirescam"),
    model_label: str = "",
    dilation: float = DILATION,
    all_frames: bool = False,
    progress: bool = True,
) -> list[FaithfulnessRow]:
    """Score every (layer, method) on ``videos`` (synthetic clips with ``.npz`` ground truth).

    The CAM explains the video's true class (its folder name), as the pointing game's protocol
    does (Zhang et al., 2016), or the predicted class when the checkpoint does not know that
    class. Each clip is framed as a prediction frames it (the estimator's person box, when the
    predictor frames) and its masks with the same crop. Energy, chance and pointing count only
    the frames with the person in the model's input (:func:`in_view`) unless ``all_frames``; a
    video without such a frame is left out of them. Motion correlation always uses every frame.
    Returns one row per pair, in the order of ``layers`` x ``methods``.
    """
    from tqdm.auto import tqdm

    radius = round(dilation * min(predictor.meta.input_size))
    scores: dict[tuple[str, str], dict[str, list[float]]] = {
        (layer, method): {"energy": [], "chance": [], "hits": [], "corr": [], "ms": [], "tres": []}
        for layer in layers
        for method in methods
    }
    frames = scored_frames = 0
    for video in tqdm(videos, desc=f"faithfulness {model_label}".strip(), disable=not progress):
        clip = predictor.decode(video)
        box = predictor.clip_box(clip)
        truth = load_ground_truth(video, predictor, box)
        scored = np.ones(len(truth.mask), dtype=bool) if all_frames else in_view(truth.mask)
        frames, scored_frames = frames + len(scored), scored_frames + int(scored.sum())
        person = dilate(truth.mask, radius).numpy()[scored]  # the same for every layer and method
        chance = float(person.mean()) if scored.any() else float("nan")  # NaN: nothing to score
        x = predictor.transform(clip, person=box).to(predictor.device)
        target = truth.label if truth.label in predictor.class_names else None
        for (layer, method), acc in scores.items():
            started = time.perf_counter()
            cam = compute_cam(predictor.model, x, layer, method, target, class_names=predictor.class_names,
                              temperature=predictor.rule.temperature)
            acc["ms"].append((time.perf_counter() - started) * 1e3)
            acc["chance"].append(chance)
            acc["energy"].append(energy_inside(cam[scored], person) if scored.any() else float("nan"))
            acc["hits"].append(float(pointing_hits(cam[scored], person).mean()) if scored.any() else float("nan"))
            acc["corr"].append(motion_correlation(frame_importance(cam), truth.speed))
            acc["tres"].append(cam.info.temporal_resolution)
    rows = []
    for (layer, method), acc in scores.items():
        corr = np.asarray(acc["corr"])
        rows.append(
            FaithfulnessRow(
                model=model_label or predictor.meta.model_name,
                layer=layer,
                method=method,
                temporal_resolution=int(acc["tres"][0]) if acc["tres"] else 0,
                energy_inside=float(np.nanmean(acc["energy"])),
                chance=float(np.nanmean(acc["chance"])),
                pointing=float(np.nanmean(acc["hits"])),
                motion_correlation=float(np.nanmean(corr)) if np.isfinite(corr).any() else float("nan"),
                ms_per_cam=float(np.median(acc["ms"])),
                videos=len(videos),
                frames_scored=scored_frames,
                frames=frames,
                energy_ratio_ci=bootstrap_interval(acc["energy"], acc["chance"]),
                pointing_ci=bootstrap_interval(acc["hits"]),
            )
        )
    return rows
