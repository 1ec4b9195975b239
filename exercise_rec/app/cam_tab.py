"""Grad-CAM tab: where and when the model looks, scrubbed frame by frame, for any layer and method.

The overlay is drawn on the full uploaded frame with the model's crop outlined (the crop around
the person, framed as a prediction is), so users see where in their video the model looked.

A pose checkpoint (``Predictor.is_pose``) sees the estimator's keypoints, not pixels, so its CAM
is shown per joint instead of as an overlay: the frames its heatmap volume was rendered from, with
the skeleton drawn and each joint's disc sized and coloured by its importance in that frame (the
volume's crop outlined), and the joints x time chart in place of the per-frame bars
(:mod:`exercise_rec.explain.joints`). The per-frame importance (mean CAM) is reported either way.

The CAM is computed once per request; the frame slider only picks a stored frame (``gr.State``),
so scrubbing never recomputes it, and opacity or colormap only redraw the stored map.

Every panel carries its frame number and time, the clip's per-frame importance with this frame
marked, and a colour bar that says what 0 and 1 are (:mod:`exercise_rec.app.panels`). The tab
opens on the method and layer that localise best in the project's own measurement and shows that
figure beside every choice (:mod:`exercise_rec.app.measured`); EigenCAM, which has no class, greys
the class picker out and says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import gradio as gr
import numpy as np
import torch
from matplotlib.figure import Figure

from exercise_rec.app import bounds
from exercise_rec.app.measured import best_choice, measured_note
from exercise_rec.app.outputs import frame_files, image_file, output_dir
from exercise_rec.app.page import Page, automatic
from exercise_rec.app.panels import decorate, frame_times
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video, user_errors
from exercise_rec.data.framing import CropBox
from exercise_rec.data.video import write_video
from exercise_rec.explain import METHODS, cam_layers, default_layer
from exercise_rec.explain.joints import joints_time_figure
from exercise_rec.explain.overlay import cam_frames, frame_importance, importance_figure
from exercise_rec.explain.video import VideoExplanation, explain_video, joint_frames
from exercise_rec.inference import Predictor
from exercise_rec.pose import PoseTrack

NAME = "Grad-CAM"
PREDICTED = "(predicted class)"
TOP_JOINTS = 3  # joints named in a pose explanation's summary
COLORMAPS = ("jet", "turbo", "inferno", "viridis")
CLASS_AGNOSTIC = ("eigencam",)  # methods whose map does not depend on the class asked for
# One line per method: what its map is, in words a class can follow.
METHOD_NOTES = {
    "gradcam": "Grad-CAM: each channel weighted by its gradient averaged over the whole map "
    "(smooth; can spill onto the background).",
    "hirescam": "HiResCAM: gradient x activation at every location: only what raised the class score (localises best here).",
    "gradcam++": "Grad-CAM++: channel weights from positive higher-order gradients (several pieces of evidence at once).",
    "xgradcam": "XGradCAM: gradients weighted by the normalised activations (Grad-CAM with axioms).",
    "layercam": "LayerCAM: positive gradient x activation per location (keeps detail at shallow layers).",
    "eigencam": "EigenCAM: the layer's main activation pattern (first principal component): class-agnostic, "
    "the same map whatever class is picked; an SVD per frame, 3-5 s.",
}
# The outputs' labels by what the checkpoint sees (output_kind): (view, gallery, plot, video).
LABELS = {
    "clip": (
        "frame with the model's crop (magenta) | overlay", "frame with the model's crop | overlay",
        "per-frame importance (mean CAM)", "overlay video (mp4)",
    ),
    "pose": (
        "skeleton: each joint's size and colour = its importance (magenta: the volume's crop)",
        "skeleton with each joint's importance", "importance per joint and frame (grey: not shown to the model)",
        "skeleton video (mp4)",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Style:
    """What an overlay is drawn from, kept so opacity and colormap redraw it without a new CAM."""

    clip: np.ndarray  # uint8 [T, H, W, 3]: the full decoded frames
    cam: np.ndarray  # float32 [T, H, W] on those frames
    crop: CropBox
    caption: str
    importance: np.ndarray  # [T]
    times: np.ndarray  # [T] seconds into the video
    normalize: str
    alpha: float = 0.5
    colormap: str = "jet"

    def panels(self) -> np.ndarray:
        """frame | overlay panels with frame number, time, importance strip and colour bar."""
        drawn = cam_frames(self.clip, self.cam, self.alpha, self.colormap, caption=self.caption, crop=self.crop)
        return decorate(drawn, self.importance, self.times, self.colormap, self.normalize)


@dataclass(frozen=True)
class RenderedCam:
    """A CAM ready to show: frame with the crop | overlay panels and the importance curve (a playable
    mp4 on request); for a pose checkpoint the skeleton panels with each joint's importance and the
    joints x time chart."""

    explanation: VideoExplanation
    panels: np.ndarray  # uint8 [T, H, W, 3]
    importance: np.ndarray  # [T]: mean CAM per frame (pose: per volume frame)
    figure: Figure
    source: Path  # the explained video (names the mp4)
    style: Style | None = None  # clip models: what opacity and colormap redraw

    def save_mp4(self) -> Path:
        """The panels as a playable H.264 file in the app's output folder. Written on request: only the
        Grad-CAM tab offers one; Modes, Streams and Compare methods show the panels alone."""
        info = self.explanation.cam.info
        assert info is not None
        return write_video(output_dir() / f"{self.source.stem}_{info.method}_{info.layer}.mp4", self.panels, fps=8.0)

    @property
    def kind(self) -> str:
        """``"pose"`` (the CAM read per joint: skeleton panels, joints x time chart) or ``"clip"``."""
        return "clip" if self.explanation.joints is None else "pose"

    def summary(self) -> str:
        info = self.explanation.cam.info
        assert info is not None
        note = " — one map for every frame (this layer has no time resolution left)" if info.temporal_resolution == 1 else ""
        if info.method in CLASS_AGNOSTIC:
            subject = "class-agnostic: the layer's main activation pattern, the same whatever class is picked"
        else:
            subject = f"for **{info.target_name}** (p={info.prob:.1%})"
        text = (
            f"**{info.method}** at `{info.layer}` {subject}; predicted **{self.explanation.predicted}** · "
            f"layer map {info.layer_shape}, T'={info.temporal_resolution}{note}"
        )
        if (joints := self.explanation.joints) is not None:
            top = ", ".join(f"{name} {value:.2f}" for name, value in joints.ranked()[:TOP_JOINTS])
            text += f" · pose model: importance per joint; most important: {top or 'none shown'}"
        return text


def render_cam(
    predictor: Predictor,
    video: Path,
    layer: str | None,
    method: str,
    target: str | None,
    normalize: str = "clip",
    clip: torch.Tensor | None = None,
    person: CropBox | Literal["find", "centre"] = "find",
    alpha: float = 0.5,
    colormap: str = "jet",
    track: PoseTrack | None = None,
) -> RenderedCam:
    """Explain ``video`` and draw it (shared by the Grad-CAM, Modes and pose tabs); ``clip``, when
    the caller already decoded it with this checkpoint's settings, saves decoding the file again,
    ``person`` (e.g. that prediction's framing) saves looking for the person again, and ``track``
    (a pose checkpoint's estimator track of ``clip``) saves running the estimator again."""
    chosen = None if target in (None, "", PREDICTED) else target
    source = video if clip is None else clip
    result = explain_video(predictor, source, layer or None, method, chosen, normalize, person, track=track)  # type: ignore[arg-type]
    info = result.cam.info
    assert info is not None
    caption = f"{info.method} {info.layer} -> {info.target_name}"
    importance = frame_importance(result.cam)
    times = frame_times(video, predictor.meta.clip_len)
    if (joints := result.joints) is not None:
        drawn = joint_frames(result, colormap, caption=f"{caption}: joints")
        panels = decorate(drawn, importance, times[joints.frame_indices], colormap, normalize)
        return RenderedCam(
            explanation=result, panels=panels, importance=importance,
            figure=joints_time_figure(joints.importance, joints.names, info), source=video,
        )  # fmt: skip
    style = Style(result.clip, result.frame_cam(), result.crop, caption, importance, times, normalize, alpha, colormap)
    panels = style.panels()
    return RenderedCam(
        explanation=result, panels=panels, importance=importance, figure=importance_figure(importance, info),
        source=video, style=style,
    )  # fmt: skip


def output_kind(predictor: Predictor) -> str:
    """What :func:`render_cam` shows for ``predictor``'s checkpoint: ``"pose"`` or ``"clip"`` (a key of ``LABELS``)."""
    return "pose" if predictor.is_pose else "clip"


def pick_frame(stored: dict[str, Any] | np.ndarray, index: float) -> np.ndarray:
    """One stored frame (the slider's event: no recomputation)."""
    panels = stored["panels"] if isinstance(stored, dict) else stored
    return panels[int(np.clip(index, 0, len(panels) - 1))]


def choices(store: ModelStore, checkpoint: str | None) -> tuple[list[str], str, str, list[str]]:
    """(CAM layers, default layer, default method, target choices) of a checkpoint: the measured
    best layer and method when the project measured it (:func:`best_choice`), else HiResCAM at the last layer."""
    predictor = store.get(checkpoint)
    layers = list(cam_layers(predictor.model))
    layer, method = best_choice(store.resolve(checkpoint).name) or (default_layer(predictor.model), "hirescam")
    return layers, layer if layer in layers else default_layer(predictor.model), method, [PREDICTED, *predictor.class_names]


def picker_settings(method: str) -> dict[str, Any]:
    """The class picker's ``interactive`` and ``info`` for ``method`` (greyed out for a class-agnostic one)."""
    agnostic = method in CLASS_AGNOSTIC
    info = "EigenCAM has no class: the map is the same for every class" if agnostic else "the class the map explains"
    return {"interactive": not agnostic, "info": info}


def method_notes(store: ModelStore, checkpoint: str | None, method: str, layer: str | None) -> tuple[Any, str]:
    """The class picker's update (see :func:`picker_settings`) and the method's note with the measured figure.
    Only an event's return value: called while the page is built, the ``gr.Dropdown`` would be a stray component."""
    note = f"{METHOD_NOTES.get(method, method)}\n\n{measured_note(store.resolve(checkpoint).name, layer, method)}"
    return gr.update(**picker_settings(method)), note


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/explain`` endpoint."""

    @user_errors
    def explain(
        video: str | None, checkpoint: str | None, method: str, layer: str | None, target: str | None,
        per_frame: bool = False, opacity: float = 0.5, colormap: str = "jet", previous: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:  # fmt: skip
        path = require_video(video, store.config)
        progress(0.1, desc="loading model")
        predictor = store.explainer(checkpoint)
        slow = " (an SVD per frame: 3-5 s)" if method == "eigencam" else ""
        progress(0.3, desc=f"{method} at {layer or 'the default layer'}{slow}")
        rendered = render_cam(
            predictor, path, layer, method, target, "frame" if per_frame else "clip", alpha=opacity, colormap=colormap
        )
        slider = gr.Slider(minimum=0, maximum=len(rendered.panels) - 1, step=1)  # no value: the frame position stays
        importance = [round(float(v), 6) for v in rendered.importance]
        summary = f"`{store.resolve(checkpoint).name}` · {rendered.summary()}"
        stored = {"panels": rendered.panels, "style": rendered.style}
        return (
            frame_files(rendered.panels), importance, summary, rendered.figure, str(rendered.save_mp4()),
            store.frames.put(stored, replaces=previous), slider, image_file(rendered.panels[0]),
        )  # fmt: skip

    @user_errors
    def restyle(token: str | None, opacity: float, colormap: str, index: float) -> tuple[Any, ...]:
        """Opacity or colormap changed: the stored map redrawn (no new CAM); a pose explanation has no overlay."""
        stored = None if token is None else store.frames.get(token, "the explanation")
        if stored is None or stored["style"] is None:
            return gr.skip(), gr.skip(), gr.skip()
        style = replace(stored["style"], alpha=float(opacity), colormap=colormap)
        panels = style.panels()
        new = store.frames.put({"panels": panels, "style": style}, replaces=token)
        return new, image_file(pick_frame(panels, index)), frame_files(panels)

    @user_errors
    def on_checkpoint(checkpoint: str | None) -> tuple[Any, ...]:
        layers, layer, method, targets = choices(store, checkpoint)
        # Labels only (no values: /explain's outputs stay plain values): what this checkpoint's outputs show.
        view_label, gallery_label, plot_label, video_label = LABELS[output_kind(store.get(checkpoint))]
        return (
            gr.Dropdown(choices=layers, value=layer), gr.update(value=method),
            gr.Dropdown(choices=targets, value=PREDICTED), store.card(checkpoint),
            gr.Image(label=view_label), gr.Gallery(label=gallery_label), gr.Plot(label=plot_label),
            gr.File(label=video_label),
        )  # fmt: skip

    layers, first_layer, first_method, targets = choices(store, store.default_name)
    view_label, gallery_label, plot_label, video_label = LABELS[output_kind(store.get(store.default_name))]
    first_note = f"{METHOD_NOTES.get(first_method, first_method)}\n\n" + measured_note(
        store.resolve(store.default_name).name, first_layer, first_method
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            checkpoint = gr.Dropdown(list(store.checkpoints()), value=store.default_name, label="Checkpoint")
            card = gr.Markdown(store.card(store.default_name))
            method = gr.Dropdown(list(METHODS), value=first_method, label="Method")
            layer = gr.Dropdown(layers, value=first_layer, label="Layer (shallow to deep)")
            note = gr.Markdown(first_note, elem_id="method-note")
            target = gr.Dropdown(targets, value=PREDICTED, label="Explain class", **picker_settings(first_method))
            per_frame = gr.Checkbox(False, label="normalise each frame on its own (hides *when* it looks)")
            with gr.Row():
                opacity = bounds.Slider(0.1, 0.9, 0.5, step=0.05, label="overlay opacity")
                colormap = gr.Dropdown(list(COLORMAPS), value="jet", label="colormap")
            run = gr.Button("Explain", variant="primary")
        with gr.Column(scale=2, min_width=280):
            view = gr.Image(label=view_label, type="numpy", elem_id="cam-view")
            index = gr.Slider(0, 15, 0, step=1, label="frame")
            summary = gr.Markdown(elem_id="cam-summary")
            plot = gr.Plot(label=plot_label, show_label=False)
            download = gr.File(label=video_label)
            with gr.Accordion("all frames and numbers", open=False):
                gallery = gr.Gallery(label=gallery_label, columns=4, height="auto", object_fit="contain")
                importance = gr.JSON(label="per-frame importance")
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    inputs = [page.video, checkpoint, method, layer, target, per_frame, opacity, colormap, panels]
    outputs = [gallery, importance, summary, plot, download, panels, index, view]
    picker = user_errors(store.frames.picker(pick_frame, "the explanation"))
    quiet = {"api_name": False, "show_progress": "hidden"}
    again = automatic(explain, len(outputs))
    clear = store.frames.clearer(6)
    cleared = [gallery, importance, summary, plot, download, panels]

    run.click(explain, inputs, outputs, api_name="explain").then(picker, [panels, index], view, **quiet)
    checkpoint.change(on_checkpoint, checkpoint, [layer, method, target, card, view, gallery, plot, download], **quiet).then(
        clear, panels, cleared, **quiet
    ).then(again, inputs, outputs, api_name=False).then(picker, [panels, index], view, **quiet)
    for control in (method, layer, target, per_frame):
        control.input(again, inputs, outputs, api_name=False, trigger_mode="always_last").then(
            picker, [panels, index], view, **quiet
        )
    for control in (method, layer, checkpoint):
        control.change(
            user_errors(functools.partial(method_notes, store)), [checkpoint, method, layer], [target, note], **quiet
        )
    for event in (opacity.release, colormap.input):
        event(restyle, [panels, opacity, colormap, index], [panels, view, gallery], **quiet)
    page.follow(tab, NAME, store.frames.clearer(7), panels, [*cleared, view], explain, inputs, outputs,
                (picker, [panels, index], view))  # fmt: skip
    index.change(picker, [panels, index], view, **quiet)
