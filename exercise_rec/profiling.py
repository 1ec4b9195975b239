"""What a forward pass costs besides time: feature-map sizes per layer and peak activation memory.

Why measured, not computed: the teaching point of the modes tab is that ``high_temporal`` keeps T
time steps where ``standard`` strides them away; the sizes come from hooks on the real layers and
the memory from the allocator's own events (the profiler's record of every allocation and free).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

__all__ = ["feature_map_shapes", "peak_activation_bytes"]


def feature_map_shapes(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch dimension) of each named layer for input batch ``x``."""
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str, output: torch.Tensor) -> None:
        shapes.setdefault(name, tuple(output.shape[1:]))

    handles = [
        modules[name].register_forward_hook(lambda _m, _args, out, name=name: record(name, out))
        for name in layers
    ]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: shapes[name] for name in layers if name in shapes}


def peak_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes allocated during one inference forward pass of ``x`` on CPU, beyond what was
    allocated before it (weights and input excluded): the running sum, in time order, of every
    profiler event's own allocations (positive) and frees (negative ``[memory]`` events)."""
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(x)
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak
