"""Decoding, sampling, writing and error reporting of exercise_rec.data.video on files made here."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch

from exercise_rec.data import (
    DecodeLimits,
    VideoError,
    VideoInfo,
    containers,
    probe,
    read_clip,
    write_video,
)
from exercise_rec.data.video import read_windows, sample_indices

from .conftest import coded_frames, ffmpeg_encode, frame_ids

MakeCoded = Callable[..., Path]


def _uniform(n: int, t: int) -> list[int]:
    """Centre of each of t equal segments of n frames, computed independently of the library."""
    return [int((2 * k + 1) * n / (2 * t)) for k in range(t)]


# ---------------------------------------------------------------- formats


def _cv2_avi(path: Path, frames: np.ndarray, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


FORMATS = {
    "h264.mp4": None,
    "mjpg.avi": "cv2",
    "vp9.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "20"],
    "h264.mov": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "h264.mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
}


@pytest.mark.parametrize("name", FORMATS)
def test_formats_decode_exact_frames(name: str, make_coded: MakeCoded, tmp_path: Path) -> None:
    args = FORMATS[name]
    if args == "cv2":
        path = _cv2_avi(tmp_path / name, coded_frames(40), 20)
    else:
        path = make_coded(name, 40, fps=20, args=args)
    info = probe(path)
    assert (info.frames, info.fps, info.width, info.height) == (40, 20.0, 80, 48)
    assert info.duration == pytest.approx(2.0)
    clip = read_clip(path, 8)
    assert clip.dtype == torch.uint8 and clip.shape == (8, 48, 80, 3)
    assert frame_ids(clip) == _uniform(40, 8)


def test_rgb_order_and_codec(tmp_path: Path) -> None:
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    frames[..., 0] = 200  # pure red in RGB
    path = write_video(tmp_path / "red.mp4", frames, 10, crf=10)
    clip = read_clip(path, 4).numpy().astype(int)
    assert clip[..., 0].mean() > 180 and clip[..., 1].mean() < 20 and clip[..., 2].mean() < 20
    assert probe(path).codec in ("h264", "avc1")


def test_grayscale_becomes_three_equal_channels(make_coded: MakeCoded) -> None:
    path = make_coded("gray.mkv", 12, args=["-c:v", "ffv1", "-pix_fmt", "gray"])
    clip = read_clip(path, 4)
    assert clip.shape == (4, 48, 80, 3)
    assert torch.equal(clip[..., 0], clip[..., 1]) and torch.equal(clip[..., 1], clip[..., 2])
    assert frame_ids(clip) == _uniform(12, 4)


def test_one_frame_video_is_looped(make_coded: MakeCoded) -> None:
    path = make_coded("one.mp4", 1)
    assert probe(path).frames == 1
    clip = read_clip(path, 6)
    assert clip.shape[0] == 6 and frame_ids(clip) == [0] * 6
    assert all(torch.equal(clip[0], frame) for frame in clip)


def test_short_video_is_padded_by_looping(make_coded: MakeCoded) -> None:
    path = make_coded("short.mp4", 5)
    assert frame_ids(read_clip(path, 8)) == [0, 1, 2, 3, 4, 0, 1, 2]


def test_odd_size_is_padded_to_even_and_decodes(tmp_path: Path) -> None:
    frames = coded_frames(6, height=33, width=81)
    path = write_video(tmp_path / "odd.mp4", frames, 12)
    info = probe(path)
    assert (info.width, info.height) == (82, 34)
    clip = read_clip(path, 6)
    assert frame_ids(clip[:, :33, :81]) == list(range(6))
    assert clip[:, 33:, :].float().mean() < 10 and clip[:, :, 81:].float().mean() < 10  # black padding


def test_written_file_is_browser_playable_h264_yuv420p(tmp_path: Path) -> None:
    path = write_video(tmp_path / "web.mp4", coded_frames(5, 30, 50), 24.0)
    err = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    ).stderr
    assert "Video: h264" in err and "yuv420p" in err and "24 fps" in err
    head = path.read_bytes()[:4096]
    assert b"moov" in head  # faststart: the index precedes the data, so browsers can start playing


def test_streamed_webm_without_frame_count_is_counted(make_coded: MakeCoded) -> None:
    path = make_coded("streamed.webm", 30, args=["-c:v", "libvpx", "-deadline", "realtime"], fmt="webm")
    assert cv2.VideoCapture(str(path), cv2.CAP_FFMPEG).get(cv2.CAP_PROP_FRAME_COUNT) <= 0  # the premise
    assert probe(path).frames == 30
    assert frame_ids(read_clip(path, 5)) == _uniform(30, 5)


# ---------------------------------------------------------------- sampling and windows


def test_start_window_and_range(make_coded: MakeCoded) -> None:
    path = make_coded("win.mp4", 50)
    assert frame_ids(read_clip(path, 4, start=10)) == [10, 11, 12, 13]
    assert frame_ids(read_clip(path, 4, start=48)) == [48, 49, 48, 49]  # past the end: loop what exists
    assert frame_ids(read_clip(path, 4, start=20, stop=40)) == [20 + i for i in _uniform(20, 4)]


def test_random_sampling_is_seeded_and_stays_in_segments(make_coded: MakeCoded) -> None:
    path = make_coded("rand.mp4", 64)
    a = frame_ids(read_clip(path, 8, sampling="random", seed=3))
    assert a == frame_ids(read_clip(path, 8, sampling="random", seed=3))
    draws = {tuple(frame_ids(read_clip(path, 8, sampling="random", seed=s))) for s in range(4)}
    assert len(draws) > 1
    for ids in draws:
        assert [i // 8 for i in ids] == list(range(8))  # one frame from each 8-frame segment


def test_sample_indices_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sampling"):
        sample_indices(10, 4, "every")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_frames"):
        sample_indices(10, 0)


def test_seeking_is_frame_accurate(make_coded: MakeCoded) -> None:
    # Keyframes every 30 frames and B-frames: seeks land between keyframes and must decode forward.
    path = make_coded("seek.mp4", 300, args=["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-bf", "2"])
    wanted = [5, 77, 150, 151, 299]
    for limits in (DecodeLimits(seek_gap=10), DecodeLimits(seek_gap=10**9)):  # seeking vs grabbing only
        for start in wanted:
            assert frame_ids(read_clip(path, 1, start=start, limits=limits)) == [start]
        assert frame_ids(read_clip(path, 16, limits=limits)) == _uniform(300, 16)


def test_single_decoder_thread_gives_the_same_frames(make_coded: MakeCoded) -> None:
    path = make_coded("threads.mp4", 30, args=["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"])
    assert torch.equal(read_clip(path, 7, limits=DecodeLimits(threads=1)), read_clip(path, 7))


def test_decode_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="seek_gap"):
        DecodeLimits(seek_gap=0)
    with pytest.raises(ValueError, match="threads"):
        DecodeLimits(threads=-1)


def test_resize_short_side_and_exact(make_coded: MakeCoded) -> None:
    path = make_coded("size.mp4", 4, height=40, width=100)
    assert read_clip(path, 2, size=20).shape == (2, 20, 50, 3)
    assert read_clip(path, 2, size=(30, 30)).shape == (2, 30, 30, 3)
    assert frame_ids(read_clip(path, 4, size=(40, 200))) == [0, 1, 2, 3]


# ---------------------------------------------------------------- bad input


def _audio_only(path: Path) -> Path:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _truncated_index(path: Path) -> Path:
    # ffmpeg writes the mp4 index (moov) last unless told otherwise: cut it off.
    full = ffmpeg_encode(path.with_name("full.mp4"), coded_frames(100, 96, 160), 25, ["-c:v", "libx264"])
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_data(path: Path) -> Path:
    # write_video puts the index first (faststart): the index survives, the frames do not.
    full = write_video(path.with_name("full.mp4"), coded_frames(100, 96, 160), 25)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda p: p, "not found"),
    "empty": (lambda p: (p.write_bytes(b""), p)[1], "empty"),
    "directory": (lambda p: (p.mkdir(), p)[1], "not a regular file"),
    "text": (lambda p: (p.write_text("squat,lunge\n" * 50), p)[1], "not a video"),
    "random_bytes": (lambda p: (p.write_bytes(np.random.default_rng(0).bytes(8000)), p)[1], "not a video"),
    "short_junk": (lambda p: (p.write_bytes(b"junk" * 10), p)[1], "not a video"),
    "audio_only": (_audio_only, "no video stream"),
    "truncated_index": (_truncated_index, "truncated"),
    "truncated_data": (_truncated_data, "truncated"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("reader", ["probe", "read_clip"])
def test_bad_input_raises_video_error_naming_file_and_reason(case: str, reader: str, tmp_path: Path) -> None:
    make, reason = BAD_INPUTS[case]
    suffix = ".m4a" if case == "audio_only" else ".mp4"
    path = make(tmp_path / f"bad_{case}{suffix}")
    t0 = time.monotonic()
    with pytest.raises(VideoError) as info:
        if reader == "probe" and case != "truncated_data":
            probe(path)
        else:  # a truncated body only shows when decoding reaches it
            read_clip(path, 16)
    assert time.monotonic() - t0 < 5
    assert isinstance(info.value, ValueError)
    assert path.name in str(info.value) and reason in str(info.value)
    assert info.value.path == path


def test_decode_budget_stops_work(make_coded: MakeCoded) -> None:
    path = make_coded("budget.mp4", 20)
    with pytest.raises(VideoError, match="longer than"):
        read_clip(path, 4, limits=DecodeLimits(budget_s=0.0))


def test_corrupt_file_does_not_spam_the_console(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _truncated_data(tmp_path / "noisy.mp4")
    with pytest.raises(VideoError):
        read_clip(path, 16)
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("\n") <= 2


# ---------------------------------------------------------------- writing


def test_write_accepts_tensor_and_iterable(tmp_path: Path) -> None:
    frames = coded_frames(6)
    a = write_video(tmp_path / "t.mp4", torch.from_numpy(frames), 10, crf=18)
    b = write_video(tmp_path / "i.mp4", (f for f in frames), 10, crf=18)
    assert frame_ids(read_clip(a, 6)) == frame_ids(read_clip(b, 6)) == list(range(6))
    assert isinstance(probe(a), VideoInfo)


@pytest.mark.parametrize(
    ("frames", "fps", "name", "match"),
    [
        (np.zeros((3, 8, 8, 3), np.float32), 10, "f.mp4", "uint8"),
        (np.zeros((3, 8, 8), np.uint8), 10, "g.mp4", r"\[H, W, 3\]"),
        (np.zeros((0, 8, 8, 3), np.uint8), 10, "e.mp4", "no frames"),
        (np.zeros((3, 8, 8, 3), np.uint8), 0, "z.mp4", "fps"),
        (np.zeros((3, 8, 8, 3), np.uint8), 10, "x.gif", "H.264"),
    ],
)
def test_write_rejects_bad_input(frames: np.ndarray, fps: float, name: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=match) as info:
        write_video(tmp_path / name, frames, fps)
    assert name in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    path = write_video(tmp_path / "keep.mp4", coded_frames(3), 10)
    before = path.read_bytes()
    mixed = [coded_frames(1)[0], coded_frames(1, 32, 32)[0]]  # second frame has another size
    with pytest.raises(VideoError, match="frame 1"):
        write_video(path, mixed, 10)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]  # no temp file left behind


def test_a_stream_this_build_cannot_decode_is_named_by_its_codec(tmp_path: Path) -> None:
    """10-bit AV1 (a phone's HDR export): OpenCV's wheel has no AV1 decoder; the message says so."""
    path = ffmpeg_encode(
        tmp_path / "av1_10bit.mp4", coded_frames(6), 24, ["-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p10le"]
    )
    try:
        clip = read_clip(path, 4)
    except VideoError as err:
        assert "cannot decode its AV1 stream" in err.reason
    else:  # a build with an AV1 decoder: then it must decode right
        assert frame_ids(clip) == sample_indices(6, 4).tolist()


# ---------------------------------------------------------------- content identification


SNIFF_CASES: dict[str, tuple[bytes, str]] = {
    "mp4": (b"\x00\x00\x00\x18ftypisom" + bytes(16), "MP4/MOV"),
    "mov_wide": (b"\x00\x00\x00\x08wide" + bytes(16), "MP4/MOV"),
    "mkv": (b"\x1a\x45\xdf\xa3" + bytes(16), "Matroska/WebM"),
    "avi": (b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(16), "AVI"),
    "ps": (b"\x00\x00\x01\xba" + bytes(16), "MPEG program stream"),
    "ts": (b"".join(b"\x47" + bytes(187) for _ in range(5)), "MPEG transport stream"),
    "m2ts": (b"".join(bytes(4) + b"\x47" + bytes(187) for _ in range(5)), "MPEG transport stream"),
    "h264": (b"\x00\x00\x00\x01\x67\x42" + bytes(16), "raw video stream"),
    "gif": (b"GIF89a" + bytes(16), "GIF"),
}
REFUSED_CASES: dict[str, tuple[bytes, str]] = {
    "hls": (b"#EXTM3U\n#EXTINF:3,\n/etc/video.mp4\n", "a playlist (HLS / M3U)"),
    "hls_bom": (b"\xef\xbb\xbf\n  #EXTM3U\n", "a playlist (HLS / M3U)"),
    "dash": (b'<?xml version="1.0"?>\n<MPD type="static">', "a DASH manifest"),
    "ffconcat": (b"ffconcat version 1.0\nfile 'a.mp4'\n", "an ffconcat list"),
    "concat": (b"# my list\nfile '/srv/a.mp4'\n", "a concat list"),
    "sdp": (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n", "an SDP session description"),
    "pls": (b"[playlist]\nFile1=http://x/y\n", "a playlist (PLS)"),
    "text": (b"squat,lunge\n", "not a video (a text file)"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(16), "an image (PNG)"),
    "webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(16), "an image (WebP)"),
    "binary": (bytes(range(256)), "not a video (no recognised container format)"),
}


@pytest.mark.parametrize("case", SNIFF_CASES)
def test_self_contained_containers_are_recognised_by_content(case: str) -> None:
    head, name = SNIFF_CASES[case]
    assert containers.identify(head).name.startswith(name)


@pytest.mark.parametrize("case", REFUSED_CASES)
def test_referencing_and_non_video_content_is_refused_by_what_it_is(case: str) -> None:
    head, reason = REFUSED_CASES[case]
    with pytest.raises(containers.NotSelfContained) as info:
        containers.identify(head)
    assert info.value.reason.startswith(reason)


def test_every_capture_gets_ffmpeg_allow_lists() -> None:
    import os

    options = os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"]
    assert f"format_whitelist;{containers.FFMPEG_DEMUXERS}" in options and "protocol_whitelist;file" in options
    assert "hls" not in containers.FFMPEG_DEMUXERS.split(",") and "concat" not in containers.FFMPEG_DEMUXERS


# ---------------------------------------------------------------- dropped frames (AVI)


def _avi_with_dropped_frames(path: Path, pictures: int, spread: int) -> Path:
    """An MJPEG AVI of coded frames shown every ``spread`` frame periods: ffmpeg's AVI muxer writes
    a zero-size chunk for every missing frame, as webcams and screen recorders do."""
    return ffmpeg_encode(
        path, coded_frames(pictures, 48, 160), 24,
        ["-vf", f"setpts=PTS*{spread}", "-fps_mode", "passthrough", "-enc_time_base", "1/24", "-c:v", "mjpeg", "-q:v", "3"],
    )  # fmt: skip


def test_an_avi_with_dropped_frames_is_read_by_time_not_refused(tmp_path: Path) -> None:
    path = _avi_with_dropped_frames(tmp_path / "webcam.avi", 24, 4)
    listed = probe(path).frames
    assert listed >= 4 * 23  # the container lists the empty chunks as frames
    shown = lambda indices: [int(i) // 4 for i in indices]  # noqa: E731 (picture k is on screen from frame 4k)
    assert frame_ids(read_clip(path, 8)) == shown(sample_indices(listed, 8))
    assert frame_ids(read_clip(path, 4, start=40)) == shown(range(40, 44))
    windows = [(0, 30), (30, 60), (60, listed)]
    clips = list(read_windows(path, windows, 6))
    assert [frame_ids(c) for c in clips] == [frame_ids(read_clip(path, 6, start=a, stop=b)) for a, b in windows]
    assert frame_ids(clips[-1]) == shown(sample_indices(listed - 60, 6, offset=60))  # to the end, by time
