"""The app under load: 8 concurrent client sessions, each sending 5 predictions and 2 CAM requests.

Loopback only, bounded in count (two rounds of 56 requests: a warm-up, then the measured one) and
time (each request 120 s at most). Valid requests are the bundled samples, whose file name is their
class, so the answer can be checked; invalid ones are corpus files that must come back as the app's
error message. Nothing may be lost, the process's memory (the app runs in this process) may grow by
less than 300 MB over the measured round, and the latencies (submit to answer, upload included) are
printed and written to ``load.json``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from exercise_rec.app import AppConfig, ModelStore
from exercise_rec.app.cam_tab import PREDICTED
from exercise_rec.app.state import SAMPLES_DIR
from exercise_rec.inference import DEFAULT_CHECKPOINT
from tests.app.server import connect

from .corpus import Corpus

SESSIONS = 8
PREDICTIONS = 5  # per session: 3 valid, 2 invalid
CAMS = 2  # per session: 1 valid, 1 invalid
REQUEST_TIMEOUT_S = 120.0
MAX_RSS_GROWTH_MB = 300.0
CLASSES = ("squat", "push_up", "jumping_jack", "high_knees", "lateral_raise", "bicep_curl", "no_exercise")
INVALID = ("text.mp4", "no_index.mp4", "photo_as.mp4", "empty.mp4", "audio_only.mp4")
LAYER = "features.18"  # the default (last) layer: the one a user gets without choosing


@dataclass(frozen=True)
class Request:
    endpoint: str  # "/predict" or "/explain"
    path: Path
    expected: str  # the class for a valid file, the words of the error for an invalid one
    valid: bool


@dataclass(frozen=True)
class Outcome:
    session: int
    endpoint: str
    file: str
    valid: bool
    ok: bool
    detail: str
    latency_s: float


def rss_mb() -> float:
    """This process's resident memory (psutil when installed, else /proc/self/status)."""
    try:
        import psutil
    except ImportError:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024
    return psutil.Process().memory_info().rss / 2**20


def settled_rss_mb() -> tuple[float, float]:
    """(RSS, RSS after glibc's ``malloc_trim``), both after a garbage collection.

    Why both: glibc keeps freed heap pages in per-thread arenas for the next request, so the raw
    figure grows with how allocations happened to spread over threads (measured: 200 to 440 MB per
    round of this test, round after round); the trimmed one is what the process still holds, the
    figure a leak shows in.
    """
    gc.collect()
    raw = rss_mb()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
    return raw, rss_mb()


def session_requests(session: int, corpus: Corpus) -> list[Request]:
    """One session's 7 requests, a different mix and order per session (seeded)."""
    def valid(endpoint: str, k: int) -> Request:
        name = CLASSES[(session + k) % len(CLASSES)]
        return Request(endpoint, SAMPLES_DIR / f"{name}.mp4", name, True)

    def invalid(endpoint: str, k: int) -> Request:
        path, words = corpus.invalid[INVALID[(session + k) % len(INVALID)]]
        return Request(endpoint, path, words, False)

    requests = [valid("/predict", k) for k in range(3)] + [invalid("/predict", k) for k in range(2)]
    requests += [valid("/explain", 3), invalid("/explain", 2)]
    assert len(requests) == PREDICTIONS + CAMS
    random.Random(session).shuffle(requests)
    return requests


def send(client: Client, request: Request) -> str:
    """The predicted class the app answered (raises what the client raises for an app error)."""
    video = handle_file(str(request.path))
    if request.endpoint == "/predict":
        job = client.submit(video, DEFAULT_CHECKPOINT.name, api_name="/predict")
        top, _strip, _summary = job.result(timeout=REQUEST_TIMEOUT_S)
        return top["label"]
    job = client.submit(video, DEFAULT_CHECKPOINT.name, "gradcam", LAYER, PREDICTED, False, api_name="/explain")
    _gallery, importance, summary, *_ = job.result(timeout=REQUEST_TIMEOUT_S)
    assert len(importance) == 16, f"{len(importance)} importance values"
    return summary.split("predicted **")[1].split("**")[0]


