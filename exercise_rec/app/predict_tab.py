"""Predict tab: drop a video in, get the verdict, the top-k exercises, the frames the model saw (with
the person check's skeleton and the model's crop around the person), and for a long video its
segments and a timeline of verdicts and probabilities.

Why the verdict leads: the models give a confident label to anything (docs/verdicts.md), so the
first thing a user reads is what kind of answer this is; the probability bars stay (they are what
the model computed) but their heading is the verdict's when it is not a label.
Why a long video leads with its segments: one 16-frame clip spread over an untrimmed recording is
not what the model was trained on, and the recording may show several exercises and rests; the
whole-video prediction stays on the page, under a heading that says it is not the answer.
Why each request is checked against the session's newest one: the timeline of a long video takes
seconds, and a user may drop the next video meanwhile; a result that arrived late would show under
the next video's headline. A new upload (or Predict, or clearing the video) first clears every
output of the tab, and a result whose inputs are no longer the session's newest is dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import cv2
import gradio as gr
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from exercise_rec.app.outputs import image_file, label_file
from exercise_rec.app.page import Page, automatic
from exercise_rec.app.segments import seconds, segments_markdown, timeline_segments, window_spans
from exercise_rec.app.skeleton import draw_skeleton
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video_info, user_errors
from exercise_rec.data.framing import CropBox
from exercise_rec.display import draw_box
from exercise_rec.inference import CLIP_S, LONG_VIDEO_S, Prediction, Timeline
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
# The Label's heading for a video of LONG_VIDEO_S or more: its whole-video prediction is not the answer.
LONG_VIDEO = "long_video"
TOP_TITLE = f"Top {TOP_K} (calibrated probabilities; for a long video, of the whole video as one clip)"


class LatestRequests:
    """Per session, the inputs of its newest Predict-tab request; bounded (least recently started go first).

    A session that never started one through the page (an API client calling ``/predict``) has no
    entry, and every result of it is current.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._latest: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, session: str | None, inputs: tuple[Any, ...]) -> None:
        if session is None:
            return
        with self._lock:
            self._latest[session] = inputs
            self._latest.move_to_end(session)
            while len(self._latest) > self.capacity:
                self._latest.popitem(last=False)

    def is_current(self, session: str | None, inputs: tuple[Any, ...]) -> bool:
        with self._lock:
            return session is None or self._latest.get(session, inputs) == inputs

    def holds(self, session: str | None, inputs: tuple[Any, ...]) -> bool:
        """Whether ``inputs`` are the session's noted ones (False for a session with none)."""
        with self._lock:
            return session is not None and self._latest.get(session) == inputs


NOTHING_SHOWN = ("nothing shown",)  # ``shown``'s marker between a new request and its prediction


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


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


def long_headline(duration_s: float) -> str:
    """The headline of a video of ``LONG_VIDEO_S`` or more, before its segments are known."""
    return f"Long video ({seconds(duration_s)} s): one label for the whole video would be meaningless — see the segments"


def verdict_label(result: Prediction, long_video: bool = False) -> str:
    """The ``gr.Label`` value: the top-k bars under the top class, or under the verdict's name when
    the verdict is not a label (``no_person``, ``uncertain``), so the heading never contradicts it;
    under ``long_video`` for a long video, whose whole-video prediction is not the answer."""
    heading = LONG_VIDEO if long_video else result.verdict if result.verdict in NOT_A_LABEL else result.label
    return label_file(heading, list(zip(result.labels, result.top_probs)))


