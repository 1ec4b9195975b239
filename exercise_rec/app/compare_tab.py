"""Compare methods tab: several CAM methods on one clip, layer and class, each scored by deletion / insertion.

Why: the Grad-CAM tab shows one method at a time, and its measured figure comes from synthetic
videos with a person mask. Here every chosen method's map of the *same* clip is stacked on one
frame slider, each with the clip's own faithfulness score, which needs no mask: how fast the
class probability falls as the map's most important voxels are blurred away (deletion) and rises
as they are put back (insertion), beside the same curves for a random ranking, this clip's chance
(:mod:`exercise_rec.explain.deletion`). A map that looks convincing but scores no better than
random is not what the model used.

The maps are drawn by the Grad-CAM tab's :func:`~exercise_rec.app.cam_tab.render_cam` (same
panels: frame with the crop | overlay, frame number and time, importance strip, colour bar; a pose
checkpoint's joints on the skeleton), each under a strip naming the method and its two areas. All of
it is computed once per request; the slider only picks a stored frame (``cam_tab.pick_frame``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from exercise_rec import display
from exercise_rec.app.cam_tab import CLASS_AGNOSTIC, PREDICTED, RenderedCam, choices, pick_frame, render_cam
from exercise_rec.app.outputs import image_file
from exercise_rec.app.page import Page
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video, user_errors
from exercise_rec.explain import METHODS, CamError
from exercise_rec.explain.deletion import Curves, DeletionConfig, DeletionScorer
from exercise_rec.inference import Predictor

NAME = "Compare methods"
DEFAULT_METHODS = ("gradcam", "hirescam", "gradcam++")
STEPS = (8, 16, 32)  # curve points offered: 16 is the common choice, 8 halves the time
HEADER_HEIGHT = 34  # px of the strip above each method's panels
LABEL_ROWS = 256  # the panel height whose caption size the strip's text takes


@dataclass(frozen=True)
class Scored:
    """One method's drawn map, its curves and what the map cost."""

    method: str
    rendered: RenderedCam
    curves: Curves
    cam_ms: float  # computing and drawing the map (the Grad-CAM tab's request)

    def headline(self) -> str:
        """The strip above the method's panels (ASCII: OpenCV's font has no other glyphs)."""
        agnostic = " (class-agnostic map)" if self.method in CLASS_AGNOSTIC else ""
        return (
            f"{self.method}{agnostic}: deletion AUC {self.curves.deletion_auc:.3f} (lower better), "
            f"insertion {self.curves.insertion_auc:.3f} (higher better)"
        )


