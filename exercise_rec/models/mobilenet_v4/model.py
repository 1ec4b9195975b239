"""The 2D MobileNet-v4 network, its classifier head, and the seed's constructors (registered).

Why: the seed document's image models, with its constructors and parameter counts, for users who
need a fast image backbone; the video form (``video.py``) reuses this module tree frame by frame.
The stem has stride 1 and only the FusedIB blocks reduce resolution (each halves it, rounding
up), so any input of at least 1x1 pixels works; the feature map is pooled globally.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import Classifier, check_clip, classifier_layer
from exercise_rec.models.mobilenet_v4.attention import MobileMQA
from exercise_rec.models.mobilenet_v4.blocks import SE, UIB, ExtraDW, FusedIB, Stem
from exercise_rec.models.mobilenet_v4.config import VARIANTS, MobileNetV4Config
from exercise_rec.models.registry import register_model

__all__ = [
    "CAM_LAYERS",
    "STAGE_NAMES",
    "ClassifierHead",
    "MobileNetV4",
    "SampleSafeBatchNorm1d",
    "build_stages",
    "mobilenet_v4_custom",
    "mobilenet_v4_hybrid_large",
    "mobilenet_v4_large",
    "mobilenet_v4_medium",
    "mobilenet_v4_nano",
    "mobilenet_v4_small",
]

STAGE_NAMES = ("fused_ib", "uib_extradw", "se_uib", "se_mqa")
CAM_LAYERS = tuple(f"stages.{name}" for name in STAGE_NAMES)


class SampleSafeBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` that also trains on a batch of one sample.

    Plain BatchNorm1d raises on one sample in training (a variance over one value is undefined),
    which a last partial batch or a batch-size-1 fine-tune on a small GPU hits. Such a batch is
    normalised with the running statistics instead, which stay unchanged; the affine weights still
    learn. Same parameters and buffers as ``BatchNorm1d``, hence the same state-dict keys.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=self.eps
            )
        return super().forward(x)


class ClassifierHead(nn.Sequential):
    """The seed's MLP head on pooled features: Linear -> BatchNorm1d -> SiLU -> Dropout -> Linear."""

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float) -> None:
        super().__init__(
            OrderedDict(
                fc=nn.Linear(in_features, hidden),
                norm=SampleSafeBatchNorm1d(hidden),
                act=nn.SiLU(),
                dropout=nn.Dropout(dropout),
                logits=nn.Linear(hidden, num_classes),
            )
        )


def build_stages(config: MobileNetV4Config) -> nn.Sequential:
    """The four stages after the stem, named as in ``STAGE_NAMES``; pairs are laid out flat."""
    c, e = config.base_channels, config.expanded_channels

    def pairs(count: int, first: Callable[[], nn.Module], second: Callable[[], nn.Module]) -> nn.Sequential:
        return nn.Sequential(*(block() for _ in range(count) for block in (first, second)))

    stages = {
        "fused_ib": nn.Sequential(*(FusedIB(c, e) for _ in range(config.fused_ibs))),
        "uib_extradw": pairs(config.uib_extradw_pairs, lambda: UIB(c, e), lambda: ExtraDW(c, e)),
        "se_uib": pairs(config.se_uib_pairs, lambda: SE(c, config.squeeze_channels), lambda: UIB(c, e)),
        "se_mqa": pairs(
            config.se_mqa_pairs,
            lambda: SE(c, config.squeeze_channels),
            lambda: MobileMQA(c, config.num_heads, config.mqa_reduction),
        ),
    }
    return nn.Sequential(OrderedDict((name, stages[name]) for name in STAGE_NAMES))


