"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017) and the
threshold rule of docs/verdicts.md, plus the ``python -m exercise_rec.calibrate`` helpers.

Why temperature scaling: one scalar fitted on held-out data fixes most of a network's over- or
under-confidence without changing any prediction's ranking, so accuracy is untouched.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from exercise_rec.errors import ConfigError

THRESHOLD_STEP = 0.05
KEEP_CORRECT = 0.98  # share of the correct validation answers the threshold must keep (docs/verdicts.md)
ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (LBFGS on log T)."""
    if len(logits) == 0:
        raise ConfigError("cannot calibrate on an empty split")
    logits, labels = logits.detach().double(), labels.detach().long()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the top-1 confidence over ``bins`` equal-width bins (weighted by their share of clips)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def choose_min_confidence(probs: np.ndarray, labels: np.ndarray, keep: float = KEEP_CORRECT) -> float:
    """The largest multiple of 0.05 in [0.05, 0.95] at which at least ``keep`` of the correctly
    classified clips keep a top-1 probability at or above it (docs/verdicts.md, rule 2)."""
    if not (probs.argmax(axis=1) == labels).any():
        raise ConfigError("no clip of the split is classified right: nothing to calibrate a threshold on")
    steps = (round(step * THRESHOLD_STEP, 2) for step in range(1, round(1 / THRESHOLD_STEP)))
    return max((t for t in steps if kept_share(probs, labels, t) >= keep), default=THRESHOLD_STEP)


def kept_share(probs: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Share of the correctly classified clips whose top-1 probability is at least ``threshold``."""
    correct = probs.argmax(axis=1) == labels
    return float((probs.max(axis=1)[correct] >= threshold - 1e-9).mean()) if correct.any() else math.nan
