"""The 17 classes and their motion programs (in ``upright`` and ``floor``): joint angles over time.

Every program takes the frame times (seconds) and a random generator and returns a
:class:`~exercise_rec.data.synthetic.figure.Pose`; tempo, phase, range of motion and style
(alternating or together, arm variants) are drawn per video. Some pairs are built to differ
mainly in tempo or in small motion, so that a model needs temporal resolution to separate them:
``march_in_place`` vs ``high_knees`` (same movement, about twice the cadence and higher knees),
``lateral_raise`` vs ``jumping_jack`` (same arm abduction; the jack is faster, fuller, with legs
and a hop), ``plank`` vs ``push_up`` (same hold; the push-up bends the elbows, the plank only
breathes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exercise_rec.data.synthetic import floor, upright
from exercise_rec.data.synthetic.figure import Body, Pose

# Sorted, as a folder-per-class dataset sorts its class folders, so that CLASS_NAMES[i] is the
# class a dataset built from the generated folders calls i. The background class is "no_exercise".
CLASS_NAMES: tuple[str, ...] = (
    "arm_circles",
    "bicep_curl",
    "boxing",
    "burpee",
    "high_knees",
    "jumping_jack",
    "lateral_raise",
    "lunge",
    "march_in_place",
    "mountain_climber",
    "no_exercise",
    "plank",
    "push_up",
    "shoulder_press",
    "side_bend",
    "sit_up",
    "squat",
)
BACKGROUND_CLASS = "no_exercise"

MotionFn = Callable[[np.ndarray, np.random.Generator, Body], Pose]


@dataclass(frozen=True)
class Motion:
    """A class's program and the camera yaw it is best seen from (0 = front, 90 = side)."""

    program: MotionFn
    view: float
    view_jitter: float = 25.0


MOTIONS: dict[str, Motion] = {
    "arm_circles": Motion(upright.arm_circles, view=0),
    "bicep_curl": Motion(upright.bicep_curl, view=30, view_jitter=35),
    "boxing": Motion(upright.boxing, view=30, view_jitter=35),
    "burpee": Motion(floor.burpee, view=90, view_jitter=20),
    "high_knees": Motion(upright.high_knees, view=20, view_jitter=40),
    "jumping_jack": Motion(upright.jumping_jack, view=0),
    "lateral_raise": Motion(upright.lateral_raise, view=0),
    "lunge": Motion(upright.lunge, view=90, view_jitter=20),
    "march_in_place": Motion(upright.march_in_place, view=20, view_jitter=40),
    "mountain_climber": Motion(floor.mountain_climber, view=90, view_jitter=15),
    "no_exercise": Motion(upright.no_exercise, view=0, view_jitter=30),
    "plank": Motion(floor.plank, view=90, view_jitter=15),
    "push_up": Motion(floor.push_up, view=90, view_jitter=15),
    "shoulder_press": Motion(upright.shoulder_press, view=0),
    "side_bend": Motion(upright.side_bend, view=0, view_jitter=20),
    "sit_up": Motion(floor.sit_up, view=90, view_jitter=15),
    "squat": Motion(upright.squat, view=70, view_jitter=25),
}
