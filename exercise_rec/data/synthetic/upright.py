"""Motion programs of the upright classes (and of no_exercise: idling and walking)."""

from __future__ import annotations

import numpy as np

from exercise_rec.data.synthetic.figure import Body, Pose
from exercise_rec.data.synthetic.rhythm import osc, rhythm, standing
from exercise_rec.errors import ConfigError

NO_EXERCISE_VARIANTS = ("idle", "walk_across", "walk_in", "walk_out")


def no_exercise(t: np.ndarray, rng: np.random.Generator, body: Body, variant: str | None = None) -> Pose:
    """Idle standing, walking through, walking in and stopping, or standing and walking off.

    ``variant`` (one of NO_EXERCISE_VARIANTS) is random unless given: a long recording walks in at
    the start, idles between sets and walks off at the end.
    """
    if variant is None:
        variant = str(rng.choice(NO_EXERCISE_VARIANTS, p=[0.4, 0.2, 0.2, 0.2]))
    elif variant not in NO_EXERCISE_VARIANTS:
        raise ConfigError(f"unknown no_exercise variant {variant!r}; valid: {NO_EXERCISE_VARIANTS}")
    pose = standing(t, rng)
    # idle: weight shifts, an arm gesture (scratch head, check a watch), a look around
    shift = np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * t + rng.uniform(0, 6.3))
    gesture_side = rng.choice(["l", "r"])
    gesture = osc(np.clip((t - rng.uniform(t[0], t[-1])) * rng.uniform(0.3, 0.7), 0, 1), hold=2.0)
    pose.set(x=0.02 * shift, spine_side=3 * shift, l_th_abd=4 + 3 * shift, r_th_abd=4 - 3 * shift)
    pose.set(**{f"{gesture_side}_ua_flex": 50 * gesture, f"{gesture_side}_fa_flex": 6 + 110 * gesture})
    pose.set(yaw=rng.uniform(-15, 15) + 10 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
    if variant == "idle":
        return pose
    walking = np.ones_like(t)
    stop = t[0] + rng.uniform(0.4, 0.6) * (t[-1] - t[0])
    turn = 0.4  # seconds to turn between walking sideways and facing the camera
    if variant == "walk_in":
        walking = np.clip((stop - t) / turn, 0, 1)
    elif variant == "walk_out":
        walking = np.clip((t - stop) / turn, 0, 1)
    heading = rng.choice([-1.0, 1.0])
    phase = rhythm(t, rng, 0.8, 1.0)
    stride = 22.0
    # the stance foot sweeps 2 * leg * sin(stride) back per half cycle: move the body that far
    speed = 4 * (body.thigh + body.shin) * np.sin(np.radians(stride)) * np.gradient(phase, t)
    travel = np.cumsum(walking * speed * np.gradient(t)) * heading
    if variant == "walk_in":
        travel -= travel[-1]  # arrives at the idle spot
    elif variant == "walk_across":
        travel -= travel.mean()
    swing = np.sin(2 * np.pi * phase)
    knee = 35 * np.clip(np.sin(2 * np.pi * phase + 1.2), 0, None)
    knee_l = 35 * np.clip(np.sin(2 * np.pi * phase + 1.2 + np.pi), 0, None)
    return pose.set(
        yaw=pose.get("yaw") * (1 - walking) + 90 * heading * walking,
        x=pose.get("x") + travel,
        r_th_flex=stride * swing * walking,
        l_th_flex=-stride * swing * walking,
        r_sh_flex=(stride * swing - knee) * walking,
        l_sh_flex=(-stride * swing - knee_l) * walking,
        r_ua_flex=-18 * swing * walking,
        l_ua_flex=18 * swing * walking,
        y=0.008 * np.abs(swing) * walking,
    )


def squat(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Hips back and down to thighs about level, back up; arms forward or hands at the chest."""
    s = osc(rhythm(t, rng, 0.3, 0.55), hold=rng.uniform(1.0, 2.0)) * rng.uniform(0.75, 1.0)
    lean = 40 * s
    pose = standing(t, rng).set(th_flex=100 * s, sh_flex=-28 * s, th_abd=8 + 8 * s, spine_flex=lean)
    if rng.random() < 0.5:  # arms reach forward to horizontal at the bottom
        return pose.set(ua_flex=lean + 85 * s, fa_flex=lean + 85 * s)
    return pose.set(ua_flex=35, ua_abd=12, fa_flex=150, fa_abd=-35)


def lunge(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Step forward and sink until the back knee nearly touches the floor; alternating or one leg."""
    phase = rhythm(t, rng, 0.25, 0.4)
    s = osc(phase, hold=1.5) * rng.uniform(0.8, 1.0)
    front_is_right = (np.floor(phase) % 2 == 0) if rng.random() < 0.7 else np.full(len(t), rng.random() < 0.5)
    pose = standing(t, rng)
    front = {"th_flex": 85 * s, "sh_flex": -8 * s}
    back = {"th_flex": -12 * s, "sh_flex": -95 * s}
    for name in front:
        pose.set(
            **{
                f"r_{name}": np.where(front_is_right, front[name], back[name]),
                f"l_{name}": np.where(front_is_right, back[name], front[name]),
            }
        )
    if rng.random() < 0.5:  # hands on hips
        return pose.set(ua_abd=40, ua_flex=-20, fa_abd=-30, fa_flex=20)
    return pose


def jumping_jack(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Arms from the sides to overhead while the legs jump apart, with a hop at each change."""
    phase = rhythm(t, rng, 0.8, 1.2)
    s = osc(phase)
    hop = rng.uniform(0.03, 0.06) * np.abs(np.sin(2 * np.pi * phase))
    reach = rng.uniform(150, 172)
    return standing(t, rng).set(
        ua_abd=8 + (reach - 8) * s, fa_abd=10 + (reach + 4 - 10) * s, th_abd=3 + 17 * s, sh_abd=3 + 17 * s, y=hop
    )


def lateral_raise(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Straight arms raised sideways to shoulder height and lowered, slowly; legs still."""
    s = osc(rhythm(t, rng, 0.3, 0.5), hold=rng.uniform(1.0, 1.8))
    top = rng.uniform(75, 95)
    return standing(t, rng).set(ua_abd=8 + (top - 8) * s, fa_abd=10 + (top - 6) * s, ua_flex=8, fa_flex=14)


def _march(
    t: np.ndarray, rng: np.random.Generator, tempo: tuple[float, float], knee: tuple[float, float], hop: float
) -> Pose:
    """Alternating knee lifts with opposite arm swing: march and high knees differ in tempo and height."""
    phase = rhythm(t, rng, *tempo)
    lift = rng.uniform(*knee)
    pose = standing(t, rng).set(y=hop * np.abs(np.sin(2 * np.pi * phase)))
    for side, offset in (("r", 0.0), ("l", 0.5)):
        s = np.clip(np.sin(2 * np.pi * (phase + offset)), 0, None) ** 0.8
        swing = np.sin(2 * np.pi * (phase + offset + 0.5))
        pose.set(**{f"{side}_th_flex": lift * s, f"{side}_sh_flex": -12 * s})
        pose.set(**{f"{side}_ua_flex": 35 * swing, f"{side}_fa_flex": 35 * swing + 75})
    return pose


def march_in_place(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Slow alternating knee lifts, thighs well below horizontal."""
    return _march(t, rng, tempo=(0.7, 1.0), knee=(40, 65), hop=0.0)


def high_knees(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Running in place with knees to hip height: twice the march's cadence, and a little hop."""
    return _march(t, rng, tempo=(1.4, 1.9), knee=(68, 95), hop=0.015)


def arm_circles(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Arms held out sideways tracing small circles, forwards or backwards.

    A circle of angular radius r about the sideways axis is, in (flex, abd) terms, a constant
    abd = 90 + r with flex turning through 360 degrees (the sideways axis is the singular one).
    """
    phase = rhythm(t, rng, 0.8, 1.5) * rng.choice([-1.0, 1.0])
    radius = rng.uniform(12, 30)
    flex = np.mod(360 * phase, 360) - 180
    return standing(t, rng).set(ua_abd=90 + radius, fa_abd=90 + radius, ua_flex=flex, fa_flex=flex)


def shoulder_press(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Hands from shoulder height pushed overhead: upper arms from horizontal to vertical, forearms up."""
    s = osc(rhythm(t, rng, 0.3, 0.5), hold=rng.uniform(1.0, 1.6))
    return standing(t, rng).set(ua_abd=92 + 73 * s, fa_abd=178 - 6 * s, ua_flex=12, fa_flex=0)


def bicep_curl(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Forearms curled up from straight down with the upper arms still; together or alternating."""
    phase = rhythm(t, rng, 0.35, 0.6)
    pose = standing(t, rng).set(ua_abd=10, fa_abd=6)
    shift = 0.5 if rng.random() < 0.4 else 0.0
    for side, offset in (("r", 0.0), ("l", shift)):
        s = osc(phase + offset, hold=1.3)
        pose.set(**{f"{side}_ua_flex": 12 * s, f"{side}_fa_flex": 8 + 132 * s})
    return pose


def side_bend(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Trunk bending to one side then the other, hands on hips or one arm overhead."""
    bend = rng.uniform(18, 32) * np.sin(2 * np.pi * rhythm(t, rng, 0.2, 0.35))
    pose = standing(t, rng).set(spine_side=bend)
    if rng.random() < 0.5:
        return pose.set(ua_abd=40, ua_flex=-20, fa_abd=-30, fa_flex=20)
    over = np.clip(bend / 20, -1, 1)  # bending right (positive) lifts the left arm overhead, and back
    return pose.set(
        l_ua_abd=10 + 150 * np.clip(over, 0, 1),
        l_fa_abd=10 + 155 * np.clip(over, 0, 1),
        r_ua_abd=10 + 150 * np.clip(-over, 0, 1),
        r_fa_abd=10 + 155 * np.clip(-over, 0, 1),
    )


def boxing(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Guard stance with fast straight punches, alternating jab/cross at random moments, bouncing."""
    lead = rng.choice(["l", "r"])
    rear = "r" if lead == "l" else "l"
    pose = standing(t, rng).set(
        spine_twist=rng.uniform(12, 25) * (1 if lead == "l" else -1),
        y=0.012 * np.abs(np.sin(2 * np.pi * rng.uniform(1.0, 1.4) * t)),
        ua_flex=40,
        ua_abd=25,
        fa_flex=150,
        fa_abd=-20,
        sh_flex=-6,
    )
    pose.set(**{f"{lead}_th_flex": 18, f"{rear}_th_flex": -14})
    rate, duration = rng.uniform(2.0, 3.5), rng.uniform(0.2, 0.3)
    starts = np.cumsum(rng.exponential(1 / rate, size=int(rate * (t[-1] + 1)) + 4)) - rng.uniform(0, 0.5)
    arms = {lead: np.zeros(len(t)), rear: np.zeros(len(t))}
    for k, start in enumerate(starts):
        arm = lead if k % 2 == 0 or rng.random() < 0.2 else rear
        tau = (t - start) / duration
        arms[arm] = np.maximum(arms[arm], np.where((tau > 0) & (tau < 1), np.sin(np.pi * tau), 0.0))
    for side, punch in arms.items():
        pose.set(
            **{
                f"{side}_ua_flex": 40 + 48 * punch,
                f"{side}_ua_abd": 25 - 18 * punch,
                f"{side}_fa_flex": 150 - 62 * punch,
                f"{side}_fa_abd": -20 + 18 * punch,
            }
        )
    return pose
