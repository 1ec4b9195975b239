"""Seeking to keyframes read from the MP4 index: the same frames as decoding everything, fewer decodes."""

from __future__ import annotations

import numpy as np
import pytest

from exercise_rec.data.keyframes import mp4_keyframes
from exercise_rec.data.video import read_clip, sample_indices
from tests.data.conftest import frame_ids

X264_GOP_20 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-keyint_min", "20", "-sc_threshold", "0",
               "-bf", "2", "-pix_fmt", "yuv420p"]  # fmt: skip


def test_keyframes_come_from_the_mp4_index(make_coded, tmp_path):
    video = make_coded("gop20.mp4", 300, args=X264_GOP_20)
    np.testing.assert_array_equal(mp4_keyframes(video), np.arange(0, 300, 20))
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x08junk")
    assert mp4_keyframes(tmp_path / "junk.mp4") is None
    assert mp4_keyframes(make_coded("no_index.mkv", 40, args=X264_GOP_20)) is None


@pytest.mark.parametrize("num_frames", [4, 8])
def test_seeking_to_keyframes_returns_the_sampled_frames(make_coded, monkeypatch, num_frames):
    video = make_coded("gop20.mp4", 300, args=X264_GOP_20)
    from exercise_rec.data import video as video_module

    seeks: list[bool] = []
    worth = video_module._ForwardReader._worth_seeking
    monkeypatch.setattr(video_module._ForwardReader, "_worth_seeking",
                        lambda self, index: seeks.append(worth(self, index)) or seeks[-1])  # fmt: skip
    clip = read_clip(video, num_frames)
    assert frame_ids(clip) == sample_indices(300, num_frames).tolist()
    assert any(seeks)  # gaps of 37-75 frames, keyframes every 20: seeking skips whole GOPs
