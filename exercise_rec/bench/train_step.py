"""One training step of mobilenet_v2_3d (forward, cross-entropy, backward, AdamW), timed.

Why a plain loop and not the Lightning trainer: the benchmark wants what the model and precision
cost per clip, without logging, metrics and callbacks in the measurement. Random clips on the
target device keep the data loader out of it (the loader gets its own row next to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from exercise_rec.bench.timing import Stats, measure
from exercise_rec.models import build_model

NUM_CLASSES = 17
SHIPPED = {"width_mult": 0.5}  # the width of the shipped checkpoints
COMPILE_WARMUP = 3  # compilation, then any recompilation, happen in the first steps


@dataclass(frozen=True)
class StepVariant:
    """How a step runs: precision, memory format, compiler."""

    label: str
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False


def train_step_stats(
    kwargs: dict[str, Any],
    variant: StepVariant,
    batch: int,
    clip: tuple[int, int, int],
    device: torch.device,
    repeats: int,
    warmup: int,
) -> Stats:
    """Times of one optimisation step of ``mobilenet_v2_3d(**kwargs)`` on a random batch."""
    torch.manual_seed(0)
    fmt = torch.channels_last_3d if variant.channels_last else torch.contiguous_format
    model = build_model("mobilenet_v2_3d", NUM_CLASSES, **kwargs).to(device, memory_format=fmt).train()
    forward = torch.compile(model) if variant.compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, *clip, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, NUM_CLASSES, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=variant.bf16):
            loss = F.cross_entropy(forward(x), y)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return measure(step, repeats, max(warmup, COMPILE_WARMUP if variant.compile else warmup))
