"""The interface every registry model shares, and the one check of what goes into a model.

Why: the trainer, the app, Grad-CAM and fine-tuning treat every family alike (timm's pattern):
``forward(x) == forward_head(forward_features(x))``, with ``reset_classifier`` for a new label set,
and a model of the wrong kind is refused with one message naming the shape it expected, whichever
family it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import Tensor, nn

from exercise_rec.errors import ConfigError, ExerciseRecError

__all__ = [
    "INPUT_KINDS",
    "Classifier",
    "InputKind",
    "ModelInputError",
    "check_clip",
    "check_num_classes",
    "classifier_layer",
    "input_rank",
]

InputKind = Literal["video", "image", "pose", "multiview"]


class ModelInputError(ExerciseRecError, ValueError):
    """A tensor that is not the input the model takes; the message names the expected layout."""


@dataclass(frozen=True)
class _Layout:
    noun: str
    axes: tuple[str, ...]  # "C" is the channel axis (the K keypoint heatmaps of a pose volume)


_LAYOUTS: dict[str, _Layout] = {
    "video": _Layout("clip", ("B", "C", "T", "H", "W")),
    "image": _Layout("image", ("B", "C", "H", "W")),
    "pose": _Layout("pose heatmap volume", ("B", "C", "T", "H", "W")),
    "multiview": _Layout("multi-view clip stack", ("B", "V", "C", "T", "H", "W")),
}
INPUT_KINDS: tuple[str, ...] = tuple(_LAYOUTS)
# A pose model's default channels: one heatmap per COCO keypoint (exercise_rec.pose.heatmaps' volumes).
POSE_KEYPOINTS = 17


def input_rank(kind: str) -> int:
    """Number of axes of a batch of ``kind`` (batch axis included)."""
    return len(_LAYOUTS[kind].axes)


def check_clip(x: object, kind: InputKind, channels: int, *, views: int | None = None, what: str = "input") -> Tensor:
    """``x`` itself if it is a batch of ``kind`` with ``channels`` channels (and ``views`` views),
    otherwise a :class:`ModelInputError` naming the expected layout and what came instead."""
    layout = _LAYOUTS[kind]
    fixed = {"C": channels, "V": views}
    expected = [fixed.get(axis) for axis in layout.axes]
    if (
        not isinstance(x, Tensor)
        or x.ndim != len(expected)
        or any(size is not None and x.shape[i] != size for i, size in enumerate(expected))
    ):
        shape = ", ".join(axis if size is None else str(size) for axis, size in zip(layout.axes, expected))
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ModelInputError(f"{what}: expected a [{shape}] {layout.noun} tensor, got {got}")
    return x


def check_num_classes(num_classes: object) -> int:
    """``num_classes`` if it is a positive int (``True`` from a config file is a mistake, not 1)."""
    if type(num_classes) is not int or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    return num_classes


def classifier_layer(
    in_features: int, num_classes: int, *, like: Tensor | None = None, std: float | None = 0.01
) -> nn.Linear:
    """A fresh linear classifier: weights N(0, ``std``) and zero bias (``std=None``: PyTorch's own
    initialisation), on ``like``'s device and dtype so a head reset on a GPU model stays there."""
    device, dtype = (None, None) if like is None else (like.device, like.dtype)
    layer = nn.Linear(in_features, check_num_classes(num_classes), device=device, dtype=dtype)
    if std is not None:
        nn.init.normal_(layer.weight, 0.0, std)
        nn.init.zeros_(layer.bias)
    return layer


class Classifier(nn.Module, ABC):
    """Backbone features, then a head: what every registry model is.

    Subclasses check their input with :func:`check_clip` against ``input_kind`` (the kind their
    registration declares) in ``forward_features``, so ``forward`` checks it once.
    """

    input_kind: ClassVar[InputKind] = "video"

    @property
    @abstractmethod
    def cam_layers(self) -> tuple[str, ...]:
        """Names of the modules worth explaining with Grad-CAM, shallow to deep."""

    @abstractmethod
    def forward_features(self, x: Tensor) -> Tensor:
        """Pooled backbone features ``[B, D]``."""

    @abstractmethod
    def forward_head(self, features: Tensor) -> Tensor:
        """Logits ``[B, num_classes]`` from ``forward_features``' output."""

    @abstractmethod
    def reset_classifier(self, num_classes: int) -> None:
        """Replace the last classifier layer by a fresh ``num_classes``-way one (fine-tuning)."""

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
