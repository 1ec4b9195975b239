"""MobileNetV2-3D (the project's "SparseModel"): inverted residuals with 3x3x3 depthwise convs.

Why this layout: the pretrained 3D MobileNetV2 weights people have (Kinetics / Jester / UCF-101,
widths 0.2x-2.0x) come from the public Efficient-3DCNNs project (``models/mobilenetv2.py``,
``get_model(num_classes, sample_size, width_mult)``). Parameter names (``features.N.conv.M``,
``classifier.1``), channel arithmetic (truncating ``int(c * width_mult)``, expanded width
``round(in * t)``, last conv widened only above 1.0) and initialisation are that project's, so its
checkpoints load with ``load_weights`` and no key remap, and the network computes the same function
in eval mode (their ``avg_pool3d`` over the whole remaining volume is the global mean used here).

Deviations from the reference, both deliberate:

* ``mode="high_temporal"`` replaces every temporal stride 2 by 1 (spatial strides unchanged): a
  16-frame clip keeps 16 time steps up to the last conv, at the same parameter count, for motion
  whose phase matters at frame level (repetition counting, per-frame CAM).
* Every ReLU6 is out of place, so the activations that Grad-CAM records at the layers in
  ``CAM_LAYERS`` are never overwritten afterwards. Activation modules hold no parameters, so the
  state-dict keys are unchanged.

The same network on pose heatmap volumes (``mobilenet_v2_3d_pose``, the issue's cheap alternative to
``posec3d_slowonly``): only the stem conv's input channels change (``in_channels`` 17 keypoint maps,
34 with limb maps, :mod:`exercise_rec.pose.heatmaps`), so the blocks, names and CAM layers are the
video model's. It is a registry entry of its own because an entry's input kind is known before the
model is built (the trainer and ``Predictor`` feed a model by it): ``mobilenet_v2_3d`` always takes
RGB clips, ``mobilenet_v2_3d_pose`` always volumes. At its default input ``(17, 32, 56, 56)`` it
costs ~1.1 GFLOPs, ~18x less than ``posec3d_slowonly`` (20.8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import (
    POSE_KEYPOINTS,
    Classifier,
    check_clip,
    check_num_classes,
    classifier_layer,
)
from exercise_rec.models.registry import register_model

__all__ = [
    "CAM_LAYERS",
    "DEFAULT_GROUPS",
    "MODES",
    "InvertedResidual3D",
    "InvertedResidualGroup",
    "MobileNet3DConfig",
    "MobileNetV2_3D",
    "MobileNetV2_3DPose",
    "POSE_KEYPOINTS",
    "conv_bn_relu6",
    "make_features",
    "mobilenet_v2_3d",
    "mobilenet_v2_3d_pose",
]

Triple = tuple[int, int, int]
MODES = ("standard", "high_temporal")


@dataclass(frozen=True)
class InvertedResidualGroup:
    """``n`` inverted-residual blocks with expansion ``t`` and ``c`` output channels (before width
    scaling); ``stride`` applies to the group's first block only."""

    expand_ratio: int
    channels: int
    num_blocks: int
    stride: Triple


# (t, c, n, s) of MobileNetV2, with the reference's 3D strides.
DEFAULT_GROUPS: tuple[InvertedResidualGroup, ...] = (
    InvertedResidualGroup(1, 16, 1, (1, 1, 1)),
    InvertedResidualGroup(6, 24, 2, (2, 2, 2)),
    InvertedResidualGroup(6, 32, 3, (2, 2, 2)),
    InvertedResidualGroup(6, 64, 4, (2, 2, 2)),
    InvertedResidualGroup(6, 96, 3, (1, 1, 1)),
    InvertedResidualGroup(6, 160, 3, (2, 2, 2)),
    InvertedResidualGroup(6, 320, 1, (1, 1, 1)),
)
_STEM_STRIDE: Triple = (1, 2, 2)


