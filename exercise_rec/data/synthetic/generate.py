"""Rendering whole videos and writing the two dataset layouts, in parallel and deterministically.

Determinism: every video has its own generator seeded from (seed, class, index) (long recordings:
(seed, "long", index)), so a video does not depend on which worker made it or on how many there
were; splits are drawn from (seed) alone.

Layouts written:
- clips: ``ROOT/<class>/<class>_<index>.mp4`` + ``.npz`` (``mask`` bool [T,H,W], ``joints`` float32
  [T,J,2] pixels, ``fps``, ``joint_names``) and ``ROOT/{train,val,test}.txt``;
- long (``--long``): ``ROOT/videos/<id>.mp4`` + ``.npz``, ``ROOT/labels/<id>.csv`` (``frame,label``, one
  row per frame) and ``ROOT/split.csv`` (``id,split``).
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from exercise_rec.data.synthetic.figure import JOINT, JOINT_NAMES, Body, Pose, blend, forward_kinematics
from exercise_rec.data.synthetic.motions import BACKGROUND_CLASS, CLASS_NAMES, MOTIONS, no_exercise
from exercise_rec.data.synthetic.render import (
    Appearance,
    Degradation,
    FigurePainter,
    draw_shadow,
    make_background,
    place_camera,
    rotate_view,
    to_image,
)
from exercise_rec.data.video import write_video
from exercise_rec.io import atomic_path

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_LONG_KEY = len(CLASS_NAMES)  # seed-stream id for long recordings, distinct from every class index
_SPLIT_KEY = len(CLASS_NAMES) + 1
TRANSITION_S = 0.6  # seconds a long recording takes to move between activities (labelled no_exercise)


class SynthError(ValueError):
    """A generator setting or output location that cannot work."""


@dataclass(frozen=True)
class SynthConfig:
    """What every generated video shares; per-video variation is drawn around these."""

    width: int = 320
    height: int = 240
    duration: float = 3.0  # seconds per clip (+-15% per video); long mode: per recording
    fps_range: tuple[int, int] = (24, 30)
    vary_resolution: bool = True  # area +-25% and 4:3 / 16:9 / portrait 3:4 frames
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise SynthError(f"frame size must be at least 16x16, got {self.width}x{self.height}")
        if not 0 < self.fps_range[0] <= self.fps_range[1]:
            raise SynthError(f"bad fps range {self.fps_range}")
        if self.duration * self.fps_range[0] < 2 / 0.85:
            raise SynthError(f"duration {self.duration}s gives fewer than 2 frames")
        if self.val_fraction < 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 1:
            fractions = (self.val_fraction, self.test_fraction)
            raise SynthError(f"val/test fractions must be >= 0 and sum below 1, got {fractions}")


@dataclass
class SynthVideo:
    """One rendered video in memory, before encoding."""

    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    mask: np.ndarray  # bool [T, H, W]
    joints: np.ndarray  # float32 [T, J, 2] pixel (x, y)
    fps: float
    labels: list[str]  # per frame
    background: np.ndarray  # uint8 [H, W, 3]: the empty room as the camera sees it, without noise or shadow


def video_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator of one video; ``stream`` is the class index (or the long-mode key)."""
    return np.random.default_rng([seed, stream, index])


def _frame_size(config: SynthConfig, rng: np.random.Generator) -> tuple[int, int]:
    if not config.vary_resolution:
        return config.width - config.width % 2, config.height - config.height % 2
    aspect = rng.choice([4 / 3, 16 / 9, 3 / 4], p=[0.55, 0.3, 0.15])
    area = config.width * config.height * rng.uniform(0.8, 1.25)
    width, height = np.sqrt(area * aspect), np.sqrt(area / aspect)
    return int(round(width / 2)) * 2, int(round(height / 2)) * 2


def _view(motion_view: float, jitter: float, rng: np.random.Generator) -> float:
    """Camera yaw for a class: its preferred view, jittered, facing left or right at random."""
    return float(rng.choice([-1.0, 1.0]) * (motion_view + rng.uniform(-jitter, jitter)))


