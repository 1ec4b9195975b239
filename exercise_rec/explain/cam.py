"""Class activation maps for video (and image) models, per frame, at any layer.

Why this wrapper around the ``grad-cam`` package: the package computes each method's weights
(Grad-CAM, HiResCAM, Grad-CAM++, ...) on 5-D activations, but on video it gets three things wrong
for a teaching tool, so those are done here instead:

* **Normalisation.** The package min-max scales every map on its own, so a frame the model ignores
  looks as hot as the one it relies on. Here the ReLU'd map is divided by its maximum over the
  *whole clip* (0 = no positive evidence, 1 = the clip's strongest); ``normalize="frame"`` scales
  each frame by its own maximum, for viewing detail in quiet frames only.
* **Resizing.** The package resizes 3-D maps with a cubic spline (``scipy.ndimage.zoom``, ~1 s,
  with overshoot it clips); here trilinear interpolation (a few ms). Time upsampling is explicit:
  a layer with T' time steps is stretched to the clip's T frames and ``info.temporal_resolution``
  says T' (T' = 1: every frame shows the same map, and says so).
* **Side effects.** Creating a package CAM calls ``model.eval()``, leaves gradients in the
  parameters, and needs grad mode. :func:`compute_cam` runs under grad mode even inside
  ``no_grad``/``inference_mode``, freezes the parameters for the call (only the input needs a
  gradient, which also skips the weight-gradient work), and restores training mode,
  ``requires_grad`` flags, existing ``.grad`` tensors and hooks afterwards. Calls on one model are
  serialised by a per-model lock: the package's hooks record *every* forward through the layer.

Activations are cloned when recorded: on CPU the package stores the layer's output tensor itself,
which an in-place op after the layer (``ReLU(inplace=True)`` after a BatchNorm) would overwrite.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM
from torch import nn

from exercise_rec.errors import ExerciseRecError

Normalization = Literal["clip", "frame"]


class CamError(ExerciseRecError, ValueError):
    """A layer, method, target or input that a CAM cannot be computed for."""


class _LayerResolutionCam:
    """Mixin for a package CAM class: return the ReLU'd map at the layer's own resolution.

    The package's ``compute_cam_per_layer`` resizes and min-max scales each map (see the module
    docstring); this override keeps its method-specific ``get_cam_image`` and stops there.
    """

    activations_and_grads: Any
    target_layers: list[nn.Module]

    def compute_cam_per_layer(
        self, input_tensor: torch.Tensor, targets: list[nn.Module], eigen_smooth: bool
    ) -> list[np.ndarray]:
        recorded = self.activations_and_grads
        if len(recorded.activations) != 1:
            raise CamError(
                f"the layer ran {len(recorded.activations)} times in one forward pass; "
                "explain a layer that runs exactly once"
            )
        activations = recorded.activations[0].numpy()
        if activations.ndim not in (4, 5):
            raise CamError(
                f"the layer's output {tuple(activations.shape)} is not a feature map "
                "([B, C, T, H, W] or [B, C, H, W]); pick a conv block"
            )
        grads = recorded.gradients[0].numpy() if recorded.gradients else None
        cam = self.get_cam_image(input_tensor, self.target_layers[0], targets, activations, grads, eigen_smooth)  # type: ignore[attr-defined]
        return [np.maximum(cam, 0)]

    def aggregate_multi_layers(self, cam_per_target_layer: list[np.ndarray]) -> np.ndarray:
        return cam_per_target_layer[0]


def _layer_resolution(cls: type[BaseCAM]) -> type[BaseCAM]:
    return type(cls.__name__, (_LayerResolutionCam, cls), {})


# Methods that work on 5-D activations in grad-cam 1.5.7 (ScoreCAM, AblationCAM and FullGrad do not).
METHODS: dict[str, type[BaseCAM]] = {
    "gradcam": _layer_resolution(GradCAM),
    "hirescam": _layer_resolution(HiResCAM),
    "gradcam++": _layer_resolution(GradCAMPlusPlus),
    "xgradcam": _layer_resolution(XGradCAM),
    "layercam": _layer_resolution(LayerCAM),
    "eigencam": _layer_resolution(EigenCAM),
}


@dataclass(frozen=True)
class CamInfo:
    """How a CAM was made: what a viewer must know to read it correctly."""

    layer: str
    method: str
    target: int  # class index explained
    target_name: str | None
    score: float  # the target's logit
    prob: float  # the target's (calibrated, see compute_cam) probability
    probs: tuple[float, ...]  # every class's probability for the clip
    layer_shape: tuple[int, ...]  # the layer's map size: (T', H', W'), or (H', W') for image models
    temporal_resolution: int  # T': distinct maps in time before upsampling to the clip's frames
    normalization: Normalization


class CamArray(np.ndarray):
    """A float32 ``[T, H, W]`` CAM in [0, 1] (a plain ndarray to every consumer) with ``.info``.

    Why an ndarray subclass: the public contract returns an array; the metadata (layer, target,
    temporal resolution) travels with it instead of in a second return value callers may drop.
    """

    info: CamInfo | None

    def __new__(cls, values: np.ndarray, info: CamInfo) -> CamArray:
        array = np.asarray(values, dtype=np.float32).view(cls)
        array.info = info
        return array

    def __array_finalize__(self, obj: Any) -> None:
        self.info = getattr(obj, "info", None)


def cam_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers worth explaining, by name, shallow to deep (the model's ``cam_layers``).

    Every registry model declares them: mobilenet_v2_3d each inverted-residual group's last block
    and the final 1x1x1 conv; I3D the Mixed_* blocks; ResNet-3D the four stages; MobileNet-v4 video
    each stage as ``[B, C, T, H, W]``. Any other module can still be passed to :func:`compute_cam`.
    """
    names = getattr(model, "cam_layers", None)
    if not names:
        raise CamError(f"{type(model).__name__} declares no cam_layers; pass a layer name to compute_cam")
    modules = dict(model.named_modules())
    missing = [name for name in names if name not in modules]
    if missing:
        raise CamError(f"{type(model).__name__}.cam_layers names modules it does not have: {missing}")
    return {name: modules[name] for name in names}


