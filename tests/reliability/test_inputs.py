"""Every corpus file through every way in: ``read_clip``, ``Predictor.predict``, the predict CLI and ``/predict``.

A valid file must give a probability vector summing to 1 on each path; an invalid one must be
refused within 10 s with a message naming the file and the problem (``VideoError``, exit code 2 and
one stderr line, ``gr.Error``), without a traceback, and the next request must work.

The CLI runs in-process (``predict.main`` under ``capfd``, which also catches what native libraries
write to file descriptor 2) for every file; a real ``python -m exercise_rec.predict`` costs about 6 s
of imports on two busy cores (half of it Lightning, pulled in by ``exercise_rec.data``), so three
files run as subprocesses: one valid, and one refused by each decoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from exercise_rec import predict as predict_cli
from exercise_rec.data.synthetic import CLASS_NAMES  # the default checkpoint's classes
from exercise_rec.data.video import VideoError, read_clip
from exercise_rec.inference import Predictor

from .conftest import predict_upload
from .corpus import INVALID, VALID, Corpus

REFUSAL_S = 10.0
HEAVY = {"uhd_3840x2160.mp4"}  # a few seconds per path: 24 frames of 4K decoded each time
VALID_NAMES = [pytest.param(n, marks=pytest.mark.heavy) if n in HEAVY else n for n in VALID]
REFERENCE = "h264.mp4"  # the "next request" after a refusal: samples/squat.mp4 re-encoded
SUBPROCESS_VALID = ["vp9.webm"]
SUBPROCESS_INVALID = ["text.mp4", "no_index.mp4"]  # found by ffmpeg's probe; refused by OpenCV's FFmpeg


def _refused(call: Callable[[], object], exc: type[Exception], path: Path, words: str) -> str:
    """Runs ``call``, which must raise ``exc`` naming ``path`` and ``words`` within 10 s; the message."""
    started = time.monotonic()
    with pytest.raises(exc) as info:
        call()
    assert time.monotonic() - started < REFUSAL_S
    message = str(info.value)
    assert path.name in message and words in message and "Traceback" not in message
    return message


def _assert_distribution(probs: np.ndarray, classes: int) -> None:
    assert probs.shape == (classes,) and (probs >= 0).all()
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------- library


@pytest.mark.parametrize("name", VALID_NAMES)
def test_library_decodes_and_classifies_valid_files(name: str, corpus: Corpus, predictor: Predictor) -> None:
    clip = read_clip(corpus.valid[name], 16, size=128)
    assert clip.dtype == torch.uint8 and clip.shape[0] == 16 and clip.shape[3] == 3 and min(clip.shape[1:3]) == 128
    _assert_distribution(predictor.predict(corpus.valid[name]).probs, len(predictor.class_names))


@pytest.mark.parametrize("name", INVALID)
def test_library_refuses_invalid_files(name: str, corpus: Corpus, predictor: Predictor) -> None:
    path, words = corpus.invalid[name]
    _refused(lambda: read_clip(path, 16), VideoError, path, words)
    _refused(lambda: predictor.predict(path), VideoError, path, words)
    assert predictor.predict(corpus.valid[REFERENCE]).label == "squat"


# ---------------------------------------------------------------- command line


def _cli(path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = predict_cli.main([str(path), "--json", "--top-k", "1000", "--device", "cpu"])
    out, err = capfd.readouterr()
    return code, out, err


def _assert_cli_json(out: str, path: Path) -> None:
    result = json.loads(out)
    assert result["video"] == str(path) and result["model"] == "mobilenet_v2_3d"
    probs = np.array([p["prob"] for p in result["predictions"]])
    _assert_distribution(probs, len(probs))
    assert len(probs) == len(CLASS_NAMES) and list(probs) == sorted(probs, reverse=True)  # --top-k 1000: all


def _assert_cli_refusal(code: int, out: str, err: str, path: Path, words: str) -> None:
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert path.name in err and words in err and "Traceback" not in err


@pytest.mark.parametrize("name", VALID_NAMES)
def test_cli_prints_all_probabilities_for_valid_files(name: str, corpus: Corpus, capfd) -> None:
    code, out, err = _cli(corpus.valid[name], capfd)
    assert code == 0 and err == ""
    _assert_cli_json(out, corpus.valid[name])


@pytest.mark.parametrize("name", INVALID)
def test_cli_refuses_invalid_files_in_one_line(name: str, corpus: Corpus, capfd) -> None:
    path, words = corpus.invalid[name]
    started = time.monotonic()
    _assert_cli_refusal(*_cli(path, capfd), path, words)
    assert time.monotonic() - started < REFUSAL_S


@pytest.mark.heavy
def test_cli_as_a_process(corpus: Corpus) -> None:
    """The real command: exit status, the whole stderr (logging, native libraries) and its JSON."""
    paths = [corpus.valid[n] for n in SUBPROCESS_VALID] + [corpus.invalid[n][0] for n in SUBPROCESS_INVALID]
    command = [sys.executable, "-m", "exercise_rec.predict", "--json", "--top-k", "1000", "--device", "cpu"]

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120, check=False)

    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(paths, pool.map(run, paths)))
    for name in SUBPROCESS_VALID:
        done = results[corpus.valid[name]]
        assert done.returncode == 0 and done.stderr == "", done.stderr
        _assert_cli_json(done.stdout, corpus.valid[name])
    for name in SUBPROCESS_INVALID:
        path, words = corpus.invalid[name]
        done = results[path]
        _assert_cli_refusal(done.returncode, done.stdout, done.stderr, path, words)


# ---------------------------------------------------------------- app


@pytest.mark.parametrize("name", VALID_NAMES)
def test_app_predicts_valid_files(name: str, corpus: Corpus, app_client: Client) -> None:
    top = predict_upload(app_client, corpus.valid[name])[0]
    confidences = [c["confidence"] for c in top["confidences"]]  # the app shows the top 5 of 17
    # The bars are headed by the class, or by what kind of answer it is (docs/app.md)
    heading = top["confidences"][0]["label"]
    assert top["label"] in (heading, "uncertain", "no_person", "long_video") and len(confidences) == 5
    assert confidences == sorted(confidences, reverse=True) and 0 < sum(confidences) <= 1 + 1e-6


@pytest.mark.parametrize("name", INVALID)
def test_app_refuses_invalid_files_and_keeps_serving(name: str, corpus: Corpus, app_client: Client) -> None:
    path, words = corpus.invalid[name]
    message = _refused(lambda: predict_upload(app_client, path), AppError, path, words)
    assert message.startswith(f"{path.name}: ")  # the user's file name, not the server's temporary path
    assert predict_upload(app_client, corpus.valid[REFERENCE])[0]["label"] == "squat"
