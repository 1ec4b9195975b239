"""Grad-CAM tab: where and when the model looks, scrubbed frame by frame, for any layer and method.

The overlay is drawn on the full uploaded frame with the model's crop outlined (the crop around
the person, framed as a prediction is), so users see where in their video the model looked.

A pose checkpoint (``Predictor.is_pose``) sees the estimator's keypoints, not pixels, so its CAM
is shown per joint instead of as an overlay: the frames its heatmap volume was rendered from, with
the skeleton drawn and each joint's disc sized and coloured by its importance in that frame (the
volume's crop outlined), and the joints x time chart in place of the per-frame bars
(:mod:`exercise_rec.explain.joints`). The per-frame importance (mean CAM) is reported either way.

The CAM is computed once per request; the frame slider only picks a stored frame (``gr.State``),
so scrubbing never recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gradio as gr
import numpy as np
import torch
from matplotlib.figure import Figure

from exercise_rec.app.outputs import frame_files, image_file, output_dir
from exercise_rec.app.state import (
    FRAMES_TTL_S,
    ModelStore,
    require_video,
    sample_examples,
    user_errors,
)
from exercise_rec.data.framing import CropBox
from exercise_rec.data.video import write_video
from exercise_rec.explain import METHODS, cam_layers, default_layer
from exercise_rec.explain.joints import joints_time_figure
from exercise_rec.explain.overlay import (
    cam_frames,
    cam_video,
    frame_importance,
    importance_figure,
)
from exercise_rec.explain.video import VideoExplanation, explain_video, joint_frames
from exercise_rec.inference import Predictor

PREDICTED = "(predicted class)"
TOP_JOINTS = 3  # joints named in a pose explanation's summary
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
class RenderedCam:
    """A CAM ready to show: frame with the crop | overlay panels, the importance curve, and a playable
    mp4; for a pose checkpoint the skeleton panels with each joint's importance and the joints x time chart."""

    explanation: VideoExplanation
    panels: np.ndarray  # uint8 [T, H, W, 3]
    importance: np.ndarray  # [T]: mean CAM per frame (pose: per volume frame)
    figure: Figure
    video: Path

    @property
    def kind(self) -> str:
        """``"pose"`` (the CAM read per joint: skeleton panels, joints x time chart) or ``"clip"``."""
        return "clip" if self.explanation.joints is None else "pose"

    def summary(self) -> str:
        info = self.explanation.cam.info
        assert info is not None
        note = " — one map for every frame (this layer has no time resolution left)" if info.temporal_resolution == 1 else ""
        text = (
            f"**{info.method}** at `{info.layer}` for **{info.target_name}** (p={info.prob:.1%}; "
            f"predicted **{self.explanation.predicted}**) · layer map {info.layer_shape}, "
            f"T'={info.temporal_resolution}{note}"
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
) -> RenderedCam:
    """Explain ``video`` and draw it (shared by the Grad-CAM and Modes tabs); ``clip``, when the
    caller already decoded it with this checkpoint's settings, saves decoding the file again, and
    ``person`` (e.g. that prediction's framing) saves looking for the person again."""
    chosen = None if target in (None, "", PREDICTED) else target
    source = video if clip is None else clip
    result = explain_video(predictor, source, layer or None, method, chosen, normalize, person)  # type: ignore[arg-type]
    info = result.cam.info
    assert info is not None
    caption = f"{info.method} {info.layer} -> {info.target_name}"
    out = output_dir() / f"{video.stem}_{info.method}_{info.layer}.mp4"
    importance = frame_importance(result.cam)
    if (joints := result.joints) is not None:
        panels = joint_frames(result, caption=f"{caption}: joints")
        return RenderedCam(
            explanation=result, panels=panels, importance=importance,
            figure=joints_time_figure(joints.importance, joints.names, info), video=write_video(out, panels, fps=8.0),
        )  # fmt: skip
    on_frames = result.frame_cam()
    cam_video(out, result.clip, on_frames, crop=result.crop)
    return RenderedCam(
        explanation=result,
        panels=cam_frames(result.clip, on_frames, caption=caption, crop=result.crop),
        importance=importance,
        figure=importance_figure(importance, info),
        video=out,
    )