def timeline_figure(timeline: Timeline) -> Figure:
    """Probability over time of the classes that peak highest anywhere in the video, each window's
    stretch shaded when its verdict is ``no_person`` or ``uncertain``, and the verdict counts above."""
    centres = (timeline.starts_s + timeline.ends_s) / 2
    top = np.argsort(timeline.probs.max(axis=0))[::-1][:TIMELINE_CLASSES]
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    axes = figure.add_subplot()
    verdicts = [v.verdict for v in timeline.verdicts]
    for (left, right), verdict in zip(window_spans(timeline.starts_s, timeline.ends_s), verdicts):
        if verdict in SHADED_VERDICTS:
            axes.axvspan(left, right, color=SHADED_VERDICTS[verdict][1], alpha=0.25, linewidth=0)
    for k in top:
        axes.plot(centres, timeline.probs[:, k], marker="o", markersize=3, label=timeline.class_names[k])
    handles, _ = axes.get_legend_handles_labels()
    shaded = [(text, colour) for verdict, (text, colour) in SHADED_VERDICTS.items() if verdict in verdicts]
    handles += [Patch(color=colour, alpha=0.25, label=text) for text, colour in shaded]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
    axes.set_title(f"windows: {counts}", fontsize=8, loc="right")  # the left corner is under the block label
    axes.set_xlabel("time (s, window centre)")
    axes.set_ylabel("probability")
    axes.set_ylim(-0.04, 1.08)  # headroom: the markers on 0 and 1 are drawn whole, the 1.0 gridline shows
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axes.grid(axis="y", alpha=0.3)
    axes.set_xlim(timeline.starts_s[0], timeline.ends_s[-1])
    figure.legend(handles=handles, loc="outside right upper", fontsize=8)  # outside: never over a line
    return figure


def frame_strip(clip: np.ndarray, per_row: int = 8) -> np.ndarray:
    """uint8 frames [T, H, W, 3] tiled left to right, ``per_row`` per row (one image, one encode)."""
    rows = [clip[k : k + per_row] for k in range(0, len(clip), per_row)]
    rows[-1] = np.concatenate([rows[-1], np.zeros((per_row - len(rows[-1]), *clip.shape[1:]), np.uint8)])
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


StoredFrames = tuple[np.ndarray, PoseTrack | None] | tuple[np.ndarray, PoseTrack | None, CropBox | None]


def strip_image(frames: StoredFrames, show_skeleton: bool) -> str:
    """The frame strip PNG of a prediction's frames, with the person check's skeleton when asked
    (and when the check ran), and the model's crop (``Prediction.framing``) outlined when there is
    one: the user sees which part of their video was classified."""
    clip, pose, *framing = frames
    if show_skeleton and pose is not None:
        clip = draw_skeleton(clip, pose)
    if framing and framing[0] is not None:
        clip = draw_box(clip, framing[0])
    return image_file(frame_strip(_thumbnails(clip)))


STRIP_FRAME_HEIGHT = 128  # px per frame in the strip: 16 frames stay one screen wide whatever the video


def _thumbnails(clip: np.ndarray) -> np.ndarray:
    """Frames shrunk to ``STRIP_FRAME_HEIGHT`` (drawn on first, so lines stay where they belong)."""
    height, width = clip.shape[1:3]
    if height <= STRIP_FRAME_HEIGHT:
        return clip
    size = (round(width * STRIP_FRAME_HEIGHT / height), STRIP_FRAME_HEIGHT)
    return np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in clip])