def default_layer(model: nn.Module) -> str:
    """The last CAM layer: the deepest conv block before global pooling (the seed project's choice)."""
    return list(cam_layers(model))[-1]


def _resolve_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module]:
    if layer is None:
        layer = default_layer(model)
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        suggested = ", ".join(getattr(model, "cam_layers", ()) or ())
        raise CamError(f"{type(model).__name__} has no layer {layer!r}; CAM layers: {suggested or '(none declared)'}")
    return layer, modules[layer]


class _ClassTarget:
    """The logit of one class (the package's ``ClassifierOutputTarget``, with a readable range error)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if self.index >= output.shape[-1]:
            raise CamError(f"target class {self.index} does not exist: the model has {output.shape[-1]} classes")
        return output[..., self.index]


def _resolve_target(target: int | str | None, class_names: Sequence[str] | None) -> int | None:
    if target is None:
        return None
    if isinstance(target, str):
        if class_names is None:
            raise CamError(f"target {target!r} is a class name, but no class_names were given")
        if target not in class_names:
            raise CamError(f"unknown class {target!r}; classes: {', '.join(class_names)}")
        return list(class_names).index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
        raise CamError(f"target must be a class index >= 0 or a class name, got {target!r}")
    if class_names is not None and target >= len(class_names):
        raise CamError(f"target class {target} does not exist: there are {len(class_names)} classes")
    return int(target)


_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.Lock:
    """The lock that serialises CAM calls on ``model`` (hooks see every forward through a layer)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(model, threading.Lock())


@contextmanager
def _isolated(model: nn.Module) -> Iterator[None]:
    """Grad mode on, parameters frozen; on exit: every module's training flag, ``requires_grad`` and
    ``.grad`` as they were (a frozen BatchNorm inside a training model stays in eval mode)."""
    modes = [(module, module.training) for module in model.modules()]
    params = list(model.parameters())
    saved = [(p.requires_grad, p.grad) for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        for p, (requires_grad, grad) in zip(params, saved):
            p.requires_grad_(requires_grad)
            p.grad = grad
        for module, training in modes:
            module.training = training


def _resize(raw: np.ndarray, size: tuple[int, ...]) -> torch.Tensor:
    """Layer-resolution map [T', H', W'] or [H', W'] -> [T, H, W] (trilinear / bilinear; T=1 for images)."""
    tensor = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))[None, None]
    if tensor.ndim == 5:
        return F.interpolate(tensor, size=size[-3:], mode="trilinear", align_corners=False)[0, 0]
    return F.interpolate(tensor, size=size[-2:], mode="bilinear", align_corners=False)[0]


