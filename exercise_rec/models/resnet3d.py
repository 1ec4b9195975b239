"""Separable ResNet-3D with pytorchvideo's ``slow_r50`` geometry, and its multi-view variant.

Why this model: ``slow_r50`` is the Kinetics-pretrained 3D ResNet people bring weights for, so the
geometry copies pytorchvideo's ``create_resnet`` exactly (1x7x7 stem, max-pool 1x3x3, bottlenecks
whose temporal 3x1x1 kernel sits in ``conv_a`` of res4/res5 only and whose spatial stride sits in
``conv_b``), and ``remap_state_dict`` reads its ``blocks.N`` checkpoints. Why "separable": Grad-CAM,
feature extraction and transfer learning want the network split into stem / body / head; the
separable layout registers exactly those three modules, the standard layout keeps the familiar flat
ResNet names (``conv1``, ``layer1``..``layer4``, ``fc``). Both share every building block, compute the
same function, and read each other's state dicts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import (
    Classifier,
    ModelInputError,
    check_clip,
    classifier_layer,
)
from exercise_rec.models.registry import register_model
from exercise_rec.models.weights import StateDict

__all__ = [
    "DEFAULT_VIEWS",
    "STAGE_BLOCKS",
    "STEMS",
    "Bottleneck",
    "MultiViewResNet3D",
    "ResNet3D",
    "ResNet3DConfig",
    "ResNetHead",
    "ResNetStem",
    "StemSpec",
    "make_body",
    "make_head",
    "make_stem",
    "multiview_resnet3d",
    "resnet3d",
]

# Bottleneck blocks per stage (res2..res5) for each depth, as in pytorchvideo's _MODEL_STAGE_DEPTH.
STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
# slow_r50: conv_a is 1x1x1 in res2/res3 and 3x1x1 in res4/res5 (the "slow" pathway's choice:
# temporal modelling only where the receptive field is large); no temporal stride anywhere.
_STAGE_TEMPORAL_KERNEL = (1, 1, 3, 3)
_STAGE_SPATIAL_STRIDE = (1, 2, 2, 2)
_BOTTLENECK_EXPANSION = 4
DEFAULT_VIEWS = ("front", "side")


@dataclass(frozen=True)
class StemSpec:
    """Stem convolution geometry; padding is ``kernel // 2`` per axis, as pytorchvideo computes it."""

    conv_kernel: tuple[int, int, int]
    conv_stride: tuple[int, int, int] = (1, 2, 2)
    pool_kernel: tuple[int, int, int] = (1, 3, 3)
    pool_stride: tuple[int, int, int] = (1, 2, 2)

    @property
    def conv_padding(self) -> tuple[int, int, int]:
        return _half(self.conv_kernel)

    @property
    def pool_padding(self) -> tuple[int, int, int]:
        return _half(self.pool_kernel)


def _half(kernel: tuple[int, int, int]) -> tuple[int, int, int]:
    return (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)


STEMS: dict[str, StemSpec] = {
    # pytorchvideo slow_r50: purely spatial stem, so every input frame keeps its own features.
    "slow_r50": StemSpec(conv_kernel=(1, 7, 7)),
    # The seed spec's stem: full 7x7x7 spatiotemporal kernel, same strides (no temporal stride).
    "7x7x7": StemSpec(conv_kernel=(7, 7, 7)),
}


