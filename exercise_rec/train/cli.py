"""``python -m exercise_rec.train``: the headless trainer's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exercise_rec.cli_common import OneLineParser, run_cli
from exercise_rec.train.config import TrainConfig


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig(data=Path("."))
    p = OneLineParser(
        prog="python -m exercise_rec.train",
        description="Train a registry model on a folder-per-class (or long-recording) video dataset.",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset root (ROOT/<class>/*.mp4 or ROOT/videos+labels)")
    p.add_argument("--model", default=defaults.model, help="registry name (see exercise_rec.models.list_models())")
    p.add_argument("--mode", choices=("standard", "high_temporal"), help="mobilenet_v2_3d temporal mode")
    p.add_argument("--width-mult", type=float, help="mobilenet_v2_3d width multiplier")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--warmup-epochs", type=float, default=defaults.warmup_epochs)
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--num-workers", type=int, help="data loader workers (default: cores-1, 0 with --debug)")
    p.add_argument("--clip-len", type=int, default=defaults.clip_len, help="frames per clip")
    p.add_argument("--size", type=int, default=defaults.size, help="square input size in pixels")
    p.add_argument("--precision", choices=("32-true", "32", "16-mixed", "bf16-mixed"),
                   help="default: bf16-mixed on CUDA, 32 on CPU")
    p.add_argument("--devices", default=defaults.devices, help="'auto', a count (DDP when > 1) or a list")
    p.add_argument("--num-nodes", type=int, default=defaults.num_nodes,
                   help="machines in a multi-node run launched by torchrun or srun (README: multi-node)")
    p.add_argument("--accumulate", type=int, default=defaults.accumulate, help="gradient accumulation steps")
    p.add_argument("--grad-clip", type=float, default=defaults.grad_clip, help="0 disables clipping")
    p.add_argument("--skip-nonfinite", action="store_true",
                   help="skip batches whose loss is NaN/inf (each is logged with its files, and counted) "
                        "instead of stopping the run")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=defaults.channels_last,
                   help="channels_last_3d memory format (default: on; about 2x faster on CPU and GPU)")
    p.add_argument("--patience", type=int, default=defaults.patience, help="early stopping on val top-1")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--debug", action="store_true",
                   help="5%% of batches, no workers, write before/after augmentation videos")
    p.add_argument("--resume", type=Path, help="Lightning checkpoint to continue from (OUT/lightning/last.ckpt)")
    p.add_argument("--init-from", type=Path,
                   help="start from these weights (a best.pt or reference checkpoint); tensors whose name and "
                        "shape match are loaded, e.g. a standard-mode model to fine-tune in high_temporal mode")
    p.add_argument("--out", type=Path, default=defaults.out, help="output directory")
    p.add_argument("--half-checkpoint", action="store_true", help="store best.pt weights as fp16")
    args = p.parse_args(argv)
    return TrainConfig(**vars(args))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)

    def _run() -> int:
        from exercise_rec.train.run import train  # heavy imports after --help

        if not config.data.is_dir():
            raise FileNotFoundError(f"{config.data}: dataset directory not found")
        if config.resume is not None and not config.resume.is_file():
            raise FileNotFoundError(f"{config.resume}: checkpoint to resume from not found")
        if config.init_from is not None and not config.init_from.is_file():
            raise FileNotFoundError(f"{config.init_from}: weights to start from not found")
        result = train(config)
        print(f"best checkpoint: {result.checkpoint}")
        print(f"test metrics: {result.metrics['test']}")
        return 0

    return run_cli(_run)


if __name__ == "__main__":
    sys.exit(main())
