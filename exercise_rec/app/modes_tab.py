"""Modes tab: one clip through the ``standard`` and the ``high_temporal`` checkpoint, side by side.

Predictions with each model's verdict (the two can disagree: one sure, the other not), cost
(parameters, FLOPs, the model's own latency and activation memory, measured in the same run), the
feature-map size of every stage, both CAMs (any method and layer) on one shared slider, each panel
named by its mode, and both modes' per-frame importance on one plot: the temporal stride made visible.

Why the model-only figures: the end-to-end latency of a 3 s clip is mostly decoding and the person
check, the same for both modes, so it hid the price of keeping 16 time steps; and the inference
peak is set by the early layers, which the two modes share (both 26 MiB), while the activations a
forward pass produces in all (what training keeps for the backward pass) nearly double.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import torch
from matplotlib.figure import Figure

from exercise_rec import display
from exercise_rec.app.cam_tab import METHOD_NOTES, render_cam
from exercise_rec.app.outputs import image_file
from exercise_rec.app.page import Page, automatic
from exercise_rec.app.predict_tab import headline, verdict_label
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video, user_errors
from exercise_rec.explain import METHODS, cam_layers, default_layer, model_lock
from exercise_rec.inference import Predictor
from exercise_rec.models.mobilenet_v2_3d import MODES
from exercise_rec.models.registry import count_flops
from exercise_rec.profiling import activation_bytes, feature_map_shapes, peak_activation_bytes

NAME = "Modes"
TOP_K = 3
TIMED_RUNS = 3  # model-only latency: the median of this many forward passes, after one warm-up
TITLE_HEIGHT = 30  # px of the band naming each mode above its panel

EXPLANATION = """
**Why temporal stride matters.** A 3D convolution with temporal stride 2 keeps every other time
step. `standard` mode does that four times, so 16 input frames become **1** time step before the
last layer: the network must squeeze *when* things happen into channels, and its CAM is one map
stretched over all frames. `high_temporal` mode uses the same weights' shapes but stride 1 in time,
so every layer still has **16** time steps: fast, short movements (high knees vs marching, a jumping
jack vs a lateral raise) keep their timing, and the CAM can say *which frames* mattered. The price
is compute: every deep layer does its work 16 times instead of once or twice. See the **model-only**
rows, measured on this clip in the same run (end to end, decoding and the person check dominate
and are the same for both), and the activations of one forward pass.
"""


@dataclass(frozen=True)
class Cost:
    """What a checkpoint's model costs on one clip (independent of the video, so cached)."""

    params: int
    gflops: float
    peak_mib: float  # inference peak (CPU profiler); set by the early layers the modes share
    activations_mib: float  # every layer's output of one forward pass together (what training keeps)
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
            activations_mib=activation_bytes(model, x) / 2**20,
            shapes=feature_map_shapes(model, x, list(cam_layers(model))),
        )


def model_latency_ms(predictor: Predictor, inputs: torch.Tensor) -> float:
    """The model's own forward pass on ``inputs`` (median of ``TIMED_RUNS`` after a warm-up): no
    decoding, transform or person check. On an explainer instance, under its lock."""
    batch = inputs.to(predictor.device)
    with model_lock(predictor.model), torch.inference_mode():
        predictor.model(batch)
        times = []
        for _ in range(TIMED_RUNS):
            started = time.perf_counter()
            predictor.model(batch)
            times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


def comparison_table(
    predictors: dict[str, Predictor],
    latency_ms: dict[str, float],
    verdicts: dict[str, str] | None = None,
    model_ms: dict[str, float] | None = None,
) -> str:
    """Markdown: each mode's verdict (``verdicts``, when given), cost rows (the model-only latency
    when ``model_ms`` is given), then one row per CAM layer with its [C, T', H', W'] in each mode."""
    costs = {mode: model_cost(p) for mode, p in predictors.items()}
    header = "| | " + " | ".join(f"`{m}`" for m in predictors) + " |\n|---|" + "---|" * len(predictors) + "\n"
    rows = [("verdict", verdicts)] if verdicts else []
    rows += [
        ("parameters", {m: f"{c.params:,}" for m, c in costs.items()}),
        ("GFLOPs per clip", {m: f"{c.gflops:.2f}" for m, c in costs.items()}),
        *(
            [("**model-only latency (this run, ms)**", {m: f"**{model_ms[m]:.0f}**" for m in predictors})]
            if model_ms
            else []
        ),
        ("latency end to end (decode, person check, model; ms)", {m: f"{latency_ms[m]:.0f}" for m in predictors}),
        ("**activations of one forward pass (MiB)**", {m: f"**{c.activations_mib:.0f}**" for m, c in costs.items()}),
        (
            "peak activation memory, inference (MiB; early layers, shared)",
            {m: f"{c.peak_mib:.1f}" for m, c in costs.items()},
        ),
    ]
    layers = list(next(iter(costs.values())).shapes)
    rows += [
        (f"`{layer}` [C, T', H', W']", {m: str(list(c.shapes.get(layer, ()))) for m, c in costs.items()}) for layer in layers
    ]
    return header + "\n".join(f"| {name} | " + " | ".join(v[m] for m in predictors) + " |" for name, v in rows)


def titled(panels: np.ndarray, title: str) -> np.ndarray:
    """``panels`` [T, H, W, 3] under a black band naming them (which mode a panel shows)."""
    band = np.zeros((len(panels), TITLE_HEIGHT, panels.shape[2], 3), np.uint8)
    display.label_frames(band, title)
    return np.concatenate([band, panels], axis=1)


