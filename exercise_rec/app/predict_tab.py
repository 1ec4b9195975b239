"""Predict tab: drop a video in, get the top-k exercises, the frames the model saw, and a timeline."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from exercise_rec.app.state import ModelStore, frame_list, require_video, user_errors
from exercise_rec.data.video import probe
from exercise_rec.inference import Timeline

TOP_K = 5
TIMELINE_STRIDE_S = 1.0
TIMELINE_CLASSES = 4  # lines in the timeline plot: the classes with the highest peak probability
TIMELINE_MIN_S = 6.0  # a timeline for videos of at least two 3-second windows (the training clip length)


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


def build(store: ModelStore) -> None:
    """The tab's components and events; registers the ``/predict`` endpoint."""

    @user_errors
    def predict(video: str | None, checkpoint: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        path = require_video(video)
        progress(0.1, desc="loading model")
        predictor = store.get(checkpoint)
        progress(0.3, desc="decoding and classifying")
        result = predictor.predict(path, top_k=TOP_K)
        labels = dict(zip(result.labels, result.top_probs))
        summary = f"**{result.label}** · {result.latency_ms:.0f} ms (decode + transform + model) · {predictor.meta.model_name}"
        plot = None
        if probe(path).duration >= TIMELINE_MIN_S:
            progress(0.6, desc="timeline over the whole video")
            plot = timeline_figure(predictor.predict_windows(path, TIMELINE_STRIDE_S))
        return labels, frame_list(result.clip), summary, gr.Plot(value=plot, visible=plot is not None)

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
    strip = gr.Gallery(label="The 16 frames the model saw", columns=8, height="auto", object_fit="contain")
    timeline = gr.Plot(label="Per-window probabilities (videos longer than a clip)", visible=False)

    checkpoint.change(user_errors(store.card), checkpoint, card, api_name=False)
    samples = [[str(p), store.default_name] for p in store.samples()]
    if samples:
        gr.Examples(samples, [video, checkpoint], label="Samples")
    outputs = [label, strip, summary, timeline]
    button.click(predict, [video, checkpoint], outputs, api_name="predict")
    video.upload(predict, [video, checkpoint], outputs, api_name=False)