@dataclass(frozen=True)
class ResNet3DConfig:
    """Architecture of one ResNet-3D; ``width`` is the stem's channel count (64 in slow_r50).

    Stage ``i`` (0-based) has inner width ``width * 2**i`` and output ``4 * width * 2**i`` channels,
    so ``feature_dim`` is ``32 * width`` (2048 for slow_r50). Small widths make fast tests.
    """

    num_classes: int = 400
    depth: int = 50
    stem: str = "slow_r50"
    width: int = 64
    dropout: float = 0.5
    in_channels: int = 3

    def __post_init__(self) -> None:
        if self.depth not in STAGE_BLOCKS:
            raise ConfigError(
                f"depth {self.depth!r} is not supported; valid depths: {', '.join(map(str, STAGE_BLOCKS))}"
            )
        if self.stem not in STEMS:
            raise ConfigError(f"stem {self.stem!r} is unknown; valid stems: {', '.join(STEMS)}")
        for name in ("num_classes", "width", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def feature_dim(self) -> int:
        return self.stage_out_channels(len(_STAGE_SPATIAL_STRIDE) - 1)

    def stage_inner_channels(self, stage: int) -> int:
        return self.width * 2**stage

    def stage_out_channels(self, stage: int) -> int:
        return _BOTTLENECK_EXPANSION * self.stage_inner_channels(stage)


class Bottleneck(nn.Module):
    """ResNet bottleneck: temporal ``kt x1x1`` conv_a → spatial 1x3x3 conv_b (carrying the stride,
    as in pytorchvideo) → 1x1x1 conv_c, plus a projection shortcut when the shape changes.
    ``temporal_stride`` (1 in slow_r50; 2 in PoseC3D's last stage) strides conv_b and the shortcut
    in time too, as MMAction2's ``Bottleneck3d`` does."""

    def __init__(
        self,
        in_channels: int,
        inner: int,
        out_channels: int,
        temporal_kernel: int,
        spatial_stride: int,
        temporal_stride: int = 1,
    ) -> None:
        super().__init__()
        stride = (temporal_stride, spatial_stride, spatial_stride)
        self.conv_a = nn.Conv3d(
            in_channels, inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False
        )
        self.norm_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(
            inner, inner, (1, 3, 3), stride=stride, padding=(0, 1, 1), bias=False
        )
        self.norm_b = nn.BatchNorm3d(inner)
        self.conv_c = nn.Conv3d(inner, out_channels, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(out_channels)
        # Not in-place: Grad-CAM hooks read block outputs, which an in-place ReLU would overwrite.
        self.act = nn.ReLU()
        needs_projection = in_channels != out_channels or stride != (1, 1, 1)
        self.shortcut_conv = (
            nn.Conv3d(in_channels, out_channels, 1, stride=stride, bias=False)
            if needs_projection
            else None
        )
        self.shortcut_norm = nn.BatchNorm3d(out_channels) if needs_projection else None
        # Zero-init the last BN so each block starts as the identity (Goyal et al.), as pytorchvideo does.
        nn.init.zeros_(self.norm_c.weight)

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.norm_a(self.conv_a(x)))
        out = self.act(self.norm_b(self.conv_b(out)))
        out = self.norm_c(self.conv_c(out))
        shortcut = x if self.shortcut_conv is None else self.shortcut_norm(self.shortcut_conv(x))
        return self.act(out + shortcut)


class ResNetStem(nn.Module):
    """conv → BN → ReLU → max-pool; built from given modules so the standard layout can view its own."""

    def __init__(self, conv: nn.Conv3d, norm: nn.BatchNorm3d, act: nn.Module, pool: nn.MaxPool3d) -> None:
        super().__init__()
        self.conv, self.norm, self.act, self.pool = conv, norm, act, pool

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.act(self.norm(self.conv(x))))


class ResNetHead(nn.Module):
    """Global average pool → dropout → linear.

    pytorchvideo's head is AvgPool3d(8,7,7) → dropout → per-position linear → global average; since the
    linear map commutes with averaging, this equals it whenever the pool covers the whole feature map
    (an 8x224x224 clip), and unlike a fixed pool it works for any clip size.
    """

    def __init__(self, pool: nn.Module, dropout: nn.Module, proj: nn.Linear) -> None:
        super().__init__()
        self.pool, self.dropout, self.proj = pool, dropout, proj

    def features(self, feature_map: Tensor) -> Tensor:
        """``[B, D, T, H, W]`` → pooled ``[B, D]``."""
        return torch.flatten(self.pool(feature_map), 1)

    def classify(self, features: Tensor) -> Tensor:
        """Pooled ``[B, D]`` → logits ``[B, num_classes]``."""
        return self.proj(self.dropout(features))

    def forward(self, feature_map: Tensor) -> Tensor:
        return self.classify(self.features(feature_map))


def make_stem(config: ResNet3DConfig) -> ResNetStem:
    spec = STEMS[config.stem]
    conv = nn.Conv3d(
        config.in_channels,
        config.width,
        spec.conv_kernel,
        stride=spec.conv_stride,
        padding=spec.conv_padding,
        bias=False,
    )
    pool = nn.MaxPool3d(spec.pool_kernel, stride=spec.pool_stride, padding=spec.pool_padding)
    return ResNetStem(conv, nn.BatchNorm3d(config.width), nn.ReLU(), pool)


