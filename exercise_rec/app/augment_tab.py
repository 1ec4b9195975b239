"""Augmentations tab: the training pipeline on one clip, original | augmented, frame by frame.

The seed project's augmentation sanity check, interactive: every transform has a switch and its
parameters, one seed fixes the draw (one draw for the whole clip, as in training), "New draw"
moves to the next seed, and the drawn crop box is outlined on the original frames (flip and angle
are listed next to them). Every control is live: a new video (once the tab is open), a switch or a
released slider runs the draw again, at the frame the slider is on; a switched-off transform's
sliders are greyed out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np
import torch

from exercise_rec import display as frame_tools
from exercise_rec.app import bounds
from exercise_rec.app.outputs import frame_files, image_file
from exercise_rec.app.page import Page, automatic
from exercise_rec.app.state import FRAMES_TTL_S, ModelStore, require_video, user_errors
from exercise_rec.data.transforms import AugmentConfig, AugParams, build_transforms, denormalize
from exercise_rec.data.video import read_clip

CLIP_LEN = 16
NAME = "Augmentations"


def augment_clip(
    video: str,
    crop: bool,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    flip: bool,
    flip_p: float,
    rotate: bool,
    degrees: float,
    size: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(original uint8 clip with the drawn crop outlined, augmented uint8 clip, drawn parameters)
    for one seeded draw.

    A switched-off crop keeps the whole frame area (RandomResizedCrop at scale 1 falls back to a
    centre crop of the output's aspect), a switched-off flip has probability 0, rotation 0 degrees.
    """
    config = AugmentConfig(
        scale=scale if crop else (1.0, 1.0),
        ratio=ratio if crop else (1.0, 1.0),
        hflip_p=flip_p if flip else 0.0,
        degrees=degrees if rotate else 0.0,
    )
    transform = build_transforms(True, (size, size), config)
    clip = read_clip(video, CLIP_LEN, size=size)
    tensor, params = transform.with_params(clip, generator=torch.Generator().manual_seed(int(seed)))
    augmented = denormalize(tensor, config.mean, config.std).numpy()
    return outlined(clip.numpy(), params), augmented, {"seed": int(seed), **params.as_dict()}


def outlined(clip: np.ndarray, params: AugParams) -> np.ndarray:
    """The original frames with the drawn crop box outlined (what the augmented frames were cut from)."""
    return frame_tools.draw_box(clip, params.crop)


def pair_frame(pair: tuple[np.ndarray, np.ndarray], index: float) -> np.ndarray:
    """Frame ``index`` of original | augmented, side by side (for the scrubbing slider)."""
    original, augmented = pair
    k = int(np.clip(index, 0, len(augmented) - 1))
    return frame_tools.side_by_side([original[k : k + 1], augmented[k : k + 1]], ["original", "augmented"])[0]


