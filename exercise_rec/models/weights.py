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
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from exercise_rec.errors import ExerciseRecError

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
# torch's refusals: "Unsupported global: GLOBAL os.system was not an allowed global by default" and
# "Trying to load unsupported GLOBAL posix.system whose module posix is blocked".
_REFUSED_GLOBAL = re.compile(r"GLOBAL (\S+) (?:was not an allowed global|whose module)")
_PROTOCOL_WARNING = r"Detected pickle protocol \d+ in the checkpoint"


class WeightsError(ExerciseRecError, ValueError):
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
    """``torch.load`` with ``weights_only=True`` on CPU, turning every failure into ``WeightsError``.

    A refusal names the global the file asked for (or says it is not a weights-only checkpoint) and
    never repeats torch's advice to load with ``weights_only=False``: that runs whatever the file holds.
    A raw pickle would also make torch warn about its protocol on stderr; that warning is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: checkpoint file is empty")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PROTOCOL_WARNING, UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if name := refused_global(err):
            raise WeightsError(
                f"{path}: refused to load: the file asks to import {name}, and a checkpoint may hold "
                "only tensors, numbers, strings and containers of them (nothing was executed)"
            ) from err
        raise WeightsError(
            f"{path}: refused to load: not a weights-only checkpoint (a pickle of other objects, or "
            "corrupt; nothing was executed)"
        ) from err
    except Exception as err:  # garbage bytes make the unpickler raise anything (KeyError, struct.error, ...)
        detail = f": {type(err).__name__}: {err}" if "weights_only" not in str(err) else ""
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt){detail}") from err


def refused_global(err: Exception) -> str | None:
    """The global (``module.name``) a weights-only load refused, parsed from torch's message; None if none.

    torch writes builtins without their module ("GLOBAL open"): they come back as ``builtins.open``.
    """
    match = _REFUSED_GLOBAL.search(str(err))
    if match is None:
        return None
    return match[1] if "." in match[1] else f"builtins.{match[1]}"


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
