"""Limits per request: the settings and their messages through the app, and the bounds on the work
and memory one video or one session can cost (sampling, timeline windows, session frames).

The limited app allows 1 MB uploads and 160x120 frames, so corpus files on each side of both limits
exist: ``tiny_18x14.mp4`` passes, ``h264.mp4`` (320x240) is too large a frame, ``two_minutes.mp4``
(1.5 MB) too large a file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from exercise_rec.app import AppConfig, build_app, outputs, predict_tab
from exercise_rec.app.limits import check_video, parse_pixels, parse_size
from exercise_rec.app.state import FRAMES_TTL_S
from exercise_rec.data.keyframes import mp4_keyframes
from exercise_rec.data.limits import DecodeLimits
from exercise_rec.data.video import VideoError, probe, read_clip, sample_indices
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor
from tests.app.server import fake_launches, serve

from .conftest import predict_upload
from .corpus import Corpus

LIMITS = AppConfig(device="cpu", max_upload="1mb", max_pixels="160x120")


@pytest.fixture(scope="module")
def limited() -> Iterator[Client]:
    with serve(LIMITS) as client:
        yield client


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "text,expected", [("200mb", 200 * 2**20), ("1.5 GB", 3 * 2**29), ("512kb", 2**19), ("10b", 10), (4096, 4096)]
)
def test_upload_sizes_parse_in_binary_units_like_gradio(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text,expected", [("3840x2160", 3840 * 2160), ("640 X 480", 640 * 480), ("1000", 1000), (7, 7)])
def test_pixel_limits_parse_as_size_or_count(text: str | int, expected: int) -> None:
    assert parse_pixels(text) == expected


@pytest.mark.parametrize("field,value,words", [
    ("max_upload", "2x", "upload size must look like 200mb"), ("max_upload", "0mb", "at least 1 byte"),
    ("max_pixels", "wide", "WIDTHxHEIGHT"), ("max_pixels", "0x100", "at least 1"),
])  # fmt: skip
def test_bad_limits_fail_at_start_up_with_the_setting_named(field: str, value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        AppConfig(**{field: value})


def test_app_py_passes_both_limits_and_rejects_bad_ones(monkeypatch, capsys) -> None:
    import app as app_script

    launched = fake_launches(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["app.py", "--max-upload", "50mb", "--max-pixels", "1920x1080"])
    app_script.main()
    assert launched["max_file_size"] == 50 * 2**20 and launched["config"].frame_pixels == 1920 * 1080
    monkeypatch.setattr(sys, "argv", ["app.py", "--max-upload", "lots"])
    assert app_script.main() == 2 and "upload size must look like 200mb" in capsys.readouterr().err


# ---------------------------------------------------------------- through the app


def test_frames_over_the_pixel_limit_are_refused_and_the_next_request_works(limited: Client, corpus: Corpus) -> None:
    with pytest.raises(AppError, match=r"h264\.mp4: frames are 320x240 \(76,800 pixels\), over the "
                                       r"limit of 19,200 pixels per frame"):  # fmt: skip
        predict_upload(limited, corpus.valid["h264.mp4"])
    top, *_ = predict_upload(limited, corpus.valid["tiny_18x14.mp4"])
    assert top["label"]


def test_uploads_over_the_size_limit_are_refused_by_client_and_server(limited: Client, corpus: Corpus) -> None:
    big = corpus.valid["two_minutes.mp4"]
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1048576 bytes"):
        predict_upload(limited, big)  # gradio_client reads the limit from the app's config
    with open(big, "rb") as handle:  # a client that does not check: the server stops reading
        response = httpx.post(f"{limited.src}gradio_api/upload", files={"files": handle}, timeout=30)
    assert response.status_code == 413 and "maximum allowed size of 1048576 bytes" in response.text
    top, *_ = predict_upload(limited, corpus.valid["tiny_18x14.mp4"])
    assert top["label"]


def test_the_app_checks_the_upload_size_itself(corpus: Corpus) -> None:
    """Gradio applies ``max_file_size`` only when launched with it; the handlers check again."""
    path = corpus.valid["h264.mp4"]
    with pytest.raises(VideoError, match=r"h264\.mp4: the file is 101\.6 KB, over this server's upload limit of 1000 bytes"):
        check_video(path, 1000)
    check_video(path, path.stat().st_size, DecodeLimits(max_pixels=320 * 240))  # at both limits exactly: accepted


def test_per_session_frames_expire() -> None:
    """Frames kept for the sliders (MBs per request) must not outlive a session that never closes."""
    states = [block for block in build_app(AppConfig(device="cpu")).blocks.values() if isinstance(block, gr.State)]
    expiring = [state for state in states if state.time_to_live is not None and state.time_to_live <= FRAMES_TTL_S]
    # augmentations, CAM, compare methods, modes, RGB vs pose, the predict tab's frame strip (for
    # redrawing the skeleton) and the live session (its window and counts); the only other state is
    # the page's open tab, a name
    others = [state for state in states if state not in expiring]
    assert len(expiring) == 7 and len(others) == 1 and isinstance(others[0].value, str)


def test_output_files_do_not_pile_up_on_disk(monkeypatch) -> None:
    monkeypatch.setattr(outputs, "KEEP_S", 0.0)  # every older file is already copied by Gradio
    first = Path(outputs.image_file(np.zeros((4, 6, 3), np.uint8)))
    second = outputs.frame_files(np.zeros((2, 4, 6, 3), np.uint8))
    assert not first.exists() and len(second) == 2
    assert list(first.parent.parent.iterdir()) == [Path(second[0]).parent]


# ---------------------------------------------------------------- bounded work on long videos


def test_a_long_video_is_sampled_not_loaded(corpus: Corpus, monkeypatch) -> None:
    path = corpus.valid["two_minutes.mp4"]
    frames = probe(path).frames
    counts = {"grab": 0, "retrieve": 0}
    real = cv2.VideoCapture

    class CountingCapture:
        """cv2.VideoCapture counting frames stepped over (grab) and converted to arrays (retrieve)."""

        def __init__(self, *args: Any) -> None:
            self._cap = real(*args)

        def grab(self) -> bool:
            counts["grab"] += 1
            return self._cap.grab()

        def retrieve(self) -> tuple[bool, Any]:
            counts["retrieve"] += 1
            return self._cap.retrieve()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    assert read_clip(path, 16, size=112).shape[0] == 16
    assert counts["retrieve"] == 16  # only the sampled frames become arrays
    # The gaps are sought over, not stepped through: no decoder can start a sampled frame before the
    # keyframe at or before it, and OpenCV's seek starts 16 frames early (so it may land one keyframe
    # earlier); beyond that, no frame between the samples is decoded.
    keyframes, position, least = mp4_keyframes(path), 0, 0
    for index in sample_indices(frames, 16):
        start = max(position, int(keyframes[np.searchsorted(keyframes, index - 16, side="right") - 1]))
        least, position = least + index + 1 - start, index + 1
    assert len(keyframes) > 1 and counts["grab"] <= least < frames


def test_the_timeline_of_a_long_video_has_a_bounded_number_of_windows(
    corpus: Corpus, app_client: Client, monkeypatch
) -> None:
    monkeypatch.setattr(predict_tab, "TIMELINE_MAX_WINDOWS", 4)  # the app reads it per request
    windows: list[int] = []
    real = Predictor.predict_windows

    def spy(self: Predictor, *args: Any, **kwargs: Any) -> Any:
        timeline = real(self, *args, **kwargs)
        windows.append(len(timeline.starts_s))
        return timeline

    monkeypatch.setattr(Predictor, "predict_windows", spy)
    _, plot = app_client.predict(handle_file(str(corpus.valid["two_minutes.mp4"])), DEFAULT_CHECKPOINT.name,
                                 api_name="/timeline")  # (segments, plot)  # fmt: skip
    assert plot["visible"] is True and len(windows) == 1 and 2 <= windows[0] <= 4  # not 118 (one per second)
