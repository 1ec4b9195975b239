"""What defines a MobileNet-v4 network, and the table of the five documented variants.

Why a table: the seed document (Raven4567/MobileNet-v4) defines each size as its own class with
the numbers written inline; here one frozen dataclass per network and one dict of variants replace
them, so the 2D constructors, the video form and the tests read the same numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from exercise_rec.errors import ConfigError

__all__ = ["VARIANTS", "MobileNetV4Config", "group_norm_groups"]


def group_norm_groups(channels: int) -> int:
    """The seed's normalisation: ``GroupNorm(channels // 8, channels)`` (groups of about 8)."""
    return channels // 8


def _check_group_norm(name: str, channels: int) -> None:
    groups = group_norm_groups(channels)
    if groups < 1 or channels % groups:
        raise ConfigError(
            f"{name}={channels} cannot be normalised by GroupNorm({channels} // 8 = {groups} groups): "
            "use at least 8 channels, divisible by channels // 8 (any multiple of 8 works)"
        )


def _is_int(value: object) -> bool:
    """A real int (``True`` or ``24.0`` from a config file is a mistake, not a width)."""
    return type(value) is int


@dataclass(frozen=True)
class MobileNetV4Config:
    """One MobileNet-v4 network: widths, block counts per stage and classifier head.

    Stage layout (the seed's): stem -> ``fused_ibs`` FusedIB -> ``uib_extradw_pairs`` x (UIB,
    ExtraDW) -> ``se_uib_pairs`` x (SE, UIB) -> ``se_mqa_pairs`` x (SE, MobileMQA) -> pool -> MLP.
    """

    base_channels: int
    expanded_channels: int
    squeeze_channels: int
    num_heads: int
    hidden_dim_classifier: int
    dropout: float
    fused_ibs: int
    uib_extradw_pairs: int
    se_uib_pairs: int
    se_mqa_pairs: int
    mqa_reduction: bool = False  # stride-2 query and key/value paths in every MobileMQA
    in_channels: int = 3
    num_classes: int = 1000

    def __post_init__(self) -> None:
        positive = ("base_channels", "expanded_channels", "squeeze_channels", "num_heads",
                    "hidden_dim_classifier", "in_channels", "num_classes")
        for name in positive:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        for name in ("fused_ibs", "uib_extradw_pairs", "se_uib_pairs", "se_mqa_pairs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ConfigError(f"{name} must be an int >= 0 (a block count), got {value!r}")
        _check_group_norm("base_channels", self.base_channels)
        _check_group_norm("expanded_channels", self.expanded_channels)
        if self.base_channels % self.num_heads:
            raise ConfigError(
                f"base_channels={self.base_channels} must split evenly into num_heads={self.num_heads} "
                "attention heads"
            )
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
            math.isfinite(dropout) and 0.0 <= dropout < 1.0
        ):
            raise ConfigError(f"dropout is a drop probability in [0, 1), got {dropout!r}")
        if not isinstance(self.mqa_reduction, bool):
            raise ConfigError(f"mqa_reduction must be a bool, got {self.mqa_reduction!r}")

    def with_io(self, in_channels: int, num_classes: int) -> MobileNetV4Config:
        """The same network for another input channel count and number of classes."""
        return dataclasses.replace(self, in_channels=in_channels, num_classes=num_classes)


# The documented sizes (the seed's classes, which its README counts at 3 input channels and 1000
# classes: nano 590,344; small 1,303,904; medium 2,276,384; large 9,740,680; hybrid_large 35,886,888).
VARIANTS: dict[str, MobileNetV4Config] = {
    "nano": MobileNetV4Config(24, 64, 6, 4, 512, 0.2, 2, 2, 3, 1),
    "small": MobileNetV4Config(48, 96, 12, 6, 1024, 0.2, 2, 3, 4, 2),
    "medium": MobileNetV4Config(96, 192, 24, 8, 1024, 0.2, 2, 5, 6, 3),
    "large": MobileNetV4Config(224, 512, 56, 14, 1280, 0.2, 3, 6, 5, 3),
    "hybrid_large": MobileNetV4Config(384, 768, 96, 16, 1280, 0.3, 3, 7, 6, 4, mqa_reduction=True),
}
