"""CAM benchmark: time of one explanation per layer and method, against one forward+backward pass.

For each checkpoint (default: the two shipped mobilenet_v2_3d files) and each CAM layer, the time
of ``compute_cam`` on one 16x128x128 clip (the checkpoint's input) with Grad-CAM and HiResCAM;
the peer is one plain forward + backward of the same clip through the same model (input gradient
only, as compute_cam does), measured in the same run. Median of ``--repeats`` after a warm-up.

    python benchmarks/cam.py [--threads 2] [--repeats 5] [--checkpoint PATH ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from exercise_rec.explain import cam_layers, compute_cam
from exercise_rec.inference import CHECKPOINT_DIR, Predictor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_ms  # noqa: E402

DEFAULT_CHECKPOINTS = (
    CHECKPOINT_DIR / "mobilenet_v2_3d_standard.pt",
    CHECKPOINT_DIR / "mobilenet_v2_3d_high_temporal.pt",
)


def forward_backward(predictor: Predictor, x: torch.Tensor) -> None:
    """The peer: logits, then the gradient of the top logit with respect to the input only."""
    params = list(predictor.model.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        clip = x[None].clone().requires_grad_(True)
        predictor.model(clip).max().backward()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, nargs="+", default=list(DEFAULT_CHECKPOINTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads} repeats={args.repeats} torch={torch.__version__}")
    print("| model | layer | T' | Grad-CAM ms | HiResCAM ms | fwd+bwd ms | Grad-CAM / fwd+bwd |")
    print("|---|---|---|---|---|---|---|")
    for checkpoint in args.checkpoint:
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        meta = predictor.meta
        x = torch.randn(3, meta.clip_len, *meta.input_size)
        peer = median_ms(lambda: forward_backward(predictor, x), args.repeats)
        label = f"{meta.model_name} {predictor.mode or ''}".strip()
        for layer in cam_layers(predictor.model):
            grad = median_ms(lambda: compute_cam(predictor.model, x, layer, "gradcam"), args.repeats)
            hires = median_ms(lambda: compute_cam(predictor.model, x, layer, "hirescam"), args.repeats)
            t_res = compute_cam(predictor.model, x, layer).info.temporal_resolution
            print(f"| {label} | {layer} | {t_res} | {grad:.1f} | {hires:.1f} | {peer:.1f} | {grad / peer:.2f}x |")


if __name__ == "__main__":
    main()
