"""Predict tab: drop a video in, get the top-k exercises, the frames the model saw, and a timeline."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from exercise_rec.app.outputs import image_file
from exercise_rec.app.state import (
    ModelStore,
    require_video,
    require_video_info,
    sample_examples,
    user_errors,
)
from exercise_rec.inference import LONG_VIDEO_S, Timeline

TOP_K = 5
TIMELINE_STRIDE_S = 1.0
TIMELINE_CLASSES = 4  # lines in the timeline plot: the classes with the highest peak probability
# Most windows per timeline: a request's work must not grow with the video's length (at a 1 s stride a
# 2-minute upload is 118 windows, 40 s of a worker on 2 cores); longer videos get a wider stride instead.
TIMELINE_MAX_WINDOWS = 32


def timeline_figure(timeline: Timeline) -> Figure:
    """Probability over time of the classes that peak highest anywhere in the video."""
    centres = (timeline.starts_s + timeline.ends_s) / 2
    top = np.argsort(timeline.probs.max(axis=0))[::-1][:TIMELINE_CLASSES]
    figure = Figure(figsize=(7, 2.6), layout="constrained")
    axes = figure.add_subplot()
    for k in top:
        axes.plot(centres, timeline.probs[:, k], marker="o", markersize=3, label=timeline.class_names[k])
    axes.set_xlabel("time (s, window centre)")
    axes.set_ylabel("probability")
    axes.set_ylim(0, 1.02)
    axes.legend(loc="upper left", fontsize=7, ncols=min(TIMELINE_CLASSES, len(top)))
    return figure


def frame_strip(clip: np.ndarray, per_row: int = 8) -> np.ndarray:
    """uint8 frames [T, H, W, 3] tiled left to right, ``per_row`` per row (one image, one encode)."""
    rows = [clip[k : k + per_row] for k in range(0, len(clip), per_row)]
    rows[-1] = np.concatenate([rows[-1], np.zeros((per_row - len(rows[-1]), *clip.shape[1:]), np.uint8)])
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


def build(store: ModelStore) -> None:
    """The tab's components and events; registers the ``/predict`` endpoint."""

    @user_errors
    def predict(video: str | None, checkpoint: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        path = require_video(video, store.config)
        progress(0.1, desc="loading model")
        predictor = store.get(checkpoint)
        progress(0.3, desc="decoding and classifying")
        result = predictor.predict(path, top_k=TOP_K)
        labels = dict(zip(result.labels, result.top_probs))
        summary = (
            f"**{result.label}** · {result.latency_ms:.0f} ms (decode + transform + model) · {predictor.meta.model_name}"
        )
        return labels, image_file(frame_strip(result.clip.numpy())), summary

    @user_errors
    def timeline(video: str | None, checkpoint: str | None, progress: gr.Progress = gr.Progress()) -> Any:
        """Runs after the prediction is shown: a long video's windows take seconds, the label must not wait."""
        path, info = require_video_info(video, store.config)
        duration = info.duration
        if duration < LONG_VIDEO_S:
            return gr.Plot(value=None, visible=False)
        stride = max(TIMELINE_STRIDE_S, duration / (TIMELINE_MAX_WINDOWS - 1))
        progress(0.2, desc=f"classifying 3 s windows every {stride:.3g} s")
        return gr.Plot(value=timeline_figure(store.get(checkpoint).predict_windows(path, stride, info=info)), visible=True)

    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Video (drag and drop, or record)", sources=["upload", "webcam"])
            names = list(store.checkpoints())
            checkpoint = gr.Dropdown(names, value=store.default_name, label="Checkpoint")
            card = gr.Markdown(store.card(store.default_name))
            button = gr.Button("Predict", variant="primary")
        with gr.Column(scale=1):
            label = gr.Label(num_top_classes=TOP_K, label="Top 5")
            summary = gr.Markdown()
    strip = gr.Image(label="The 16 frames the model saw (in time order, two rows)", type="numpy")
    plot = gr.Plot(label="Per-window probabilities (videos longer than a clip)", visible=False)

    checkpoint.change(user_errors(store.card), checkpoint, card, api_name=False)
    sample_examples(store, video)
    outputs = [label, strip, summary]
    inputs = [video, checkpoint]
    button.click(predict, inputs, outputs, api_name="predict").then(timeline, inputs, plot, api_name="timeline")
    video.upload(predict, inputs, outputs, api_name=False).then(timeline, inputs, plot, api_name=False)
