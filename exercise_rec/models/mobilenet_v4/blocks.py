"""Convolutional blocks of MobileNet-v4 as the seed document describes them.

Every conv has no bias and is followed by ``GroupNorm(channels // 8)`` and SiLU (the seed's
choice: GroupNorm does not depend on the batch, which suits its small-batch RL use and our
frame-folded video batches). Activations are out of place so that activations recorded by
Grad-CAM hooks are never overwritten later.

Deviation from the seed, deliberate: blocks that keep shape (UIB, ExtraDW, and MobileMQA in
``attention.py``) add an identity shortcut around their body (:class:`Residual`), as the
MobileNet-v4 paper's blocks do. The seed's blocks have none; a 30-block plain stack trains poorly,
and TSM's temporal shift belongs in a residual branch. A shortcut has no parameters, so the
documented counts are unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from torch import Tensor, nn

from exercise_rec.models.mobilenet_v4.config import group_norm_groups

__all__ = ["SE", "UIB", "ConvNormAct", "ExtraDW", "FusedIB", "Residual", "Stem"]

Shift = Callable[[Tensor], Tensor]


class ConvNormAct(nn.Sequential):
    """Conv2d ("same" padding, no bias) -> GroupNorm(out // 8) -> SiLU; ``depthwise`` keeps channels."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, depthwise: bool = False
    ) -> None:
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(
                    in_channels,
                    out_channels,
                    kernel_size,
                    stride,
                    padding=kernel_size // 2,
                    groups=in_channels if depthwise else 1,
                    bias=False,
                ),
                norm=nn.GroupNorm(group_norm_groups(out_channels), out_channels),
                act=nn.SiLU(),
            )
        )


class Stem(ConvNormAct):
    """3x3 stride-1 conv from the image channels (1 or 3) to the network width."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__(in_channels, channels, 3)


class FusedIB(nn.Sequential):
    """Fused inverted bottleneck: 3x3 stride-2 conv expanding C -> E, 1x1 projecting E -> C.

    The only blocks that reduce resolution (each halves it, rounding up), early, where the maps
    are large and depthwise convs would be slow.
    """

    def __init__(self, channels: int, expanded: int) -> None:
        super().__init__(
            OrderedDict(
                expand=ConvNormAct(channels, expanded, 3, stride=2),
                project=ConvNormAct(expanded, channels, 1),
            )
        )


class Residual(nn.Module):
    """``x + branch(x)``; the video form passes ``shift`` to move channels across frames first.

    Keeping the shift an argument (not a submodule) lets the 2D model and its video form share
    one module tree, hence one state-dict layout: 2D weights load into the video form as they are.
    """

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: Tensor, shift: Shift | None = None) -> Tensor:
        return x + self.branch(x if shift is None else shift(x))


class UIB(Residual):
    """Universal inverted bottleneck: 5x5 depthwise, 1x1 expand C -> E, 1x1 project E -> C."""

    def __init__(self, channels: int, expanded: int) -> None:
        super().__init__(
            nn.Sequential(
                OrderedDict(
                    dw=ConvNormAct(channels, channels, 5, depthwise=True),
                    expand=ConvNormAct(channels, expanded, 1),
                    project=ConvNormAct(expanded, channels, 1),
                )
            )
        )


class ExtraDW(Residual):
    """UIB with an extra 3x3 depthwise conv on the expanded map: a wider receptive field cheaply."""

    def __init__(self, channels: int, expanded: int) -> None:
        super().__init__(
            nn.Sequential(
                OrderedDict(
                    dw=ConvNormAct(channels, channels, 5, depthwise=True),
                    expand=ConvNormAct(channels, expanded, 1),
                    dw_expanded=ConvNormAct(expanded, expanded, 3, depthwise=True),
                    project=ConvNormAct(expanded, channels, 1),
                )
            )
        )


class SE(nn.Module):
    """Squeeze-and-excitation: per-channel gates in (0, 1) from globally pooled features."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = nn.SiLU()
        self.excite = nn.Conv2d(squeeze_channels, channels, 1)

    def gates(self, x: Tensor) -> Tensor:
        """``[B, C, 1, 1]`` channel weights."""
        return self.excite(self.act(self.squeeze(x.mean(dim=(2, 3), keepdim=True)))).sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gates(x)
