"""Steady labels from noisy windows: an exponential moving average of the probabilities, then hysteresis.

Why both: every window of a live stream overlaps the previous one by all but a hop, yet its top class
can still jump for one window (a squat's bottom looks like a lunge's). The moving average damps the
bars; the hysteresis keeps the shown answer until another one has led for ``hold`` hops in a row, so
the headline does not flicker between two classes at a boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exercise_rec.errors import ConfigError
from exercise_rec.verdict import Verdict, VerdictRule


def answer_key(verdict: Verdict, probs: np.ndarray, class_names: Sequence[str]) -> str:
    """What a verdict says, as one name: the class for ``exercise``/``no_exercise``, else the verdict
    (an ``uncertain`` or ``no_person`` answer names no class, whatever its top one)."""
    if verdict.verdict in ("exercise", "no_exercise"):
        return class_names[int(np.argmax(probs))]
    return verdict.verdict


class Smoother:
    """Moving average over hops (``weight``: the newest window's share, 1 = none) and hysteresis
    (``hold``: hops a new answer must lead before it replaces the shown one, 1 = none)."""

    def __init__(self, rule: VerdictRule, class_names: Sequence[str], weight: float = 0.5, hold: int = 2) -> None:
        if not 0 < weight <= 1 or hold < 1:
            raise ConfigError(f"smoothing weight must be in (0, 1] and hold >= 1, got {weight}, {hold}")
        self.rule, self.class_names, self.weight, self.hold = rule, tuple(class_names), weight, hold
        self.probs: np.ndarray | None = None
        self.shown: tuple[str, Verdict] | None = None
        self._challenger: str | None = None
        self._streak = 0

    def update(self, probs: np.ndarray, person_frames: tuple[int, int] | None) -> tuple[str, Verdict, bool]:
        """Fold in one window's calibrated ``probs``; the shown answer, its verdict and whether it changed.

        The verdict is decided on the smoothed probabilities; while a new answer has not yet led
        ``hold`` hops, the previous one stays, with the reason it last had."""
        self.probs = probs if self.probs is None else self.weight * probs + (1 - self.weight) * self.probs
        verdict = self.rule.decide(self.probs, self.class_names, person_frames)
        key = answer_key(verdict, self.probs, self.class_names)
        if self.shown is None or key == self.shown[0]:
            changed = self.shown is None
            self.shown, self._challenger, self._streak = (key, verdict), None, 0
            return key, verdict, changed
        self._streak = self._streak + 1 if key == self._challenger else 1
        self._challenger = key
        if self._streak >= self.hold:
            self.shown, self._challenger, self._streak = (key, verdict), None, 0
            return key, verdict, True
        return self.shown[0], self.shown[1], False
