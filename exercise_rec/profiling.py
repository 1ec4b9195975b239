"""What a forward pass costs besides time: feature-map sizes per layer and peak activation memory.

Why measured, not computed: the teaching point of the modes tab is that ``high_temporal`` keeps T
time steps where ``standard`` strides them away; the sizes come from hooks on the real layers and
the memory from the allocator's own events (the profiler's record of every allocation and free).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

__all__ = ["activation_bytes", "feature_map_shapes", "peak_activation_bytes"]


def feature_map_shapes(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch dimension) of each named layer for input batch ``x``."""
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str, output: torch.Tensor) -> None:
        shapes.setdefault(name, tuple(output.shape[1:]))

    hooks = {modules[name]: lambda _m, _args, out, name=name: record(name, out) for name in layers}
    _forward_with_hooks(model, x, hooks)
    return {name: shapes[name] for name in layers if name in shapes}


def activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of every leaf module's output in one inference pass of ``x`` (the activations a
    training step keeps for its backward pass); call under the model's lock."""
    total = 0

    def count(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * output.element_size()

    _forward_with_hooks(model, x, {m: count for m in model.modules() if not any(True for _ in m.children())})
    return total


def _forward_with_hooks(model: nn.Module, x: torch.Tensor, hooks: dict[nn.Module, Callable[..., None]]) -> None:
    """One inference pass of ``x`` with each module's forward hook attached, removed afterwards."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks.items()]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()


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