def _normalize(cam: torch.Tensor, how: Normalization) -> torch.Tensor:
    cam = cam.clamp_min(0)  # interpolation of non-negative values stays >= 0; guard rounding
    dims = (0, 1, 2) if how == "clip" else (1, 2)
    peak = cam.amax(dim=dims, keepdim=True)
    return torch.where(peak > 0, cam / peak.clamp_min(torch.finfo(cam.dtype).tiny), torch.zeros_like(cam))


def compute_cam(
    model: nn.Module,
    clip: torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    target: int | str | None = None,
    *,
    class_names: Sequence[str] | None = None,
    normalize: Normalization = "clip",
    temperature: float = 1.0,
) -> CamArray:
    """CAM of ``model`` for one normalised input at ``layer``: float32 ``[T, H, W]`` in [0, 1].

    ``clip``: the model's input for one sample, without a batch dimension: ``[C, T, H, W]`` (image
    models ``[C, H, W]``, giving T = 1; a multi-view model its ``[V, C, T, H, W]`` stack).
    ``layer``: a module name (default: :func:`default_layer`). ``method``: a key of
    :data:`METHODS`. ``target``: the predicted class (None), a class index, or a name from
    ``class_names``. ``normalize``: ``"clip"`` (one scale for all frames) or ``"frame"``.
    The result's ``.info`` (:class:`CamInfo`) names the target, its score and the layer's T';
    its probabilities are ``softmax(logits / temperature)``: pass a checkpoint's calibrated
    temperature so they match what its ``Predictor`` reports.
    """
    if method not in METHODS:
        raise CamError(f"unknown CAM method {method!r}; available: {', '.join(METHODS)}")
    if normalize not in ("clip", "frame"):
        raise CamError(f"normalize must be 'clip' or 'frame', got {normalize!r}")
    if not isinstance(clip, torch.Tensor) or clip.ndim < 3 or not clip.is_floating_point():
        what = f"{tuple(clip.shape)} {clip.dtype}" if isinstance(clip, torch.Tensor) else type(clip).__name__
        raise CamError(f"expected one normalised float input [C, T, H, W], got {what}")
    layer_name, module = _resolve_layer(model, layer)
    param = next(model.parameters(), None)
    device = param.device if param is not None else clip.device
    index = _resolve_target(target, class_names)

    with model_lock(model), _isolated(model):
        x = clip[None].detach().to(device).clone().requires_grad_(True)
        # The clone is the "reshape" hook's job here: it snapshots the activation (see module doc).
        cam_object = METHODS[method](model, [module], reshape_transform=torch.clone)
        try:
            targets = None if index is None else [_ClassTarget(index)]
            raw = cam_object(x, targets)[0]
            logits = cam_object.outputs.detach().float()[0]
        finally:
            cam_object.activations_and_grads.release()
    chosen = int(logits.argmax()) if index is None else index
    probs = (logits / temperature).softmax(dim=0)
    info = CamInfo(
        layer=layer_name,
        method=method,
        target=chosen,
        target_name=class_names[chosen] if class_names is not None and chosen < len(class_names) else None,
        score=float(logits[chosen]),
        prob=float(probs[chosen]),
        probs=tuple(probs.tolist()),
        layer_shape=tuple(int(s) for s in raw.shape),
        temporal_resolution=int(raw.shape[0]) if raw.ndim == 3 else 1,
        normalization=normalize,
    )
    size = tuple(int(s) for s in clip.shape[-3:]) if raw.ndim == 3 else (1, *map(int, clip.shape[-2:]))
    cam = _normalize(_resize(raw, size), normalize)
    return CamArray(cam.numpy(), info)