def render_pose(pose: Pose, body: Body, fps: float, size: tuple[int, int], rng: np.random.Generator) -> SynthVideo:
    """Project, place and paint a posed figure in a random room, with random camera degradations."""
    width, height = size
    joints3d = forward_kinematics(body, pose)
    plane, depth = rotate_view(joints3d, elevation=rng.uniform(0, 15))
    camera = place_camera(plane, body, width, height, rng)
    uv = to_image(plane, camera, width, height)
    # keep the person (pelvis) inside the frame when walking would take them out: compress the path
    centre_u = uv[:, JOINT["pelvis"], 0] - width / 2
    squeeze = min(1.0, 0.4 * width / max(np.abs(centre_u).max(), 1e-6))
    uv[..., 0] -= ((1 - squeeze) * centre_u)[:, None]
    chest = np.cross(joints3d[:, JOINT["l_shoulder"]] - joints3d[:, JOINT["r_shoulder"]],
                     joints3d[:, JOINT["neck"]] - joints3d[:, JOINT["pelvis"]])
    chest /= np.linalg.norm(chest, axis=-1, keepdims=True).clip(1e-6)
    chest_plane, _ = rotate_view(chest[:, None, :], elevation=0.0)
    forward = chest_plane[:, 0] * np.array([1.0, -1.0])
    roll = np.radians(camera.roll)
    forward = forward @ np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])

    floor_u = float(uv[:, JOINT["pelvis"], 0].mean())
    under = np.stack([plane[:, JOINT["pelvis"], 0], np.zeros(pose.frames)], -1)
    floor_v = to_image(under, camera, width, height)[:, 1]  # floor row below the figure, roll included
    background = make_background(rng, width, height, (floor_u, camera.origin[1]), camera.roll)
    painter = FigurePainter(body, Appearance.sample(rng), camera.scale)
    degradation = Degradation.sample(rng)
    lut = degradation.lut()
    frames = np.empty((pose.frames, height, width, 3), np.uint8)
    masks = np.zeros((pose.frames, height, width), np.uint8)
    for t in range(pose.frames):
        image = background.copy()
        draw_shadow(image, uv[t], floor_v[t], camera.scale)
        painter.draw(image, masks[t], uv[t], depth[t], forward[t])
        frames[t] = degradation.apply(image, lut, rng)
    clean_plate = degradation.optics(background, lut)
    return SynthVideo(frames, masks.astype(bool), uv.astype(np.float32), float(fps), [], clean_plate)


def render_clip(class_name: str, rng: np.random.Generator, config: SynthConfig) -> SynthVideo:
    """One trimmed clip of ``class_name``, all randomness from ``rng``."""
    motion = MOTIONS[class_name]
    fps = int(rng.integers(config.fps_range[0], config.fps_range[1] + 1))
    frames = max(2, int(round(config.duration * rng.uniform(0.85, 1.15) * fps)))
    t = np.arange(frames) / fps
    body = Body.sample(rng)
    pose = motion.program(t, rng, body)
    pose.set(yaw=pose.get("yaw") + _view(motion.view, motion.view_jitter, rng))
    video = render_pose(pose, body, fps, _frame_size(config, rng), rng)
    video.labels = [class_name] * frames
    return video


_IDLE_S, _SET_S = (1.5, 4.0), (4.0, 9.0)  # seconds of rest between sets, and of one set


def plan_recording(duration: float, rng: np.random.Generator) -> list[tuple[str, float, float]]:
    """(label, start, end) segments: idle, set, idle, set, ..., idle, filling ``duration``.

    A set is never cut short: when one no longer fits before a closing rest, the rest fills the end.
    """
    exercises = [name for name in CLASS_NAMES if name != BACKGROUND_CLASS]
    order = [str(name) for name in rng.permutation(exercises)]
    segments, now, idle = [], 0.0, True
    while duration - now > 1e-9:
        if idle:
            label, length = BACKGROUND_CLASS, rng.uniform(*_IDLE_S)
            if duration - (now + length) < _SET_S[0] + _IDLE_S[0]:
                length = duration - now  # no room for another set and a rest after it
        else:
            label = order.pop() if order else exercises[int(rng.integers(len(exercises)))]
            length = min(rng.uniform(*_SET_S), duration - now - _IDLE_S[0])
        segments.append((label, now, now + length))
        now += length
        idle = not idle
    return segments


