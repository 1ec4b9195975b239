"""Timing helpers and the neutral stance shared by every motion program."""

from __future__ import annotations

import numpy as np

from exercise_rec.data.synthetic.figure import Pose


def rhythm(t: np.ndarray, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Phase in cycles at a random tempo in [lo, hi] Hz, random start, and a little tempo drift."""
    freq = rng.uniform(lo, hi)
    drift = 0.04 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi))
    return freq * t + rng.uniform(0, 1) + drift


def osc(phase: np.ndarray, hold: float = 1.0) -> np.ndarray:
    """0 -> 1 -> 0 once per cycle, smooth; ``hold`` > 1 lingers at both ends (pauses between reps)."""
    wave = 0.5 - 0.5 * np.cos(2 * np.pi * phase)
    return wave**hold / (wave**hold + (1 - wave) ** hold)


def standing(t: np.ndarray, rng: np.random.Generator) -> Pose:
    """Neutral stance with breathing and a little sway, the base of every upright program."""
    pose = Pose(len(t))
    breath = np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 6.3))
    return pose.set(
        spine_flex=rng.uniform(-2, 4) + 1.0 * breath,
        spine_side=1.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.25) * t + rng.uniform(0, 6.3)),
        th_abd=rng.uniform(2, 7),
        ua_abd=rng.uniform(4, 10) + 1.0 * breath,
    )
