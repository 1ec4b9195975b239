"""Section 4: one Grad-CAM / HiResCAM explanation against one forward+backward pass of the same clip.

For each shipped mobilenet_v2_3d checkpoint (standard and high_temporal), ``compute_cam`` at the
default layer on one clip at the checkpoint's input size, loaded as the app loads it
(``Predictor``). The peer is the least any gradient method must do: logits, then the gradient of
the top logit with respect to the input only; the ratio is the explanation's time in those units.
"""

from __future__ import annotations

import logging

import torch

from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.report import Row, Section
from exercise_rec.bench.timing import measure
from exercise_rec.explain import compute_cam, default_layer
from exercise_rec.inference import CHECKPOINT_DIR, Predictor

log = logging.getLogger(__name__)

CHECKPOINTS = tuple(CHECKPOINT_DIR / f"mobilenet_v2_3d_{mode}.pt" for mode in ("standard", "high_temporal"))
METHODS = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}


def forward_backward(model: torch.nn.Module, x: torch.Tensor) -> None:
    """The peer: logits, then the gradient of the top logit with respect to the input only."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        clip = x[None].clone().requires_grad_(True)
        model(clip).max().backward()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def _rows(label: str, model: torch.nn.Module, x: torch.Tensor, layer: str, cfg: BenchConfig) -> list[Row]:
    """The forward+backward peer, then each CAM method relative to it."""
    fwd_bwd = measure(lambda: forward_backward(model, x), cfg.repeats, cfg.warmup)
    peer = Row.time(f"{label}: forward+backward", fwd_bwd, peer=True)
    rows = [peer]
    for method, name in METHODS.items():
        stats = measure(lambda m=method: compute_cam(model, x, layer, m), cfg.repeats, cfg.warmup)
        row = Row.time(f"{label}: {name} at {layer}", stats)
        rows.append(row.with_ratios(row.per(peer, "the time of forward+backward")))
    return rows


def run(cfg: BenchConfig) -> Section:
    torch.set_num_threads(cfg.threads)
    rows: list[Row] = []
    for checkpoint in CHECKPOINTS:
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        model, meta = predictor.model, predictor.meta
        label = f"{meta.model_name} {predictor.mode}"
        layer = default_layer(model)
        x = torch.randn(3, meta.clip_len, *meta.input_size, generator=torch.Generator().manual_seed(0))
        log.info("cam: %s", label)
        rows += _rows(label, model, x, layer, cfg)
    notes = ("shipped checkpoints (width 0.5), one clip at the checkpoint's input size, default layer",)
    return Section("cam", tuple(rows), (), notes)
