"""One factory for every model: ``@register_model`` in each family module, ``build_model`` here.

Why a registry: the trainer, the app and the CLIs choose a model by name from a checkpoint's
metadata, so names and their valid keyword arguments must be discoverable and validated in one
place (the timm pattern). ``model_card`` measures what a user compares models by.

Each registration declares the model's ``input_kind`` (see :mod:`exercise_rec.models.interface`):
``"video"`` ``[B, 3, T, H, W]``, ``"image"`` ``[B, 3, H, W]``, ``"pose"`` ``[B, K, T, H, W]``
heatmap volumes, or ``"multiview"`` ``[B, V, 3, T, H, W]``. It is known without building the model,
so a caller that feeds clips can refuse another kind before reading any data::

    from exercise_rec.errors import ConfigError
    from exercise_rec.models import get_entry, list_models

    if get_entry(name).input_kind != "video":
        videos = [n for n in list_models() if get_entry(n).input_kind == "video"]
        raise ConfigError(f"{name} does not take clips; video models: {', '.join(videos)}")

(the 2D ``mobilenet_v4_<size>`` models say ``"image"``; their ``mobilenet_v4_<size>_video`` forms
say ``"video"``). Unknown names and keyword arguments raise :class:`~exercise_rec.errors.ConfigError`
(a ``ValueError``) listing the valid ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from exercise_rec.errors import ConfigError
from exercise_rec.models.interface import (
    INPUT_KINDS,
    InputKind,
    check_num_classes,
    input_rank,
)

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about a model before building it."""

    name: str
    builder: Builder
    default_input: tuple[int, ...]  # one sample, without batch: (C, T, H, W) or (C, H, W)
    cam_layers: tuple[str, ...]  # Grad-CAM layers of the default configuration, shallow to deep
    description: str
    input_kind: InputKind = "video"

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments the builder accepts (besides ``num_classes``) and their defaults."""
        params = inspect.signature(self.builder).parameters
        return {
            name: (None if p.default is inspect.Parameter.empty else p.default)
            for name, p in params.items()
            if name != "num_classes" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }


@dataclass(frozen=True)
class ModelCard:
    """Measured facts about one configuration of a model."""

    name: str
    kwargs: dict[str, Any]
    num_classes: int
    params: int
    flops: int  # multiply-adds counted as 2 FLOPs, batch 1, at ``default_input``
    default_input: tuple[int, ...]
    cam_layers: tuple[str, ...]  # this configuration's (the model's own ``cam_layers``)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gflops(self) -> float:
        return self.flops / 1e9


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str | None = None,
    *,
    default_input: tuple[int, ...] = (3, 16, 128, 128),
    cam_layers: tuple[str, ...] = (),
    description: str = "",
    input_kind: InputKind = "video",
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder ``fn(num_classes, **kwargs) -> nn.Module`` under ``name``.

    ``cam_layers`` are the default configuration's, from the constant or function the model's own
    ``cam_layers`` property reads (never retyped: a model built with other options can name other
    layers, and ``model_card`` reports the built model's); ``default_input`` is one sample of
    ``input_kind`` (its rank less the batch axis).
    Mistakes here are bugs of the registering module, hence plain ``ValueError``/``TypeError``.
    """

    def decorate(fn: Builder) -> Builder:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is registered twice")
        if "num_classes" not in inspect.signature(fn).parameters:
            raise TypeError(f"builder for {key!r} must accept num_classes")
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind of {key!r} must be one of {', '.join(INPUT_KINDS)}, got {input_kind!r}")
        if len(default_input) != input_rank(input_kind) - 1:
            raise ValueError(f"default_input {tuple(default_input)} of {key!r} is not one {input_kind} sample")
        doc = description or (inspect.getdoc(fn) or "").split("\n", 1)[0]
        _REGISTRY[key] = ModelEntry(key, fn, tuple(default_input), tuple(cam_layers), doc, input_kind)
        return fn

    return decorate


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    """Registry entry for ``name`` (``input_kind``, ``kwargs``, ``default_input``...), known without
    building the model; unknown names raise ``ConfigError`` listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(list_models())}") from None


def check_model_args(name: str, **kwargs: Any) -> ModelEntry:
    """The entry of ``name`` once its name and keyword arguments are known to be valid.

    Unknown keyword arguments raise ``ConfigError`` naming the valid ones, instead of the
    ``TypeError`` deep inside a constructor that a typo in a config file would otherwise give;
    callers such as the trainer check this before any slow work.
    """
    entry = get_entry(name)
    valid = entry.kwargs
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown argument(s) {', '.join(unknown)} for model {name!r}; "
            f"valid: {', '.join(sorted(valid)) or '(none)'}"
        )
    return entry


def build_model(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build registered model ``name`` with a ``num_classes``-way head (arguments checked first)."""
    entry = check_model_args(name, **kwargs)
    return entry.builder(num_classes=check_num_classes(num_classes), **kwargs)


def count_flops(model: nn.Module, example: Any) -> int:
    """FLOPs of one forward pass, counted by ``torch.utils.flop_counter`` (a MAC is 2 FLOPs)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(example)
    return int(counter.get_total_flops())


def example_input(entry: ModelEntry, batch: int = 1) -> torch.Tensor:
    """A random batch at the model's default input shape."""
    return torch.randn(batch, *entry.default_input)


@functools.lru_cache(maxsize=64)
def _card(name: str, num_classes: int, frozen_kwargs: tuple[tuple[str, Any], ...]) -> ModelCard:
    entry = get_entry(name)
    kwargs = dict(frozen_kwargs)
    model = build_model(name, num_classes, **kwargs).eval()
    params = sum(p.numel() for p in model.parameters())
    flops = count_flops(model, example_input(entry))
    return ModelCard(
        name=name,
        kwargs=kwargs,
        num_classes=num_classes,
        params=params,
        flops=flops,
        default_input=entry.default_input,
        cam_layers=tuple(model.cam_layers),
        description=entry.description,
    )


def model_card(name: str, num_classes: int = 17, **kwargs: Any) -> ModelCard:
    """Parameter count, FLOPs at the default input, input shape and suggested CAM layers.

    Builds the model once per distinct configuration (cached), so the app can call it freely.
    """
    return _card(name, num_classes, tuple(sorted(kwargs.items())))
