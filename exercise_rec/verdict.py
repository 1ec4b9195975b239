"""What kind of answer a prediction is: ``exercise``, ``no_exercise``, ``no_person`` or ``uncertain``.

Why: the shipped models have only seen rendered mannequins and give a confident label to anything,
a cartoon or an empty street included. The verdict makes every answer say whether it can be trusted,
on two pieces of evidence: the pose estimator's person check and the model's calibrated confidence.
The rule and how its numbers were chosen: docs/verdicts.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from exercise_rec.errors import ConfigError

VERDICTS = ("exercise", "no_exercise", "no_person", "uncertain")
NO_EXERCISE = "no_exercise"
MIN_PERSON_FRACTION = 0.5
DEFAULT_TEMPERATURE = 1.0  # checkpoints without calibration metadata
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str


@dataclass(frozen=True)
class VerdictRule:
    """The checkpoint's calibration (``temperature``) and threshold (``min_confidence``)."""

    temperature: float = DEFAULT_TEMPERATURE
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_person_fraction: float = MIN_PERSON_FRACTION

    def __post_init__(self) -> None:
        if not self.temperature > 0 or not 0 <= self.min_confidence <= 1 or not 0 <= self.min_person_fraction <= 1:
            raise ConfigError(f"need temperature > 0 and thresholds in [0, 1], got {self}")

    @classmethod
    def from_calibration(cls, calibration: Mapping[str, float]) -> VerdictRule:
        """From a checkpoint's ``calibration`` metadata (documented defaults for what it lacks)."""
        return cls(
            temperature=float(calibration.get("temperature", DEFAULT_TEMPERATURE)),
            min_confidence=float(calibration.get("min_confidence", DEFAULT_MIN_CONFIDENCE)),
        )

    def decide(
        self, probs: np.ndarray, class_names: Sequence[str], person_frames: tuple[int, int] | None
    ) -> Verdict:
        """The verdict for calibrated ``probs`` [C] and ``(frames with a person, frames checked)``
        (None when no person check ran: the verdict then rests on the model alone, and says so)."""
        order = np.argsort(probs)[::-1]
        top = class_names[order[0]]
        if person_frames is not None:
            found, checked = person_frames
            if checked == 0 or found < self.min_person_fraction * checked:
                return Verdict("no_person", f"a person in view (half the limbs or more) in {found} of {checked} frames")
        unchecked = "; person check off" if person_frames is None else ""
        if probs[order[0]] < self.min_confidence:
            guesses = ", ".join(f"{class_names[k]} {probs[k]:.0%}" for k in order[:2])
            return Verdict("uncertain", f"not sure: {guesses} (this model needs {self.min_confidence:.0%}){unchecked}")
        people = "" if person_frames is None else f"; a person in {person_frames[0]} of {person_frames[1]} frames"
        verdict = "no_exercise" if top == NO_EXERCISE else "exercise"
        return Verdict(verdict, f"{top} {probs[order[0]]:.0%}{people}{unchecked}")
