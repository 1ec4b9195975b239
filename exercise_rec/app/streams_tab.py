"""RGB vs pose tab: one clip through the RGB checkpoint and the pose checkpoint, side by side.

The RGB model sees pixels; the pose model sees only the estimator's keypoints (a heatmap volume).
Shown: both predictions with their verdicts, the cost of each stream measured in the same run
(RGB: the model alone; pose: the pose estimator, then the pose model alone), and both explanations
on one frame slider: the RGB model's CAM over the frame, the pose model's importance per joint on
the skeleton. Without a pose checkpoint in the checkpoint folder the tab says so and what to add.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from exercise_rec.app.cam_tab import render_cam
from exercise_rec.app.measured import best_choice
from exercise_rec.app.modes_tab import model_latency_ms, stacked_frame, titled
from exercise_rec.app.outputs import image_file
from exercise_rec.app.page import Page
from exercise_rec.app.predict_tab import headline, verdict_label
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video, user_errors
from exercise_rec.checkpoint import CheckpointError

NAME = "RGB vs pose"
TOP_K = 3
CAM_METHOD = "hirescam"  # localises best on the RGB models (README faithfulness table); the same for pose
NO_POSE = (
    "No pose checkpoint in the checkpoint folder: this comparison needs one (a `mobilenet_v2_3d_pose` "
    "checkpoint, e.g. `checkpoints/mobilenet_v2_3d_pose.pt`, trained with `python -m exercise_rec.train "
    "--model mobilenet_v2_3d_pose`)."
)


def pose_checkpoint(store: ModelStore) -> str | None:
    """The first listed checkpoint whose model reads pose heatmap volumes, or None."""
    for name in store.checkpoints():
        try:
            if store.get(name).is_pose:
                return name
        except CheckpointError:
            continue  # the Models tab logs unreadable files
    return None


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/compare_streams`` endpoint."""

    @user_errors
    def compare(video: str | None, previous: str | None = None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        path = require_video(video, store.config)
        pose_name = pose_checkpoint(store)
        if pose_name is None:
            raise gr.Error(NO_POSE, duration=None, print_exception=False)
        names = {"RGB": store.default_name, "pose": pose_name}
        progress(0.1, desc="RGB: predicting and timing the model")
        rgb, pose = store.get(names["RGB"]), store.get(pose_name)
        rgb_result = rgb.predict(path, top_k=TOP_K)
        rgb_ms = model_latency_ms(store.explainer(names["RGB"]), rgb.inputs([rgb_result.clip], [rgb_result.framing]))
        progress(0.35, desc="pose: estimating keypoints, predicting and timing the model")
        pose_result = pose.predict(path, top_k=TOP_K)
        started = time.perf_counter()
        track = pose.track(pose_result.clip)
        estimate_ms = (time.perf_counter() - started) * 1e3
        pose_ms = model_latency_ms(store.explainer(pose_name), pose.volumes([track]))
        progress(0.6, desc="explaining both")
        results = {"RGB": rgb_result, "pose": pose_result}
        rgb_layer = (best_choice(names["RGB"]) or (None, CAM_METHOD))[0]  # the measured best layer, else the last
        cams = {
            "RGB": render_cam(store.explainer(names["RGB"]), path, rgb_layer, CAM_METHOD, None, clip=rgb_result.clip,
                              person=rgb_result.framing or "centre"),
            "pose": render_cam(store.explainer(pose_name), path, None, CAM_METHOD, None, clip=pose_result.clip),
        }  # fmt: skip
        rows = [
            ("checkpoint", {s: f"`{n}`" for s, n in names.items()}),
            ("verdict", {s: f"**{headline(r)}** (`{r.verdict}`)" for s, r in results.items()}),
            ("pose estimation (ms)", {"RGB": "-", "pose": f"{estimate_ms:.0f}"}),
            ("model only (ms)", {"RGB": f"{rgb_ms:.0f}", "pose": f"{pose_ms:.0f}"}),
            ("end to end (decode, person check / pose, model; ms)", {s: f"{r.latency_ms:.0f}" for s, r in results.items()}),
        ]
        table = "| | RGB | pose |\n|---|---|---|\n" + "\n".join(f"| {k} | {v['RGB']} | {v['pose']} |" for k, v in rows)
        summaries = "\n\n".join(f"**{stream}**: {cam.summary()}" for stream, cam in cams.items())
        panels = {
            s: titled(c.panels, f"{s}: {'CAM over the frame' if s == 'RGB' else 'joint importance'}")
            for s, c in cams.items()
        }
        token = store.frames.put(panels, replaces=previous)
        slider = gr.Slider(minimum=0, maximum=max(len(p) for p in panels.values()) - 1, step=1)
        return (
            verdict_label(rgb_result), verdict_label(pose_result), table, summaries, token, slider,
            image_file(stacked_frame(panels, 0)),
        )  # fmt: skip

    available = pose_checkpoint(store)
    gr.Markdown(
        "The **RGB** model sees the pixels; the **pose** model sees only the keypoints the pose estimator "
        "found (drawn as heatmaps), so clothing, background and lighting cannot sway it, but a missed "
        "keypoint can. Both explanations use HiResCAM: the RGB model's at the layer that localises best in the "
        "README's measurement, the pose model's at its last layer."
        if available
        else NO_POSE,
        elem_id="streams-note",
    )
    with gr.Row():
        rgb = gr.Label(num_top_classes=TOP_K, label="RGB stream", min_width=160)
        pose = gr.Label(num_top_classes=TOP_K, label="pose stream", min_width=160)
    run = gr.Button("Compare streams", variant="primary", interactive=available is not None)
    table = gr.Markdown(elem_id="streams-table")
    view = gr.Image(label="RGB CAM (top) | pose joint importance (bottom)", type="numpy")
    index = gr.Slider(0, 15, 0, step=1, label="frame (both streams)")
    summaries = gr.Markdown()
    panels = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)

    inputs = [page.video, panels]
    outputs = [rgb, pose, table, summaries, panels, index, view]
    picker = user_errors(store.frames.picker(stacked_frame, "the comparison"))
    quiet = {"api_name": False, "show_progress": "hidden"}
    run.click(compare, inputs, outputs, api_name="compare_streams").then(picker, [panels, index], view, **quiet)

    def compare_if_pose(video: str | None, previous: str | None = None, progress: gr.Progress = gr.Progress()) -> Any:
        """``compare`` for the page's own events (a new video, the tab opened): without a pose
        checkpoint the tab's note already says what to add, so nothing runs and no error pops up
        over every other tab's result; the button and ``/compare_streams`` still raise it."""
        if pose_checkpoint(store) is None:
            return (gr.skip(),) * len(outputs)
        return compare(video, previous, progress)

    cleared = [rgb, pose, table, summaries, panels, view]
    page.follow(
        tab, NAME, store.frames.clearer(6), panels, cleared, compare_if_pose, inputs, outputs,
        (picker, [panels, index], view),
    )  # fmt: skip
    index.change(picker, [panels, index], view, **quiet)
