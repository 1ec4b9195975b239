"""The one description of a training run: fields, defaults, help texts and limits.

Why one dataclass: the command line (``train/cli.py`` builds its parser from these fields), code
and tests all fill the same object, so an option, its default and its description are written
once; ``config.json`` next to the results records it for reproducibility.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import torch

from exercise_rec.errors import ConfigError
from exercise_rec.models import get_entry, list_models
from exercise_rec.models.mobilenet_v2_3d import MODES
from exercise_rec.models.registry import check_model_args
from exercise_rec.pose.heatmaps import HeatmapConfig, model_heatmaps

PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed")
# Options that are shortcuts for a model keyword argument (--mode standard = --model-kwargs mode=standard).
_MODEL_SHORTCUTS = ("mode", "width_mult")
# What the trainer feeds: clips [B, 3, T, H, W] to video models, heatmap volumes [B, K, T, H, W] of the
# pose estimator's keypoints to pose models (exercise_rec.pose.heatmaps).
TRAINABLE_KINDS = ("video", "pose")
VIDEO_CLIP_LEN, VIDEO_SIZE = 16, 128
POSE_FRAMES, POSE_SIZE = HeatmapConfig().frames, HeatmapConfig().size  # 32 frames of 56x56 heatmaps


def option(default: Any, help: str, *, minimum: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """A field with its command-line help; ``minimum`` and ``choices`` are checked when the config is made.
    ``default``: a value, ``MISSING`` (required) or a mutable default's type (``dict``)."""
    metadata = {"help": help, "minimum": minimum, "choices": choices}
    if isinstance(default, type):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything a run depends on; saved next to the results for reproducibility.

    A ``None`` default means "chosen at run time"; the help text says how.
    """

    data: Path = option(MISSING, "dataset root: ROOT/<class>/*.mp4, or ROOT/videos + ROOT/labels for long recordings")
    model: str = option("mobilenet_v2_3d", "registry name")  # cli.py lists the names
    model_kwargs: dict[str, Any] = option(
        dict, "model options as KEY=VALUE (numbers, true/false or text), e.g. depth=18 "
        "use_separable=false for resnet3d; unknown keys are refused with the valid ones listed")
    mode: str | None = option(None, "mobilenet_v2_3d temporal mode (same as --model-kwargs mode=...); "
                              "default: the model's own (standard)", choices=MODES)
    width_mult: float | None = option(None, "mobilenet_v2_3d width multiplier (same as --model-kwargs "
                                      "width_mult=...); default: the model's own (1.0)")
    epochs: int = option(30, "training epochs (early stopping may end sooner)", minimum=1)
    batch_size: int = option(8, "clips per batch and device", minimum=1)
    lr: float = option(1e-3, "peak learning rate of AdamW (after warm-up, then cosine decay)", minimum=0.0)
    weight_decay: float = option(1e-4, "AdamW weight decay (not applied to norms and biases)", minimum=0.0)
    warmup_epochs: float = option(1.0, "epochs of linear learning-rate warm-up", minimum=0.0)
    label_smoothing: float = option(0.0, "cross-entropy label smoothing, 0 to 1", minimum=0.0)
    num_workers: int | None = option(None, "data loader workers per device; default: cores - 1 (0 with --debug)",
                                     minimum=0)
    clip_len: int | None = option(None, f"frames per clip; default {VIDEO_CLIP_LEN}, for pose models the heatmap "
                                  f"volume's frames, default {POSE_FRAMES}", minimum=1)
    size: int | None = option(None, f"square input size in pixels; default {VIDEO_SIZE}, for pose models the "
                              f"heatmap size, default {POSE_SIZE}", minimum=8)
    framing: str = option("person", "crop each clip around its person (boxes from the generator's joints, or the "
                          "pose estimator for videos without them), jittered, as prediction frames it; or "
                          "the frame's centre (random resized crop); pose models always see the person",
                          choices=("person", "centre"))
    precision: str | None = option(None, "default: bf16-mixed on CUDA, 32-true on CPU", choices=PRECISIONS)
    devices: str = option("auto", "'auto', a count per machine (DDP when > 1) or a list such as 0,1")
    num_nodes: int = option(1, "machines in a multi-node run launched by torchrun or srun (README: multi-GPU)",
                            minimum=1)
    accumulate: int = option(1, "gradient accumulation steps", minimum=1)
    grad_clip: float = option(1.0, "gradient norm clipping; 0 disables it", minimum=0.0)
    skip_nonfinite: bool = option(False, "skip (and count) batches whose loss is NaN/inf, each logged with its "
                                  "files, instead of stopping the run (single device only)")
    compile: bool = option(False, "torch.compile the model")
    # channels_last_3d: measured 2.0x faster training for mobilenet_v2_3d on CPU (oneDNN) as well.
    channels_last: bool = option(True, "channels_last_3d memory format (about 2x faster on CPU and GPU)")
    patience: int = option(10, "early stopping: epochs without a better val top-1", minimum=1)
    seed: int = option(0, "seed of weights, augmentation and data order", minimum=0)
    deterministic: bool = option(False, "deterministic algorithms only (slower)")
    debug: bool = option(False, "5% of the training batches, no workers, before/after augmentation videos "
                         "in OUT/debug_output")
    resume: Path | None = option(None, "Lightning checkpoint to continue from (OUT/lightning/last.ckpt)")
    init_from: Path | None = option(None, "start from these weights (a best.pt or reference checkpoint): tensors "
                                    "whose name and shape match are loaded, e.g. a standard-mode model to "
                                    "fine-tune in high_temporal mode; the optimizer starts fresh")
    out: Path = option(Path("runs/exp"), "output folder")
    half_checkpoint: bool = option(False, "store best.pt weights as fp16")

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value, minimum, choices = getattr(self, spec.name), spec.metadata["minimum"], spec.metadata["choices"]
            if value is None:
                continue
            if minimum is not None and value < minimum:
                raise ConfigError(f"{spec.name} must be >= {minimum:g}, got {value}")
            if choices is not None and value not in choices:
                raise ConfigError(f"{spec.name} must be one of {', '.join(choices)}, got {value!r}")
        if self.label_smoothing >= 1:
            raise ConfigError(f"label_smoothing must be below 1, got {self.label_smoothing}")
        for key in _MODEL_SHORTCUTS:
            value = getattr(self, key)
            if value is not None and self.model_kwargs.get(key, value) != value:
                raise ConfigError(f"{key} is set twice, differently: {value!r} and model_kwargs "
                                  f"{key}={self.model_kwargs[key]!r}")

    def resolved_model_kwargs(self) -> dict[str, Any]:
        """``model_kwargs`` plus the shortcuts the user set; only those, so the model's defaults apply."""
        shortcuts = {k: getattr(self, k) for k in _MODEL_SHORTCUTS if getattr(self, k) is not None}
        return {**self.model_kwargs, **shortcuts}

    @property
    def is_pose(self) -> bool:
        """Whether the model takes pose heatmap volumes (the data module then yields those)."""
        return input_kind(self.model) == "pose"

    def resolved_clip_len(self) -> int:
        """``clip_len``, or the default for the model's input kind."""
        return self.clip_len or (POSE_FRAMES if self.is_pose else VIDEO_CLIP_LEN)

    def resolved_size(self) -> int:
        """``size``, or the default for the model's input kind."""
        return self.size or (POSE_SIZE if self.is_pose else VIDEO_SIZE)

    def heatmaps(self) -> HeatmapConfig | None:
        """The volumes a pose model is fed (channels from its ``in_channels``); None for video models."""
        return model_heatmaps(self.model, self.resolved_model_kwargs(), self.resolved_clip_len(), self.resolved_size())

    def resolved_precision(self) -> str:
        if self.precision:
            return self.precision
        return "bf16-mixed" if torch.cuda.is_available() else "32-true"


