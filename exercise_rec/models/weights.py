"""Loading weights safely, from our checkpoints and from the reference implementations' files.

Why one function: users bring checkpoints from several projects (Efficient-3DCNNs, pytorch-i3d,
pytorchvideo, torchvision, ours), each wrapping and naming tensors its own way. ``load_weights``
unwraps the container, strips DataParallel prefixes, lets the model translate a reference key
layout (``model.remap_state_dict``), and reports every mismatch by name instead of loading half a
model. Files are always read with ``weights_only=True``: a checkpoint is data, never code.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]

# Containers used by the checkpoints people have: ours and Efficient-3DCNNs ("state_dict"),
# pytorchvideo/SlowFast ("model_state"), many training scripts ("model", "module").
_CONTAINER_KEYS = ("state_dict", "model_state", "model", "module")
# DataParallel / DDP / torch.compile wrappers prefix every key.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Buffers absent from checkpoints saved before PyTorch 0.4.1 (e.g. pytorch-i3d's files).
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)
_MAX_LISTED = 12


class WeightsError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model; the message says which."""


@runtime_checkable
class RemapsStateDict(Protocol):
    """Models whose reference checkpoints use other key names implement this translation."""

    def remap_state_dict(self, state_dict: StateDict) -> StateDict: ...


@dataclass
class LoadReport:
    """What ``load_weights`` did: loaded keys and every key that did not fit."""

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        def listed(keys: list[str]) -> str:
            more = f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
            return ", ".join(keys[:_MAX_LISTED]) + more

        parts = []
        if self.missing:
            parts.append(f"missing keys [{len(self.missing)}]: {listed(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected keys [{len(self.unexpected)}]: {listed(self.unexpected)}")
        if self.mismatched:
            shapes = [f"{k} checkpoint {tuple(a)} vs model {tuple(b)}" for k, a, b in self.mismatched]
            parts.append(f"shape conflicts [{len(shapes)}]: {listed(shapes)}")
        return "; ".join(parts) or "all keys matched"


def read_checkpoint(path: str | PathLike[str]) -> Any:
    """``torch.load`` with ``weights_only=True`` on CPU, turning every failure into ``WeightsError``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: checkpoint file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(err)
        if "global" in detail.lower():
            raise WeightsError(
                f"{path}: refused to load: the file asks to import {detail!r}; a checkpoint must "
                "hold tensors only (read with weights_only=True, nothing was executed)"
            ) from err
        raise WeightsError(
            f"{path}: not a weights-only PyTorch checkpoint (corrupt, truncated, or a pickle of "
            f"arbitrary objects; nothing was executed): {detail}"
        ) from err
    except Exception as err:  # garbage bytes make the unpickler raise anything (KeyError, struct.error, ...)
        raise WeightsError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt): {type(err).__name__}: {err}"
        ) from err


def _unpickler_detail(err: Exception) -> str:
    """The one informative line of torch's long weights-only refusal message."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
    return " ".join(text.split())


def extract_state_dict(obj: Any, source: str = "<state_dict>") -> StateDict:
    """Find the tensor mapping inside a checkpoint container and strip wrapper prefixes."""
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(f"{source}: no state dict found in checkpoint")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{source}: checkpoint holds no tensors")
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def load_weights(
    model: nn.Module,
    path_or_state_dict: str | PathLike[str] | Mapping[str, Any],
    strict: bool = True,
) -> LoadReport:
    """Load a checkpoint into ``model`` in place and return what matched.

    ``strict=True`` loads nothing and raises ``WeightsError`` listing missing and unexpected keys
    and shape conflicts when anything does not fit. ``strict=False`` loads every tensor whose
    name and shape match (the fine-tuning case: a new head) and returns the rest in the report.
    """
    if isinstance(path_or_state_dict, Mapping):
        source, raw = "<state_dict>", path_or_state_dict
    else:
        source = str(path_or_state_dict)
        raw = read_checkpoint(path_or_state_dict)
    state = extract_state_dict(raw, source)
    if isinstance(model, RemapsStateDict):
        state = model.remap_state_dict(state)

    own = model.state_dict()
    report = LoadReport(source=source)
    compatible: StateDict = {}
    for key, tensor in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(tensor.shape) != tuple(own[key].shape):
            report.mismatched.append((key, tuple(tensor.shape), tuple(own[key].shape)))
        else:
            compatible[key] = tensor
    report.missing = [k for k in own if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]

    if strict and not report.ok:
        raise WeightsError(f"{source}: checkpoint does not fit {type(model).__name__}: {report.describe()}")
    model.load_state_dict(compatible, strict=False)
    report.loaded = sorted(compatible)
    if not report.ok:
        log.warning("%s: partially loaded into %s: %s", source, type(model).__name__, report.describe())
    return report