def summary_markdown(result: Prediction, model_name: str, duration_s: float = 0.0, checkpoint: str = "") -> str:
    """The headline, then the verdict's name and reason, the latency, the model and the checkpoint
    file that produced the result (two checkpoints of one model give different answers). A video of
    ``LONG_VIDEO_S`` or more leads with :func:`long_headline`; its whole-video prediction follows,
    named as what it is."""
    checked = ", person check included" if result.pose is not None else ""
    source = f"{model_name} from `{checkpoint}`" if checkpoint else model_name
    details = (
        f"verdict `{result.verdict}`: {result.reason} · "
        f"{result.latency_ms:.0f} ms (decode + transform + model){checked} · {source}"
    )
    if duration_s < LONG_VIDEO_S:
        return f"### {headline(result)}\n\n{details}"
    return (
        f"### {long_headline(duration_s)}\n\n"
        f"The whole video as one clip (16 frames spread over {seconds(duration_s)} s, "
        f"{duration_s / CLIP_S:.0f} times the ~{CLIP_S:g} s clips the model was trained on), not the answer: "
        f"{headline(result)} · {details}"
    )


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/predict`` and ``/timeline`` endpoints.

    A new video (an upload, a sample clicked, a recording finished, the video cleared), another
    checkpoint and Predict each start with :func:`clear` (every output emptied, the request noted
    as the session's newest); ``predict`` and ``timeline`` then drop a result whose inputs are no
    longer the newest. The Predict tab runs on every new video, whichever tab is open: it is the
    answer, and it takes a fraction of a second (:mod:`exercise_rec.app.page`).
    """
    latest = LatestRequests(store.config.max_sessions)
    # Per session, the inputs of the prediction on screen (a marker while none is): the page's timeline
    # follows only that one. A step chained on an older video's prediction reads the page's inputs when
    # it starts, i.e. the newer video's; were that one unreadable, its error showed twice.
    shown = LatestRequests(store.config.max_sessions)
    timed = LatestRequests(store.config.max_sessions)  # likewise, the inputs whose timeline is shown or running

    def clear(
        video: str | None, checkpoint: str | None, previous: str | None = None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        """Every output emptied (the stored frames too: the checkbox must not redraw the last video's)."""
        latest.begin(_session(request), (video, checkpoint))
        shown.begin(_session(request), NOTHING_SHOWN)
        timed.begin(_session(request), NOTHING_SHOWN)
        store.frames.discard(previous)
        return (
            gr.Markdown(value="", visible=False), "", None, None,
            gr.Plot(value=None, visible=False), None,
        )  # fmt: skip

    @user_errors
    def predict(
        video: str | None,
        checkpoint: str | None,
        show_skeleton: bool = True,
        previous: str | None = None,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:
        session, current = _session(request), (video, checkpoint)
        if not latest.is_current(session, current):
            return (gr.skip(),) * 4  # superseded while it waited in the queue: no work for nothing
        path, info = require_video_info(video, store.config)
        progress(0.1, desc="loading model")
        predictor = store.get(checkpoint)
        progress(0.3, desc="decoding, classifying and looking for a person")
        result = predictor.predict(path, top_k=TOP_K)
        if not latest.is_current(session, current):
            return (gr.skip(),) * 4  # the session has started a newer request: this one must not show
        frames = (result.clip.numpy(), result.pose, result.framing)
        token = store.frames.put(frames, replaces=previous)  # for the checkbox: redraws, never recomputes
        long_video = info.duration >= LONG_VIDEO_S
        summary = summary_markdown(result, predictor.meta.model_name, info.duration, store.resolve(checkpoint).name)
        shown.begin(session, current)
        return verdict_label(result, long_video), strip_image(frames, show_skeleton), summary, token

    def timeline_of_shown(
        video: str | None, checkpoint: str | None, request: gr.Request | None = None, progress: gr.Progress = gr.Progress()
    ) -> tuple[Any, Any]:
        """The page's timeline step: only for the video whose prediction is on screen (see ``shown``),
        and once per video (see :func:`clear_if_new`)."""
        session, inputs = _session(request), (video, checkpoint)
        if not shown.is_current(session, inputs) or timed.holds(session, inputs):
            return gr.skip(), gr.skip()
        timed.begin(session, inputs)
        return timeline(video, checkpoint, request, progress)

    def clear_if_new(
        video: str | None, checkpoint: str | None, previous: str | None = None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        """The page's first step: :func:`clear`, unless this video's result (with this checkpoint) is
        already on screen. Gradio's video input can report the same file as changed again and again
        (seen on a busy 2-core machine after a clear and a new upload while other events ran): each
        report emptied the result and ran the prediction and a long video's timeline again."""
        if video is not None and shown.holds(_session(request), (video, checkpoint)):
            return (gr.skip(),) * 6
        return clear(video, checkpoint, previous, request)

    def predict_if_new(
        video: str | None, checkpoint: str | None, show_skeleton: bool = True, previous: str | None = None,
        request: gr.Request | None = None, progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:  # fmt: skip
        """The page's prediction step: none when this video's result is already on screen (see :func:`clear_if_new`)."""
        if shown.holds(_session(request), (video, checkpoint)):
            return (gr.skip(),) * 4
        return predict(video, checkpoint, show_skeleton, previous, request, progress)

    def redraw(token: str | None, show_skeleton: bool) -> Any:
        """The checkbox's handler: the stored frames drawn again, with or without the skeleton."""
        return gr.skip() if token is None else strip_image(store.frames.get(token, "the prediction"), show_skeleton)

    @user_errors
    def timeline(
        video: str | None,
        checkpoint: str | None,
        request: gr.Request | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, Any]:
        """Runs after the prediction is shown: a long video's windows take seconds, the label must not wait."""
        session, inputs = _session(request), (video, checkpoint)
        if not latest.is_current(session, inputs):
            return gr.skip(), gr.skip()  # superseded while it waited in the queue: no work for nothing
        path, info = require_video_info(video, store.config)
        duration = info.duration
        if duration < LONG_VIDEO_S:
            return gr.Markdown(value="", visible=False), gr.Plot(value=None, visible=False)
        stride = max(TIMELINE_STRIDE_S, duration / (TIMELINE_MAX_WINDOWS - 1))
        progress(0.2, desc=f"classifying 3 s windows every {stride:.3g} s")
        windows = store.get(checkpoint).predict_windows(path, stride, info=info)
        if not latest.is_current(session, inputs):
            return gr.skip(), gr.skip()
        segments = segments_markdown(timeline_segments(windows), duration)
        return gr.Markdown(value=segments, visible=True), gr.Plot(value=timeline_figure(windows), visible=True)

    video = page.video
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            names = list(store.checkpoints())
            checkpoint = gr.Dropdown(names, value=store.default_name, label="Checkpoint")
            card = gr.Markdown(store.card(store.default_name))
            button = gr.Button("Predict", variant="primary")
        with gr.Column(scale=2, min_width=280):
            segments = gr.Markdown(visible=False, elem_id="segments")  # a long video's answer: it leads
            summary = gr.Markdown(elem_id="summary")
            label = gr.Label(num_top_classes=TOP_K, label=TOP_TITLE)
    show_skeleton = gr.Checkbox(value=True, label="Show skeleton (the person check's keypoints)")
    strip = gr.Image(
        label="The 16 frames the model saw (in time order, two rows; magenta: its crop around the person)",
        type="numpy", elem_id="strip",
    )  # fmt: skip
    plot = gr.Plot(
        label="Per-window verdicts and probabilities (videos longer than a clip)", visible=False, elem_id="timeline",
        show_label=False,
    )  # fmt: skip
    frames = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    checkpoint.change(user_errors(store.card), checkpoint, card, api_name=False)
    outputs = [label, strip, summary, frames]
    inputs = [video, checkpoint, show_skeleton, frames]
    windows = [video, checkpoint]
    cleared = [segments, summary, label, strip, plot, frames]
    # always_last: a trigger while the step is still busy with an older request runs once that one ends
    # (the default "once" would ignore it, and the newer video would get no result at all).
    quick = {"api_name": False, "show_progress": "hidden", "concurrency_limit": None, "trigger_mode": "always_last"}
    last = {"trigger_mode": "always_last"}
    # The button is the API's way in (/predict, then /timeline); the page's own events skip quietly
    # without a video. The timeline runs only after a prediction succeeded: one error, one message.
    button.click(clear, [*windows, frames], cleared, **quick).then(
        predict, inputs, outputs, api_name="predict", **last
    ).success(timeline, windows, [segments, plot], api_name="timeline", **last)
    for event in (video.change, checkpoint.change):
        event(clear_if_new, [*windows, frames], cleared, **quick).then(
            automatic(predict_if_new, 4), inputs, outputs, api_name=False, **last
        ).success(automatic(timeline_of_shown, 2), windows, [segments, plot], api_name=False, **last)
    show_skeleton.change(user_errors(redraw), [frames, show_skeleton], strip, api_name=False, show_progress="hidden")
