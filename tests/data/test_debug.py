"""Debug before|after videos: layout, content of both halves, labels, and clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from exercise_rec.data.debug import side_by_side, write_debug_videos
from exercise_rec.data.transforms import TransformError, build_transforms, denormalize
from exercise_rec.data.video import probe, read_clip


class _Clips(list):
    """The part of ExerciseVideoDataset the debug writer uses: len, indexing, class_names."""

    class_names = ["plank", "squat"]


def _gradient_clip(frames: int = 5, height: int = 48, width: int = 64) -> torch.Tensor:
    """Smooth colours (survive H.264 well) with a bright block, the same in every frame."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, 90)], -1).astype(np.uint8)
    image[10:30, 20:36] = (250, 250, 40)
    return torch.from_numpy(np.repeat(image[None], frames, axis=0))


def test_writes_side_by_side_before_and_after(tmp_path: Path) -> None:
    clip = _gradient_clip()
    transform = build_transforms(False, size=(32, 32))
    paths = write_debug_videos(_Clips([(clip, 1), (clip, 0)]), transform, tmp_path / "dbg", n=4, fps=8)
    assert [p.name for p in paths] == ["debug_000_squat.mp4", "debug_001_plank.mp4"]  # n capped at len
    info = probe(paths[0])
    height = 256  # a 32x32 model input is scaled up to 256 rows for viewing
    left_width = round(64 * height / 48)
    width = left_width + 4 + height
    assert (info.frames, info.height, info.width) == (5, height, width + width % 2)  # H.264 pads to even
    video = read_clip(paths[0], num_frames=5).numpy().astype(int)
    below_caption = slice(40, None)
    expected_left = cv2.resize(clip[0].numpy(), (left_width, height)).astype(int)
    after = denormalize(transform(clip))[0].numpy()
    expected_right = cv2.resize(after, (height, height)).astype(int)
    for frame in video:
        assert np.abs(frame[below_caption, :left_width] - expected_left[below_caption]).mean() < 6
        right = frame[below_caption, left_width + 4 : left_width + 4 + height]
        assert np.abs(right - expected_right[below_caption]).mean() < 6
        assert frame[:, left_width + 1 : left_width + 3].max() < 40  # the black gap between the halves


def test_after_half_is_the_augmented_clip_and_stays_still_for_a_still_clip() -> None:
    clip = _gradient_clip(frames=4)
    transform = build_transforms(True, size=(40, 40))
    torch.manual_seed(0)
    tensor, params = transform.with_params(clip)
    frames = side_by_side(clip, denormalize(tensor), params, title="squat")
    assert frames.shape[0] == 4 and frames.dtype == np.uint8
    assert all(np.array_equal(frames[0], f) for f in frames[1:])  # one draw for the whole clip


def test_plain_clips_and_string_labels_work(tmp_path: Path) -> None:
    clips = [_gradient_clip(frames=3), (_gradient_clip(frames=3), "custom")]
    paths = write_debug_videos(clips, build_transforms(True, size=24), tmp_path, n=2)
    assert [p.name for p in paths] == ["debug_000.mp4", "debug_001_custom.mp4"]
    assert all(probe(p).frames == 3 for p in paths)


def test_transformed_items_are_refused_with_a_hint(tmp_path: Path) -> None:
    transform = build_transforms(False, size=16)
    already = [(transform(_gradient_clip(frames=2)), 0)]
    with pytest.raises(TransformError, match="transform=None"):
        write_debug_videos(already, transform, tmp_path)
    with pytest.raises(TransformError, match="nothing to write"):
        write_debug_videos([], transform, tmp_path)
