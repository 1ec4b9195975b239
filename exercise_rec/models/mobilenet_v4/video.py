"""MobileNet-v4 for clips: the 2D network applied to every frame, with TSM's temporal shift.

Why: a 2D backbone run per frame is the usual cheap alternative to 3D convolutions; on its own it
sees no motion. TSM (Lin et al., 2019) makes it see motion at zero parameters and almost zero
FLOPs: in every residual block, a fraction of channels of the branch input is taken from the
previous frame and as many from the next frame (zeros past the clip's ends), so stacked blocks mix
information over growing spans of time. Logits come from the features averaged over frames.

The module tree is the 2D model's (the shift is an argument of ``Residual``, the per-stage video
views hold nothing), so the state-dict keys are identical: 2D weights load into the video form
unchanged, and with ``shift_fraction=0`` it computes the 2D model's per-frame features averaged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import check_clip
from exercise_rec.models.mobilenet_v4.blocks import Residual
from exercise_rec.models.mobilenet_v4.config import VARIANTS, MobileNetV4Config
from exercise_rec.models.mobilenet_v4.model import STAGE_NAMES, MobileNetV4
from exercise_rec.models.registry import register_model

__all__ = [
    "VIDEO_CAM_LAYERS",
    "MobileNetV4Video",
    "MobileNetV4VideoConfig",
    "ToVideo",
    "mobilenet_v4_hybrid_large_video",
    "mobilenet_v4_large_video",
    "mobilenet_v4_medium_video",
    "mobilenet_v4_nano_video",
    "mobilenet_v4_small_video",
    "temporal_shift",
]

VIDEO_CAM_LAYERS = tuple(f"stage_views.{name}" for name in STAGE_NAMES)


@dataclass(frozen=True)
class MobileNetV4VideoConfig:
    """A 2D MobileNet-v4 plus the fraction of channels shifted in each temporal direction."""

    backbone: MobileNetV4Config
    shift_fraction: float = 0.125  # TSM's 1/8 back and 1/8 forward; 0 = independent frames

    def __post_init__(self) -> None:
        fraction = self.shift_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not (
            math.isfinite(fraction) and 0.0 <= fraction <= 0.5
        ):
            raise ConfigError(
                f"shift_fraction is the share of channels shifted each way, in [0, 0.5]; got {fraction!r}"
            )
        if fraction > 0 and self.shifted_channels == 0:
            raise ConfigError(
                f"shift_fraction={fraction!r} shifts int({self.backbone.base_channels} * {fraction!r}) = 0 "
                f"of {self.backbone.base_channels} channels; use 0 (no shift) or at least "
                f"{1 / self.backbone.base_channels:g}"
            )

    @property
    def shifted_channels(self) -> int:
        """Channels shifted in each direction in every residual block."""
        return int(self.backbone.base_channels * self.shift_fraction)


def temporal_shift(frames: Tensor, num_frames: int, shifted: int) -> Tensor:
    """TSM's shift on frame-folded maps ``[B*T, C, H, W]``: frame ``t`` gets channels
    ``[0, shifted)`` from frame ``t-1`` and ``[shifted, 2*shifted)`` from frame ``t+1`` (zeros at
    the clip's ends); the other channels stay. No parameters; a copy, never in place."""
    total, channels, height, width = frames.shape
    clip = frames.reshape(total // num_frames, num_frames, channels, height, width)
    from_past = F.pad(clip[:, :-1, :shifted], (0, 0, 0, 0, 0, 0, 1, 0))
    from_future = F.pad(clip[:, 1:, shifted : 2 * shifted], (0, 0, 0, 0, 0, 0, 0, 1))
    return torch.cat([from_past, from_future, clip[:, :, 2 * shifted :]], dim=2).reshape(frames.shape)


class ToVideo(nn.Module):
    """``[B*T, C, H, W]`` -> ``[B, C, T, H, W]`` view: the layer Grad-CAM hooks, so the explanation
    code sees a stage's activations and gradients exactly as it sees a 3D model's."""

    def forward(self, frames: Tensor, num_frames: int) -> Tensor:
        return frames.unflatten(0, (-1, num_frames)).transpose(1, 2)


def _fold(video: Tensor) -> Tensor:
    """``[B, C, T, H, W]`` -> ``[B*T, C, H, W]`` (a view when ``video`` came from ``ToVideo``)."""
    return video.transpose(1, 2).flatten(0, 1)


class MobileNetV4Video(MobileNetV4):
    """MobileNet-v4 with temporal shift for ``[B, 3, T, H, W]`` clips; any T >= 1, H, W >= 1."""

    input_kind = "video"

    def __init__(self, config: MobileNetV4VideoConfig) -> None:
        super().__init__(config.backbone)
        self.video_config = config
        self.stage_views = nn.ModuleDict({name: ToVideo() for name in STAGE_NAMES})

    @property
    def cam_layers(self) -> tuple[str, ...]:
        """Each stage's output as ``[B, C, T, H', W']``, shallow to deep."""
        return VIDEO_CAM_LAYERS

    def feature_map(self, x: Tensor) -> Tensor:
        """Last stage's output ``[B, C, T, H', W']`` (frames are never pooled in time before it)."""
        check_clip(x, self.input_kind, self.config.in_channels)
        num_frames = x.shape[2]
        shifted = self.video_config.shifted_channels
        shift = functools.partial(temporal_shift, num_frames=num_frames, shifted=shifted) if shifted else None
        frames = self.stem(_fold(x))
        for name, stage in self.stages.named_children():
            for block in stage:
                frames = block(frames, shift) if isinstance(block, Residual) else block(frames)
            video = self.stage_views[name](frames, num_frames)
            frames = _fold(video)
        return video

    def forward_features(self, x: Tensor) -> Tensor:
        """Features averaged over space and then time (temporal average pooling), ``[B, C]``."""
        return self.feature_map(x).mean(dim=(2, 3, 4))


def _video_constructor(variant: str) -> Callable[..., MobileNetV4Video]:
    """``mobilenet_v4_<variant>_video(num_classes=17, shift_fraction=0.125)``, registered."""

    def build(num_classes: int = 17, shift_fraction: float = 0.125) -> MobileNetV4Video:
        backbone = VARIANTS[variant].with_io(3, num_classes)
        return MobileNetV4Video(MobileNetV4VideoConfig(backbone, shift_fraction))

    name = f"mobilenet_v4_{variant}_video"
    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"MobileNet-v4 {variant} per frame with TSM temporal shift, for [B, 3, T, H, W] clips."
    return register_model(
        name,
        default_input=(3, 16, 128, 128),
        cam_layers=VIDEO_CAM_LAYERS,
        input_kind="video",
        description=f"MobileNet-v4 {variant} per frame + temporal shift (TSM), temporal average pooling",
    )(build)


mobilenet_v4_nano_video = _video_constructor("nano")
mobilenet_v4_small_video = _video_constructor("small")
mobilenet_v4_medium_video = _video_constructor("medium")
mobilenet_v4_large_video = _video_constructor("large")
mobilenet_v4_hybrid_large_video = _video_constructor("hybrid_large")
