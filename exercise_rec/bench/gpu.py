"""Section 6 (``--gpu``): training throughput on CUDA in three precision set-ups, and the loader beside it.

mobilenet_v2_3d (shipped width 0.5) in both modes at batch 32, 16x128x128: fp32 (the peer), bf16
autocast, and bf16 + channels_last_3d + ``torch.compile``. The loader row is the CPU side's rate
at the same batch size with the default workers: a ratio below 1 means the GPU would wait for data.
"""

from __future__ import annotations

import logging

import torch

from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.loader import CLIP_LEN, SIZE, dataset_note, loader_row
from exercise_rec.bench.report import Row, Section
from exercise_rec.bench.train_step import SHIPPED, StepVariant, train_step_stats

log = logging.getLogger(__name__)

BATCH = 32
MODES = ("standard", "high_temporal")
VARIANTS = (
    StepVariant("fp32"),
    StepVariant("bf16 autocast", bf16=True),
    StepVariant("bf16 + channels_last_3d + torch.compile", bf16=True, channels_last=True, compile=True),
)


def run(cfg: BenchConfig) -> Section:
    if not torch.cuda.is_available():
        return Section("gpu", skipped="no CUDA device (torch.cuda.is_available() is False)")
    device = torch.device("cuda")
    rows: list[Row] = []
    for mode in MODES:
        peer: Row | None = None
        for variant in VARIANTS:
            log.info("gpu: %s, %s", mode, variant.label)
            stats = train_step_stats({**SHIPPED, "mode": mode}, variant, BATCH, (CLIP_LEN, SIZE, SIZE), device,
                                     cfg.repeats, cfg.warmup)
            row = Row.rate(f"train step mobilenet_v2_3d {mode} w0.5, batch {BATCH}, {variant.label}", stats, BATCH)
            if peer is None:
                peer = row.as_peer()
                rows.append(peer)
            else:
                rows.append(row.with_ratios(row.faster(peer, "faster than fp32")))
    fastest = max(rows, key=lambda r: r.median or 0.0)
    loader = loader_row(cfg, BATCH)
    rows.append(loader.with_ratios(loader.per(fastest, "the fastest training step's clips/s")))
    notes = (f"{torch.cuda.get_device_name()}; random clips on the GPU (the loader is measured on its own)",
             dataset_note(cfg))
    return Section("gpu", tuple(rows), (), notes)
