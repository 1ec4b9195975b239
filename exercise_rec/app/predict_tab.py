"""Predict tab: drop a video in, get the verdict, the top-k exercises, the frames the model saw (with
the person check's skeleton), and a timeline of verdicts and probabilities.

Why the verdict leads: the models give a confident label to anything (docs/verdicts.md), so the
first thing a user reads is what kind of answer this is; the probability bars stay (they are what
the model computed) but their heading is the verdict's when it is not a label.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from exercise_rec.app.outputs import image_file, label_file
from exercise_rec.app.skeleton import draw_skeleton
from exercise_rec.app.state import (
    FRAMES_TTL_S,
    ModelStore,
    require_video,
    require_video_info,
    sample_examples,
    user_errors,
)
from exercise_rec.inference import LONG_VIDEO_S, Prediction, Timeline
from exercise_rec.pose import PoseTrack
from exercise_rec.verdict import VERDICTS

TOP_K = 5
TIMELINE_STRIDE_S = 1.0
TIMELINE_CLASSES = 4  # lines in the timeline plot: the classes with the highest peak probability
# Most windows per timeline: a request's work must not grow with the video's length (at a 1 s stride a
# 2-minute upload is 118 windows, 40 s of a worker on 2 cores); longer videos get a wider stride instead.
TIMELINE_MAX_WINDOWS = 32
# Timeline windows whose verdict is not a label are shaded: (legend text, colour). Exercise and
# no_exercise windows are left clear, their class's line says what they are.
SHADED_VERDICTS = {"no_person": ("no person", "0.55"), "uncertain": ("not sure", "tab:orange")}
# The Label's heading for verdicts that are not a label (the verdict's own name, as the API's data).
NOT_A_LABEL = ("no_person", "uncertain")


def headline(result: Prediction) -> str:
    """One line that says what kind of answer ``result`` is, before any class name.

    "No person found — <reason>", "Not sure: squat 41%, lunge 30%", "No exercise (92%)" or
    "<Exercise> (93%)" (the top class, calibrated).
    """
    if result.verdict == "no_person":
        return f"No person found — {result.reason}"
    if result.verdict == "uncertain":
        guesses = ", ".join(f"{c} {p:.0%}" for c, p in zip(result.labels[:2], result.top_probs[:2]))
        return f"Not sure: {guesses}"
    if result.verdict == "no_exercise":
        return f"No exercise ({result.top_probs[0]:.0%})"
    return f"{result.label.replace('_', ' ').capitalize()} ({result.top_probs[0]:.0%})"


def verdict_label(result: Prediction) -> str:
    """The ``gr.Label`` value: the top-k bars under the top class, or under the verdict's name when
    the verdict is not a label (``no_person``, ``uncertain``), so the heading never contradicts it."""
    heading = result.verdict if result.verdict in NOT_A_LABEL else result.label
    return label_file(heading, list(zip(result.labels, result.top_probs)))


def _verdict_spans(centres: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[tuple[float, float]]:
    """Each window's own stretch of the time axis: halfway to its neighbours' centres (windows overlap,
    so shading whole windows would blur every verdict into the next); the ends reach the video's."""
    bounds = np.concatenate([[starts[0]], (centres[1:] + centres[:-1]) / 2, [ends[-1]]])
    return list(zip(bounds[:-1], bounds[1:]))


def timeline_figure(timeline: Timeline) -> Figure:
    """Probability over time of the classes that peak highest anywhere in the video, each window's
    stretch shaded when its verdict is ``no_person`` or ``uncertain``, and the verdict counts above."""
    centres = (timeline.starts_s + timeline.ends_s) / 2
    top = np.argsort(timeline.probs.max(axis=0))[::-1][:TIMELINE_CLASSES]
    figure = Figure(figsize=(7, 2.8), layout="constrained")
    axes = figure.add_subplot()
    verdicts = [v.verdict for v in timeline.verdicts]
    for (left, right), verdict in zip(_verdict_spans(centres, timeline.starts_s, timeline.ends_s), verdicts):
        if verdict in SHADED_VERDICTS:
            axes.axvspan(left, right, color=SHADED_VERDICTS[verdict][1], alpha=0.25, linewidth=0)
    for k in top:
        axes.plot(centres, timeline.probs[:, k], marker="o", markersize=3, label=timeline.class_names[k])
    handles, _ = axes.get_legend_handles_labels()
    shaded = [(text, colour) for verdict, (text, colour) in SHADED_VERDICTS.items() if verdict in verdicts]
    handles += [Patch(color=colour, alpha=0.25, label=text) for text, colour in shaded]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    axes.set_title(f"windows: {counts}", fontsize=8, loc="left")
    axes.set_xlabel("time (s, window centre)")
    axes.set_ylabel("probability")
    axes.set_ylim(0, 1.02)
    axes.set_xlim(timeline.starts_s[0], timeline.ends_s[-1])
    figure.legend(handles=handles, loc="outside right upper", fontsize=7)  # outside: never over a line
    return figure