class MobileNetV4(Classifier):
    """MobileNet-v4 image model: ``[B, in_channels, H, W]`` -> ``[B, num_classes]`` logits."""

    input_kind = "image"

    def __init__(self, config: MobileNetV4Config) -> None:
        super().__init__()
        self.config = config
        self.stem = Stem(config.in_channels, config.base_channels)
        self.stages = build_stages(config)
        self.head = ClassifierHead(
            config.base_channels, config.hidden_dim_classifier, config.num_classes, config.dropout
        )

    @property
    def cam_layers(self) -> tuple[str, ...]:
        """Each stage's output ``[B, C, H', W']``, shallow to deep."""
        return CAM_LAYERS

    def feature_map(self, x: Tensor) -> Tensor:
        """Last stage's output ``[B, C, H', W']`` (H' = H / 2**fused_ibs, rounded up)."""
        return self.stages(self.stem(check_clip(x, self.input_kind, self.config.in_channels)))

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally average-pooled features ``[B, base_channels]``."""
        return self.feature_map(x).mean(dim=(2, 3))

    def forward_head(self, features: Tensor) -> Tensor:
        """The seed's MLP head (hidden layer, norm, dropout, logits)."""
        return self.head(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way last linear layer (PyTorch's init, as built); the MLP's hidden
        layer is kept, as timm keeps MobileNet's ``conv_head``."""
        self.config = dataclasses.replace(self.config, num_classes=num_classes)
        old = self.head.logits
        self.head.logits = classifier_layer(old.in_features, num_classes, like=old.weight, std=None)


def _image_constructor(variant: str) -> Callable[..., MobileNetV4]:
    """The seed's ``mobilenet_v4_<variant>(in_channels=3, num_classes=1000)``, registered."""

    def build(in_channels: int = 3, num_classes: int = 1000) -> MobileNetV4:
        return MobileNetV4(VARIANTS[variant].with_io(in_channels, num_classes))

    name = f"mobilenet_v4_{variant}"
    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"MobileNet-v4 {variant} image model (seed document's configuration)."
    return register_model(
        name,
        default_input=(3, 224, 224),
        cam_layers=CAM_LAYERS,
        input_kind="image",
        description=f"MobileNet-v4 {variant}, 2D image model [B, C, H, W] (seed's {variant} configuration)",
    )(build)


mobilenet_v4_nano = _image_constructor("nano")
mobilenet_v4_small = _image_constructor("small")
mobilenet_v4_medium = _image_constructor("medium")
mobilenet_v4_large = _image_constructor("large")
mobilenet_v4_hybrid_large = _image_constructor("hybrid_large")


@register_model(
    "mobilenet_v4_custom",
    default_input=(3, 224, 224),
    cam_layers=CAM_LAYERS,
    input_kind="image",
    description="MobileNet-v4 with every width and block count chosen by the caller, 2D image model",
)
def mobilenet_v4_custom(
    in_channels: int = 3,
    num_classes: int = 1000,
    base_channels: int = 16,
    expanded_channels: int = 32,
    squeeze_ratio: float = 0.25,
    num_heads: int = 2,
    hidden_dim_classifier: int = 64,
    dropout: float = 0.2,
    FusedIBs: int = 1,
    UIB_and_ExtraDWs: int = 1,
    SE_and_UIBs: int = 1,
    SE_and_MobileMQAs: int = 1,
    mqa_reduction: bool = False,
) -> MobileNetV4:
    """MobileNet-v4 of any size, with the seed's signature; the SE block squeezes to
    ``int(base_channels * squeeze_ratio)`` channels. ``mqa_reduction`` (not in the seed's
    signature) enables the stride-2 query and key/value paths hybrid_large uses."""
    ratio = squeeze_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ConfigError(f"squeeze_ratio must be a number in (0, 1], got {ratio!r}")
    if isinstance(base_channels, int) and int(base_channels * ratio) < 1:
        raise ConfigError(
            f"squeeze_ratio={ratio!r} squeezes base_channels={base_channels} to 0 channels"
        )
    return MobileNetV4(
        MobileNetV4Config(
            base_channels=base_channels,
            expanded_channels=expanded_channels,
            squeeze_channels=int(base_channels * squeeze_ratio),
            num_heads=num_heads,
            hidden_dim_classifier=hidden_dim_classifier,
            dropout=dropout,
            fused_ibs=FusedIBs,
            uib_extradw_pairs=UIB_and_ExtraDWs,
            se_uib_pairs=SE_and_UIBs,
            se_mqa_pairs=SE_and_MobileMQAs,
            mqa_reduction=mqa_reduction,
            in_channels=in_channels,
            num_classes=num_classes,
        )
    )
