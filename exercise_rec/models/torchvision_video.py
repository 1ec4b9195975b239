"""torchvision's Kinetics-400 video ResNets (r3d_18, mc3_18, r2plus1d_18) behind the registry.

Why a wrapper: the app and trainer need ``forward_features`` and a ``num_classes``-way classifier, and
pretrained weights must come from a local file only (the app runs offline and nothing may call out),
so torchvision's own ``weights=`` path, which downloads, is never used. The wrapper keeps torchvision's
child names (``stem``, ``layer1``..``layer4``, ``avgpool``, ``fc``), so torchvision's checkpoint files
and the state dict of ``torchvision.models.video.r3d_18()`` load unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import get_model_builder, get_model_weights

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import (
    Classifier,
    check_clip,
    check_num_classes,
    classifier_layer,
)
from exercise_rec.models.registry import register_model
from exercise_rec.models.weights import WeightsError, load_weights

log = logging.getLogger(__name__)

__all__ = [
    "ARCHS",
    "CAM_LAYERS",
    "KINETICS400_CLASSES",
    "PretrainedWeightsNotFoundError",
    "VideoResNetClassifier",
    "VideoResNetConfig",
    "build_video_resnet",
    "hub_cache_path",
    "kinetics_weights_url",
    "pretrained_resnet",
]

ARCHS = ("r3d_18", "mc3_18", "r2plus1d_18")
KINETICS400_CLASSES = 400
CAM_LAYERS = ("layer1", "layer2", "layer3", "layer4")  # torchvision's residual stages, shallow to deep


class PretrainedWeightsNotFoundError(WeightsError):
    """Pretrained weights were asked for but no local file holds them (nothing is downloaded)."""


@dataclass(frozen=True)
class VideoResNetConfig:
    """Which torchvision video ResNet, its classifier size, and where its Kinetics weights are.

    Weights are loaded when ``pretrained`` is true or a ``pretrained_path`` is given; without a path
    they are looked for in torch hub's cache, where torchvision itself would have saved them.
    """

    num_classes: int
    arch: str = "r3d_18"
    pretrained: bool = False
    pretrained_path: str | PathLike[str] | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"arch {self.arch!r} is unknown; valid: {', '.join(ARCHS)}")
        check_num_classes(self.num_classes)

    @property
    def wants_weights(self) -> bool:
        return self.pretrained or self.pretrained_path is not None


def kinetics_weights_url(arch: str) -> str:
    """torchvision's URL for ``arch``'s KINETICS400_V1 weights (read from its enum; not fetched)."""
    return get_model_weights(arch)["KINETICS400_V1"].url


def hub_cache_path(arch: str) -> Path:
    """Where ``torch.hub`` keeps ``arch``'s Kinetics file once torchvision has downloaded it."""
    file_name = kinetics_weights_url(arch).rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def _weights_file(config: VideoResNetConfig) -> Path:
    """The local weights file, or an error naming every place looked at and how to provide one."""
    if config.pretrained_path is not None:
        path, where = Path(config.pretrained_path), "pretrained_path"
    else:
        path, where = hub_cache_path(config.arch), "the torch hub cache"
    if not path.is_file():
        raise PretrainedWeightsNotFoundError(
            f"Kinetics-400 weights for {config.arch} not found: looked in {where} at {path}. "
            f"Nothing is downloaded: fetch {kinetics_weights_url(config.arch)} yourself and save it "
            f"at {hub_cache_path(config.arch)}, or pass pretrained_path=<file>"
        )
    return path


class VideoResNetClassifier(Classifier):
    """A torchvision ``VideoResNet`` with ``forward_features`` and a replaceable classifier."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.stem = backbone.stem
        self.layer1, self.layer2 = backbone.layer1, backbone.layer2
        self.layer3, self.layer4 = backbone.layer3, backbone.layer4
        self.avgpool = backbone.avgpool
        self.fc = backbone.fc

    @property
    def cam_layers(self) -> tuple[str, ...]:
        return CAM_LAYERS

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally pooled ``layer4`` features ``[B, 512]``."""
        x = self.stem(check_clip(x, self.input_kind, self.stem[0].in_channels))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.fc(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way ``fc``, initialised as torchvision initialises its own."""
        self.fc = classifier_layer(self.fc.in_features, num_classes, like=self.fc.weight)


def build_video_resnet(config: VideoResNetConfig) -> VideoResNetClassifier:
    """Build with torchvision's 400-way head so its Kinetics file loads strictly, then replace the head.

    With ``num_classes == 400`` and weights, the Kinetics classifier is kept (a ready Kinetics model).
    """
    backbone = get_model_builder(config.arch)(weights=None, num_classes=KINETICS400_CLASSES)
    model = VideoResNetClassifier(backbone)
    if config.wants_weights:
        path = _weights_file(config)
        load_weights(model, path, strict=True)
        log.info("loaded Kinetics-400 weights for %s from %s", config.arch, path)
    if config.num_classes != KINETICS400_CLASSES:
        model.reset_classifier(config.num_classes)
    return model


@register_model(
    "pretrained_resnet",
    default_input=(3, 16, 112, 112),
    cam_layers=CAM_LAYERS,
    input_kind="video",
    description="torchvision video ResNet (r3d_18 / mc3_18 / r2plus1d_18), Kinetics-400 weights from a local file",
)
def pretrained_resnet(
    num_classes: int,
    arch: str = "r3d_18",
    pretrained: bool = False,
    pretrained_path: str | None = None,
) -> VideoResNetClassifier:
    """torchvision video ResNet with a ``num_classes``-way classifier; weights only from a local file."""
    return build_video_resnet(
        VideoResNetConfig(num_classes=num_classes, arch=arch, pretrained=pretrained, pretrained_path=pretrained_path)
    )