def input_kind(model: str) -> str:
    """What ``model`` takes: "video" ([B, 3, T, H, W] clips, what the trainer feeds), "image", "pose"..."""
    return getattr(get_entry(model), "input_kind", "video")


def video_models() -> list[str]:
    """The registry models this trainer feeds clips."""
    return [name for name in list_models() if input_kind(name) == "video"]


def pose_models() -> list[str]:
    """The registry models this trainer feeds pose heatmap volumes."""
    return [name for name in list_models() if input_kind(name) == "pose"]


def check_trainable(config: TrainConfig) -> None:
    """Refuse an unknown model, an unknown model option, a model that takes neither video clips nor pose
    volumes, or options a pose model cannot have, before any data is read (a 2-D image model would
    otherwise fail at the first batch)."""
    check_model_args(config.model, **config.resolved_model_kwargs())
    kind = input_kind(config.model)
    if kind not in TRAINABLE_KINDS:
        videos = video_models()
        forms = [name for name in videos if name.startswith(config.model)]
        hint = f"its video form {', '.join(forms)} or another " if forms else "a "
        raise ConfigError(f"model {config.model!r} takes {kind} input, not video clips or pose volumes; train {hint}"
                          f"video model: {', '.join(videos)} (pose models: {', '.join(pose_models())})")
    if kind == "pose":
        if config.framing != "person":
            raise ConfigError(f"model {config.model!r} takes pose volumes, always centred on the person; "
                              f"--framing {config.framing} applies to video models only")
        try:
            config.heatmaps()
        except ValueError as err:  # in_channels other than 17 (keypoints) or 34 (with limbs)
            raise ConfigError(f"model {config.model!r}: {err}") from None
