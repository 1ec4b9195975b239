"""Section 1: eager latency of every registry model against torchvision's r3d_18, and the fast path.

One clip (batch 1, fp32, ``inference_mode``) in the memory format ``Predictor`` uses
(channels_last_3d where a model allows it). The peer is ``pretrained_resnet`` (arch r3d_18, the
usual 3D-CNN baseline), measured first in the same process. For ``mobilenet_v2_3d`` in both modes
the fast path (``exercise_rec.fastpath``) gets a row per backend with two ratios, against r3d_18 and
against the same configuration in eager mode, and batch-8 throughput rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from exercise_rec.bench.backends import per_backend
from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.report import Ratio, Row, Section, Target
from exercise_rec.bench.timing import Stats, measure
from exercise_rec.device import clip_memory_format
from exercise_rec.fastpath import FastModel
from exercise_rec.models import build_model, get_entry, list_models

log = logging.getLogger(__name__)

NUM_CLASSES = 17
BATCH = 8
MODES = ("standard", "high_temporal")
PEER_VS = "faster than r3d_18 eager"
GOAL_VS_R3D, GOAL_VS_EAGER = 30.0, 2.0  # the performance issue's targets for the standard fast path


@dataclass(frozen=True)
class ModelSpec:
    """A registry name with keyword arguments, and how its rows are labelled."""

    name: str
    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    fast: bool = False  # also measure the fast path and batch 8


PEER = ModelSpec("pretrained_resnet", "r3d_18 (pretrained_resnet)", {"arch": "r3d_18"})


def model_specs(fast_configs: tuple[tuple[str, float], ...], widths: tuple[float, ...] = (1.0, 0.5)) -> list[ModelSpec]:
    """Every registry model (mobilenet_v2_3d in both modes at each of ``widths``), peer first."""
    specs = [PEER]
    for name in list_models():
        if name == "mobilenet_v2_3d":
            specs += [
                ModelSpec(name, f"{name} {mode} w{width}", {"mode": mode, "width_mult": width},
                          (mode, width) in fast_configs)
                for mode in MODES
                for width in widths
            ]
        elif name != PEER.name:
            specs.append(ModelSpec(name, name))
    return specs


def example(name: str, clip: tuple[int, int, int], batch: int = 1) -> tuple[torch.Tensor, str]:
    """A random batch for ``name`` at the bench's clip size, and how it differs from a plain clip."""
    default = get_entry(name).default_input
    t, h, w = clip
    if len(default) == 3:  # a 2D image model: one frame
        return torch.randn(batch, default[0], h, w), f" (one image 3x{h}x{w})"
    shape = (*default[:-3], t, h, w)
    return torch.randn(batch, *shape), (f" ({default[0]} views)" if len(default) == 5 else "")


def _in_format(x: torch.Tensor, fmt: torch.memory_format) -> torch.Tensor:
    return x.contiguous(memory_format=fmt) if x.ndim == 5 else x


def _eager_stats(model: nn.Module, x: torch.Tensor, cfg: BenchConfig) -> Stats:
    """Times of ``model(x)`` in the memory format ``Predictor`` would use (model converted in place)."""
    fmt = clip_memory_format(model)
    model.to(memory_format=fmt)
    x = _in_format(x, fmt)
    with torch.inference_mode():
        return measure(lambda: model(x), cfg.repeats, cfg.warmup)


def _fast_rows(
    label: str,
    fast: dict[str, FastModel | str],
    x: torch.Tensor,
    cfg: BenchConfig,
    ratios: Callable[[Row], tuple[Ratio, ...]],
) -> list[Row]:
    """One row per backend: measured (with ``ratios(row)``) or the note of a missing package."""
    rows = []
    for backend, runner in fast.items():
        name = f"{label} fast path {backend}" + (f", batch {len(x)}" if len(x) > 1 else "")
        if isinstance(runner, str):
            rows.append(Row.missing(name, "ms" if len(x) == 1 else "clips/s", runner))
            continue
        stats = measure(lambda: runner(x), cfg.repeats, cfg.warmup)  # noqa: B023 (called right here)
        row = Row.time(name, stats) if len(x) == 1 else Row.rate(name, stats, len(x))
        rows.append(row.with_ratios(*ratios(row)))
    return rows


def _spec_rows(spec: ModelSpec, cfg: BenchConfig, peer: Row | None) -> list[Row]:
    """The eager row of ``spec`` (the peer's own when ``peer`` is None) and, for fast specs,
    its fast-path rows and batch-8 throughput rows."""
    torch.manual_seed(0)
    model = build_model(spec.name, NUM_CLASSES, **spec.kwargs).eval()
    x, suffix = example(spec.name, cfg.clip)
    shape = (1, *x.shape[1:])
    fast = (per_backend(lambda b: FastModel.build(model, shape, b, threads=cfg.threads))  # type: ignore[arg-type]
            if spec.fast else {})  # built before the eager model changes memory format
    single = _eager_stats(model, x, cfg)
    eager = Row.time(f"{spec.label} eager{suffix}", single, peer=peer is None)
    if peer is None:
        return [eager]
    eager = eager.with_ratios(eager.faster(peer, PEER_VS))
    if not spec.fast:
        return [eager]
    rows = [eager]
    rows += _fast_rows(spec.label, fast, x, cfg,
                       lambda r: (r.faster(peer, PEER_VS), r.faster(eager, "faster than own eager")))
    xb = torch.randn(BATCH, *x.shape[1:])
    batched = Row.rate(f"{spec.label} eager, batch {BATCH}", _eager_stats(model, xb, cfg), BATCH)
    rows.append(batched.with_ratios(batched.per(Row.rate("", single, 1), "the batch-1 eager clips/s")))
    rows += _fast_rows(spec.label, fast, xb, cfg,
                       lambda r: (r.faster(batched, f"faster than own eager at batch {BATCH}"),))
    return rows


def _targets(rows: list[Row], fast_configs: tuple[tuple[str, float], ...]) -> list[Target]:
    """The standard fast path's goals, checked on its best backend at each measured width."""
    targets = []
    for width in (w for mode, w in fast_configs if mode == "standard"):
        label = f"mobilenet_v2_3d standard w{width} fast path"
        candidates = [r for r in rows if r.name.startswith(label) and "batch" not in r.name and r.ratios]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: r.ratios[0].value)
        targets += [
            Target(f"{best.name} >= {goal:g}x {vs}", "inference", best.name, index, goal)
            for index, (goal, vs) in enumerate([(GOAL_VS_R3D, PEER_VS), (GOAL_VS_EAGER, "faster than own eager")])
        ]
    return targets


def run(cfg: BenchConfig) -> Section:
    torch.set_num_threads(cfg.threads)
    rows: list[Row] = []
    peer: Row | None = None
    for spec in model_specs(cfg.fast_configs, cfg.widths):
        log.info("inference: %s", spec.label)
        measured = _spec_rows(spec, cfg, peer)
        peer = peer or measured[0]
        rows += measured
    t, h, w = cfg.clip
    return Section(
        "inference",
        tuple(rows),
        tuple(_targets(rows, cfg.fast_configs)),
        (f"batch 1, 3x{t}x{h}x{w}, {NUM_CLASSES} classes, fp32; eager in Predictor's memory format",),
    )