def next_seed(seed: float | None) -> int:
    """The "New draw" button's seed: the next one, back to 0 after the largest."""
    return (int(seed or 0) + 1) % (bounds.SEED_MAX + 1)


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The tab's components and events; registers the ``/augment`` endpoint."""

    @user_errors
    def augment(
        video: str | None, crop: bool, scale_min: float, scale_max: float, ratio_min: float, ratio_max: float,
        flip: bool, flip_p: float, rotate: bool, degrees: float, size: float, seed: float, previous: str | None = None,
    ) -> tuple[Any, ...]:  # fmt: skip
        values = (scale_min, scale_max, ratio_min, ratio_max, flip_p, degrees, size, seed)
        for setting, value in zip(numeric, values, strict=True):
            bounds.check(setting, value)
        path = require_video(video, store.config)
        original, augmented, params = augment_clip(
            str(path), crop, (scale_min, scale_max), (ratio_min, ratio_max), flip, flip_p, rotate, degrees,
            int(size), int(seed),
        )  # fmt: skip
        pair = (original, augmented)
        token = store.frames.put(pair, replaces=previous)
        slider = gr.Slider(minimum=0, maximum=len(augmented) - 1, step=1)  # no value: the frame position stays
        return frame_files(original), frame_files(augmented), params, token, slider, image_file(pair_frame(pair, 0))

    video = page.video
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            with gr.Group():
                crop = gr.Checkbox(True, label="RandomResizedCrop")
                with gr.Row():
                    scale_min = bounds.Slider(0.05, 1.0, 0.6, step=0.05, label="scale min (area share)")
                    scale_max = bounds.Slider(0.05, 1.0, 1.0, step=0.05, label="scale max")
                with gr.Row():
                    ratio_min = bounds.Slider(0.3, 3.0, 0.75, step=0.05, label="ratio min (w/h)")
                    ratio_max = bounds.Slider(0.3, 3.0, 1.33, step=0.05, label="ratio max")
                flip = gr.Checkbox(True, label="RandomHorizontalFlip")
                flip_p = bounds.Slider(0.0, 1.0, 0.5, step=0.05, label="flip probability")
                rotate = gr.Checkbox(True, label="RandomRotation")
                degrees = bounds.Slider(0, 45, 10, step=1, label="rotation +- degrees")
                size = bounds.Slider(64, 256, 128, step=16, label="output size (pixels)")
            with gr.Row():
                seed = bounds.Number(0, minimum=0, maximum=bounds.SEED_MAX, precision=0, label="seed")
                new_draw = gr.Button("New draw")
            run = gr.Button("Augment", variant="primary")
        with gr.Column(scale=2, min_width=280):
            view = gr.Image(label="original (magenta: the drawn crop) | augmented", type="numpy")
            index = gr.Slider(0, CLIP_LEN - 1, 0, step=1, label="frame")
            params = gr.JSON(label="drawn parameters (one draw for the whole clip)")
            with gr.Accordion("all frames", open=False):
                before = gr.Gallery(label="original", columns=8, height="auto", object_fit="contain")
                after = gr.Gallery(label="augmented", columns=8, height="auto", object_fit="contain")
    pair = gr.State(time_to_live=FRAMES_TTL_S, delete_callback=store.frames.discard)
    numeric = (scale_min, scale_max, ratio_min, ratio_max, flip_p, degrees, size, seed)

    inputs = [video, crop, scale_min, scale_max, ratio_min, ratio_max, flip, flip_p, rotate, degrees, size, seed, pair]
    outputs = [before, after, params, pair, index, view]
    picker = user_errors(store.frames.picker(pair_frame, "the augmentation"))
    quiet = {"api_name": False, "show_progress": "hidden"}
    # After every run the view is redrawn at the slider's frame (a re-run keeps the frame position).
    run.click(augment, inputs, outputs, api_name="augment").then(picker, [pair, index], view, **quiet)
    new_draw.click(next_seed, seed, seed, api_name=False).then(augment, inputs, outputs, api_name=False).then(
        picker, [pair, index], view, **quiet
    )
    again = automatic(augment, len(outputs))
    changes = [c.input for c in (crop, flip, rotate)] + [s.release for s in numeric[:-1]] + [seed.submit]
    for event in changes:
        event(again, inputs, outputs, api_name=False, trigger_mode="always_last").then(picker, [pair, index], view, **quiet)
    page.follow(tab, NAME, store.frames.clearer(5), pair, [before, after, params, pair, view], augment, inputs, outputs,
                (picker, [pair, index], view))  # fmt: skip
    for switch, sliders in ((crop, numeric[:4]), (flip, numeric[4:5]), (rotate, numeric[5:6])):
        switch.change(enabler(len(sliders)), switch, list(sliders), **quiet)
    index.change(picker, [pair, index], view, **quiet)


def enabler(count: int) -> Callable[[bool], Any]:
    """A switch's change handler: its ``count`` sliders greyed out when the transform is off (they would do nothing)."""

    def enable(on: bool) -> Any:
        updates = tuple(gr.Slider(interactive=on) for _ in range(count))
        return updates if count > 1 else updates[0]

    return enable
