"""Models tab (teaching): every registered model's size, cost and CAM layers, and which ones ship.

Filled when the page loads, from the shipped card table (instant). Why the shipped-checkpoint
column: the registry row is the model at its default settings (``mobilenet_v2_3d`` at width 1.0:
2.38 M parameters), while the shipped files are trained at width 0.5 (0.77 M); a class comparing
the two numbers should see why they differ.
"""

from __future__ import annotations

import logging

import gradio as gr

from exercise_rec.app.page import Page
from exercise_rec.app.state import ModelStore, user_errors
from exercise_rec.checkpoint import CheckpointError
from exercise_rec.models import card_table, get_entry, list_models

log = logging.getLogger(__name__)

COLUMNS = ["model", "parameters", "GFLOPs", "default input", "CAM layers", "shipped checkpoint", "description"]


def shipped(store: ModelStore) -> dict[str, list[str]]:
    """Model name -> "file: settings, parameters" of each checkpoint in the checkpoint folder."""
    found: dict[str, list[str]] = {}
    for name in store.checkpoints():
        try:
            predictor = store.get(name)
        except CheckpointError as err:
            log.warning("models tab: skipping %s: %s", name, err)
            continue
        meta = predictor.meta
        params = sum(p.numel() for p in predictor.model.parameters())
        settings = ", ".join(f"{k}={v}" for k, v in meta.model_kwargs.items())
        found.setdefault(meta.model_name, []).append(f"{name} ({settings}): {params / 1e6:.2f} M parameters")
    return found


def registry_rows(progress: gr.Progress | None = None, checkpoints: dict[str, list[str]] | None = None) -> list[list[str]]:
    """One row per registered model, from the shipped card table (models it does not list are
    built once to measure them); ``checkpoints`` (see :func:`shipped`) fills the shipped column."""
    rows = []
    names = list_models()
    for k, name in enumerate(names):
        if progress is not None:
            progress(k / len(names), desc=f"measuring {name}")
        card = card_table.card(name)
        rows.append([
            name, f"{card['params']:,}", f"{card['flops'] / 1e9:.2f}", "x".join(map(str, card["default_input"])),
            ", ".join(card["cam_layers"]), "; ".join((checkpoints or {}).get(name, [])) or "-",
            get_entry(name).description,
        ])  # fmt: skip
    return rows


def build(store: ModelStore, page: Page, tab: gr.Tab) -> None:
    """The table, filled when the page is built (the card table is instant); the button re-measures it."""

    @user_errors
    def measure(progress: gr.Progress = gr.Progress()) -> list[list[str]]:
        return registry_rows(progress, shipped(store))

    gr.Markdown(
        "Every model in the registry (`exercise_rec.models.list_models()`), at its **default settings** "
        "with 17 classes: parameters, FLOPs of one forward pass (a multiply-add counts 2), the input one "
        "sample takes (C x T x H x W; image models C x H x W) and the layers the Grad-CAM tab can explain. "
        "**Shipped checkpoint**: the files in `checkpoints/` of that model, with the settings they were "
        "trained at; `mobilenet_v2_3d` ships at width 0.5, so its files have about a third of the default's parameters."
    )
    button = gr.Button("Measure all models", variant="primary")
    table = gr.Dataframe(
        value=registry_rows(checkpoints=shipped(store)), headers=COLUMNS, label="Registry", wrap=True,
        elem_id="models-table", max_height=900,
    )  # fmt: skip
    button.click(measure, None, table, api_name="models")
