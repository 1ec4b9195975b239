"""Live tab: the browser's webcam streams frames, the server answers every hop with a steady label.

Why the server never queues frames: Gradio keeps one streaming event per session and, between two
calls of the handler, only the newest frame the browser posted (each post replaces the last), so
a server that falls behind skips frames and the delay from movement to label stays one
classification long. The handler itself is the library's :class:`exercise_rec.live.LiveSession`
(the window at the checkpoint's frame rate, bounded by construction), one per browser session.
Why a fast-path predictor of its own: the live loop needs OpenVINO's ~10 ms forward pass (eager:
~200 ms on 2 cores); it is built over the store's explainer instance, whose eager module only the
CAMs run (the overlay's and the Grad-CAM tab's, serialised by the per-model lock), so hooks never
record a prediction's forward pass. The overlay's CAM runs beside the labels, one at a time
(:mod:`exercise_rec.live.background`), and shows up a few hops after the window it explains; a pose
checkpoint's is the newest frame's skeleton with each joint's importance (``LiveSession._joints``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from exercise_rec.app.measured import best_choice
from exercise_rec.app.outputs import image_file
from exercise_rec.app.page import Page
from exercise_rec.app.state import ModelStore, user_errors
from exercise_rec.explain import default_layer
from exercise_rec.fastpath import missing_package
from exercise_rec.inference import Predictor
from exercise_rec.live import LiveConfig, LiveSession, LiveUpdate, longest_shown

STREAM_EVERY_S = 0.1  # the browser posts a frame this often (10 fps; frames are kept at ~5.3 fps)
TIME_LIMIT_S = 900  # processing seconds one stream may use before the browser must restart it
RESET_AFTER_S = 2.0  # a pause this long (camera stopped) starts a new window and new counts
RATE_WINDOW = 20  # updates the shown labels/s is measured over


def fastest_backend() -> str:
    """OpenVINO when installed, else ONNX Runtime, else eager PyTorch."""
    return next((b for b in ("openvino", "onnx") if missing_package(b) is None), "torch")


class LivePredictors:
    """One fast-path predictor per checkpoint, over the store's explainer instance (module docstring)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._built: dict[str, Predictor] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> Predictor:
        """The fast predictor of ``name``; without a fast runtime, the store's prediction instance (the
        explainer's module must not run predictions: the CAM tab's hooks would record them)."""
        key = self.store.resolve(name).name
        backend = fastest_backend()
        if backend == "torch":
            return self.store.get(key)
        with self._lock:
            if key not in self._built:
                base = self.store.explainer(key)
                self._built[key] = Predictor(base.model, base.meta, device="cpu", backend=backend, limits=base.limits)
            return self._built[key]


@dataclass
class LiveState:
    """A browser session's live loop and what it was started with."""

    key: tuple[str, bool]  # (checkpoint, overlay)
    session: LiveSession
    started: float = field(default_factory=time.perf_counter)
    last_seen: float = field(default_factory=time.perf_counter)
    answered: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))


def headline(update: LiveUpdate) -> str:
    """The answer in words: the class, or what kind of non-answer; the reason (with the probability
    it was decided on: a held answer keeps its reason while the bars move)."""
    if update.verdict == "no_person":
        return f"## No person in view\n{update.reason}"
    if update.verdict == "uncertain":
        return f"## Not sure\n{update.reason}"
    return f"## {update.label.replace('_', ' ').capitalize()}\n{update.reason}"


def seconds_text(seconds: dict[str, float]) -> str:
    shown = longest_shown(seconds)
    return "**Seconds per answer:** " + (" · ".join(f"{name} {s:.1f} s" for name, s in shown) or "none yet")


def speed_text(state: LiveState, update: LiveUpdate, backend: str) -> str:
    times = state.answered
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return f"{rate:.1f} labels/s · frame-to-label {update.latency_ms:.0f} ms on the server · {backend}"


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """Camera and settings on the left, the answer on the right."""
    predictors = LivePredictors(store)
    gr.Markdown(
        "Do an exercise in front of the camera: the server keeps the last ~3 s at the model's frame rate and "
        "answers every ~0.2 s, smoothed so the label does not flicker. Frames it has no time for are skipped, "
        "never queued. The overlay (HiResCAM, computed beside the labels, about a second behind) shows where "
        "the model looks; for a pose checkpoint, the skeleton with each joint sized and coloured by its importance."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            camera = gr.Image(label="Camera", sources=["webcam"], streaming=True, type="numpy", elem_id="live-camera")
            checkpoint = gr.Dropdown(list(store.checkpoints()), value=store.default_name, label="Checkpoint")
            show_overlay = gr.Checkbox(
                False, label="Overlay: HiResCAM at the checkpoint's measured layer (pose: joint importance on the skeleton)"
            )
        with gr.Column(scale=1, min_width=280):
            answer = gr.Markdown("## Waiting for the camera", elem_id="live-label")
            bars = gr.Label(num_top_classes=3, show_heading=False, label="Top 3 (smoothed)", elem_id="live-top")
            seconds = gr.Markdown(seconds_text({}), elem_id="live-seconds")
            speed = gr.Markdown("", elem_id="live-speed")
            picture = gr.Image(label="Overlay: the latest CAM, on its window's newest frame", interactive=False,
                               elem_id="live-overlay")  # fmt: skip
    state = gr.State(None, time_to_live=TIME_LIMIT_S)

    @user_errors
    def step(frame: Any, name: str | None, overlay: bool, live: LiveState | None) -> tuple[Any, ...]:
        now = time.perf_counter()
        skip = (gr.skip(),) * 5
        if frame is None:
            return (*skip, live)
        key = (store.resolve(name).name, bool(overlay))
        if live is None or live.key != key or now - live.last_seen > RESET_AFTER_S:
            predictor = predictors.get(key[0])
            layer, method = best_choice(key[0]) or (default_layer(predictor.model), "hirescam")
            config = LiveConfig(overlay=key[1], layer=layer, method=method)
            live = LiveState(key, LiveSession(predictor, config, cam_model=store.explainer(key[0]).model))
        live.last_seen = now
        update = live.session.push(frame, now - live.started, now)
        if update is None:
            return (*skip, live)
        live.answered.append(time.perf_counter())
        text = speed_text(live, update, live.session.predictor.backend)
        image = image_file(update.overlay) if update.overlay is not None else gr.skip()
        return headline(update), dict(update.top), seconds_text(update.seconds), text, image, live

    camera.stream(
        step, [camera, checkpoint, show_overlay, state], [answer, bars, seconds, speed, picture, state],
        api_name=False, stream_every=STREAM_EVERY_S, time_limit=TIME_LIMIT_S,
        concurrency_limit=store.config.concurrency, concurrency_id="live", show_progress="hidden",
    )  # fmt: skip
