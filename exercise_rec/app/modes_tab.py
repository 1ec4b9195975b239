"""Modes tab: one clip through the ``standard`` and the ``high_temporal`` checkpoint, side by side.

Predictions with each model's verdict (the two can disagree: one sure, the other not), cost
(parameters, FLOPs, latency, peak activation memory), the feature-map size of every stage, and both
CAMs on one shared slider: the temporal stride made visible.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import torch

from exercise_rec.app.cam_tab import render_cam
from exercise_rec.app.outputs import image_file
from exercise_rec.app.predict_tab import headline, verdict_label
from exercise_rec.app.state import (
    FRAMES_TTL_S,
    ModelStore,
    require_video,
    sample_examples,
    user_errors,
)
from exercise_rec.explain import cam_layers, model_lock
from exercise_rec.inference import Predictor
from exercise_rec.models.mobilenet_v2_3d import MODES
from exercise_rec.models.registry import count_flops
from exercise_rec.profiling import feature_map_shapes, peak_activation_bytes

TOP_K = 3

EXPLANATION = """
**Why temporal stride matters.** A 3D convolution with temporal stride 2 keeps every other time
step. `standard` mode does that four times, so 16 input frames become **1** time step before the
last layer: the network must squeeze *when* things happen into channels, and its CAM is one map
stretched over all frames. `high_temporal` mode uses the same weights' shapes but stride 1 in time,
so every layer still has **16** time steps: fast, short movements (high knees vs marching, a jumping
jack vs a lateral raise) keep their timing, and the CAM can say *which frames* mattered. The price
is compute: every deep layer does its work 16 times instead of once or twice (see FLOPs and latency).
"""


@dataclass(frozen=True)
class Cost:
    """What a checkpoint's model costs on one clip (independent of the video, so cached)."""

    params: int
    gflops: float
    peak_mib: float
    shapes: dict[str, tuple[int, ...]]


@functools.lru_cache(maxsize=8)
def model_cost(predictor: Predictor) -> Cost:
    """Measured with hooks and the profiler: on an explainer instance (``ModelStore.explainer``), under its lock."""
    meta = predictor.meta
    x = torch.zeros(1, 3, meta.clip_len, *meta.input_size, device=predictor.device)
    model = predictor.model
    with model_lock(model):
        return Cost(
            params=sum(p.numel() for p in model.parameters()),
            gflops=count_flops(model, x) / 1e9,
            peak_mib=peak_activation_bytes(model, x) / 2**20 if predictor.device.type == "cpu" else float("nan"),
            shapes=feature_map_shapes(model, x, list(cam_layers(model))),
        )


def comparison_table(
    predictors: dict[str, Predictor], latency_ms: dict[str, float], verdicts: dict[str, str] | None = None
) -> str:
    """Markdown: each mode's verdict (``verdicts``, when given), cost rows, then one row per CAM layer
    with its [C, T', H', W'] in each mode."""
    costs = {mode: model_cost(p) for mode, p in predictors.items()}
    header = "| | " + " | ".join(f"`{m}`" for m in predictors) + " |\n|---|" + "---|" * len(predictors) + "\n"
    rows = [("verdict", verdicts)] if verdicts else []
    rows += [
        ("parameters", {m: f"{c.params:,}" for m, c in costs.items()}),
        ("GFLOPs per clip", {m: f"{c.gflops:.2f}" for m, c in costs.items()}),
        ("latency (this clip, ms)", {m: f"{latency_ms[m]:.0f}" for m in predictors}),
        ("peak activation memory (MiB)", {m: f"{c.peak_mib:.1f}" for m, c in costs.items()}),
    ]
    layers = list(next(iter(costs.values())).shapes)
    rows += [
        (f"`{layer}` [C, T', H', W']", {m: str(list(c.shapes.get(layer, ()))) for m, c in costs.items()}) for layer in layers
    ]
    return header + "\n".join(f"| {name} | " + " | ".join(v[m] for m in predictors) + " |" for name, v in rows)


def stacked_frame(panels_by_mode: dict[str, np.ndarray], index: float) -> np.ndarray:
    """Frame ``index`` of both modes' frame | overlay panels (uint8 [T, H, W, 3] each), one above the other."""
    panels = [p[int(np.clip(index, 0, len(p) - 1))] for p in panels_by_mode.values()]
    width = max(p.shape[1] for p in panels)
    padded = [np.pad(p, ((0, 4), (0, width - p.shape[1]), (0, 0))) for p in panels]
    return np.concatenate(padded, axis=0)


def build(store: ModelStore) -> None:
    """The tab's components and events; registers the ``/compare_modes`` endpoint."""

    @user_errors
    def compare(
        video: str | None, previous: str | None = None, progress: gr.Progress = gr.Progress()
    ) -> tuple[Any, ...]:
        path = require_video(video, store.config)
        names = {mode: store.by_mode(mode) for mode in MODES}
        predictors = {mode: store.get(name) for mode, name in names.items()}
        explainers = {mode: store.explainer(name) for mode, name in names.items()}
        labels, verdicts, latency, cams = {}, {}, {}, {}
        for k, (mode, predictor) in enumerate(predictors.items()):
            progress(0.1 + 0.4 * k, desc=f"{mode}: predicting and explaining")
            started = time.perf_counter()
            result = predictor.predict(path, top_k=TOP_K)
            latency[mode] = (time.perf_counter() - started) * 1e3
            labels[mode] = verdict_label(result)
            verdicts[mode] = f"**{headline(result)}** (`{result.verdict}`)"
            person = result.framing or "centre"  # the CAM explains the very input that was classified
            cams[mode] = render_cam(explainers[mode], path, None, "gradcam", None, clip=result.clip, person=person)
        progress(0.9, desc="cost of each model")
        table = comparison_table(explainers, latency, verdicts)
        summaries = "\n\n".join(f"`{mode}`: {cam.summary()}" for mode, cam in cams.items())
        panels = {mode: cam.panels for mode, cam in cams.items()}
        token = store.frames.put(panels, replaces=previous)
        slider = gr.Slider(minimum=0, maximum=len(panels[MODES[0]]) - 1, value=0, step=1)
        return labels[MODES[0]], labels[MODES[1]], table, summaries, token, slider, image_file(stacked_frame(panels, 0))

    gr.Markdown(EXPLANATION)
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Video", sources=["upload"])
            run = gr.Button("Compare", variant="primary")
            sample_examples(store, video)
        with gr.Column(scale=1):
            with gr.Row():
                standard = gr.Label(num_top_classes=TOP_K, label="standard")
                high = gr.Label(num_top_classes=TOP_K, label="high_temporal")
            table = gr.Markdown()
    view = gr.Image(
        label="Grad-CAM at the last layer, the model's crop in magenta: standard (top) | high_temporal (bottom)",
        type="numpy",
    )
    index = gr.Slider(0, 15, 0, step=1, label="frame (both modes)")
    summaries = gr.Markdown()
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    outputs = [standard, high, table, summaries, panels, index, view]
    run.click(compare, [video, panels], outputs, api_name="compare_modes")
    picker = user_errors(store.frames.picker(stacked_frame, "the comparison"))
    index.change(picker, [panels, index], view, api_name=False, show_progress="hidden")