def stacked_frame(panels_by_mode: dict[str, np.ndarray], index: float) -> np.ndarray:
    """Frame ``index`` of both modes' frame | overlay panels (uint8 [T, H, W, 3] each), one above the other."""
    panels = [p[int(np.clip(index, 0, len(p) - 1))] for p in panels_by_mode.values()]
    width = max(p.shape[1] for p in panels)
    padded = [np.pad(p, ((0, 4), (0, width - p.shape[1]), (0, 0))) for p in panels]
    return np.concatenate(padded, axis=0)


def importance_curves(curves: dict[str, np.ndarray], title: str) -> Figure:
    """Each mode's per-frame importance (mean CAM) on one plot: standard's steps against high_temporal's detail."""
    figure = Figure(figsize=(8, 2.6), layout="constrained")
    axes = figure.add_subplot()
    for mode, values in curves.items():
        axes.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=mode)
    axes.set_xlabel("frame")
    axes.set_ylabel("mean CAM")
    axes.set_ylim(0, 1.05)
    axes.set_title(title, fontsize=9)
    figure.legend(loc="outside right upper", fontsize=8)
    return figure


def shared_layers(store: ModelStore) -> tuple[list[str], str]:
    """The CAM layers both modes' checkpoints have, and the default (the last)."""
    models = [store.get(store.by_mode(mode)).model for mode in MODES]
    layers = [name for name in cam_layers(models[0]) if all(name in cam_layers(m) for m in models[1:])]
    return layers, default_layer(models[0])


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/compare_modes`` endpoint."""

    @user_errors
    def compare(
        video: str | None, method: str = "gradcam", layer: str | None = None, previous: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:  # fmt: skip
        path = require_video(video, store.config)
        names = {mode: store.by_mode(mode) for mode in MODES}
        predictors = {mode: store.get(name) for mode, name in names.items()}
        explainers = {mode: store.explainer(name) for mode, name in names.items()}
        labels, verdicts, latency, model_ms, cams = {}, {}, {}, {}, {}
        for k, (mode, predictor) in enumerate(predictors.items()):
            progress(0.1 + 0.4 * k, desc=f"{mode}: predicting, timing the model and explaining")
            started = time.perf_counter()
            result = predictor.predict(path, top_k=TOP_K)
            latency[mode] = (time.perf_counter() - started) * 1e3
            labels[mode] = verdict_label(result)
            verdicts[mode] = f"**{headline(result)}** (`{result.verdict}`)"
            model_ms[mode] = model_latency_ms(explainers[mode], predictor.inputs([result.clip], [result.framing]))
            person = result.framing or "centre"  # the CAM explains the very input that was classified
            cams[mode] = render_cam(explainers[mode], path, layer, method, None, clip=result.clip, person=person)
        progress(0.9, desc="cost of each model")
        table = comparison_table(explainers, latency, verdicts, model_ms)
        summaries = "\n\n".join(f"`{mode}` (`{names[mode]}`): {cam.summary()}" for mode, cam in cams.items())
        panels = {mode: titled(cam.panels, mode) for mode, cam in cams.items()}
        token = store.frames.put(panels, replaces=previous)
        slider = gr.Slider(minimum=0, maximum=len(panels[MODES[0]]) - 1, step=1)  # no value: the frame position stays
        info = cams[MODES[0]].explanation.cam.info
        figure = importance_curves({m: c.importance for m, c in cams.items()}, f"{info.method} at {info.layer}")
        return (
            labels[MODES[0]], labels[MODES[1]], table, summaries, token, slider,
            image_file(stacked_frame(panels, 0)), figure,
        )  # fmt: skip

    layers, last = shared_layers(store)
    gr.Markdown(EXPLANATION)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            method = gr.Dropdown(list(METHODS), value="gradcam", label="Method (both modes)")
            layer = gr.Dropdown(layers, value=last, label="Layer (both modes)")
            note = gr.Markdown(METHOD_NOTES["gradcam"])
            run = gr.Button("Compare", variant="primary")
        with gr.Column(scale=2, min_width=280):
            with gr.Row():
                standard = gr.Label(num_top_classes=TOP_K, label="standard mode", min_width=160)
                high = gr.Label(num_top_classes=TOP_K, label="high_temporal mode", min_width=160)
            table = gr.Markdown(elem_id="modes-table")
    view = gr.Image(label="both modes, the model's crop in magenta: standard (top) | high_temporal (bottom)", type="numpy")
    index = gr.Slider(0, 15, 0, step=1, label="frame (both modes)")
    plot = gr.Plot(show_label=False)
    summaries = gr.Markdown()
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    inputs = [page.video, method, layer, panels]
    outputs = [standard, high, table, summaries, panels, index, view, plot]
    picker = user_errors(store.frames.picker(stacked_frame, "the comparison"))
    quiet = {"api_name": False, "show_progress": "hidden"}
    run.click(compare, inputs, outputs, api_name="compare_modes").then(picker, [panels, index], view, **quiet)
    for control in (method, layer):
        control.input(automatic(compare, len(outputs)), inputs, outputs, api_name=False, trigger_mode="always_last").then(
            picker, [panels, index], view, **quiet
        )
    method.change(lambda m: METHOD_NOTES.get(m, m), method, note, **quiet)
    cleared = [standard, high, table, summaries, panels, view, plot]
    page.follow(
        tab, NAME, store.frames.clearer(7), panels, cleared, compare, inputs, outputs, (picker, [panels, index], view)
    )
    index.change(picker, [panels, index], view, **quiet)