def make_body(config: ResNet3DConfig) -> nn.Sequential:
    """The four residual stages, named ``layer1``..``layer4`` (pytorchvideo's res2..res5)."""
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    in_channels = config.width
    for index, num_blocks in enumerate(STAGE_BLOCKS[config.depth]):
        inner, out = config.stage_inner_channels(index), config.stage_out_channels(index)
        blocks = [
            Bottleneck(
                in_channels if block == 0 else out,
                inner,
                out,
                temporal_kernel=_STAGE_TEMPORAL_KERNEL[index],
                spatial_stride=_STAGE_SPATIAL_STRIDE[index] if block == 0 else 1,
            )
            for block in range(num_blocks)
        ]
        stages[f"layer{index + 1}"] = nn.Sequential(*blocks)
        in_channels = out
    return nn.Sequential(stages)


def make_head(in_features: int, num_classes: int, dropout: float) -> ResNetHead:
    """Pool, dropout and a linear layer initialised N(0, 0.01), as pytorchvideo's head."""
    return ResNetHead(nn.AdaptiveAvgPool3d(1), nn.Dropout(dropout), classifier_layer(in_features, num_classes))


def _init_convs(model: nn.Module) -> None:
    """He (fan-out) init for every conv, pytorchvideo's ``c2_msra_fill``; BN keeps PyTorch's 1/0."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


# Where each part of the network lives in each key layout; a stage prefix is followed by
# "<block index>.<block-internal name>".
_NUM_STAGES = len(_STAGE_SPATIAL_STRIDE)
_KEY_LAYOUTS: dict[str, dict[str, str]] = {
    "pytorchvideo": {
        "stem_conv": "blocks.0.conv.",
        "stem_norm": "blocks.0.norm.",
        **{f"stage{i}": f"blocks.{i}.res_blocks." for i in range(1, _NUM_STAGES + 1)},
        "proj": f"blocks.{_NUM_STAGES + 1}.proj.",
    },
    "separable": {
        "stem_conv": "stem.conv.",
        "stem_norm": "stem.norm.",
        **{f"stage{i}": f"body.layer{i}." for i in range(1, _NUM_STAGES + 1)},
        "proj": "head.proj.",
    },
    "standard": {
        "stem_conv": "conv1.",
        "stem_norm": "bn1.",
        **{f"stage{i}": f"layer{i}." for i in range(1, _NUM_STAGES + 1)},
        "proj": "fc.",
    },
}
# pytorchvideo's ResBlock keeps the residual branch in ``branch2`` and the shortcut in ``branch1_*``.
_PYTORCHVIDEO_BLOCK_NAMES = {"branch2.": "", "branch1_conv.": "shortcut_conv.", "branch1_norm.": "shortcut_norm."}


def _translate_key(key: str, target: str) -> str:
    """``key`` from any known layout in the ``target`` layout's names; unknown keys are returned as is
    so that ``load_weights`` reports them by name."""
    for layout, parts in _KEY_LAYOUTS.items():
        for part, prefix in parts.items():
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if layout == "pytorchvideo" and part.startswith("stage"):
                index, _, inner = rest.partition(".")
                for old, new in _PYTORCHVIDEO_BLOCK_NAMES.items():
                    if inner.startswith(old):
                        inner = new + inner[len(old):]
                        break
                rest = f"{index}.{inner}"
            return _KEY_LAYOUTS[target][part] + rest
    return key


def _stage_names(prefix: str = "") -> tuple[str, ...]:
    """``layer1``..``layer4`` under ``prefix`` (``"body."`` in the separable layout)."""
    return tuple(f"{prefix}layer{i}" for i in range(1, _NUM_STAGES + 1))


def _resnet_cam_layers(use_separable: bool) -> tuple[str, ...]:
    """The four residual stages in the layout's names, shallow to deep: the one definition the
    model and its registration (the default, separable layout) both read."""
    return _stage_names("body." if use_separable else "")


def _multiview_cam_layers(views: Sequence[str]) -> tuple[str, ...]:
    """Each view's last stage (maps of that view's clip), then the fused map (all views)."""
    return (*(f"backbones.{view}.body.layer4" for view in views), "fusion")


class ResNet3D(Classifier):
    """ResNet-3D for ``[B, C, T, H, W]`` clips; ``use_separable`` picks the module layout only."""

    def __init__(self, config: ResNet3DConfig, use_separable: bool = True) -> None:
        super().__init__()
        self.config = config
        self.use_separable = use_separable
        stem = make_stem(config)
        body = make_body(config)
        head = make_head(config.feature_dim, config.num_classes, config.dropout)
        if use_separable:
            self.stem, self.body, self.head = stem, body, head
        else:
            self.conv1, self.bn1, self.relu, self.maxpool = stem.conv, stem.norm, stem.act, stem.pool
            for name, stage in body.named_children():
                self.add_module(name, stage)
            self.avgpool, self.dropout, self.fc = head.pool, head.dropout, head.proj
        _init_convs(self)

    @property
    def layout(self) -> str:
        return "separable" if self.use_separable else "standard"

    @property
    def cam_layers(self) -> tuple[str, ...]:
        return _resnet_cam_layers(self.use_separable)

    def get_stem(self) -> ResNetStem:
        """The stem as one module (in the standard layout, a view over ``conv1``/``bn1``/... )."""
        if self.use_separable:
            return self.stem
        return ResNetStem(self.conv1, self.bn1, self.relu, self.maxpool)

    def get_body(self) -> nn.Sequential:
        """The residual stages ``layer1``..``layer4`` as one module."""
        if self.use_separable:
            return self.body
        return nn.Sequential(OrderedDict((name, getattr(self, name)) for name in _stage_names()))

    def get_head(self) -> ResNetHead:
        """Pooling, dropout and classifier as one module taking the body's feature map."""
        if self.use_separable:
            return self.head
        return ResNetHead(self.avgpool, self.dropout, self.fc)

    def feature_map(self, x: Tensor) -> Tensor:
        """Body output ``[B, feature_dim, T, H/32, W/32]`` (``(B, 2048, 16, 7, 7)`` for 16x224x224)."""
        check_clip(x, self.input_kind, self.config.in_channels)
        return self.get_body()(self.get_stem()(x))

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally pooled body features ``[B, feature_dim]``."""
        return self.get_head().features(self.feature_map(x))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.get_head().classify(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way projection, initialised as at construction, same device."""
        self.config = replace(self.config, num_classes=num_classes)
        old = self.get_head().proj
        proj = classifier_layer(old.in_features, num_classes, like=old.weight)
        if self.use_separable:
            self.head.proj = proj
        else:
            self.fc = proj

    def remap_state_dict(self, state_dict: StateDict) -> StateDict:
        """Keys of pytorchvideo's ``slow_r50`` (``blocks.N...``) or of the other layout, in ours."""
        return {_translate_key(key, self.layout): tensor for key, tensor in state_dict.items()}