def judge(session: int, client: Client, request: Request) -> Outcome:
    started = time.perf_counter()
    try:
        answer = send(client, request)
    except Exception as err:  # the client's exception for the app's gr.Error, or a timeout
        ok = not request.valid and request.expected in str(err) and request.path.name in str(err)
        detail = f"{type(err).__name__}: {err}"
    else:
        ok = request.valid and answer == request.expected
        detail = answer
    latency = time.perf_counter() - started
    return Outcome(session, request.endpoint, request.path.name, request.valid, ok, detail, latency)


def run_round(url: str, corpus: Corpus) -> tuple[list[Outcome], float]:
    """Every session's requests at once; (outcomes, wall seconds). Connecting is done first, one by one."""
    clients = [connect(url) for _ in range(SESSIONS)]
    try:
        with ThreadPoolExecutor(SESSIONS) as pool:
            started = time.perf_counter()
            done = pool.map(lambda s: [judge(s, clients[s], r) for r in session_requests(s, corpus)], range(SESSIONS))
            outcomes = [outcome for session in done for outcome in session]
            return outcomes, time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


def percentiles(latencies: list[float]) -> dict[str, float]:
    return {"p50_s": round(float(np.percentile(latencies, 50)), 3), "p95_s": round(float(np.percentile(latencies, 95)), 3)}


@pytest.mark.load
@pytest.mark.timeout(600)
def test_concurrent_sessions_get_every_answer_right(app_client: Client, corpus: Corpus, tmp_path: Path) -> None:
    warm, _ = run_round(app_client.src, corpus)  # the same load once: models, caches, threads, allocator
    raw_before, before = settled_rss_mb()
    outcomes, wall = run_round(app_client.src, corpus)
    raw_after, after = settled_rss_mb()

    failures = [o for o in warm + outcomes if not o.ok]
    report = {
        "sessions": SESSIONS, "requests": len(outcomes), "valid": sum(o.valid for o in outcomes),
        "invalid": sum(not o.valid for o in outcomes), "failures": len(failures), "wall_s": round(wall, 1),
        **percentiles([o.latency_s for o in outcomes]),
        "by_endpoint": {
            f"{e} {'valid' if v else 'invalid'}":
                percentiles([o.latency_s for o in outcomes if (o.endpoint, o.valid) == (e, v)])
            for e in ("/predict", "/explain") for v in (True, False)
        },
        "rss_mb": round(after), "rss_growth_mb": round(after - before, 1),
        "raw_rss_growth_mb": round(raw_after - raw_before, 1),
        "failed": [asdict(o) for o in failures],
    }  # fmt: skip
    (tmp_path / "load.json").write_text(json.dumps(report, indent=2))
    print(
        f"\nload: {report['requests']} requests ({report['valid']} valid, {report['invalid']} invalid) from "
        f"{SESSIONS} sessions in {wall:.1f} s after a warm-up round: {len(failures)} failed (both rounds), "
        f"latency p50 {report['p50_s']:.2f} s, p95 {report['p95_s']:.2f} s, RSS growth {after - before:+.0f} MB "
        f"({raw_after - raw_before:+.0f} MB before malloc_trim); {tmp_path / 'load.json'}"
    )
    for key, value in report["by_endpoint"].items():
        print(f"  {key:18s} p50 {value['p50_s']:.2f} s  p95 {value['p95_s']:.2f} s")
    assert len(warm) == len(outcomes) == SESSIONS * (PREDICTIONS + CAMS)  # none lost
    assert not failures, failures
    assert after - before < MAX_RSS_GROWTH_MB


def test_cams_never_hook_the_model_instance_predictions_run_on() -> None:
    """A CAM's hooks record every forward pass through their layer, from any thread."""
    store = ModelStore(AppConfig(device="cpu"))
    assert store.get(None) is store.get(None) and store.explainer(None) is store.explainer(None)
    assert store.get(None).model is not store.explainer(None).model
