"""PoseC3D's SlowOnly: a 3D ResNet on pose heatmap volumes (Duan et al., "Revisiting Skeleton-based
Action Recognition", CVPR 2022).

Why this model: the pose stream sees ``[B, K, T, H, W]`` stacks of keypoint heatmaps
(:mod:`exercise_rec.pose.heatmaps`), which carry only the body's movement; PoseC3D showed that a
light 3D CNN on such volumes beats graph networks on skeletons and is robust to estimator noise.
The architecture is MMAction2's ``ResNet3dSlowOnly`` as configured in
``configs/skeleton/posec3d/slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint.py`` (checked against
that file and MMAction2's ``resnet3d.py`` / ``resnet3d_slowonly.py``)::

    backbone=dict(type='ResNet3dSlowOnly', depth=50, in_channels=17, base_channels=32,
                  num_stages=3, out_indices=(2, ), stage_blocks=(4, 6, 3),
                  conv1_stride_s=1, pool1_stride_s=1, inflate=(0, 1, 1),
                  spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2), dilations=(1, 1, 1))
    cls_head=dict(type='I3DHead', in_channels=512, dropout_ratio=0.5)

That is: a 1x7x7 stem conv of ``width`` (32) channels at stride 1, then a 1x3x3 max-pool at stride
1 (MMAction2 always applies ``maxpool`` after ``conv1``; with ``pool1_stride_s=1`` it keeps the
56x56 size but still takes a 3x3 local maximum), no temporal pooling; three bottleneck stages
(ResNet-50's res3-res5, its res2 dropped) of 4, 6 and 3 blocks, inner widths 32/64/128 and outputs
128/256/512 (expansion 4), each first block striding 2 in space (56 → 28 → 14 → 7) and the last
stage's also 2 in time (32 → 16 frames); temporal 3x1x1 kernels in the first conv of every block
of the last two stages only (``inflate=(0, 1, 1)``, ``inflate_style='3x1x1'``), the stride in the
1x3x3 conv (``style='pytorch'``); He (fan-out) init, the last BN of each block zero-initialised;
then global average pooling, dropout 0.5 and a linear layer initialised N(0, 0.01).

The blocks are :class:`exercise_rec.models.resnet3d.Bottleneck` (same computation as MMAction2's
``Bottleneck3d``), so the module names are this project's separable layout (``stem``,
``body.layer1``..``layer3``, ``head``); :meth:`PoseC3D.remap_state_dict` reads MMAction2's
checkpoint names (``backbone.conv1.conv.weight``, ``backbone.layer1.0.conv1.bn.weight``,
``cls_head.fc_cls.weight``), written from its module layout (not tried on a released file).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace

from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import POSE_KEYPOINTS, Classifier, check_clip, classifier_layer
from exercise_rec.models.registry import register_model
from exercise_rec.models.resnet3d import Bottleneck, ResNetHead, ResNetStem
from exercise_rec.models.weights import StateDict

__all__ = [
    "CAM_LAYERS",
    "PoseC3D",
    "PoseC3DConfig",
    "make_body",
    "make_head",
    "make_stem",
    "posec3d_slowonly",
]

_STAGE_BLOCKS = (4, 6, 3)
_STAGE_TEMPORAL_KERNEL = (1, 3, 3)  # inflate=(0, 1, 1) with inflate_style '3x1x1'
_STAGE_SPATIAL_STRIDE = (2, 2, 2)
_STAGE_TEMPORAL_STRIDE = (1, 1, 2)
_EXPANSION = 4
_STEM_KERNEL = (1, 7, 7)


@dataclass(frozen=True)
class PoseC3DConfig:
    """Architecture of one PoseC3D SlowOnly; ``width`` is MMAction2's ``base_channels`` (32).

    Stage ``i`` has inner width ``width * 2**i`` and ``4 * width * 2**i`` output channels, so
    ``feature_dim`` is ``16 * width`` (512). ``in_channels``: 17 keypoint maps, 34 with limbs.
    """

    num_classes: int = 60
    in_channels: int = POSE_KEYPOINTS
    width: int = 32
    dropout: float = 0.5

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def stage_inner_channels(self, stage: int) -> int:
        return self.width * 2**stage

    def stage_out_channels(self, stage: int) -> int:
        return _EXPANSION * self.stage_inner_channels(stage)

    @property
    def feature_dim(self) -> int:
        return self.stage_out_channels(len(_STAGE_BLOCKS) - 1)


def make_stem(config: PoseC3DConfig) -> ResNetStem:
    """1x7x7 conv at stride 1 → BN → ReLU → 1x3x3 max-pool at stride 1 (MMAction2's conv1, maxpool)."""
    conv = nn.Conv3d(config.in_channels, config.width, _STEM_KERNEL, padding=tuple(k // 2 for k in _STEM_KERNEL), bias=False)
    pool = nn.MaxPool3d((1, 3, 3), stride=1, padding=(0, 1, 1))
    return ResNetStem(conv, nn.BatchNorm3d(config.width), nn.ReLU(), pool)


def make_body(config: PoseC3DConfig) -> nn.Sequential:
    """The three residual stages ``layer1``..``layer3`` (ResNet's res3..res5, MMAction2's names)."""
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = config.width
    for index, num_blocks in enumerate(_STAGE_BLOCKS):
        inner, out = config.stage_inner_channels(index), config.stage_out_channels(index)
        blocks = [
            Bottleneck(
                in_channels if block == 0 else out,
                inner,
                out,
                temporal_kernel=_STAGE_TEMPORAL_KERNEL[index],
                spatial_stride=_STAGE_SPATIAL_STRIDE[index] if block == 0 else 1,
                temporal_stride=_STAGE_TEMPORAL_STRIDE[index] if block == 0 else 1,
            )
            for block in range(num_blocks)
        ]
        stages[f"layer{index + 1}"] = nn.Sequential(*blocks)
        in_channels = out
    return nn.Sequential(stages)


def make_head(config: PoseC3DConfig) -> ResNetHead:
    """Global average pool → dropout → linear N(0, 0.01), MMAction2's ``I3DHead``."""
    return ResNetHead(
        nn.AdaptiveAvgPool3d(1), nn.Dropout(config.dropout), classifier_layer(config.feature_dim, config.num_classes)
    )


def _cam_layers() -> tuple[str, ...]:
    return tuple(f"body.layer{i}" for i in range(1, len(_STAGE_BLOCKS) + 1))


CAM_LAYERS = _cam_layers()

# MMAction2 names -> ours. A block's ConvModules conv1/conv2/conv3 hold .conv and .bn; the
# projection shortcut is downsample.conv / downsample.bn.
_BLOCK_NAMES = {
    "conv1.conv": "conv_a", "conv1.bn": "norm_a", "conv2.conv": "conv_b", "conv2.bn": "norm_b",
    "conv3.conv": "conv_c", "conv3.bn": "norm_c", "downsample.conv": "shortcut_conv", "downsample.bn": "shortcut_norm",
}  # fmt: skip
_MMACTION_BLOCK = re.compile(r"^backbone\.(layer\d+\.\d+)\.(conv[123]\.(?:conv|bn)|downsample\.(?:conv|bn))\.(.+)$")
_MMACTION_PREFIXES = {
    "backbone.conv1.conv.": "stem.conv.",
    "backbone.conv1.bn.": "stem.norm.",
    "cls_head.fc_cls.": "head.proj.",
}


def _translate_key(key: str) -> str:
    """``key`` in our names if it is an MMAction2 one, else unchanged (``load_weights`` reports it)."""
    block = _MMACTION_BLOCK.match(key)
    if block:
        return f"body.{block[1]}.{_BLOCK_NAMES[block[2]]}.{block[3]}"
    for old, new in _MMACTION_PREFIXES.items():
        if key.startswith(old):
            return new + key[len(old) :]
    return key


class PoseC3D(Classifier):
    """PoseC3D SlowOnly for ``[B, K, T, H, W]`` pose heatmap volumes; any T/H/W (global pooling)."""

    input_kind = "pose"

    def __init__(self, config: PoseC3DConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = make_stem(config)
        self.body = make_body(config)
        self.head = make_head(config)
        for module in self.modules():  # MMAction2's kaiming_init: He normal, fan-out; BN stays 1/0
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @property
    def cam_layers(self) -> tuple[str, ...]:
        return CAM_LAYERS

    def feature_map(self, x: Tensor) -> Tensor:
        """Last stage's output ``[B, 16 * width, T/2, H/8, W/8]`` (``(B, 512, 16, 7, 7)`` at 32x56x56)."""
        check_clip(x, self.input_kind, self.config.in_channels)
        return self.body(self.stem(x))

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally pooled features ``[B, feature_dim]``."""
        return self.head.features(self.feature_map(x))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head.classify(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way projection, initialised as at construction, same device."""
        self.config = replace(self.config, num_classes=num_classes)
        old = self.head.proj
        self.head.proj = classifier_layer(old.in_features, num_classes, like=old.weight)

    def remap_state_dict(self, state_dict: StateDict) -> StateDict:
        """MMAction2's PoseC3D keys (``backbone.*``, ``cls_head.fc_cls.*``) in ours; ours pass unchanged."""
        return {_translate_key(key): tensor for key, tensor in state_dict.items()}


@register_model(
    "posec3d_slowonly",
    default_input=(POSE_KEYPOINTS, 32, 56, 56),
    cam_layers=CAM_LAYERS,
    input_kind="pose",
    description="PoseC3D SlowOnly-R50 on 17-keypoint heatmap volumes (MMAction2 NTU-60 keypoint config)",
)
def posec3d_slowonly(
    num_classes: int,
    in_channels: int = POSE_KEYPOINTS,
    width: int = 32,
    dropout: float = 0.5,
) -> PoseC3D:
    """PoseC3D's SlowOnly on ``[B, in_channels, T, H, W]`` heatmap volumes; ``in_channels=34`` takes
    keypoint and limb maps (``HeatmapConfig(with_limbs=True)``); small ``width`` for tests."""
    return PoseC3D(PoseC3DConfig(num_classes=num_classes, in_channels=in_channels, width=width, dropout=dropout))
