"""Hostile files through every way in: ``read_clip``, ``Predictor``, the predict CLI and ``/predict``.

Referencing files (playlists, lists, SDP) must be refused from their content under any name, with
no local file opened and no request made (observed by the sensors in ``hostile.py``). Files that
ask for unbounded work (an extreme aspect ratio, a frame far over the pixel limit, a stream with no
frame count) must be refused or bounded in time and memory, while another client's good request
finishes on time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from exercise_rec import predict as predict_cli
from exercise_rec.data import containers, video
from exercise_rec.data.limits import DecodeLimits
from exercise_rec.data.video import VideoError, probe, read_clip
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor

from .conftest import predict_upload
from .corpus import Corpus
from .hostile import NAMES, X264, lavfi_video, predict_peak, referencing_files, self_referencing_playlist, sensors

FAST_S = 2.0  # a refusal from the content or the header; decoding never starts
PEAK_MB = 1024  # issue bound for predict's peak RSS on a refused oversized file (imports alone: ~710 MB)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, tuple[Path, str]], object, object]]:
    root = tmp_path_factory.mktemp("crafted")
    with sensors(root) as (canary, recorder):
        yield referencing_files(root, canary, recorder), canary, recorder


def _assert_untouched(canary, recorder) -> None:  # type: ignore[no-untyped-def]
    time.sleep(0.05)  # the canary's poller looks every 5 ms
    assert not canary.opened, "a local file named by the crafted file was opened"
    assert recorder.requests == [], f"requests reached the loopback server: {recorder.requests}"


# ---------------------------------------------------------------- referencing files


def test_every_referencing_file_is_refused_by_read_clip_and_predictor(crafted, predictor: Predictor) -> None:
    files, canary, recorder = crafted
    for key, (path, words) in files.items():
        for read in (lambda p=path: read_clip(p, 16), lambda p=path: predictor.predict(p), lambda p=path: probe(p)):
            started = time.monotonic()
            with pytest.raises(VideoError) as info:
                read()
            assert time.monotonic() - started < FAST_S, key
            assert info.value.path == path and words in info.value.reason and "not a video" in info.value.reason, key
    _assert_untouched(canary, recorder)


def test_the_cli_refuses_each_kind_in_one_line(crafted, capfd: pytest.CaptureFixture[str]) -> None:
    files, canary, recorder = crafted
    for key, (path, words) in files.items():
        code = predict_cli.main([str(path), "--json", "--device", "cpu"])
        out, err = capfd.readouterr()
        assert code == 2 and out == "", key
        assert err.count("\n") == 1 and str(path) in err and words in err, (key, err)
    _assert_untouched(canary, recorder)


def test_the_app_refuses_each_kind_under_each_name(crafted, app_client: Client) -> None:
    files, canary, recorder = crafted
    for key, (path, words) in files.items():
        with pytest.raises(AppError) as info:
            predict_upload(app_client, path)
        assert f"{path.name}: " in str(info.value) and words in str(info.value), key
    _assert_untouched(canary, recorder)


def test_ffmpeg_itself_refuses_playlists_if_the_content_check_were_fooled(crafted, monkeypatch) -> None:
    """Second line: the demuxer allow-list every capture and the header child run with."""
    files, canary, recorder = crafted
    monkeypatch.setattr(video, "sniff", lambda path: containers.ISO_BMFF)
    for kind in ("hls_local", "hls_http", "hls_master", "dash", "ffconcat"):
        path, _ = files[f"{kind}/x.m3u8"]
        with pytest.raises(VideoError):
            read_clip(path, 4)
    _assert_untouched(canary, recorder)


def test_a_video_named_like_an_ffmpeg_protocol_is_just_a_file(corpus: Corpus, tmp_path: Path) -> None:
    odd = tmp_path / "concat:a.mp4|b.mp4"
    shutil.copy(corpus.valid["h264.mp4"], odd)
    assert read_clip(odd, 4).shape[0] == 4


def test_a_self_referencing_playlist_is_refused_at_once_and_good_requests_go_on(
    tmp_path: Path, app_client: Client, corpus: Corpus
) -> None:
    bad = [self_referencing_playlist(tmp_path / name) for name in NAMES if name != "x"]
    for path in bad:
        started = time.monotonic()
        with pytest.raises(VideoError, match="playlist"):
            read_clip(path, 16)
        assert time.monotonic() - started < FAST_S
    with ThreadPoolExecutor(4) as pool:
        refusals = [pool.submit(predict_upload, app_client, path) for path in bad]
        started = time.monotonic()
        top, *_ = pool.submit(predict_upload, app_client, corpus.valid["h264.mp4"]).result(timeout=60)
        good_s = time.monotonic() - started
        for refusal in refusals:
            with pytest.raises(AppError, match="playlist"):
                refusal.result(timeout=60)
    assert top["label"] == "squat" and good_s < 15


# ---------------------------------------------------------------- work bounded by what the model needs


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 KB, 4000x2: under every pixel limit, but 256,000x128 once the short side is scaled to 128."""
    return lavfi_video(tmp_path_factory.mktemp("wide") / "wide.mp4", "testsrc2=s=4000x2:r=24:d=2", *X264)


