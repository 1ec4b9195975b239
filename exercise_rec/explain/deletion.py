"""Deletion and insertion curves: how faithful a CAM is to the model, on one clip, without a mask.

Why: the synthetic-mask scores (:mod:`exercise_rec.explain.metrics`) say whether a map lands on
the person, not whether the model actually *uses* what the map points at, and a user's own clip
has no mask. Petsiuk et al. (2018, RISE) ask the model instead: rank the input's voxels (T x H x W
locations, every channel together) by the CAM, then

* **deletion**: replace the top k% by the baseline and record the class probability; a faithful
  map makes it fall fast (low area under the curve);
* **insertion**: start from the baseline and put the top k% of the clip back; a faithful map makes
  it rise fast (high area under the curve).

The same curves for a *random* ranking (seeded) are the clip's own chance level: a map is only
informative where it beats them.

Choices, stated because the numbers depend on them:

* **Baseline**: ``"blur"`` (default) is the clip with each frame Gaussian-blurred in space
  (sigma ``blur_sigma`` of the short side), RISE's choice for insertion: it removes the detail a
  map points at while keeping colours and coarse layout, whereas zeros (black, or the dataset mean
  after normalisation) are far out of the training distribution, so the probability would collapse
  for any ranking. ``"mean"`` fills each channel with the clip's own mean instead.
* **Probability**: ``softmax(logits / temperature)`` of the target class; pass a checkpoint's
  calibrated temperature (``Predictor.rule.temperature``) to get the probability the app shows,
  1.0 for the raw softmax. The ranking never depends on it, the areas do.
* **Steps**: ``steps + 1`` fractions ``0, 1/steps, ..., 1`` of the voxels; ties in the CAM (a
  layer with T' = 1 repeats one map over every frame, ReLU leaves zeros) are broken at random, so
  no frame or corner is favoured by its index. The clip (deletion at 0) and the baseline (deletion
  at 1) are shared by every ranking and run once.
* **Pose checkpoints**: the curves run on the keypoint heatmap volume ``[J, T, H, W]`` exactly as
  on a clip, a voxel being one (t, y, x) location of every joint's map; blurring a heatmap spreads
  each joint's position, so the baseline is "where the joints are, made vague".

A bad setting, input, CAM or target raises :class:`~exercise_rec.explain.cam.CamError`, the
explanations' error. Forward passes hold the model's lock (:func:`~exercise_rec.explain.cam.model_lock`), in batches of
``batch``, so a shared explainer instance never sees a CAM's hooks and these passes interleaved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from exercise_rec.device import clip_memory_format
from exercise_rec.explain.cam import CamError, model_lock

__all__ = ["Curves", "DeletionConfig", "DeletionScorer", "blurred"]

Baseline = Literal["blur", "mean"]


@dataclass(frozen=True)
class DeletionConfig:
    """How the curves are sampled (see the module docstring for why these defaults)."""

    steps: int = 16  # curve points: steps + 1 fractions of the voxels, 0 to 1
    baseline: Baseline = "blur"
    blur_sigma: float = 0.05  # the blur's sigma as a fraction of the input's short side
    batch: int = 8  # inputs per forward pass
    seed: int = 0  # tie-breaking and the random reference ranking

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 2 <= self.steps <= 256:
            raise CamError(f"steps must be an integer from 2 to 256, got {self.steps!r}")
        if self.baseline not in ("blur", "mean"):
            raise CamError(f"baseline must be 'blur' or 'mean', got {self.baseline!r}")
        if not (isinstance(self.blur_sigma, (int, float)) and 0 < self.blur_sigma <= 1):
            raise CamError(f"blur_sigma must be in (0, 1] (a fraction of the short side), got {self.blur_sigma!r}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise CamError(f"batch must be a positive integer, got {self.batch!r}")

    @property
    def fractions(self) -> np.ndarray:
        """The share of voxels removed (deletion) or restored (insertion) at each curve point."""
        return np.linspace(0.0, 1.0, self.steps + 1)


@dataclass(frozen=True)
class Curves:
    """One ranking's deletion and insertion curves: the target's probability at each fraction."""

    fractions: np.ndarray  # [steps + 1], 0 to 1
    deletion: np.ndarray  # [steps + 1]: starts at the clip's probability, ends at the baseline's
    insertion: np.ndarray  # [steps + 1]: starts at the baseline's probability, ends at the clip's

    @property
    def deletion_auc(self) -> float:
        """Area under the deletion curve (trapezoid over 0..1): lower is more faithful."""
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_auc(self) -> float:
        """Area under the insertion curve (trapezoid over 0..1): higher is more faithful."""
        return float(np.trapezoid(self.insertion, self.fractions))


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``[C, T, H, W]`` with every frame of every channel Gaussian-blurred in space by ``sigma``
    pixels (separable kernel of radius 3 sigma, borders reflected where the frame allows it)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels, frames, height, width = x.shape
    planes = x.reshape(channels * frames, 1, height, width)
    mode = "reflect" if radius < min(height, width) else "replicate"
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode=mode), kernel.view(1, 1, 1, -1))
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode=mode), kernel.view(1, 1, -1, 1))
    return planes.reshape(x.shape)


class DeletionScorer:
    """Deletion and insertion curves of any number of rankings of one input, for one target class.

    ``x``: the model's input for one sample ``[C, T, H, W]`` (normalised clip, or a pose checkpoint's
    heatmap volume). ``target``: the class index whose probability the curves follow. The clip's and
    the baseline's probabilities are computed here, once.
    """

    def __init__(
        self, model: nn.Module, x: torch.Tensor, target: int, config: DeletionConfig | None = None,
        temperature: float = 1.0,
    ) -> None:  # fmt: skip
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
            what = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise CamError(f"expected one float model input [C, T, H, W], got {what}")
        if model.training:
            raise CamError("the model is in training mode (batch norm would change); call model.eval() first")
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise CamError(f"temperature must be positive, got {temperature!r}")
        self.model = model
        self.config = config or DeletionConfig()
        self.temperature = float(temperature)
        self.memory_format = clip_memory_format(model)
        param = next(model.parameters(), None)
        self.x = x.detach().to(param.device if param is not None else x.device)
        sigma = self.config.blur_sigma * min(x.shape[-2:])
        if self.config.baseline == "blur":
            self.baseline = blurred(self.x, sigma)
        else:
            self.baseline = self.x.mean(dim=(1, 2, 3), keepdim=True).expand_as(self.x)
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
            raise CamError(f"target must be a class index >= 0, got {target!r}")
        self.target = int(target)
        self.clip_prob, self.baseline_prob = self._probs(torch.stack([self.x, self.baseline]))

    def curves(self, cam: np.ndarray) -> Curves:
        """The curves of the ranking by ``cam`` (``[T, H, W]`` at the input's resolution, as
        :func:`~exercise_rec.explain.cam.compute_cam` returns it; higher = more important)."""
        heat = np.asarray(cam, dtype=np.float64)
        if heat.shape != tuple(self.x.shape[1:]):
            raise CamError(f"CAM {heat.shape} does not match the input's voxels {tuple(self.x.shape[1:])} [T, H, W]")
        if not np.isfinite(heat).all():
            raise CamError("the CAM has NaN or infinite values; it cannot rank voxels")
        ties = np.random.default_rng(self.config.seed).random(heat.size)
        return self._curves(np.lexsort((ties, -heat.ravel())))

    def random(self) -> Curves:
        """The curves of a random ranking (seeded by ``config.seed``): this clip's chance level."""
        return self._curves(np.random.default_rng(self.config.seed).permutation(int(np.prod(self.x.shape[1:]))))

    def _curves(self, order: np.ndarray) -> Curves:
        """Curves for voxels ranked by ``order`` (flat indices, most important first)."""
        fractions = self.config.fractions
        counts = np.round(fractions * order.size).astype(np.int64)[1:-1]  # the ends are the clip and the baseline
        rank = torch.empty(order.size, dtype=torch.int64)
        rank[torch.from_numpy(order)] = torch.arange(order.size)
        rank = rank.view(self.x.shape[1:]).to(self.x.device)
        # (k, deleting): the top k voxels replaced by the baseline, or the top k restored onto it
        points = [(int(k), True) for k in counts] + [(int(k), False) for k in counts]
        probs: list[float] = []
        for start in range(0, len(points), self.config.batch):
            batch = [
                torch.where(rank < k, self.baseline, self.x) if deleting else torch.where(rank < k, self.x, self.baseline)
                for k, deleting in points[start : start + self.config.batch]
            ]  # built per batch: all of them at once would hold steps x 2 inputs in memory
            probs += self._probs(torch.stack(batch))
        middle = len(counts)
        return Curves(
            fractions=fractions,
            deletion=np.array([self.clip_prob, *probs[:middle], self.baseline_prob]),
            insertion=np.array([self.baseline_prob, *probs[middle:], self.clip_prob]),
        )

    def _probs(self, batch: torch.Tensor) -> list[float]:
        """The target's probability for each input of ``batch``, under the model's lock."""
        with model_lock(self.model), torch.inference_mode():
            logits = self.model(batch.contiguous(memory_format=self.memory_format)).float()
        if self.target >= logits.shape[-1]:
            raise CamError(f"target class {self.target} does not exist: the model has {logits.shape[-1]} classes")
        return (logits / self.temperature).softmax(dim=-1)[:, self.target].cpu().tolist()