@dataclass(frozen=True)
class Comparison:
    """Every chosen method's map and curves for one clip, layer and class, and the random reference."""

    scored: tuple[Scored, ...]
    random: Curves
    target: str
    layer: str
    clip_prob: float
    baseline_prob: float
    config: DeletionConfig
    seconds: float  # the whole request

    def panels(self) -> np.ndarray:
        """uint8 [T, H, W, 3]: each method's panels under its headline, stacked top to bottom."""
        width = max(s.rendered.panels.shape[2] for s in self.scored)
        stacked = []
        for s in self.scored:
            frames = s.rendered.panels
            header = np.zeros((1, LABEL_ROWS, width, 3), np.uint8)  # label_frames sizes its text by the rows
            display.label_frames(header, s.headline())
            header = np.repeat(header[:, :HEADER_HEIGHT], len(frames), axis=0)
            padded = np.pad(frames, ((0, 0), (0, 0), (0, width - frames.shape[2]), (0, 0)))
            stacked += [header, padded]
        return np.concatenate(stacked, axis=1)

    def figure(self) -> Figure:
        """Deletion and insertion curves, one line per method, the random ranking dashed."""
        figure = Figure(figsize=(7, 2.8), layout="constrained")
        for axes, kind in zip(figure.subplots(1, 2), ("deletion", "insertion")):
            for s in self.scored:
                axes.plot(s.curves.fractions, getattr(s.curves, kind), label=s.method)
            axes.plot(self.random.fractions, getattr(self.random, kind), "k--", label="random", alpha=0.6)
            better = "lower" if kind == "deletion" else "higher"
            axes.set_title(f"{kind} ({better} area: more faithful)", fontsize=9)
            axes.set_xlabel(f"share of voxels {'blurred' if kind == 'deletion' else 'restored'}, most important first")
            axes.set_ylabel(f"p({self.target})")
            axes.set_xlim(0, 1)
            axes.set_ylim(0, 1)
        axes.legend(fontsize=7)
        return figure

    def table(self) -> str:
        rows = [
            "| method | deletion AUC ↓ | insertion AUC ↑ | random deletion AUC | random insertion AUC "
            "| beats random on | CAM + drawing ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in self.scored:
            wins = [
                name for name, won in (
                    ("deletion", s.curves.deletion_auc < self.random.deletion_auc),
                    ("insertion", s.curves.insertion_auc > self.random.insertion_auc),
                ) if won
            ]  # fmt: skip
            rows.append(
                f"| {s.method} | {s.curves.deletion_auc:.3f} | {s.curves.insertion_auc:.3f} | "
                f"{self.random.deletion_auc:.3f} | {self.random.insertion_auc:.3f} | "
                f"{' and '.join(wins) or 'neither'} | {s.cam_ms:.0f} |"
            )
        return "\n".join(rows)

    def summary(self, checkpoint: str) -> str:
        baseline = "each frame blurred" if self.config.baseline == "blur" else "the clip's mean"
        text = (
            f"`{checkpoint}` · `{self.layer}` · class **{self.target}**: p={self.clip_prob:.1%} on the clip, "
            f"{self.baseline_prob:.1%} on the baseline ({baseline}) · {self.config.steps + 1} points per curve, "
            f"{self.seconds:.1f} s in all. Deletion blurs the map's most important voxels first, insertion restores "
            "them first: a faithful map has a low deletion AUC (↓) and a high insertion AUC (↑). The dashed line "
            "ranks voxels at random (seeded): this clip's chance."
        )
        if self.baseline_prob >= self.clip_prob - 0.1:
            text += " **The baseline scores about as high as the clip: the curves have little room to tell maps apart.**"
        if any(s.method in CLASS_AGNOSTIC for s in self.scored):
            text += " EigenCAM's map ignores the class; its curves still follow the class above."
        return text

    def scores(self) -> dict[str, Any]:
        """The numbers behind the plot and the table (the endpoint's JSON output)."""

        def curves(c: Curves) -> dict[str, Any]:
            return {
                "deletion": [round(float(v), 6) for v in c.deletion], "insertion": [round(float(v), 6) for v in c.insertion],
                "deletion_auc": round(c.deletion_auc, 6), "insertion_auc": round(c.insertion_auc, 6),
            }  # fmt: skip

        return {
            "target": self.target, "layer": self.layer, "baseline": self.config.baseline, "steps": self.config.steps,
            "fractions": [float(f) for f in self.config.fractions], "clip_prob": round(self.clip_prob, 6),
            "baseline_prob": round(self.baseline_prob, 6), "random": curves(self.random),
            "methods": {s.method: {**curves(s.curves), "cam_ms": round(s.cam_ms, 1)} for s in self.scored},
        }  # fmt: skip


def compare_methods(
    predictor: Predictor, video: Path, layer: str | None, methods: list[str], target: str | None,
    config: DeletionConfig, progress: gr.Progress | None = None,
) -> Comparison:  # fmt: skip
    """Each of ``methods`` at ``layer`` for ``target`` on ``video`` (decoded, framed and, for a pose
    checkpoint, tracked by the estimator once), scored."""
    if not methods:
        raise CamError("pick at least one method to compare")
    started = time.perf_counter()
    report = progress or (lambda *args, **kwargs: None)
    clip = predictor.decode(video)
    box = None if predictor.is_pose else predictor.clip_box(clip)  # a pose volume is always framed on the person
    track = predictor.track(clip) if predictor.is_pose else None
    drawn: list[tuple[str, RenderedCam, float]] = []
    for k, method in enumerate(methods):
        report(0.1 + 0.4 * k / len(methods), desc=f"{method}: the map")
        before = time.perf_counter()
        rendered = render_cam(predictor, video, layer, method, target, clip=clip, person=box or "centre", track=track)
        drawn.append((method, rendered, (time.perf_counter() - before) * 1e3))
    info = drawn[0][1].explanation.cam.info
    assert info is not None
    report(0.5, desc="the clip and the baseline")
    x = predictor.inputs([clip], [box], tracks=None if track is None else [track])[0]
    scorer = DeletionScorer(predictor.model, x, info.target, config, predictor.rule.temperature)
    scored = []
    for k, (method, rendered, cam_ms) in enumerate(drawn):
        report(0.55 + 0.4 * k / (len(drawn) + 1), desc=f"{method}: deletion and insertion curves")
        scored.append(Scored(method, rendered, scorer.curves(rendered.explanation.cam), cam_ms))
    report(0.95, desc="random reference curves")
    return Comparison(
        scored=tuple(scored), random=scorer.random(), target=info.target_name or str(info.target), layer=info.layer,
        clip_prob=scorer.clip_prob, baseline_prob=scorer.baseline_prob, config=config,
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def method_choices() -> list[tuple[str, str]]:
    """(label, method) for the multiselect; class-agnostic methods say so."""
    return [(f"{m} (class-agnostic)" if m in CLASS_AGNOSTIC else m, m) for m in METHODS]


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/compare_methods`` endpoint."""

    @user_errors
    def compare(
        video: str | None, checkpoint: str | None, methods: list[str], layer: str | None, target: str | None,
        steps: int = 16, previous: str | None = None, progress: gr.Progress = gr.Progress(),
    ) -> tuple[Any, ...]:  # fmt: skip
        path = require_video(video, store.config)
        progress(0.05, desc="loading model")
        predictor = store.explainer(checkpoint)
        result = compare_methods(predictor, path, layer, methods, target, DeletionConfig(steps=int(steps)), progress)
        panels = result.panels()
        slider = gr.Slider(minimum=0, maximum=len(panels) - 1, step=1)  # no value: the frame position stays
        return (
            image_file(panels[0]), result.table(), result.figure(), result.summary(store.resolve(checkpoint).name),
            result.scores(), store.frames.put({"panels": panels}, replaces=previous), slider,
        )  # fmt: skip

    @user_errors
    def on_checkpoint(checkpoint: str | None) -> tuple[Any, ...]:
        layers, layer, _, targets = choices(store, checkpoint)
        return gr.Dropdown(choices=layers, value=layer), gr.Dropdown(choices=targets, value=PREDICTED)

    layers, first_layer, _, targets = choices(store, store.default_name)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            checkpoint = gr.Dropdown(list(store.checkpoints()), value=store.default_name, label="Checkpoint")
            methods = gr.Dropdown(
                method_choices(), value=list(DEFAULT_METHODS), multiselect=True, label="Methods",
                info="EigenCAM is class-agnostic: one map whatever the class",
            )  # fmt: skip
            layer = gr.Dropdown(layers, value=first_layer, label="Layer for every method (shallow to deep)")
            target = gr.Dropdown(
                targets, value=PREDICTED, label="Class to explain", info="the class every map and curve follows"
            )
            steps = gr.Dropdown(
                list(STEPS), value=16, label="curve points (steps)", info="16: about 2 s per method on 2 cores"
            )
            run = gr.Button("Compare methods", variant="primary")
        with gr.Column(scale=2, min_width=280):
            index = gr.Slider(0, 15, 0, step=1, label="frame")  # above the tall stack: in view while scrubbing
            view = gr.Image(label="every method on the same frame", show_label=False, type="numpy", elem_id="compare-view")
            summary = gr.Markdown(elem_id="compare-summary")
            table = gr.Markdown(elem_id="compare-table")
            plot = gr.Plot(label="deletion and insertion curves", show_label=False)
            with gr.Accordion("the curves' numbers", open=False):
                scores = gr.JSON(label="curves and areas")
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    inputs = [page.video, checkpoint, methods, layer, target, steps, panels]
    outputs = [view, table, plot, summary, scores, panels, index]
    cleared = [view, table, plot, summary, scores, panels]
    # The Grad-CAM tab's picker and message: the stored frames are explanations there and here.
    picker = user_errors(store.frames.picker(pick_frame, "the explanation"))
    quiet = {"api_name": False, "show_progress": "hidden"}

    run.click(compare, inputs, outputs, api_name="compare_methods").then(picker, [panels, index], view, **quiet)
    checkpoint.change(on_checkpoint, checkpoint, [layer, target], **quiet).then(
        store.frames.clearer(len(cleared)), panels, cleared, **quiet
    )
    page.follow(tab, NAME, store.frames.clearer(len(cleared)), panels, cleared, compare, inputs, outputs,
                (picker, [panels, index], view))  # fmt: skip
    index.change(picker, [panels, index], view, **quiet)