def test_an_extreme_aspect_ratio_is_refused_from_the_header(wide: Path, predictor: Predictor, monkeypatch) -> None:
    decoded = []
    monkeypatch.setattr(video._ForwardReader, "read", lambda self, index: decoded.append(index))
    for read in (lambda: read_clip(wide, 16, size=128), lambda: predictor.predict(wide), lambda: probe(wide)):
        started = time.monotonic()
        with pytest.raises(VideoError, match=r"4000x2, an aspect ratio of 2000\.0:1, over the limit of 4:1"):
            read()
        assert time.monotonic() - started < FAST_S
    assert decoded == []


def test_the_aspect_limit_can_be_raised(wide: Path) -> None:
    limits = DecodeLimits(max_aspect=2000)
    assert read_clip(wide, 2, size=(2, 64), limits=limits).shape == (2, 2, 64, 3)


def test_the_app_refuses_an_extreme_aspect_ratio(wide: Path, app_client: Client) -> None:
    with pytest.raises(AppError, match=r"wide\.mp4: frames are 4000x2, an aspect ratio"):
        predict_upload(app_client, wide)


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of 320x240 as a raw H.264 stream: no container, so no frame count and no index."""
    path = tmp_path_factory.mktemp("raw") / "stream.h264"
    return lavfi_video(path, "testsrc2=s=320x240:r=24:d=20", *X264, "-f", "h264")


def test_a_timeline_counts_frames_once_and_decodes_in_one_pass(raw_h264: Path, predictor: Predictor, monkeypatch) -> None:
    counts, opens = [], []
    count, open_ = video._count_by_grabbing, video._open
    monkeypatch.setattr(video, "_count_by_grabbing", lambda *a, **k: counts.append(1) or count(*a, **k))
    monkeypatch.setattr(video, "_open", lambda *a, **k: opens.append(1) or open_(*a, **k))
    started = time.monotonic()
    timeline = predictor.predict_windows(raw_h264, stride_s=1.0)
    elapsed = time.monotonic() - started
    assert len(timeline.probs) >= 15  # ~20 s (no frame rate in a raw stream: FFmpeg guesses 25 fps), 3 s windows
    # probe + its count, then one pass for every window, and one more for the person check's track
    # (the pose estimator at 4 fps; with the probe's info, so no second count)
    assert len(counts) == 1 and len(opens) == 3 + (predictor.pose is not None)
    assert elapsed < 30  # one count and one decode pass; per-window reopening took 69 s for 1 MB here


def test_the_app_timeline_of_a_raw_stream_is_bounded(raw_h264: Path, app_client: Client) -> None:
    started = time.monotonic()
    _, plot = app_client.predict(handle_file(str(raw_h264)), DEFAULT_CHECKPOINT.name, api_name="/timeline")
    assert plot["visible"] is True and time.monotonic() - started < 60


@pytest.fixture(scope="module")
def oversized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small files with huge frames: 16000x16000 (one flat frame) and two 8192x8192 frames."""
    root = tmp_path_factory.mktemp("oversized")
    return {
        "16000x16000": lavfi_video(root / "huge.mp4", "color=c=gray:s=16000x16000:r=1:d=1", "-frames:v", "1", *X264),
        "8192x8192": lavfi_video(root / "big.mp4", "testsrc2=s=8192x8192:r=2:d=1", "-frames:v", "2", *X264),
    }


@pytest.mark.heavy
def test_huge_frames_are_refused_from_the_header_within_bounded_memory(oversized: dict[str, Path]) -> None:
    for size, path in oversized.items():
        started = time.monotonic()
        done, peak_mb = predict_peak(str(path), "--device", "cpu")
        assert done.returncode == 2 and done.stdout == ""
        assert f"frames are {size}" in done.stderr and "over the limit" in done.stderr
        assert peak_mb <= PEAK_MB, f"{size}: predict peaked at {peak_mb:.0f} MB"
        assert time.monotonic() - started < 60


@pytest.mark.heavy
def test_the_app_refuses_huge_frames_while_serving_others(
    oversized: dict[str, Path], app_client: Client, corpus: Corpus
) -> None:
    with ThreadPoolExecutor(2) as pool:
        bad = pool.submit(predict_upload, app_client, oversized["16000x16000"])
        started = time.monotonic()
        top, *_ = predict_upload(app_client, corpus.valid["h264.mp4"])
        assert top["label"] == "squat" and time.monotonic() - started < 15
        with pytest.raises(AppError, match=r"huge\.mp4: frames are 16000x16000"):
            bad.result(timeout=60)