def _segment_pose(label: str, t: np.ndarray, span: tuple[float, float], variant: str | None, rng, body: Body) -> Pose:
    """Run ``label``'s program on its own time span (plus the transitions), holding the edge poses outside."""
    start, end = span
    inside = np.flatnonzero((t >= start - TRANSITION_S) & (t <= end + TRANSITION_S))
    local = t[inside] - start
    motion = MOTIONS[label]
    part = no_exercise(local, rng, body, variant) if label == BACKGROUND_CLASS else motion.program(local, rng, body)
    part.set(yaw=part.get("yaw") + _view(motion.view, motion.view_jitter, rng))
    full = Pose(len(t))
    pad = (int(inside[0]), len(t) - 1 - int(inside[-1]))
    for key, values in part.angles.items():
        full.angles[key] = np.pad(values, pad, mode="edge")
    return full


def render_recording(rng: np.random.Generator, config: SynthConfig) -> SynthVideo:
    """An untrimmed recording: several exercises with idle stretches between, per-frame labels.

    Between activities the figure blends from one program to the next over TRANSITION_S seconds
    (it turns, gets down or up); those frames are labelled ``no_exercise``.
    """
    fps = int(rng.integers(config.fps_range[0], config.fps_range[1] + 1))
    frames = max(2, int(round(config.duration * fps)))
    t = np.arange(frames) / fps
    body = Body.sample(rng)
    labels = np.full(frames, BACKGROUND_CLASS, dtype=object)
    parts = []
    plan = plan_recording(frames / fps, rng)
    for k, (label, start, end) in enumerate(plan):
        variant = "walk_in" if k == 0 else "walk_out" if k == len(plan) - 1 else "idle"
        part = _segment_pose(label, t, (start, end), variant, rng, body)
        ramp = np.clip((t - start + TRANSITION_S / 2) / TRANSITION_S, 0, 1)
        parts.append((part, ramp * ramp * (3 - 2 * ramp)))
        labels[(t >= start + TRANSITION_S / 2) & (t < end - TRANSITION_S / 2)] = label
    pose = parts[0][0]
    for part, weight in parts[1:]:
        pose = blend(pose, part, weight)
    video = render_pose(pose, body, fps, _frame_size(config, rng), rng)
    video.labels = list(labels)
    return video


def save_video(video: SynthVideo, mp4: Path, crf: int) -> None:
    """Write the mp4 (H.264) and its ``.npz`` ground truth side by side, each atomically."""
    write_video(mp4, video.frames, video.fps, crf=crf, preset="veryfast")
    with atomic_path(mp4.with_suffix(".npz")) as tmp:
        with open(tmp, "wb") as handle:
            arrays = {"mask": video.mask, "joints": video.joints, "fps": np.float32(video.fps)}
            np.savez_compressed(handle, **arrays, joint_names=np.array(JOINT_NAMES))


def _clip_job(args: tuple[Path, str, int, int, SynthConfig]) -> str:
    root, class_name, index, seed, config = args
    rng = video_rng(seed, CLASS_NAMES.index(class_name), index)
    video = render_clip(class_name, rng, config)
    relative = f"{class_name}/{class_name}_{index:04d}.mp4"
    save_video(video, root / relative, crf=int(rng.integers(18, 31)))
    return relative