def frame_strip(clip: np.ndarray, per_row: int = 8) -> np.ndarray:
    """uint8 frames [T, H, W, 3] tiled left to right, ``per_row`` per row (one image, one encode)."""
    rows = [clip[k : k + per_row] for k in range(0, len(clip), per_row)]
    rows[-1] = np.concatenate([rows[-1], np.zeros((per_row - len(rows[-1]), *clip.shape[1:]), np.uint8)])
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


def strip_image(frames: tuple[np.ndarray, PoseTrack | None], show_skeleton: bool) -> str:
    """The frame strip PNG of a prediction's frames, with the person check's skeleton when asked
    (and when the check ran)."""
    clip, pose = frames
    if show_skeleton and pose is not None:
        clip = draw_skeleton(clip, pose)
    return image_file(frame_strip(clip))


def summary_markdown(result: Prediction, model_name: str) -> str:
    """The headline, then the verdict's name and reason, the latency and the model."""
    checked = ", person check included" if result.pose is not None else ""
    return (
        f"### {headline(result)}\n\n"
        f"verdict `{result.verdict}`: {result.reason} · "
        f"{result.latency_ms:.0f} ms (decode + transform + model){checked} · {model_name}"
    )


def build(store: ModelStore) -> None:
    """The tab's components and events; registers the ``/predict`` and ``/timeline`` endpoints."""

    @user_errors
    def predict(
        video: str | None,
        checkpoint: str | None,
        show_skeleton: bool = True,
        previous: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:
        path = require_video(video, store.config)
        progress(0.1, desc="loading model")
        predictor = store.get(checkpoint)
        progress(0.3, desc="decoding, classifying and looking for a person")
        result = predictor.predict(path, top_k=TOP_K)
        frames = (result.clip.numpy(), result.pose)
        token = store.frames.put(frames, replaces=previous)  # for the checkbox: redraws, never recomputes
        summary = summary_markdown(result, predictor.meta.model_name)
        return verdict_label(result), strip_image(frames, show_skeleton), summary, token

    def redraw(token: str | None, show_skeleton: bool) -> Any:
        """The checkbox's handler: the stored frames drawn again, with or without the skeleton."""
        return gr.skip() if token is None else strip_image(store.frames.get(token, "the prediction"), show_skeleton)

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
            summary = gr.Markdown()
            label = gr.Label(num_top_classes=TOP_K, label="Top 5 (calibrated probabilities)")
    show_skeleton = gr.Checkbox(value=True, label="Show skeleton (the person check's keypoints)")
    strip = gr.Image(label="The 16 frames the model saw (in time order, two rows)", type="numpy")
    plot = gr.Plot(label="Per-window verdicts and probabilities (videos longer than a clip)", visible=False)
    frames = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    checkpoint.change(user_errors(store.card), checkpoint, card, api_name=False)
    sample_examples(store, video)
    outputs = [label, strip, summary, frames]
    inputs = [video, checkpoint, show_skeleton, frames]
    windows = [video, checkpoint]
    button.click(predict, inputs, outputs, api_name="predict").then(timeline, windows, plot, api_name="timeline")
    video.upload(predict, inputs, outputs, api_name=False).then(timeline, windows, plot, api_name=False)
    show_skeleton.change(user_errors(redraw), [frames, show_skeleton], strip, api_name=False, show_progress="hidden")