def output_kind(predictor: Predictor) -> str:
    """What :func:`render_cam` shows for ``predictor``'s checkpoint: ``"pose"`` or ``"clip"`` (a key of ``LABELS``)."""
    return "pose" if predictor.is_pose else "clip"


def pick_frame(panels: np.ndarray, index: float) -> np.ndarray:
    """One stored frame (the slider's event: no recomputation)."""
    return panels[int(np.clip(index, 0, len(panels) - 1))]


def layer_choices(store: ModelStore, checkpoint: str | None) -> tuple[list[str], str, list[str]]:
    """(CAM layers, default layer, target choices) of a checkpoint's model."""
    predictor = store.get(checkpoint)
    return list(cam_layers(predictor.model)), default_layer(predictor.model), [PREDICTED, *predictor.class_names]


def build(store: ModelStore) -> None:
    """The tab's components and events; registers the ``/explain`` endpoint."""

    @user_errors
    def explain(
        video: str | None, checkpoint: str | None, method: str, layer: str | None, target: str | None,
        per_frame: bool = False, previous: str | None = None, progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:  # fmt: skip
        path = require_video(video, store.config)
        progress(0.1, desc="loading model")
        predictor = store.explainer(checkpoint)
        progress(0.3, desc=f"{method} at {layer or 'the default layer'}")
        rendered = render_cam(predictor, path, layer, method, target, "frame" if per_frame else "clip")
        slider = gr.Slider(minimum=0, maximum=len(rendered.panels) - 1, value=0, step=1)
        importance = [round(float(v), 6) for v in rendered.importance]
        return (
            frame_files(rendered.panels), importance, rendered.summary(), rendered.figure, str(rendered.video),
            store.frames.put(rendered.panels, replaces=previous), slider, image_file(rendered.panels[0]),
        )  # fmt: skip

    @user_errors
    def on_checkpoint(checkpoint: str | None) -> tuple[Any, ...]:
        layers, default, targets = layer_choices(store, checkpoint)
        card = store.card(checkpoint)
        # Labels only (no values: /explain's outputs stay plain values): what this checkpoint's outputs show.
        view_label, gallery_label, plot_label, video_label = LABELS[output_kind(store.get(checkpoint))]
        return (
            gr.Dropdown(choices=layers, value=default), gr.Dropdown(choices=targets, value=PREDICTED), card,
            gr.Image(label=view_label), gr.Gallery(label=gallery_label), gr.Plot(label=plot_label),
            gr.File(label=video_label),
        )  # fmt: skip

    layers, default, targets = layer_choices(store, store.default_name)
    view_label, gallery_label, plot_label, video_label = LABELS[output_kind(store.get(store.default_name))]
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Video", sources=["upload"])
            checkpoint = gr.Dropdown(list(store.checkpoints()), value=store.default_name, label="Checkpoint")
            card = gr.Markdown(store.card(store.default_name))
            method = gr.Dropdown(list(METHODS), value="gradcam", label="Method")
            layer = gr.Dropdown(layers, value=default, label="Layer (shallow to deep)")
            target = gr.Dropdown(targets, value=PREDICTED, label="Explain class")
            per_frame = gr.Checkbox(False, label="normalise each frame on its own (hides *when* it looks)")
            run = gr.Button("Explain", variant="primary")
        with gr.Column(scale=2):
            view = gr.Image(label=view_label, type="numpy")
            index = gr.Slider(0, 15, 0, step=1, label="frame")
            summary = gr.Markdown()
            plot = gr.Plot(label=plot_label)
            download = gr.File(label=video_label)
            with gr.Accordion("all frames and numbers", open=False):
                gallery = gr.Gallery(label=gallery_label, columns=4, height="auto")
                importance = gr.JSON(label="per-frame importance")
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    sample_examples(store, video)
    checkpoint.change(on_checkpoint, checkpoint, [layer, target, card, view, gallery, plot, download], api_name=False)
    outputs = [gallery, importance, summary, plot, download, panels, index, view]
    run.click(explain, [video, checkpoint, method, layer, target, per_frame, panels], outputs, api_name="explain")
    picker = user_errors(store.frames.picker(pick_frame, "the explanation"))
    index.change(picker, [panels, index], view, api_name=False, show_progress="hidden")
