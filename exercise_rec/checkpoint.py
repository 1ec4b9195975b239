"""The deployable checkpoint: weights plus everything needed to rebuild and feed the model.

Why metadata lives in the file: the app and ``Predictor`` must rebuild the right architecture
and the same eval transform (clip length, input size, normalisation) from the checkpoint alone,
never from constants that drift from what the model was trained with. Everything is plain
tensors, strings and numbers, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from exercise_rec import __version__
from exercise_rec.io import atomic_path
from exercise_rec.models import build_model, load_weights
from exercise_rec.models.weights import WeightsError, read_checkpoint

FORMAT_VERSION = 1


class CheckpointError(WeightsError):
    """A file that is not a deployable exercise_rec checkpoint, or one that does not fit."""


@dataclass(frozen=True)
class CheckpointMeta:
    """How to rebuild the model and prepare its input."""

    model_name: str
    model_kwargs: dict[str, Any]
    class_names: tuple[str, ...]
    clip_len: int
    input_size: tuple[int, int]  # (H, W) of the model input
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    metrics: dict[str, float] = field(default_factory=dict)
    version: str = __version__
    # Temperature and verdict threshold (exercise_rec.calibration; empty: documented defaults).
    calibration: dict[str, float] = field(default_factory=dict)
    # Person framing the model was trained with (exercise_rec.data.framing: "margin"); empty: centre crops.
    framing: dict[str, float] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("class_names", "input_size", "mean", "std"):
            data[key] = list(data[key])
        # Plain numbers only: anything else would make the file fail weights_only loading.
        data["metrics"] = {str(k): float(v) for k, v in self.metrics.items()}
        data["calibration"] = {str(k): float(v) for k, v in self.calibration.items()}
        data["framing"] = {str(k): float(v) for k, v in self.framing.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> CheckpointMeta:
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in data]
        if missing:
            raise CheckpointError(
                f"{source}: not an exercise_rec checkpoint (metadata missing: {', '.join(missing)}); "
                "to load bare weights use exercise_rec.models.load_weights"
            )
        return cls(
            model_name=str(data["model_name"]),
            model_kwargs=dict(data["model_kwargs"]),
            class_names=tuple(str(c) for c in data["class_names"]),
            clip_len=int(data["clip_len"]),
            input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            metrics={str(k): float(v) for k, v in dict(data.get("metrics", {})).items()},
            version=str(data.get("version", "unknown")),
            calibration={str(k): float(v) for k, v in dict(data.get("calibration", {})).items()},
            framing={str(k): float(v) for k, v in dict(data.get("framing", {})).items()},
        )


def save_checkpoint(
    path: str | PathLike[str], model: nn.Module, meta: CheckpointMeta, *, half: bool = False
) -> Path:
    """Write ``model``'s weights and ``meta`` atomically; ``half`` stores float tensors as fp16.

    fp16 halves the file for shipping; loading copies into the fp32 model, so inference is fp32.
    """
    state = {
        k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in model.state_dict().items()
    }
    payload = {"format_version": FORMAT_VERSION, "state_dict": state, **meta.to_dict()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint_dict(path: str | PathLike[str]) -> Mapping[str, Any]:
    """The file's top-level dict, read weights-only; any failure is a ``CheckpointError`` naming the file.

    Weights-only reading refuses pickled code (a ``__reduce__`` payload) before any of it runs.
    """
    try:
        raw = read_checkpoint(path)
    except WeightsError as err:
        raise CheckpointError(str(err)) from err
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{path}: not a checkpoint (its top level is a {type(raw).__name__}, not a dict)")
    return raw


def write_calibration(
    path: str | PathLike[str], calibration: Mapping[str, float], out: str | PathLike[str] | None = None
) -> Path:
    """Store ``calibration`` in the checkpoint at ``path`` (or a copy at ``out``), atomically; every
    other byte of its content (weights in their stored precision, metadata) is kept as it was."""
    raw = dict(read_checkpoint_dict(path))
    CheckpointMeta.from_dict(raw, str(path))  # refuse anything that is not a deployable checkpoint
    raw["calibration"] = {str(k): float(v) for k, v in calibration.items()}
    target = Path(out) if out is not None else Path(path)
    with atomic_path(target) as tmp:
        torch.save(raw, tmp)
    return target


def read_meta(path: str | PathLike[str]) -> CheckpointMeta:
    """Metadata of a checkpoint file (what the app shows in its checkpoint picker)."""
    return CheckpointMeta.from_dict(read_checkpoint_dict(path), str(path))


def load_checkpoint(
    path: str | PathLike[str], device: torch.device | str | None = None
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model named in the checkpoint, load its weights strictly, return it in eval mode."""
    raw = read_checkpoint_dict(path)
    meta = CheckpointMeta.from_dict(raw, str(path))
    try:
        model = build_model(meta.model_name, meta.num_classes, **meta.model_kwargs)
    except ValueError as err:
        raise CheckpointError(f"{path}: cannot rebuild its model: {err}") from err
    try:
        load_weights(model, raw, strict=True)
    except WeightsError as err:
        raise CheckpointError(
            f"{path}: weights do not fit {meta.model_name} with {meta.num_classes} classes: {err}"
        ) from err
    return model.float().to(device or "cpu").eval(), meta
