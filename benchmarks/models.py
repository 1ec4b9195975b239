"""Model zoo benchmark: parameters, FLOPs and CPU latency for one clip, against mobilenet_v2_3d.

Every video model runs on one 16x128x128 clip (batch 1, eval, no_grad, fp32), the 224x224 models
(i3d, resnet3d) also at 16x224x224; the peer for the ratio column is mobilenet_v2_3d standard at the
same input, measured in the same run. Latency is the median of ``--repeats`` timed runs after
``--warmup`` untimed ones; both memory formats are tried and the faster one is reported.

    python benchmarks/models.py [--threads 2] [--repeats 5] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from exercise_rec.device import has_3d_convs_only
from exercise_rec.models import build_model
from exercise_rec.models.registry import count_flops

PEER = "mobilenet_v2_3d"
NUM_CLASSES = 17


@dataclass(frozen=True)
class Case:
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    sizes: tuple[int, ...] = (128,)

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({extra})" if extra else self.name


CASES = (
    Case(PEER, {"mode": "standard"}, (128, 224)),
    Case(PEER, {"mode": "high_temporal"}, (128,)),
    Case(PEER, {"mode": "standard", "width_mult": 0.5}, (128,)),
    Case(PEER, {"mode": "high_temporal", "width_mult": 0.5}, (128,)),
    Case("i3d", {}, (128, 224)),
    Case("resnet3d", {"use_separable": True}, (128, 224)),
    Case("resnet3d", {"use_separable": False}, (128, 224)),
    Case("pretrained_resnet", {"arch": "r3d_18"}, (128,)),
    Case("pretrained_resnet", {"arch": "r2plus1d_18"}, (128,)),
    *(Case(f"mobilenet_v4_{v}_video") for v in ("nano", "small", "medium", "large", "hybrid_large")),
)


def median_latency_ms(model: nn.Module, clip: torch.Tensor, warmup: int, repeats: int) -> float:
    with torch.inference_mode():
        for _ in range(warmup):
            model(clip)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(clip)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def best_format_latency(model: nn.Module, clip: torch.Tensor, warmup: int, repeats: int) -> tuple[float, str]:
    """(latency, format): contiguous vs channels_last_3d, whichever is faster for this model.

    2D-backbone video models (rank-4 conv weights) run contiguous only: channels_last_3d needs 5D.
    """
    plain = median_latency_ms(model, clip, warmup, repeats)
    if not has_3d_convs_only(model):
        return plain, "NCTHW"
    model_cl = model.to(memory_format=torch.channels_last_3d)
    fast = median_latency_ms(model_cl, clip.contiguous(memory_format=torch.channels_last_3d), warmup, repeats)
    return (fast, "CL3d") if fast < plain else (plain, "NCTHW")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="model names to run (the peer always runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cases = [c for c in CASES if not args.only or c.name in args.only or c is CASES[0]]
    rows, peer_ms = [], {}
    for case in cases:
        model = build_model(case.name, NUM_CLASSES, **case.kwargs).eval()
        params = sum(p.numel() for p in model.parameters())
        for size in case.sizes:
            clip = torch.randn(1, 3, args.frames, size, size)
            flops = count_flops(model, clip)
            ms, fmt = best_format_latency(model, clip, args.warmup, args.repeats)
            model = model.to(memory_format=torch.contiguous_format)
            if case is CASES[0]:
                peer_ms[size] = ms
            rows.append((case.label, f"{args.frames}x{size}x{size}", params, flops, ms, fmt, size))
            print(f"  measured {case.label} @ {size}: {ms:.1f} ms", flush=True)

    print(f"\nCPU, {args.threads} threads, batch 1, fp32, median of {args.repeats} (torch {torch.__version__})")
    header = f"{'model':58} {'input':12} {'params':>12} {'GFLOPs':>8} {'ms/clip':>9} {'format':>6} {'x peer':>7}"
    print(header)
    print("-" * len(header))
    for label, shape, params, flops, ms, fmt, size in rows:
        ratio = ms / peer_ms[size]
        print(f"{label:58} {shape:12} {params:>12,} {flops / 1e9:>8.2f} {ms:>9.1f} {fmt:>6} {ratio:>7.2f}")
    print(f"\nx peer = latency / {CASES[0].label} latency at the same input, same run")


if __name__ == "__main__":
    main()