def _long_job(args: tuple[Path, int, int, SynthConfig]) -> str:
    root, index, seed, config = args
    rng = video_rng(seed, _LONG_KEY, index)
    video = render_recording(rng, config)
    name = f"rec_{index:04d}"
    save_video(video, root / "videos" / f"{name}.mp4", crf=int(rng.integers(18, 31)))
    with atomic_path(root / "labels" / f"{name}.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["frame", "label"])
            writer.writerows(enumerate(video.labels))
    return name


def split_counts(n: int, config: SynthConfig) -> tuple[int, int, int]:
    """(train, val, test) sizes for a class of ``n`` videos: val and test get at least one when n >= 3."""
    val, test = round(n * config.val_fraction), round(n * config.test_fraction)
    if n >= 3:
        val, test = max(val, 1), max(test, 1)
    elif n == 2:
        val, test = 1, 0
    else:
        val, test = 0, 0
    return n - val - test, val, test


def assign_splits(items: Sequence[str], seed: int, config: SynthConfig) -> dict[str, list[str]]:
    """Deterministic shuffle of one group's items into train/val/test by ``split_counts``."""
    order = [items[i] for i in np.random.default_rng([seed, _SPLIT_KEY]).permutation(len(items))]
    n_train, n_val, _ = split_counts(len(items), config)
    return {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}


def prepare_output_dir(root: str | os.PathLike[str]) -> Path:
    """Create ``root`` (parents too) or raise SynthError naming it: fail before any rendering starts."""
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise SynthError(f"{path}: output path exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SynthError(f"{path}: cannot create output directory ({err.strerror or err})") from err
    return path


def _run(jobs: list, fn: Callable, workers: int | None, progress: Callable[[], None] | None) -> list[str]:
    """Run jobs in worker processes (fork where the platform has it: no re-import per worker)."""
    workers = max(1, min(workers or (os.cpu_count() or 1), len(jobs) or 1))
    done: list[str] = []
    if workers == 1:
        results: Iterable[str] = map(fn, jobs)
        for name in results:
            done.append(name)
            if progress:
                progress()
        return done
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        for name in pool.map(fn, jobs, chunksize=1):
            done.append(name)
            if progress:
                progress()
    return done


def generate_dataset(
    root: str | os.PathLike[str],
    per_class: int = 30,
    seed: int = 0,
    config: SynthConfig | None = None,
    classes: Sequence[str] = CLASS_NAMES,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> Path:
    """Write ``per_class`` clips of each class under ``root`` plus stratified split files."""
    config = config or SynthConfig()
    if per_class < 1:
        raise SynthError(f"per_class must be at least 1, got {per_class}")
    unknown = sorted(set(classes) - set(CLASS_NAMES))
    if unknown:
        raise SynthError(f"unknown classes {unknown}; valid: {', '.join(CLASS_NAMES)}")
    path = prepare_output_dir(root)
    jobs = [(path, name, i, seed, config) for name in classes for i in range(per_class)]
    written = _run(jobs, _clip_job, workers, progress)
    splits: dict[str, list[str]] = {name: [] for name in SPLITS}
    for name in classes:
        for split, items in assign_splits([w for w in written if w.startswith(f"{name}/")], seed, config).items():
            splits[split].extend(items)
    for split, items in splits.items():
        with atomic_path(path / f"{split}.txt") as tmp:
            tmp.write_text("".join(f"{item}\n" for item in sorted(items)))
    log.info("wrote %d clips of %d classes to %s", len(written), len(classes), path)
    return path


def generate_long(
    root: str | os.PathLike[str],
    count: int = 6,
    seed: int = 0,
    config: SynthConfig | None = None,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> Path:
    """Write ``count`` untrimmed recordings (``config.duration`` seconds each) in the long layout."""
    config = config or replace(SynthConfig(), duration=40.0)
    if count < 1:
        raise SynthError(f"count must be at least 1, got {count}")
    path = prepare_output_dir(root)
    names = _run([(path, i, seed, config) for i in range(count)], _long_job, workers, progress)
    with atomic_path(path / "split.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "split"])
            for split, items in assign_splits(names, seed, config).items():
                writer.writerows((name, split) for name in sorted(items))
    log.info("wrote %d recordings to %s", len(names), path)
    return path
