"""Evaluation artefacts: confusion matrix as PNG and CSV, metrics as JSON.

Why files, not just logs: per-class accuracy and confusions are what tell a user which exercises
the model mixes up (march vs high knees), and they must survive the run for the model card.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt
import numpy as np
import torch

from exercise_rec.io import atomic_path


def summarize(values: Mapping[str, torch.Tensor], class_names: Sequence[str]) -> dict[str, object]:
    """Plain-number metrics: scalars plus ``per_class_acc`` keyed by class name."""
    out: dict[str, object] = {}
    for name, value in values.items():
        if name == "confusion":
            continue
        if value.ndim == 0:
            out[name] = round(float(value), 6)
        else:
            out[name] = {c: round(float(v), 6) for c, v in zip(class_names, value.tolist())}
    return out


def save_confusion(confusion: torch.Tensor, class_names: Sequence[str], out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (rows = true class, columns = predicted) and a row-normalised ``<stem>.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = confusion.to(torch.int64).numpy()
    csv_path, png_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.png"
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true\\pred", *class_names])
        for name, row in zip(class_names, counts):
            writer.writerow([name, *row.tolist()])

    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i, j in zip(*np.nonzero(counts)):
        ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return png_path, csv_path


def save_json(data: Mapping[str, object], path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return path
