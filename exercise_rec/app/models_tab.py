"""Models tab (teaching): every registered model's size, cost and CAM layers, measured on demand."""

from __future__ import annotations

import gradio as gr

from exercise_rec.app.state import ModelStore, user_errors
from exercise_rec.models import card_table, get_entry, list_models

COLUMNS = ["model", "parameters", "GFLOPs", "default input", "CAM layers", "description"]


def registry_rows(progress: gr.Progress | None = None) -> list[list[str]]:
    """One row per registered model, from the shipped card table (models it does not list are
    built once to measure them)."""
    rows = []
    names = list_models()
    for k, name in enumerate(names):
        if progress is not None:
            progress(k / len(names), desc=f"measuring {name}")
        card = card_table.card(name)
        rows.append([
            name, f"{card['params']:,}", f"{card['flops'] / 1e9:.2f}", "x".join(map(str, card["default_input"])),
            ", ".join(card["cam_layers"]), get_entry(name).description,
        ])  # fmt: skip
    return rows


def build(store: ModelStore) -> None:
    """A table filled on request (from the shipped card table: instant)."""

    @user_errors
    def measure(progress: gr.Progress = gr.Progress()) -> list[list[str]]:
        return registry_rows(progress)

    gr.Markdown(
        "Every model in the registry (`exercise_rec.models.list_models()`), at its default input with "
        "17 classes: parameters, FLOPs of one forward pass (a multiply-add counts 2), the input one "
        "sample takes (C x T x H x W; image models C x H x W) and the layers the Grad-CAM tab can explain."
    )
    button = gr.Button("Measure all models", variant="primary")
    table = gr.Dataframe(headers=COLUMNS, label="Registry", wrap=True)
    button.click(measure, None, table, api_name="models")