def _is_real(value: object) -> bool:
    """A plain int or float (a bool or a string from a config file is a mistake, not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class MobileNet3DConfig:
    """What defines a MobileNetV2-3D network. ``in_channels``: 3 for RGB clips; the keypoint (and
    limb) heatmaps of a pose volume for :class:`MobileNetV2_3DPose`."""

    num_classes: int = 17
    width_mult: float = 1.0
    mode: str = "standard"
    dropout: float = 0.2
    stem_channels: int = 32
    last_channels: int = 1280
    groups: tuple[InvertedResidualGroup, ...] = DEFAULT_GROUPS
    in_channels: int = 3

    def __post_init__(self) -> None:
        check_num_classes(self.num_classes)
        if type(self.in_channels) is not int or self.in_channels < 1:
            raise ConfigError(f"in_channels must be a positive int, got {self.in_channels!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        width = self.width_mult
        if not _is_real(width) or not math.isfinite(width) or width <= 0:
            raise ConfigError(f"width_mult must be a positive finite number, got {width!r}")
        narrowest = min([self.stem_channels, *(g.channels for g in self.groups)])
        if self.scaled(narrowest) < 1:
            raise ConfigError(
                f"width_mult={width!r} leaves a layer of {narrowest} channels with "
                f"int({narrowest} * {width!r}) = 0 channels; use width_mult >= {1 / narrowest:g}"
            )
        if not _is_real(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout is a drop probability in [0, 1), got {self.dropout!r}")

    def scaled(self, channels: int) -> int:
        """Width-scaled channel count, truncated as the reference does (their checkpoints' shapes)."""
        return int(channels * self.width_mult)

    @property
    def feature_channels(self) -> int:
        """Channels of the last 1x1x1 conv: never narrower than ``last_channels`` (the reference's rule)."""
        return self.scaled(self.last_channels) if self.width_mult > 1.0 else self.last_channels

    def group_stride(self, group: InvertedResidualGroup) -> Triple:
        """The group's first-block stride in this mode: ``high_temporal`` keeps every time step."""
        if self.mode == "high_temporal":
            return (1, group.stride[1], group.stride[2])
        return group.stride


def conv_bn_relu6(
    in_channels: int, out_channels: int, kernel: int, stride: Triple = (1, 1, 1)
) -> nn.Sequential:
    """Conv3d (no bias, "same" padding) -> BatchNorm3d -> ReLU6, keyed ``0``/``1``/``2`` like the
    reference's ``conv_bn`` and ``conv_1x1x1_bn``."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU6(inplace=False),
    )


class InvertedResidual3D(nn.Module):
    """1x1x1 expand (skipped when ``t == 1``) -> 3x3x3 depthwise -> 1x1x1 linear projection, with an
    identity shortcut when the block keeps both shape and channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: Triple, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == (1, 1, 1) and in_channels == out_channels
        expand = [] if expand_ratio == 1 else list(conv_bn_relu6(in_channels, hidden, 1))
        self.conv = nn.Sequential(
            *expand,
            nn.Conv3d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm3d(hidden),
            nn.ReLU6(inplace=False),
            nn.Conv3d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm3d(out_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


def _cam_layers(groups: tuple[InvertedResidualGroup, ...]) -> tuple[str, ...]:
    """``features.N`` of each group's last block (``features.0`` is the stem), then the final conv."""
    names, end = [], 0
    for group in groups:
        end += group.num_blocks
        names.append(f"features.{end}")
    return (*names, f"features.{end + 1}")


def make_features(config: MobileNet3DConfig) -> nn.Sequential:
    """Stem, inverted-residual blocks and final 1x1x1 conv as one flat ``Sequential`` (the
    reference's ``features.N`` numbering)."""
    channels = config.scaled(config.stem_channels)
    layers: list[nn.Module] = [conv_bn_relu6(config.in_channels, channels, 3, _STEM_STRIDE)]
    for group in config.groups:
        out_channels = config.scaled(group.channels)
        for i in range(group.num_blocks):
            stride = config.group_stride(group) if i == 0 else (1, 1, 1)
            layers.append(InvertedResidual3D(channels, out_channels, stride, group.expand_ratio))
            channels = out_channels
    layers.append(conv_bn_relu6(channels, config.feature_channels, 1))
    return nn.Sequential(*layers)


def _init_weights(model: nn.Module) -> None:
    """The reference's initialisation: He-normal (fan-out) convs, unit BatchNorm, N(0, 0.01) head."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


class MobileNetV2_3D(Classifier):
    """MobileNetV2-3D for ``[B, 3, T, H, W]`` clips; any T/H/W >= 1 (padded convs, global pooling)."""

    input_kind = "video"

    def __init__(self, config: MobileNet3DConfig) -> None:
        super().__init__()
        self.config = config
        self.features = make_features(config)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(config.feature_channels, config.num_classes),
        )
        _init_weights(self)

    @property
    def cam_layers(self) -> tuple[str, ...]:
        """Each inverted-residual group's last block, then the final 1x1x1 conv; shallow to deep."""
        return _cam_layers(self.config.groups)

    def feature_map(self, x: Tensor) -> Tensor:
        """Output of the final 1x1x1 conv, ``[B, D, T', H', W']``."""
        return self.features(check_clip(x, self.input_kind, self.config.in_channels))

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally average-pooled features ``[B, D]`` (D = 1280 up to width 1.0)."""
        return self.feature_map(x).mean(dim=(2, 3, 4))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way linear layer (initialised as at construction), same device."""
        old = self.classifier[-1]
        self.classifier[-1] = classifier_layer(old.in_features, num_classes, like=old.weight)
        self.config = replace(self.config, num_classes=num_classes)


class MobileNetV2_3DPose(MobileNetV2_3D):
    """MobileNetV2-3D for ``[B, K, T, H, W]`` pose heatmap volumes (``config.in_channels`` = K)."""

    input_kind = "pose"


CAM_LAYERS = _cam_layers(DEFAULT_GROUPS)


@register_model(
    "mobilenet_v2_3d",
    default_input=(3, 16, 128, 128),
    cam_layers=CAM_LAYERS,
    input_kind="video",
    description="MobileNetV2-3D (Efficient-3DCNNs layout, loads its checkpoints); standard/high_temporal",
)
def mobilenet_v2_3d(
    num_classes: int = 17,
    width_mult: float = 1.0,
    mode: str = "standard",
    dropout: float = 0.2,
) -> MobileNetV2_3D:
    """MobileNetV2-3D; ``mode="high_temporal"`` keeps every time step (no temporal striding)."""
    return MobileNetV2_3D(MobileNet3DConfig(num_classes, width_mult, mode, dropout))


@register_model(
    "mobilenet_v2_3d_pose",
    default_input=(POSE_KEYPOINTS, 32, 56, 56),
    cam_layers=CAM_LAYERS,
    input_kind="pose",
    description="MobileNetV2-3D on 17-keypoint heatmap volumes (~1.1 GFLOPs; posec3d_slowonly's cheap alternative)",
)
def mobilenet_v2_3d_pose(
    num_classes: int = 17,
    in_channels: int = POSE_KEYPOINTS,
    width_mult: float = 1.0,
    mode: str = "standard",
    dropout: float = 0.2,
) -> MobileNetV2_3DPose:
    """MobileNetV2-3D on ``[B, in_channels, T, H, W]`` heatmap volumes; ``in_channels=34`` takes
    keypoint and limb maps (``HeatmapConfig(with_limbs=True)``)."""
    config = MobileNet3DConfig(num_classes, width_mult, mode, dropout, in_channels=in_channels)
    return MobileNetV2_3DPose(config)