def _validate_views(views: Sequence[str]) -> tuple[str, ...]:
    if isinstance(views, str):
        raise ConfigError(f"views must be a sequence of view names, got the string {views!r}")
    names = tuple(views)
    if not names:
        raise ConfigError("views must name at least one view")
    for name in names:
        if not isinstance(name, str) or not name or "." in name or hasattr(nn.ModuleDict, name):
            raise ConfigError(
                f"view name {name!r} is not usable: it must be a non-empty string without '.' "
                "that is not an nn.ModuleDict attribute"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"view names must be unique, got {names}")
    return names


class MultiViewResNet3D(Classifier):
    """One stem+body per camera view, a 1x1x1 fusion conv over the concatenated feature maps, one head.

    Why per-view backbones: each camera sees the exercise from its own geometry, so weights are not
    shared; fusing feature maps (not logits) lets the head use cross-view evidence. The fusion is
    conv → BN → ReLU: a bare 1x1x1 conv followed by pooling and a linear head would collapse into a
    single linear map. Views are aligned in time and space, so every view must give the same
    feature-map size (same T/H/W). Input: a ``[B, V, C, T, H, W]`` stack or a dict of views.
    """

    input_kind = "multiview"

    def __init__(self, config: ResNet3DConfig, views: Sequence[str] = DEFAULT_VIEWS) -> None:
        super().__init__()
        self.config = config
        self.views = _validate_views(views)
        self.backbones = nn.ModuleDict(
            {
                name: nn.Sequential(OrderedDict(stem=make_stem(config), body=make_body(config)))
                for name in self.views
            }
        )
        dim = config.feature_dim
        self.fusion = nn.Sequential(
            OrderedDict(
                conv=nn.Conv3d(len(self.views) * dim, dim, 1, bias=False),
                norm=nn.BatchNorm3d(dim),
                act=nn.ReLU(),
            )
        )
        self.head = make_head(dim, config.num_classes, config.dropout)
        _init_convs(self)

    @property
    def cam_layers(self) -> tuple[str, ...]:
        return _multiview_cam_layers(self.views)

    def _split(self, inputs: Mapping[str, Tensor] | Tensor) -> list[Tensor]:
        """Per-view clips, in ``self.views`` order, from a dict or a ``[B, V, C, T, H, W]`` stack."""
        channels = self.config.in_channels
        if isinstance(inputs, Tensor):
            what = f"input (views {', '.join(self.views)})"
            return list(check_clip(inputs, self.input_kind, channels, views=len(self.views), what=what).unbind(1))
        if not isinstance(inputs, Mapping):
            raise ModelInputError(
                f"expected a dict of views {list(self.views)} -> [B, C, T, H, W], got {type(inputs).__name__}"
            )
        missing = [v for v in self.views if v not in inputs]
        unknown = sorted(set(inputs) - set(self.views))
        if missing or unknown:
            raise ModelInputError(
                f"views do not match: missing {missing or 'none'}, unknown {unknown or 'none'}; "
                f"expected exactly {list(self.views)}"
            )
        return [check_clip(inputs[name], "video", channels, what=f"view {name!r}") for name in self.views]

    def feature_map(self, inputs: Mapping[str, Tensor] | Tensor) -> Tensor:
        """Fused feature map ``[B, feature_dim, T', H', W']``."""
        maps = [self.backbones[name](clip) for name, clip in zip(self.views, self._split(inputs))]
        shapes = {tuple(m.shape) for m in maps}
        if len(shapes) != 1:
            sizes = ", ".join(f"{n}: {tuple(m.shape)}" for n, m in zip(self.views, maps))
            raise ModelInputError(f"views give feature maps of different sizes ({sizes}); use equal B/T/H/W")
        return self.fusion(torch.cat(maps, dim=1))

    def forward_features(self, inputs: Mapping[str, Tensor] | Tensor) -> Tensor:
        """Pooled fused features ``[B, feature_dim]``."""
        return self.head.features(self.feature_map(inputs))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head.classify(features)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``num_classes``-way projection, initialised as at construction, same device."""
        self.config = replace(self.config, num_classes=num_classes)
        old = self.head.proj
        self.head.proj = classifier_layer(old.in_features, num_classes, like=old.weight)

    def remap_state_dict(self, state_dict: StateDict) -> StateDict:
        """Our own keys pass unchanged; a single-view checkpoint (``resnet3d`` in either layout, or
        pytorchvideo's ``slow_r50``) is copied into every view's stem+body, so that
        ``load_weights(model, slow_r50_file, strict=False)`` starts all views from Kinetics weights
        and reports only the fusion block (and a head of another size) as not loaded."""
        remapped: StateDict = {}
        for key, tensor in state_dict.items():
            if key.startswith(("backbones.", "fusion.")):
                remapped[key] = tensor
                continue
            key = _translate_key(key, "separable")
            if key.startswith(("stem.", "body.")):
                remapped.update({f"backbones.{view}.{key}": tensor for view in self.views})
            else:
                remapped[key] = tensor
        return remapped


@register_model(
    "resnet3d",
    default_input=(3, 16, 224, 224),
    cam_layers=_resnet_cam_layers(use_separable=True),
    input_kind="video",
    description="Separable ResNet-3D (pytorchvideo slow_r50 geometry); loads slow_r50 checkpoints",
)
def resnet3d(
    num_classes: int,
    depth: int = 50,
    use_separable: bool = True,
    stem: str = "slow_r50",
    dropout: float = 0.5,
    width: int = 64,
) -> ResNet3D:
    """Separable ResNet-3D; defaults are pytorchvideo's ``slow_r50`` (depth 50, 1x7x7 stem).

    ``use_separable=False`` gives the flat layout (``conv1``, ``layer1``..``layer4``, ``fc``) whose CAM
    layers are ``layer1``..``layer4``; ``stem="7x7x7"`` the seed spec's spatiotemporal stem.
    """
    config = ResNet3DConfig(num_classes=num_classes, depth=depth, stem=stem, width=width, dropout=dropout)
    return ResNet3D(config, use_separable=use_separable)


@register_model(
    "multiview_resnet3d",
    # One sample is a [V, C, T, H, W] stack of the default two views; a dict of views also works.
    default_input=(2, 3, 16, 224, 224),
    cam_layers=_multiview_cam_layers(DEFAULT_VIEWS),
    input_kind="multiview",
    description="Multi-view ResNet-3D: per-view stem+body, 1x1x1 fusion conv, shared head",
)
def multiview_resnet3d(
    num_classes: int,
    views: tuple[str, ...] = DEFAULT_VIEWS,
    depth: int = 50,
    stem: str = "slow_r50",
    dropout: float = 0.5,
    width: int = 64,
) -> MultiViewResNet3D:
    """Multi-view ResNet-3D taking ``{view: [B, C, T, H, W]}`` (or a ``[B, V, C, T, H, W]`` stack)."""
    config = ResNet3DConfig(num_classes=num_classes, depth=depth, stem=stem, width=width, dropout=dropout)
    return MultiViewResNet3D(config, views=views)
